package metrics

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/informer-go/informer"
)

// A watch that ends while listing is forbidden leaves the cache stale:
// the gauges say so, with the reason; when the rights come back the watch
// reopens and is counted.
func TestStaleGaugesAndWatchRestart(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a"))
	var denied atomic.Bool
	watches := make(chan watch.Interface, 10)
	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if denied.Load() {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no rights"))
		}
		return false, nil, nil
	})
	kube.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(action.GetResource(), action.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		watches <- w
		return true, w, nil
	})
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	changes := make(chan informer.StalenessChange, 10)
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks()).
		WithStalenessBound(10 * time.Millisecond).
		WithStalenessHandler(func(_ context.Context, c informer.StalenessChange) { changes <- c })
	informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	inf := start(t, b, m)
	first := nextWatch(t, watches)

	denied.Store(true)
	first.Stop()
	if c := nextChange(t, changes); !c.Stale {
		t.Fatalf("staleness change: got %+v, want stale", c)
	}
	waitFor(t, "a forbidden last error", func() bool {
		return testutil.CollectAndCount(m.status, "informer_last_error") == 1
	})
	noWatchSince := inf.Status().Informers[0].NoWatchSince
	m.status.now = func() time.Time { return noWatchSince.Add(90 * time.Second) }
	want := `
# HELP informer_last_error 1 for the reason of the last list/watch error (forbidden, unauthorized, not_found, unreachable, untrusted, other); no series before the first error.
# TYPE informer_last_error gauge
informer_last_error{reason="forbidden",resource="pods"} 1
# HELP informer_stale_seconds While the cache is stale (see informer.Builder.WithStalenessBound), seconds since the last watch ended; else 0.
# TYPE informer_stale_seconds gauge
informer_stale_seconds{resource="pods"} 90
# HELP informer_watching 1 while a watch is open (the cache follows the server), else 0.
# TYPE informer_watching gauge
informer_watching{resource="pods"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "informer_last_error", "informer_stale_seconds", "informer_watching"); err != nil {
		t.Errorf("while stale: %v", err)
	}

	denied.Store(false)
	nextWatch(t, watches)
	if c := nextChange(t, changes); c.Stale {
		t.Fatalf("staleness change: got %+v, want current", c)
	}
	waitFor(t, "a second watch opened", func() bool {
		return testutil.ToFloat64(m.watchOpens.WithLabelValues("pods")) == 2
	})
	want = `
# HELP informer_stale_seconds While the cache is stale (see informer.Builder.WithStalenessBound), seconds since the last watch ended; else 0.
# TYPE informer_stale_seconds gauge
informer_stale_seconds{resource="pods"} 0
# HELP informer_watching 1 while a watch is open (the cache follows the server), else 0.
# TYPE informer_watching gauge
informer_watching{resource="pods"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "informer_stale_seconds", "informer_watching"); err != nil {
		t.Errorf("after the watch reopened: %v", err)
	}
}

func nextWatch(t *testing.T, watches <-chan watch.Interface) watch.Interface {
	t.Helper()
	select {
	case w := <-watches:
		return w
	case <-time.After(waitBound):
		t.Fatalf("no watch opened within %v", waitBound)
		return nil
	}
}

func nextChange(t *testing.T, changes <-chan informer.StalenessChange) informer.StalenessChange {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(waitBound):
		t.Fatalf("no staleness change within %v", waitBound)
		return informer.StalenessChange{}
	}
}
