package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/informer-go/informer"
)

// maxChanges is how many changed fields an UPDATE line lists before
// summing up the rest as "+N more".
const maxChanges = 6

// printer turns pod events into lines such as
//
//	15:04:05.000 ADD    default/web-1  phase=Pending  [initial]
//
// Its onAdd, onUpdate and onDelete methods are the callbacks of one
// registration, which the informer calls one at a time; onStaleness is
// called from other goroutines, so writes take a lock. The counters are
// atomic because the summary reads them from another goroutine.
type printer struct {
	out                    io.Writer
	adds, updates, deletes atomic.Int64

	mu         sync.Mutex
	staleSince time.Time     // while the cache is stale: when its watch was lost
	staleTotal time.Duration // the stale time that ended
}

func (p *printer) onAdd(ctx context.Context, pod *corev1.Pod) {
	p.adds.Add(1)
	note := ""
	if informer.IsInitialList(ctx) {
		note = "[initial]" // already there when we started, not just created
	}
	p.line("ADD", pod, note)
}

func (p *printer) onUpdate(_ context.Context, oldPod, newPod *corev1.Pod) {
	p.updates.Add(1)
	changes, err := fieldChanges(oldPod, newPod)
	if err != nil {
		p.line("UPDATE", newPod, "(cannot compare: "+err.Error()+")")
		return
	}
	p.line("UPDATE", newPod, summarizeChanges(changes, maxChanges))
}

func (p *printer) onDelete(ctx context.Context, pod *corev1.Pod) {
	p.deletes.Add(1)
	note := ""
	if informer.IsFinalStateUnknown(ctx) {
		// The watch was down when the pod went away; we only noticed on a
		// relist, so the phase shown is the last one we saw, maybe stale.
		note = "[final state unknown]"
	}
	p.line("DELETE", pod, note)
}

// onStaleness prints a line when the cache stops following the server (no
// open watch for longer than the staleness bound: a revoked permission, an
// unreachable server) and when it follows it again, and adds up the time it
// did not.
func (p *printer) onStaleness(_ context.Context, change informer.StalenessChange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if change.Stale {
		p.staleSince = change.NoWatchSince
		reason := "no error seen yet"
		if change.LastError != nil {
			reason = change.LastError.Error()
		}
		p.printf("%s STALE  %s: no open watch for %v, events are not seen: %s\n",
			time.Now().Format("15:04:05.000"), change.Resource, change.Duration.Round(time.Second), reason)
		return
	}
	p.staleSince = time.Time{}
	p.staleTotal += change.Duration
	p.printf("%s CURRENT %s: watching again after %v without a watch\n",
		time.Now().Format("15:04:05.000"), change.Resource, change.Duration.Round(time.Second))
}

// staleTime returns how long the cache was stale in all, until now.
func (p *printer) staleTime(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := p.staleTotal
	if !p.staleSince.IsZero() {
		total += now.Sub(p.staleSince)
	}
	return total
}

// line prints one event. The verb is padded to the longest one, UPDATE, so
// that the pod names line up.
func (p *printer) line(verb string, pod *corev1.Pod, note string) {
	phase := string(pod.Status.Phase)
	if phase == "" {
		phase = noValue
	}
	if note != "" {
		note = "  " + note
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf("%s %-6s %s/%s  phase=%s%s\n",
		time.Now().Format("15:04:05.000"), verb, pod.Namespace, pod.Name, phase, note)
}

// printf writes to out; the caller holds p.mu.
func (p *printer) printf(format string, args ...any) {
	fmt.Fprintf(p.out, format, args...)
}

// summary prints the last line: what was seen, what the cache holds at the
// end, how long it was stale and how long the initial list took.
func (p *printer) summary(cached int, syncedIn time.Duration) {
	stale := p.staleTime(time.Now())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf("summary: add=%d update=%d delete=%d cached=%d stale=%.1fs synced_in=%.3fs\n",
		p.adds.Load(), p.updates.Load(), p.deletes.Load(), cached, stale.Seconds(), syncedIn.Seconds())
}
