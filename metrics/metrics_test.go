package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/informer-go/informer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound is how long a test waits for a condition before it fails.
const waitBound = 30 * time.Second

// waitFor polls cond until it holds, failing the test after waitBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, waitBound)
		}
		time.Sleep(time.Millisecond)
	}
}

func pod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, ResourceVersion: "1"}}
}

// start builds b, observes the Informer with m, starts it and waits for
// it to sync; the Informer is stopped when the test ends.
func start(t *testing.T, b *informer.Builder, m *Metrics) *informer.Informer {
	t.Helper()
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	m.Observe(inf)
	if err := inf.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
	return inf
}

func TestHooksFeedCountersAndHistograms(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a"), pod("default", "b"))
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks())
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(_ context.Context, p *corev1.Pod) {
			if p.Name == "b" {
				panic("boom")
			}
		},
	}, informer.WithName("printer"))
	failed := false // touched by the one worker only
	informer.Reconcile(b, func(_ context.Context, req informer.Request[*corev1.Pod]) (informer.Result, error) {
		if req.Name == "b" && !failed {
			failed = true
			return informer.Result{}, errors.New("conflict")
		}
		return informer.Result{}, nil
	}, informer.WithName("mirror"), informer.MaxRetries(1),
		informer.RateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](time.Millisecond, 10*time.Millisecond)))
	start(t, b, m)

	// a succeeds, b fails once then succeeds on its retry.
	waitFor(t, "two successful reconciles", func() bool {
		return testutil.ToFloat64(m.reconciles.WithLabelValues("mirror", "success")) == 2
	})
	waitFor(t, "two printer callbacks", func() bool {
		return testutil.ToFloat64(m.handlerCalls.WithLabelValues("pods", "printer", "add")) == 2
	})

	for _, tc := range []struct {
		name   string
		metric prometheus.Collector
		want   float64
	}{
		{"objects received", m.objectsReceived.WithLabelValues("pods"), 2},
		{"watch opens", m.watchOpens.WithLabelValues("pods"), 1},
		{"printer calls", m.handlerCalls.WithLabelValues("pods", "printer", "add"), 2},
		{"printer panics", m.handlerPanics.WithLabelValues("pods", "printer"), 1},
		{"mirror handler calls", m.handlerCalls.WithLabelValues("pods", "mirror", "add"), 2},
		{"mirror handler panics", m.handlerPanics.WithLabelValues("pods", "mirror"), 0},
		{"reconcile success", m.reconciles.WithLabelValues("mirror", "success"), 2},
		{"reconcile error", m.reconciles.WithLabelValues("mirror", "error"), 1},
		{"reconcile retries", m.reconcileRetries.WithLabelValues("mirror"), 1},
		{"reconcile dropped", m.reconcileDropped.WithLabelValues("mirror"), 0},
		{"workqueue adds", m.queue.adds.WithLabelValues("mirror"), 3},
		{"workqueue retries", m.queue.retries.WithLabelValues("mirror"), 1},
		{"workqueue depth", m.queue.depth.WithLabelValues("mirror"), 0},
	} {
		if got := testutil.ToFloat64(tc.metric); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"informer_handler_duration_seconds", map[string]string{"resource": "pods", "handler": "printer", "event": "add"}, 2},
		{"informer_reconcile_duration_seconds", map[string]string{"reconciler": "mirror"}, 3},
		{"informer_workqueue_work_duration_seconds", map[string]string{"name": "mirror"}, 3},
		{"informer_workqueue_queue_duration_seconds", map[string]string{"name": "mirror"}, 3},
	} {
		if got := series(t, reg, tc.name, tc.labels).GetHistogram().GetSampleCount(); got != tc.want {
			t.Errorf("%s%v: got %d observations, want %d", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestDroppedKeys(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a"))
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks())
	informer.Reconcile(b, func(context.Context, informer.Request[*corev1.Pod]) (informer.Result, error) {
		panic("always")
	}, informer.WithName("broken"), informer.MaxRetries(1),
		informer.RateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](time.Millisecond, 10*time.Millisecond)))
	start(t, b, m)
	waitFor(t, "one dropped key", func() bool {
		return testutil.ToFloat64(m.reconcileDropped.WithLabelValues("broken")) == 1
	})
	if got := testutil.ToFloat64(m.reconciles.WithLabelValues("broken", "panic")); got != 2 {
		t.Errorf("panicked reconciles: got %v, want 2 (the try and one retry)", got)
	}
	if got := testutil.ToFloat64(m.reconcileRetries.WithLabelValues("broken")); got != 1 {
		t.Errorf("retries: got %v, want 1", got)
	}
}

