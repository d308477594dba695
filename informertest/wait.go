package informertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
)

// maxListedEvents bounds how many events a failure message of
// [Recorder.WaitForEvent] lists; the most recent ones are kept.
const maxListedEvents = 50

// deadlineGrace is kept between a wait's bound and the test binary's
// deadline, so that the wait fails with its own message first.
const deadlineGrace = time.Second

// WaitFor blocks until cond returns true. cond is called with the events
// recorded so far, oldest first, once at the start and again after each new
// event, from the waiting goroutine and never concurrently with itself; it
// may call the Recorder's methods. WaitFor returns nil once cond is true,
// or an error when ctx ends or the wait timeout of the Recorder runs out
// first; the error wraps [context.Cause] of the context that ended
// (context.DeadlineExceeded for the timeout).
func (r *Recorder[T]) WaitFor(ctx context.Context, cond func(events []Event[T]) bool) error {
	ctx, cancel := withWaitTimeout(ctx, r.timeout)
	defer cancel()
	var seen int
	err := r.await(ctx, func() bool {
		events := r.Events()
		seen = len(events)
		return cond(events)
	})
	if err != nil {
		return fmt.Errorf("informertest: condition not met after %d event(s): %w", seen, err)
	}
	return nil
}

// WaitForEvent blocks until a callback of kind has been recorded for the
// object namespace/name ("" namespace for cluster-scoped objects), and
// returns that event. Each event is returned by at most one call, oldest
// first: waiting twice for an update of one object waits for two updates.
//
// WaitForEvent fails the test with t.Fatalf, listing the events recorded,
// when no such event arrives before the first of: the wait timeout of the
// Recorder, the test's context ends, shortly before the test binary's
// deadline. Call it from the test's goroutine, as t.Fatalf requires.
func (r *Recorder[T]) WaitForEvent(t testing.TB, kind EventKind, namespace, name string) Event[T] {
	t.Helper()
	timeout := r.timeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			timeout = min(timeout, max(time.Until(deadline)-deadlineGrace, 0))
		}
	}
	ctx, cancel := withWaitTimeout(t.Context(), timeout)
	defer cancel()

	var found Event[T]
	err := r.await(ctx, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, e := range r.events {
			if !r.returned[i] && e.Kind == kind && e.Object.GetNamespace() == namespace && e.Object.GetName() == name {
				r.returned[i] = true
				found = e
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("informertest: no %s event for %s: %v; %s", kind, cache.NewObjectName(namespace, name), err, r.describe())
	}
	return found
}

// withWaitTimeout bounds ctx by d, with a cause that says so and wraps
// context.DeadlineExceeded.
func withWaitTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d,
		fmt.Errorf("informertest: wait timed out after %v: %w", d, context.DeadlineExceeded))
}

// await calls check until it returns true, waiting for a new event between
// calls, or returns the cause of ctx once it ends.
func (r *Recorder[T]) await(ctx context.Context, check func() bool) error {
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if check() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// describe lists the recorded events for a failure message.
func (r *Recorder[T]) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return "no events recorded"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d event(s) recorded:", len(r.events))
	first := max(len(r.events)-maxListedEvents, 0)
	if first > 0 {
		fmt.Fprintf(&b, "\n\t(%d earlier events not shown)", first)
	}
	for i := first; i < len(r.events); i++ {
		fmt.Fprintf(&b, "\n\t%s", r.events[i])
		if r.returned[i] {
			b.WriteString(" [returned by an earlier WaitForEvent]")
		}
	}
	return b.String()
}
