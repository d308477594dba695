package main

import (
	"context"
	"fmt"
	"io"
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
// Its on... methods are the callbacks of one registration. The informer calls
// them one at a time, so the lines never interleave without a lock. The
// counters are atomic because the summary reads them from another goroutine.
type printer struct {
	out                    io.Writer
	adds, updates, deletes atomic.Int64
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
	fmt.Fprintf(p.out, "%s %-6s %s/%s  phase=%s%s\n",
		time.Now().Format("15:04:05.000"), verb, pod.Namespace, pod.Name, phase, note)
}

// summary prints the last line: what was seen, what the cache holds at the
// end, and how long the initial list took.
func (p *printer) summary(cached int, syncedIn time.Duration) {
	fmt.Fprintf(p.out, "summary: add=%d update=%d delete=%d cached=%d synced_in=%.3fs\n",
		p.adds.Load(), p.updates.Load(), p.deletes.Load(), cached, syncedIn.Seconds())
}