// series returns the series name{labels} gathered from reg.
func series(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return s
		}
	}
	t.Fatalf("%s%v: no such series", name, labels)
	return nil
}

func TestGaugesAfterSync(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a"), pod("default", "b"), pod("other", "c"))
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks())
	informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	inf := start(t, b, m)
	waitFor(t, "an open watch", func() bool {
		informers := inf.Status().Informers
		return len(informers) == 1 && informers[0].Watching
	})

	want := `
# HELP informer_cached_objects Objects in the informer's cache.
# TYPE informer_cached_objects gauge
informer_cached_objects{resource="pods"} 3
# HELP informer_stale_seconds While the cache is stale (see informer.Builder.WithStalenessBound), seconds since the last watch ended; else 0.
# TYPE informer_stale_seconds gauge
informer_stale_seconds{resource="pods"} 0
# HELP informer_synced 1 when the cache has synced and every handler has seen the initial list, else 0.
# TYPE informer_synced gauge
informer_synced{resource="pods"} 1
# HELP informer_watching 1 while a watch is open (the cache follows the server), else 0.
# TYPE informer_watching gauge
informer_watching{resource="pods"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"informer_cached_objects", "informer_synced", "informer_watching", "informer_stale_seconds",
		"informer_last_error", "informer_last_error_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

func TestLastErrorReason(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a"))
	kube.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "", errors.New("no rights"))
	})
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks())
	informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	informer.Watch(b, informer.Funcs[*corev1.ConfigMap]{}, informer.Optional())
	before := time.Now()
	start(t, b, m)
	waitFor(t, "a last error series", func() bool {
		return testutil.CollectAndCount(m.status, "informer_last_error") == 1
	})
	after := time.Now()

	want := `
# HELP informer_last_error 1 for the reason of the last list/watch error (forbidden, unauthorized, not_found, unreachable, untrusted, other); no series before the first error.
# TYPE informer_last_error gauge
informer_last_error{reason="forbidden",resource="configmaps"} 1
# HELP informer_synced 1 when the cache has synced and every handler has seen the initial list, else 0.
# TYPE informer_synced gauge
informer_synced{resource="configmaps"} 0
informer_synced{resource="pods"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "informer_last_error", "informer_synced"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(m.status, "informer_last_error_timestamp_seconds"); got != 1 {
		t.Fatalf("last error timestamp: got %d series, want 1 (configmaps only)", got)
	}
	when := series(t, reg, "informer_last_error_timestamp_seconds", map[string]string{"resource": "configmaps"}).GetGauge().GetValue()
	if lo, hi := float64(before.UnixNano())/1e9, float64(after.UnixNano())/1e9; when < lo || when > hi {
		t.Errorf("last error time: got %v, want between %v and %v", when, lo, hi)
	}
}

func TestNewFailsOnARegistryThatHasTheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatalf("first New: %v", err)
	}
	before, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	_, err = New(reg)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Fatalf("second New: got error %v, want a prometheus.AlreadyRegisteredError", err)
	}
	after, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather after the failed New: %v", err)
	}
	if len(after) != len(before) {
		t.Errorf("metric families: got %d after the failed New, want %d", len(after), len(before))
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil): got no error, want one")
	}
}

func TestNewUnregistersWhatItRegisteredOnError(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Taken by someone else: New registers some metrics before it, then fails.
	taken := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "informer_reconcile_retries_total",
		Help: "Keys put back with backoff after a failed reconcile.",
	}, []string{"reconciler"})
	if err := reg.Register(taken); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := New(reg); err == nil {
		t.Fatal("New with a name taken: got no error, want one")
	}
	// Had the failed New left its first metrics registered, this one
	// would clash with them.
	reg.Unregister(taken)
	if _, err := New(reg); err != nil {
		t.Errorf("New once the name is free: got %v, want nil", err)
	}
}

