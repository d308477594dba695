package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Lease timings of the replicas of these tests: short, so that a takeover
// takes seconds (client-go's defaults are 15 s, 10 s, 2 s).
const (
	e2eLeaseDuration = 3 * time.Second
	e2eRenewDeadline = 2 * time.Second
	e2eRetryPeriod   = 500 * time.Millisecond
	e2eLeaseName     = "e2e-leader"
)

// takeoverBound is a safety bound on a takeover, not a performance
// figure: three lease durations, so that a loaded machine does not fail
// the test. The measured times are logged.
const takeoverBound = 3 * e2eLeaseDuration

// earlyPods is how many pods exist before the replicas start; the churn
// never touches them.
const earlyPods = 10

// call is one callback of one replica, timed on the process's monotonic
// clock.
type call struct {
	replica    string
	kind       string
	key        string
	start, end time.Time
}

// callLog records the callbacks of every replica of a test.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

// funcs returns callbacks that record into rec, then into the log with
// their start and end times.
func (l *callLog) funcs(replica string, rec *informertest.Recorder[*corev1.Pod]) informer.Funcs[*corev1.Pod] {
	inner := rec.Funcs()
	done := func(kind string, obj *corev1.Pod, start time.Time) {
		end := time.Now()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, call{replica: replica, kind: kind, key: obj.Namespace + "/" + obj.Name, start: start, end: end})
	}
	return informer.Funcs[*corev1.Pod]{
		OnAdd: func(ctx context.Context, obj *corev1.Pod) {
			start := time.Now()
			inner.OnAdd(ctx, obj)
			done("add", obj, start)
		},
		OnUpdate: func(ctx context.Context, oldObj, newObj *corev1.Pod) {
			start := time.Now()
			inner.OnUpdate(ctx, oldObj, newObj)
			done("update", newObj, start)
		},
		OnDelete: func(ctx context.Context, obj *corev1.Pod) {
			start := time.Now()
			inner.OnDelete(ctx, obj)
			done("delete", obj, start)
		},
	}
}

// of returns the calls of replica, in the order they were made.
func (l *callLog) of(replica string) []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	var calls []call
	for _, c := range l.calls {
		if c.replica == replica {
			calls = append(calls, c)
		}
	}
	return calls
}

// checkNoOverlap checks that every callback of the old leader ended before
// the first callback of the new leader began, and that both handled
// something (else the check proves nothing).
func (l *callLog) checkNoOverlap(t *testing.T, oldLeader, newLeader string) {
	t.Helper()
	oldCalls, newCalls := l.of(oldLeader), l.of(newLeader)
	if len(oldCalls) == 0 || len(newCalls) == 0 {
		t.Fatalf("callbacks: got %d on the old leader %s and %d on the new leader %s, want some on both",
			len(oldCalls), oldLeader, len(newCalls), newLeader)
	}
	var lastEnd time.Time
	for _, c := range oldCalls {
		if c.end.After(lastEnd) {
			lastEnd = c.end
		}
	}
	firstStart := newCalls[0].start
	if !lastEnd.Before(firstStart) {
		t.Errorf("callbacks of both replicas overlap: the old leader %s ended its last one at %s, the new leader %s began its first at %s; want the old ones all ended first",
			oldLeader, lastEnd.Format(time.StampMicro), newLeader, firstStart.Format(time.StampMicro))
		return
	}
	t.Logf("no overlap: %d callbacks of %s, the last ended %v before the first of %d callbacks of %s began",
		len(oldCalls), oldLeader, firstStart.Sub(lastEnd).Round(time.Millisecond), len(newCalls), newLeader)
}

// leaderReplica is one Informer of a pair electing a leader, run by Run in
// a goroutine, talking to the server through a proxy of its own.
type leaderReplica struct {
	id    string
	proxy *tcpProxy
	rec   *informertest.Recorder[*corev1.Pod]
	reg   *informer.Registration[*corev1.Pod]
	inf   *informer.Informer
	*backgroundRun
}

