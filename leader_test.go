package informer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// Lease timings for tests: short ones where a test waits for a loss (the
// Lease counts whole seconds), and generous ones elsewhere, so that a
// loaded machine does not end a leadership the test relies on.
var (
	testLeaseTimings     = LeaseTimings(time.Second, 600*time.Millisecond, 100*time.Millisecond)
	testSafeLeaseTimings = LeaseTimings(5*time.Second, 4*time.Second, 100*time.Millisecond)
)

const (
	testLeaseNamespace = "kube-system"
	testLeaseName      = "test-leader"
)

// replica is one of several Informers electing a leader over one fake
// clientset.
type replica struct {
	id     string
	inf    *Informer
	reg    *Registration[*corev1.Pod]
	events chan event
}

func newReplica(t *testing.T, kube *fake.Clientset, id string, timings LeaseOption) *replica {
	t.Helper()
	r := &replica{id: id, events: make(chan event, 100)}
	b := NewBuilder().WithClients(kube, nil).
		WithLeaderElection(testLeaseNamespace, testLeaseName, LeaseIdentity(id), timings)
	r.reg = Watch(b, recordingFuncs[*corev1.Pod](r.events))
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build %s: %v", id, err)
	}
	r.inf = inf
	return r
}

// leaseHolder reads the test Lease's holder from the fake clientset.
func leaseHolder(t *testing.T, kube *fake.Clientset) string {
	t.Helper()
	lease, err := kube.CoordinationV1().Leases(testLeaseNamespace).Get(context.Background(), testLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// firstLeader waits for the first add a replica's handler receives and
// returns that replica and the event.
func firstLeader(t *testing.T, replicas ...*replica) (*replica, event) {
	t.Helper()
	timeout := time.After(waitBound)
	for {
		for _, r := range replicas {
			select {
			case e := <-r.events:
				return r, e
			default:
			}
		}
		select {
		case <-timeout:
			t.Fatalf("no replica handled an event within %v", waitBound)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestLeaderElectionOnlyTheLeaderHandlesAndCleanStopHandsOver(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	a, b := newReplica(t, kube, "a", testSafeLeaseTimings), newReplica(t, kube, "b", testSafeLeaseTimings)
	for _, r := range []*replica{a, b} {
		t.Cleanup(func() { _ = r.inf.Stop() })
		if err := r.inf.Start(t.Context()); err != nil {
			t.Fatalf("Start %s: %v", r.id, err)
		}
		if err := r.inf.WaitForSync(t.Context()); err != nil {
			t.Fatalf("WaitForSync %s: %v", r.id, err)
		}
	}

	leader, got := firstLeader(t, a, b)
	follower := b
	if leader == b {
		follower = a
	}
	if want := (event{kind: "add", key: "default/a", initial: true, newLabel: "1"}); got != want {
		t.Errorf("leader's first event: got %+v, want %+v", got, want)
	}
	if holder := leaseHolder(t, kube); holder != leader.id {
		t.Errorf("lease holder: got %q, want %q", holder, leader.id)
	}
	if !leader.inf.Leading() || follower.inf.Leading() {
		t.Errorf("Leading: leader %v, follower %v; want true, false", leader.inf.Leading(), follower.inf.Leading())
	}
	for _, tc := range []struct {
		r    *replica
		code int
	}{{leader, http.StatusOK}, {follower, http.StatusServiceUnavailable}} {
		rec := httptest.NewRecorder()
		tc.r.inf.LeadingHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/leading", nil))
		if rec.Code != tc.code {
			t.Errorf("%s's LeadingHandler: got %d, want %d", tc.r.id, rec.Code, tc.code)
		}
	}
	st := leader.inf.Status().Leadership
	if st == nil || !st.Leading || st.Identity != leader.id || st.Lease != testLeaseNamespace+"/"+testLeaseName || st.LeadingSince.IsZero() {
		t.Errorf("leader's Status().Leadership: got %+v", st)
	}

	// An update reaches the leader only; the follower's cache follows.
	updated := pod("default", "a", "2")
	if _, err := kube.CoreV1().Pods("default").Update(t.Context(), updated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, leader.events); e.kind != "update" || e.newLabel != "2" {
		t.Errorf("leader's second event: got %+v, want the update to v=2", e)
	}
	waitUntil(t, "the follower's cache has the update", func() bool {
		p, err := follower.reg.Lister().Get("default", "a")
		return err == nil && p.Labels["v"] == "2"
	})
	if stats := follower.reg.Stats(); stats.Delivered != 0 {
		t.Errorf("follower's handler: %d callbacks, want 0", stats.Delivered)
	}

	// A clean stop releases the Lease once the handlers returned; the
	// follower takes over and receives the whole cache as adds.
	if err := leader.inf.Stop(); err != nil {
		t.Fatalf("leader's Stop: %v", err)
	}
	if holder := leaseHolder(t, kube); holder != "" && holder != follower.id {
		t.Errorf("lease holder after the leader's Stop: got %q, want released or the follower", holder)
	}
	if e := nextEvent(t, follower.events); e != (event{kind: "add", key: "default/a", initial: true, newLabel: "2"}) {
		t.Errorf("new leader's first event: got %+v, want the add of default/a v=2 as part of the initial list", e)
	}
	if holder := leaseHolder(t, kube); holder != follower.id {
		t.Errorf("lease holder: got %q, want %q", holder, follower.id)
	}
}

func TestLeaderElectionLostLeadershipEndsRun(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	var failRenewals atomic.Bool
	kube.PrependReactor("update", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		lease := action.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if failRenewals.Load() && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == "a" {
			return true, nil, errors.New("injected: etcd timeout")
		}
		return false, nil, nil
	})
	a := newReplica(t, kube, "a", testLeaseTimings)
	runErr := make(chan error, 1)
	go func() { runErr <- a.inf.Run(t.Context()) }()
	if e := nextEvent(t, a.events); e.kind != "add" {
		t.Fatalf("leader's first event: got %+v, want an add", e)
	}

	failRenewals.Store(true)
	select {
	case err := <-runErr:
		if !errors.Is(err, ErrLeadershipLost) || !strings.Contains(err.Error(), "kube-system/test-leader") {
			t.Errorf("Run: got %v, want an error wrapping ErrLeadershipLost naming the lease", err)
		}
	case <-time.After(waitBound):
		t.Fatalf("Run did not return within %v of the failed renewals", waitBound)
	}
	if a.inf.Leading() {
		t.Error("Leading after the loss: got true, want false")
	}
	if err := a.inf.Healthy(); !errors.Is(err, ErrLeadershipLost) {
		t.Errorf("Healthy after the loss: got %v, want ErrLeadershipLost", err)
	}
	if st := a.inf.Status().Leadership; st == nil || !errors.Is(st.Lost, ErrLeadershipLost) || st.Leading {
		t.Errorf("Status().Leadership after the loss: got %+v", st)
	}
	// A lost lease is not released: the others wait for it to expire, so
	// that a callback still running here ends first.
	if holder := leaseHolder(t, kube); holder != "a" {
		t.Errorf("lease holder after the loss: got %q, want %q (not released)", holder, "a")
	}
}

func TestLeaderElectionGateClosesWhenRenewalIsOld(t *testing.T) {
	kube := fake.NewClientset()
	config := &electionConfig{namespace: "ns", name: "lock", lease: leaseConfig{
		identity: "a", leaseDuration: 15 * time.Second, renewDeadline: 10 * time.Second, retryPeriod: 2 * time.Second,
	}}
	e, err := newElection(config, kube, func() {}, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	var elapsed time.Duration
	e.since = func(time.Time) time.Duration { return elapsed }
	renewed := time.Now()

	tests := []struct {
		name    string
		leading bool
		renewed *time.Time
		elapsed time.Duration
		want    bool
	}{
		{name: "follower", leading: false, renewed: &renewed, want: false},
		{name: "leader, never renewed", leading: true, want: false},
		{name: "leader, fresh renewal", leading: true, renewed: &renewed, elapsed: 2 * time.Second, want: true},
		{name: "leader just under the deadline", leading: true, renewed: &renewed, elapsed: 10*time.Second - time.Nanosecond, want: true},
		// A process paused past its lease resumes with an old renewal: it
		// starts nothing, before its renewal loop even notices.
		{name: "leader paused past the deadline", leading: true, renewed: &renewed, elapsed: 10 * time.Second, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.leading.Store(tt.leading)
			e.renewed.Store(tt.renewed)
			elapsed = tt.elapsed
			if got := e.allows(); got != tt.want {
				t.Errorf("allows: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClosedGateStartsNoCallback(t *testing.T) {
	var open atomic.Bool
	var calls atomic.Int64
	reg := &Registration[*corev1.Pod]{funcs: Funcs[*corev1.Pod]{
		OnAdd:    func(context.Context, *corev1.Pod) { calls.Add(1) },
		OnUpdate: func(context.Context, *corev1.Pod, *corev1.Pod) { calls.Add(1) },
		OnDelete: func(context.Context, *corev1.Pod) { calls.Add(1) },
	}, contexts: newEventContexts(t.Context()), gate: open.Load}
	h := eventHandler[*corev1.Pod]{reg}
	deliver := func() {
		h.OnAdd(pod("ns", "p", "1"), false)
		h.OnUpdate(pod("ns", "p", "1"), pod("ns", "p", "2"))
		h.OnDelete(cache.DeletedObject[*corev1.Pod]{OptionalObj: pod("ns", "p", "2")})
	}
	deliver()
	if got := calls.Load(); got != 0 {
		t.Errorf("callbacks with the gate closed: got %d, want 0", got)
	}
	open.Store(true)
	deliver()
	if got := calls.Load(); got != 3 {
		t.Errorf("callbacks with the gate open: got %d, want 3", got)
	}
}

func TestLeaderElectionBadInput(t *testing.T) {
	kube := fake.NewClientset()
	tests := []struct {
		name    string
		builder *Builder
		want    string
	}{
		{name: "bad namespace", builder: NewBuilder().WithClients(kube, nil).WithLeaderElection("Not_A_Namespace", "lock"),
			want: `invalid namespace "Not_A_Namespace"`},
		{name: "empty name", builder: NewBuilder().WithClients(kube, nil).WithLeaderElection("ns", ""),
			want: `invalid Lease name ""`},
		{name: "renew deadline over lease duration", builder: NewBuilder().WithClients(kube, nil).
			WithLeaderElection("ns", "lock", LeaseTimings(10*time.Second, 15*time.Second, 2*time.Second)),
			want: "lease duration 10s must exceed the renew deadline 15s"},
		{name: "retry period too long", builder: NewBuilder().WithClients(kube, nil).
			WithLeaderElection("ns", "lock", LeaseTimings(15*time.Second, 10*time.Second, 9*time.Second)),
			want: "renew deadline 10s must exceed 1.2 × the retry period 9s"},
		{name: "zero retry period", builder: NewBuilder().WithClients(kube, nil).
			WithLeaderElection("ns", "lock", LeaseTimings(15*time.Second, 10*time.Second, 0)),
			want: "retry period 0s must be positive"},
		{name: "lease under a second", builder: NewBuilder().WithClients(kube, nil).
			WithLeaderElection("ns", "lock", LeaseTimings(900*time.Millisecond, 500*time.Millisecond, 100*time.Millisecond)),
			want: "under the Lease's 1 s resolution"},
		{name: "no typed client", builder: NewBuilder().WithClients(nil, nil).WithLeaderElection("ns", "lock"),
			want: "WithLeaderElection needs a typed client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.builder.Build()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLeaderElectionDefaultIdentityIsUniquePerProcess(t *testing.T) {
	first, err := newLeaseConfig("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := newLeaseConfig("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.identity == second.identity || !strings.Contains(first.identity, "_") {
		t.Errorf("default identities: got %q and %q, want two different host_suffix identities", first.identity, second.identity)
	}
	if first.leaseDuration != DefaultLeaseDuration || first.renewDeadline != DefaultRenewDeadline || first.retryPeriod != DefaultRetryPeriod {
		t.Errorf("default timings: got %v/%v/%v", first.leaseDuration, first.renewDeadline, first.retryPeriod)
	}
}

func TestLeaderElectionReconcileRunsOnTheLeaderOnly(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"), pod("default", "b", "1"))
	type reconciled struct{ replica, key string }
	calls := make(chan reconciled, 100)
	start := func(id string) *Informer {
		b := NewBuilder().WithClients(kube, nil).
			WithLeaderElection(testLeaseNamespace, testLeaseName, LeaseIdentity(id), testSafeLeaseTimings)
		Reconcile(b, func(_ context.Context, req Request[*corev1.Pod]) (Result, error) {
			calls <- reconciled{id, req.String()}
			return Result{}, nil
		})
		return startSynced(t, b)
	}
	a, b := start("a"), start("b")
	first := <-calls
	leader, follower := a, b
	if first.replica == "b" {
		leader, follower = b, a
	}
	second := <-calls
	if second.replica != first.replica {
		t.Errorf("reconciles ran on %q and %q, want the leader only", first.replica, second.replica)
	}
	keys := []string{first.key, second.key}
	slices.Sort(keys)
	if want := []string{"default/a", "default/b"}; !slices.Equal(keys, want) {
		t.Errorf("reconciled keys: got %v, want %v", keys, want)
	}
	if !leader.Leading() || follower.Leading() {
		t.Errorf("Leading: leader %v, follower %v", leader.Leading(), follower.Leading())
	}
}

// waitUntil polls cond until it holds, failing the test after waitBound:
// for state that has no signal to wait on (another replica's cache).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeaderElectionLeaseErrorsInStatus(t *testing.T) {
	tests := []struct {
		name     string
		verb     string // the request that fails
		err      error
		want     error
		wantText string
	}{
		{
			name: "no right to get",
			verb: "get",
			err: apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, testLeaseName,
				errors.New(`User "nobody" cannot get resource "leases"`)),
			want:     ErrForbidden,
			wantText: "needs get, create and update on leases (coordination.k8s.io) in namespace " + testLeaseNamespace,
		},
		{
			name: "no right to create",
			verb: "create",
			err: apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, testLeaseName,
				errors.New(`User "nobody" cannot create resource "leases"`)),
			want:     ErrForbidden,
			wantText: "lease " + testLeaseNamespace + "/" + testLeaseName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset(pod("default", "a", "1"))
			kube.PrependReactor(tt.verb, "leases", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, tt.err
			})
			r := newReplica(t, kube, "a", testLeaseTimings)
			t.Cleanup(func() { _ = r.inf.Stop() })
			if err := r.inf.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			waitUntil(t, "Status().Leadership.LastError is set", func() bool {
				return r.inf.Status().Leadership.LastError != nil
			})
			st := r.inf.Status().Leadership
			if !errors.Is(st.LastError, tt.want) || !strings.Contains(st.LastError.Error(), tt.wantText) {
				t.Errorf("Status().Leadership.LastError: got %v, want errors.Is %v and a message containing %q", st.LastError, tt.want, tt.wantText)
			}
			if st.LastErrorTime.IsZero() {
				t.Error("Status().Leadership.LastErrorTime: got zero, want the time of the error")
			}
			if st.Leading || r.inf.Leading() {
				t.Errorf("Leading: got Status %v, Leading() %v, want false", st.Leading, r.inf.Leading())
			}
			if stats := r.reg.Stats(); stats.Delivered != 0 {
				t.Errorf("handler of a replica that cannot lead: %d callbacks, want 0", stats.Delivered)
			}
		})
	}
}

func TestLeaderElectionGateWaitsForRenewalWhileLeading(t *testing.T) {
	config := &electionConfig{namespace: "ns", name: "lock", lease: leaseConfig{
		identity: "a", leaseDuration: 15 * time.Second, renewDeadline: 10 * time.Second, retryPeriod: 2 * time.Second,
	}}
	newStale := func(t *testing.T) *election {
		e, err := newElection(config, fake.NewClientset(), func() {}, func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		e.renewed.Store(&old)
		e.leading.Store(true)
		return e
	}
	tests := []struct {
		name string
		then func(e *election)
		want bool
	}{
		// A late but successful renewal proves the Lease is still ours:
		// the waiting callback runs, the event is not dropped.
		{name: "renewal succeeds", then: func(e *election) {
			now := time.Now()
			e.renewed.Store(&now)
			e.wake()
		}, want: true},
		// The leadership ends (a clean stop, or a loss): nothing runs.
		{name: "leadership ends", then: func(e *election) { e.closeGate() }, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newStale(t)
			admitted := make(chan bool, 1)
			go func() { admitted <- e.admit() }()
			select {
			case got := <-admitted:
				t.Fatalf("admit with an old renewal returned %v at once, want it to wait", got)
			case <-time.After(50 * time.Millisecond): // still waiting: an absence can only be checked for a while
			}
			tt.then(e)
			select {
			case got := <-admitted:
				if got != tt.want {
					t.Errorf("admit: got %v, want %v", got, tt.want)
				}
			case <-time.After(waitBound):
				t.Fatal("admit did not return")
			}
		})
	}
}
