package informer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/workqueue"
)

// hookRecorder records every hook call as a line.
type hookRecorder struct {
	mu    sync.Mutex
	lines []string
	queue []string // names of the queues client-go made metrics for
}

func (h *hookRecorder) add(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf(format, args...))
}

func (h *hookRecorder) count(line string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.lines {
		if l == line {
			n++
		}
	}
	return n
}

func (h *hookRecorder) hooks() Hooks {
	return Hooks{
		ObjectReceived: func(resource string) { h.add("received %s", resource) },
		HandlerDone: func(resource, handler, event string, took time.Duration, panicked bool) {
			if took < 0 {
				h.add("negative duration")
			}
			h.add("handler %s %s %s panicked=%v", resource, handler, event, panicked)
		},
		WatchOpened:   func(resource string) { h.add("watch %s", resource) },
		ReconcileDone: func(reconciler, result string, took time.Duration) { h.add("reconcile %s %s", reconciler, result) },
		KeyRetried:    func(reconciler string) { h.add("retried %s", reconciler) },
		KeyDropped:    func(reconciler string) { h.add("dropped %s", reconciler) },
		QueueMetrics:  queueMetricsRecorder{h},
	}
}

// queueMetricsRecorder is a workqueue.MetricsProvider that records the
// queues it was asked for.
type queueMetricsRecorder struct{ h *hookRecorder }

type noopMetric struct{}

func (noopMetric) Inc()            {}
func (noopMetric) Dec()            {}
func (noopMetric) Set(float64)     {}
func (noopMetric) Observe(float64) {}

func (q queueMetricsRecorder) NewDepthMetric(name string) workqueue.GaugeMetric {
	q.h.mu.Lock()
	q.h.queue = append(q.h.queue, name)
	q.h.mu.Unlock()
	return noopMetric{}
}
func (queueMetricsRecorder) NewAddsMetric(string) workqueue.CounterMetric { return noopMetric{} }
func (queueMetricsRecorder) NewLatencyMetric(string) workqueue.HistogramMetric {
	return noopMetric{}
}
func (queueMetricsRecorder) NewWorkDurationMetric(string) workqueue.HistogramMetric {
	return noopMetric{}
}
func (queueMetricsRecorder) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
func (queueMetricsRecorder) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
func (queueMetricsRecorder) NewRetriesMetric(string) workqueue.CounterMetric { return noopMetric{} }

func TestHooksSeeEventsCallbacksAndReconciles(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"), pod("default", "b", "1"))
	rec := &hookRecorder{}
	b := NewBuilder().WithClients(kube, nil).WithHooks(rec.hooks())
	Watch(b, Funcs[*corev1.Pod]{
		OnAdd: func(_ context.Context, p *corev1.Pod) {
			if p.Name == "b" {
				panic("boom")
			}
		},
	}, WithName("printer"))
	c := newCalls()
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		defer c.record(req.Name)
		if req.Name == "b" {
			return Result{}, errors.New("conflict")
		}
		return Result{}, nil
	}, WithName("mirror"), MaxRetries(1), fastRetries())
	startSynced(t, b)
	for range 3 { // a once, b twice (the try and one retry)
		c.next(t)
	}
	waitIdle(t, rc)

	for _, want := range []struct {
		line string
		n    int
	}{
		{"received pods", 2},
		{"watch pods", 1},
		{"handler pods printer add panicked=false", 1},
		{"handler pods printer add panicked=true", 1},
		{"handler pods mirror add panicked=false", 2},
		{"reconcile mirror success", 1},
		{"reconcile mirror error", 2},
		{"retried mirror", 1},
		{"dropped mirror", 1},
		{"negative duration", 0},
	} {
		if got := rec.count(want.line); got != want.n {
			t.Errorf("%q: got %d calls, want %d", want.line, got, want.n)
		}
	}
	rec.mu.Lock()
	queues := slices.Clone(rec.queue)
	rec.mu.Unlock()
	if !slices.Equal(queues, []string{"mirror"}) {
		t.Errorf("workqueue metrics: got queues %q, want [mirror]", queues)
	}
}