// startLeaderReplica builds a replica watching the pods of namespace and
// campaigning for the Lease e2eLeaseName there, and runs it. The test's
// cleanup ends Run and waits for it.
func startLeaderReplica(t *testing.T, c *localcluster.Cluster, namespace, id string, log *callLog) *leaderReplica {
	t.Helper()
	r := &leaderReplica{
		id:    id,
		proxy: startProxy(t, apiServerAddr(c)),
		rec:   informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound)),
	}
	b := informer.NewBuilder().WithConfig(proxiedConfig(c, r.proxy, nil)).WithNamespace(namespace).
		WithLeaderElection(namespace, e2eLeaseName, informer.LeaseIdentity(id),
			informer.LeaseTimings(e2eLeaseDuration, e2eRenewDeadline, e2eRetryPeriod))
	r.reg = informer.Watch(b, log.funcs(id, r.rec))
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build %s: %v", id, err)
	}
	r.inf = inf
	r.backgroundRun = runInBackground(t, id, inf)
	return r
}

// eventually polls cond every 10 ms until it holds, failing the test after
// bound: for state that offers no signal to wait on (another replica's
// leadership). It returns when cond was first seen to hold.
func eventually(t *testing.T, what string, bound time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, bound)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: test context done", what)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	return time.Now()
}

