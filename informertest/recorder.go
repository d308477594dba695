package informertest

import (
	"context"
	"sync"
	"time"

	"github.com/informer-go/informer"
)

// DefaultWaitTimeout bounds the waits of a [Recorder] unless
// [WithWaitTimeout] sets another bound.
const DefaultWaitTimeout = 30 * time.Second

// RecorderOption configures a [Recorder].
type RecorderOption func(*recorderOptions)

type recorderOptions struct {
	timeout time.Duration
}

// WithWaitTimeout bounds every wait of the [Recorder] by d instead of
// [DefaultWaitTimeout]. A d of zero or less keeps the default.
func WithWaitTimeout(d time.Duration) RecorderOption {
	return func(o *recorderOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// Recorder records the callbacks of one registration, so that a test can
// wait for the events it expects instead of sleeping. Pass
// [Recorder.Funcs] to [informer.Watch] (or [informer.WatchResource]), then
// wait with [Recorder.WaitForEvent] or [Recorder.WaitFor].
//
// Waits block on a notification sent by each recorded event, never by
// polling, and end at the first of: the condition holds, the context (or
// the test) ends, the wait timeout runs out ([DefaultWaitTimeout] unless
// [WithWaitTimeout] says otherwise).
//
// A Recorder keeps every event, and the objects in them, until it is
// garbage collected. The objects are those the informer handed to the
// callbacks, shared with its cache: they must not be modified. All methods
// are safe for concurrent use.
type Recorder[T informer.Object] struct {
	timeout time.Duration

	mu       sync.Mutex
	events   []Event[T]
	returned []bool        // returned[i]: events[i] was returned by WaitForEvent
	changed  chan struct{} // closed and replaced when an event is recorded
}

// NewRecorder returns an empty [Recorder].
func NewRecorder[T informer.Object](opts ...RecorderOption) *Recorder[T] {
	o := recorderOptions{timeout: DefaultWaitTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return &Recorder[T]{timeout: o.timeout, changed: make(chan struct{})}
}

// Funcs returns callbacks that record every add, update and delete.
func (r *Recorder[T]) Funcs() informer.Funcs[T] {
	return informer.Funcs[T]{
		OnAdd: func(ctx context.Context, obj T) {
			r.record(Event[T]{Kind: Added, Object: obj, InitialList: informer.IsInitialList(ctx)})
		},
		OnUpdate: func(ctx context.Context, oldObj, newObj T) {
			r.record(Event[T]{Kind: Updated, Object: newObj, OldObject: oldObj})
		},
		OnDelete: func(ctx context.Context, obj T) {
			r.record(Event[T]{Kind: Deleted, Object: obj, FinalStateUnknown: informer.IsFinalStateUnknown(ctx)})
		},
	}
}

func (r *Recorder[T]) record(e Event[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.returned = append(r.returned, false)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Events returns the events recorded so far, oldest first. The slice is
// the caller's; the objects in it are shared.
func (r *Recorder[T]) Events() []Event[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event[T](nil), r.events...)
}

// State replays the recorded events into the objects a handler that tracks
// them would hold now, by key (namespace/name, or name when
// cluster-scoped): adds and updates store the object, deletes remove it.
// Compare it with what the server holds to check that a handler fed by
// these events can rebuild the server's state.
func (r *Recorder[T]) State() map[string]T {
	state := map[string]T{}
	for _, e := range r.Events() {
		if e.Kind == Deleted {
			delete(state, e.Key())
			continue
		}
		state[e.Key()] = e.Object
	}
	return state
}