func TestObserveTwiceTheLastWins(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := testutil.CollectAndCount(m.status); got != 0 {
		t.Errorf("before Observe: got %d series, want 0", got)
	}
	build := func(watch func(b *informer.Builder)) *informer.Informer {
		b := informer.NewBuilder().WithClients(fake.NewClientset(), nil)
		watch(b)
		inf, err := b.Build()
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		return inf
	}
	pods := build(func(b *informer.Builder) { informer.Watch(b, informer.Funcs[*corev1.Pod]{}) })
	configMaps := build(func(b *informer.Builder) { informer.Watch(b, informer.Funcs[*corev1.ConfigMap]{}) })
	m.Observe(pods)
	m.Observe(configMaps)
	want := `
# HELP informer_synced 1 when the cache has synced and every handler has seen the initial list, else 0.
# TYPE informer_synced gauge
informer_synced{resource="configmaps"} 0
`
	if err := testutil.CollectAndCompare(m.status, strings.NewReader(want), "informer_synced"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(m.status); got != 4 {
		t.Errorf("series: got %d, want 4 (cached, synced, watching, stale of configmaps)", got)
	}
	m.Observe(nil)
	if got := testutil.CollectAndCount(m.status); got != 0 {
		t.Errorf("after Observe(nil): got %d series, want 0", got)
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"forbidden", fmt.Errorf("list pods: %w", informer.ErrForbidden), "forbidden"},
		{"unauthorized", fmt.Errorf("list pods: %w", informer.ErrUnauthorized), "unauthorized"},
		{"not found", fmt.Errorf("list widgets: %w", informer.ErrResourceNotFound), "not_found"},
		{"unreachable", fmt.Errorf("dial: %w", informer.ErrUnreachable), "unreachable"},
		{"untrusted", fmt.Errorf("tls: %w", informer.ErrUntrustedServer), "untrusted"},
		{"unclassified", errors.New("internal error"), "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reason(tc.err); got != tc.want {
				t.Errorf("reason(%v): got %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestLeaderElectionLeadingGauge(t *testing.T) {
	tests := []struct {
		name     string
		election bool
		want     string // the series of informer_leader_election_leading
	}{
		{name: "without leader election", election: false, want: ""},
		{name: "leading", election: true, want: `
# HELP informer_leader_election_leading 1 while this replica leads (runs handlers and reconcile loops), else 0; only with informer.Builder.WithLeaderElection.
# TYPE informer_leader_election_leading gauge
informer_leader_election_leading{identity="replica-1",lease="kube-system/metrics-test"} 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := New(reg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			b := informer.NewBuilder().WithClients(fake.NewClientset(pod("default", "a")), nil)
			if tt.election {
				b.WithLeaderElection("kube-system", "metrics-test", informer.LeaseIdentity("replica-1"),
					informer.LeaseTimings(time.Second, 600*time.Millisecond, 100*time.Millisecond))
			}
			informer.Watch(b, informer.Funcs[*corev1.Pod]{})
			inf := start(t, b, m)
			if tt.election {
				waitFor(t, "leading", inf.Leading)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want), "informer_leader_election_leading"); err != nil {
				t.Error(err)
			}
			if err := inf.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if !tt.election {
				return
			}
			want := strings.Replace(tt.want, "} 1", "} 0", 1)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "informer_leader_election_leading"); err != nil {
				t.Errorf("after Stop: %v", err)
			}
		})
	}
}

func TestShardingGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b := informer.NewBuilder().WithClients(fake.NewClientset(pod("default", "a")), nil).
		WithSharding("kube-system", "metrics-test", informer.ShardRanges(4),
			informer.ShardLease(informer.LeaseIdentity("replica-1"), informer.LeaseTimings(5*time.Second, 4*time.Second, 100*time.Millisecond)))
	informer.Watch(b, informer.Funcs[*corev1.Pod]{}, informer.Sharded(informer.ShardByUID))
	inf := start(t, b, m)
	waitFor(t, "every range owned", func() bool { return len(inf.Status().Sharding.Owned) == 4 })
	want := `
# HELP informer_shard_members Live members of the shard group as this replica sees them; only with informer.Builder.WithSharding.
# TYPE informer_shard_members gauge
informer_shard_members{group="kube-system/metrics-test"} 1
# HELP informer_shard_ranges_owned Hash ranges whose handlers run on this replica; only with informer.Builder.WithSharding.
# TYPE informer_shard_ranges_owned gauge
informer_shard_ranges_owned{group="kube-system/metrics-test",identity="replica-1"} 4
# HELP informer_shard_server_side 1 when the API server filters the sharded resource by range, 0 when this replica filters on arrival; only with informer.Builder.WithSharding.
# TYPE informer_shard_server_side gauge
informer_shard_server_side{group="kube-system/metrics-test",resource="pods"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"informer_shard_members", "informer_shard_ranges_owned", "informer_shard_server_side"); err != nil {
		t.Error(err)
	}
}