// leaseHolder returns the holder of the Lease namespace/name, "" when it
// was released or does not exist.
func leaseHolder(t *testing.T, client kubernetes.Interface, namespace, name string) string {
	t.Helper()
	lease, err := client.CoordinationV1().Leases(namespace).Get(t.Context(), name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return ""
	case err != nil:
		t.Fatalf("getting Lease %s/%s: %v", namespace, name, err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// leaderPair is the fixture of the takeover tests: pods in a namespace of
// their own, two replicas electing a leader and watching them, and a churn
// writing to them.
type leaderPair struct {
	client kubernetes.Interface
	ns     string
	log    *callLog
	a, b   *leaderReplica
	churn  *churn
}

func startLeaderPair(t *testing.T) *leaderPair {
	t.Helper()
	c := requireCluster(t)
	client, _ := directClients(t, c)
	p := &leaderPair{client: client, ns: newNamespace(t, client), log: &callLog{}}
	createNumberedPods(t, client, p.ns, "early", earlyPods)
	p.a = startLeaderReplica(t, c, p.ns, "replica-a", p.log)
	p.b = startLeaderReplica(t, c, p.ns, "replica-b", p.log)
	p.churn = startChurn(t, client, p.ns, testSeed(t))
	return p
}

// awaitLeader waits until one replica leads, and checks that the other
// does not, that the Lease names the leader, that the follower's cache
// follows the writes and that its handler got nothing.
func (p *leaderPair) awaitLeader(t *testing.T) (leader, follower *leaderReplica) {
	t.Helper()
	eventually(t, "a replica leads", waitBound, func() bool { return p.a.inf.Leading() || p.b.inf.Leading() })
	leader, follower = p.a, p.b
	if p.b.inf.Leading() {
		leader, follower = p.b, p.a
	}
	if follower.inf.Leading() {
		t.Fatalf("Leading: got true on both %s and %s, want one", leader.id, follower.id)
	}
	if holder := leaseHolder(t, p.client, p.ns, e2eLeaseName); holder != leader.id {
		t.Errorf("Lease holder: got %q, want the leader %q", holder, leader.id)
	}
	// The follower reads the Lease every retry period.
	eventually(t, "the follower sees the leader in the Lease", waitBound, func() bool {
		return follower.inf.Status().Leadership.Leader == leader.id
	})
	if st := follower.inf.Status().Leadership; st.Leading || st.LastError != nil {
		t.Errorf("follower's Status().Leadership: got leading %t, last error %v; want not leading, no error", st.Leading, st.LastError)
	}

	// A write the leader handles and the follower's cache holds.
	marked, err := p.client.CoreV1().Pods(p.ns).Patch(t.Context(), "early-00", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"marked":"true"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patching pod early-00: %v", err)
	}
	awaitEventSince(t, leader.rec, marked)
	eventually(t, "the follower's cache has the write", waitBound, func() bool {
		cached, err := follower.reg.Lister().Get(p.ns, "early-00")
		return err == nil && revision(cached) >= revision(marked)
	})
	if calls := p.log.of(follower.id); len(calls) != 0 {
		t.Errorf("follower's callbacks: got %d (first %+v), want none", len(calls), calls[0])
	}
	if got := follower.rec.Events(); len(got) != 0 {
		t.Errorf("follower's recorded events: got %d, want none", len(got))
	}
	t.Logf("%s leads; %s follows: its cache has pod early-00 at resourceVersion %s, its handler got nothing",
		leader.id, follower.id, marked.ResourceVersion)
	return leader, follower
}

// finish lets the churn write a little more, stops it, and checks the new
// leader: its first callbacks are the whole cache as adds with
// IsInitialList, then a consistent history whose replay equals the
// server's pods (no pod's last write unhandled), and no callback of the
// old leader overlapped one of the new leader.
func (p *leaderPair) finish(t *testing.T, oldLeader, newLeader *leaderReplica) {
	t.Helper()
	p.churn.waitWrites(t, 20)
	p.churn.stop()
	ok, failed := p.churn.counts()
	t.Logf("churn: %d writes succeeded, %d failed", ok, failed)

	awaitConvergence(t, "new leader "+newLeader.id, newLeader.rec, newLeader.reg.Lister(), serverPods(t, p.client, p.ns))
	events := newLeader.rec.Events()
	stats := checkEventStream(t, "new leader "+newLeader.id, events)
	t.Logf("new leader's events: %s", stats)

	initial := 0
	for initial < len(events) && events[initial].Kind == informertest.Added && events[initial].InitialList {
		initial++
	}
	if initial == 0 {
		t.Fatalf("new leader's first event: got %s (initial list %t), want an add with IsInitialList true", events[0], events[0].InitialList)
	}
	initialKeys := map[string]bool{}
	for _, e := range events[:initial] {
		initialKeys[e.Key()] = true
	}
	for i := range earlyPods {
		if key := fmt.Sprintf("%s/early-%02d", p.ns, i); !initialKeys[key] {
			t.Errorf("new leader's initial adds: %s missing, want every cached pod", key)
		}
	}
	for i, e := range events[initial:] {
		if e.InitialList {
			t.Errorf("new leader's event %d (%s): IsInitialList true after the initial adds ended", initial+i, e)
		}
	}
	t.Logf("new leader's first %d callbacks were the cache as adds with IsInitialList", initial)
	p.log.checkNoOverlap(t, oldLeader.id, newLeader.id)
}

// TestLeaderElectionKilledLeader cuts the leader off the server, as if its
// node died: it can neither renew the Lease nor watch. The other replica
// takes over once the Lease expires; the cut one notices that it cannot
// renew, stops handling and its Run returns ErrLeadershipLost.
func TestLeaderElectionKilledLeader(t *testing.T) {
	p := startLeaderPair(t)
	leader, follower := p.awaitLeader(t)
	p.churn.waitWrites(t, 20)

	cutAt := time.Now()
	leader.proxy.Cut()
	eventually(t, "the follower "+follower.id+" takes over", takeoverBound, follower.inf.Leading)
	st := follower.inf.Status().Leadership
	t.Logf("takeover after the leader was cut off: %v (lease duration %v, renew deadline %v, retry period %v)",
		st.LeadingSince.Sub(cutAt).Round(time.Millisecond), e2eLeaseDuration, e2eRenewDeadline, e2eRetryPeriod)

	err := leader.wait(t)
	t.Logf("Run of the cut leader returned %v after the cut: %v", leader.returned.Sub(cutAt).Round(time.Millisecond), err)
	if !errors.Is(err, informer.ErrLeadershipLost) {
		t.Errorf("Run of the cut leader: got %v, want an error wrapping ErrLeadershipLost", err)
	}
	if lost := leader.inf.Status().Leadership.Lost; !errors.Is(lost, informer.ErrLeadershipLost) {
		t.Errorf("cut leader's Status().Leadership.Lost: got %v, want ErrLeadershipLost", lost)
	}
	if err := leader.inf.Healthy(); !errors.Is(err, informer.ErrLeadershipLost) {
		t.Errorf("cut leader's Healthy: got %v, want ErrLeadershipLost", err)
	}
	if holder := leaseHolder(t, p.client, p.ns, e2eLeaseName); holder != follower.id {
		t.Errorf("Lease holder after the takeover: got %q, want %q", holder, follower.id)
	}
	p.finish(t, leader, follower)
}

// TestLeaderElectionCleanStop stops the leader: it releases the Lease once
// its callbacks returned, and the other replica takes over within about a
// retry period instead of a lease duration.
func TestLeaderElectionCleanStop(t *testing.T) {
	p := startLeaderPair(t)
	leader, follower := p.awaitLeader(t)
	p.churn.waitWrites(t, 20)

	stopAt := time.Now()
	leader.cancel()
	if err := leader.wait(t); err != nil {
		t.Errorf("Run of the stopped leader: got %v, want nil", err)
	}
	stopped := leader.returned.Sub(stopAt)
	if holder := leaseHolder(t, p.client, p.ns, e2eLeaseName); holder != "" && holder != follower.id {
		t.Errorf("Lease holder once the leader's Run returned: got %q, want released or %q", holder, follower.id)
	}
	if st := leader.inf.Status().Leadership; st.Leading || st.Lost != nil || st.LastError != nil {
		t.Errorf("stopped leader's Status().Leadership: got leading %t, lost %v, last error %v; want none (a clean stop)", st.Leading, st.Lost, st.LastError)
	}
	eventually(t, "the follower "+follower.id+" takes over", takeoverBound, follower.inf.Leading)
	st := follower.inf.Status().Leadership
	t.Logf("takeover after a clean stop: %v (the leader's Run returned after %v; retry period %v, lease duration %v)",
		st.LeadingSince.Sub(stopAt).Round(time.Millisecond), stopped.Round(time.Millisecond), e2eRetryPeriod, e2eLeaseDuration)
	if holder := leaseHolder(t, p.client, p.ns, e2eLeaseName); holder != follower.id {
		t.Errorf("Lease holder after the takeover: got %q, want %q", holder, follower.id)
	}
	p.finish(t, leader, follower)
}

// TestLeaderElectionRBAC checks the rights the docs give for a Lease: an
// identity with them leads; one without rights on leases syncs its cache
// but never leads, retries every retry period, and says why in
// Status().Leadership.LastError.
func TestLeaderElectionRBAC(t *testing.T) {
	c := requireCluster(t)
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "visible", nil))
	leaseRights := rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}

	tests := []struct {
		name      string
		user      string
		rules     []rbacv1.PolicyRule
		wantLeads bool
	}{
		{name: "get create update on leases", user: "e2e-leader-lease-rights", rules: append([]rbacv1.PolicyRule{leaseRights}, listWatchPods...), wantLeads: true},
		{name: "no rights on leases", user: "e2e-leader-no-lease-rights", rules: listWatchPods},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := c.AddUser(t.Context(), tt.user, tt.rules)
			if err != nil {
				t.Fatalf("AddUser(%s): %v", tt.user, err)
			}
			rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(waitBound))
			leaseName := tt.user // a Lease per case
			b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns).
				WithLeaderElection(ns, leaseName, informer.LeaseIdentity(tt.user),
					informer.LeaseTimings(e2eLeaseDuration, e2eRenewDeadline, e2eRetryPeriod))
			informer.Watch(b, rec.Funcs())
			inf := startInformer(t, b)

			if tt.wantLeads {
				awaitEvent(t, rec, "the add of pod visible", func(e informertest.Event[*corev1.Pod]) bool {
					return e.Kind == informertest.Added && e.Object.Name == "visible"
				})
				if st := inf.Status().Leadership; !st.Leading || st.LastError != nil {
					t.Errorf("Status().Leadership: got leading %t, last error %v; want leading, no error", st.Leading, st.LastError)
				}
				return
			}

			eventually(t, "a Lease error in Status", waitBound, func() bool { return inf.Status().Leadership.LastError != nil })
			first := inf.Status().Leadership
			t.Logf("Status().Leadership.LastError: %v", first.LastError)
			if !errors.Is(first.LastError, informer.ErrForbidden) || !apierrors.IsForbidden(first.LastError) {
				t.Errorf("Status().Leadership.LastError: got %v, want errors.Is ErrForbidden and apierrors.IsForbidden", first.LastError)
			}
			for _, want := range []string{"lease " + ns + "/" + leaseName, "get, create and update on leases"} {
				if !strings.Contains(first.LastError.Error(), want) {
					t.Errorf("Status().Leadership.LastError: got %q, want it to contain %q", first.LastError, want)
				}
			}
			// It keeps trying, and keeps failing, without leading.
			eventually(t, "a second Lease error", waitBound, func() bool {
				return inf.Status().Leadership.LastErrorTime.After(first.LastErrorTime)
			})
			if inf.Leading() || inf.Status().Leadership.Leading {
				t.Error("Leading without rights on leases: got true, want false")
			}
			if got := rec.Events(); len(got) != 0 {
				t.Errorf("handler of a replica that cannot lead: got %d events (first %s), want none", len(got), got[0])
			}
			if holder := leaseHolder(t, client, ns, leaseName); holder != "" {
				t.Errorf("Lease %s/%s: got holder %q, want none", ns, leaseName, holder)
			}
			if err := inf.Healthy(); err != nil {
				t.Errorf("Healthy: got %v, want nil (the replica runs, as a follower)", err)
			}
			t.Logf("Ready without rights on leases: %v", inf.Ready())
		})
	}
}
