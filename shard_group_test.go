package informer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/informer-go/informer/internal/shard"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const testShardRanges = 8

// testShardTimings: a generous renew deadline, so that a loaded machine
// does not make a replica lose its membership; handovers and clean leaves
// do not wait for leases to expire.
var testShardTimings = LeaseTimings(5*time.Second, 4*time.Second, 100*time.Millisecond)

// shardLog records the callbacks of every replica of a test group and
// fails the test when two replicas run callbacks of one range at once.
type shardLog struct {
	t       *testing.T
	mu      sync.Mutex
	running map[int]string            // range -> replica in a callback
	handled map[string]map[string]int // pod -> replica -> callbacks
	last    map[string]string         // pod -> label v last handled
	starts  []callbackStart
}

type callbackStart struct {
	replica string
	rng     int
	at      time.Time
}

func newShardLog(t *testing.T) *shardLog {
	return &shardLog{t: t, running: map[int]string{}, handled: map[string]map[string]int{}, last: map[string]string{}}
}

func (l *shardLog) funcs(replica string) Funcs[*corev1.Pod] {
	call := func(p *corev1.Pod) {
		rng := shard.ObjectRange(p, shard.ByUID, testShardRanges)
		l.mu.Lock()
		if other, ok := l.running[rng]; ok && other != replica {
			l.t.Errorf("range %d: %s and %s run callbacks at once", rng, other, replica)
		}
		l.running[rng] = replica
		l.starts = append(l.starts, callbackStart{replica, rng, time.Now()})
		if l.handled[p.Name] == nil {
			l.handled[p.Name] = map[string]int{}
		}
		l.handled[p.Name][replica]++
		l.last[p.Name] = p.Labels["v"]
		l.mu.Unlock()
		time.Sleep(time.Millisecond) // a callback that takes time, so overlaps would show
		l.mu.Lock()
		delete(l.running, rng)
		l.mu.Unlock()
	}
	return Funcs[*corev1.Pod]{
		OnAdd:    func(_ context.Context, p *corev1.Pod) { call(p) },
		OnUpdate: func(_ context.Context, _, p *corev1.Pod) { call(p) },
		OnDelete: func(_ context.Context, p *corev1.Pod) { call(p) },
	}
}

// allAt reports whether every pod's last handled version is v.
func (l *shardLog) allAt(pods int, v string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range pods {
		if l.last[fmt.Sprintf("p%02d", i)] != v {
			return false
		}
	}
	return true
}

// testUID returns the UID of test pod i: random-looking and fixed, as real
// UIDs are random. (UIDs that differ only in their last characters would
// all fall in one range: the last bytes of FNV-1a's input barely reach the
// high bits of the hash, which pick the range.)
func testUID(i int) types.UID {
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x",
		rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff))
}

func shardedPods(n int) []runtime.Object {
	objs := make([]runtime.Object, n)
	for i := range n {
		p := pod("default", fmt.Sprintf("p%02d", i), "1")
		p.UID = testUID(i)
		objs[i] = p
	}
	return objs
}

// casLeases makes the fake clientset's Leases compare-and-swap on
// resourceVersion, as the API server does (the fake's tracker never sets
// one): the owners Lease depends on it.
func casLeases(kube *fake.Clientset) {
	var mu sync.Mutex
	version := 0
	kube.PrependReactor("*", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		gvr := action.GetResource()
		switch action.GetVerb() {
		case "create":
			lease := action.(clienttesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
			version++
			lease.ResourceVersion = strconv.Itoa(version)
			if err := kube.Tracker().Create(gvr, lease, action.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, lease, nil
		case "update":
			lease := action.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
			current, err := kube.Tracker().Get(gvr, action.GetNamespace(), lease.Name)
			if err != nil {
				return true, nil, err
			}
			if current.(*coordinationv1.Lease).ResourceVersion != lease.ResourceVersion {
				return true, nil, apierrors.NewConflict(gvr.GroupResource(), lease.Name, errors.New("resourceVersion changed"))
			}
			version++
			lease.ResourceVersion = strconv.Itoa(version)
			if err := kube.Tracker().Update(gvr, lease, action.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, lease, nil
		}
		return false, nil, nil
	})
}

func startShardReplica(t *testing.T, kube *fake.Clientset, log *shardLog, id string) (*Informer, *Registration[*corev1.Pod]) {
	t.Helper()
	b := NewBuilder().WithClients(kube, nil).
		WithSharding("kube-system", "test-group", ShardRanges(testShardRanges), ShardLease(LeaseIdentity(id), testShardTimings))
	reg := Watch(b, log.funcs(id), Sharded(ShardByUID))
	inf := buildAndStart(t, b)
	return inf, reg
}

func owned(inf *Informer) []int { return inf.Status().Sharding.Owned }

func TestShardingSplitsHandsOverAndTakesBack(t *testing.T) {
	const podCount = 40
	kube := fake.NewClientset(shardedPods(podCount)...)
	casLeases(kube)
	log := newShardLog(t)

	a, regA := startShardReplica(t, kube, log, "a")
	waitUntil(t, "a owns every range", func() bool { return len(owned(a)) == testShardRanges })
	waitUntil(t, "every pod handled", func() bool { return log.allAt(podCount, "1") })
	if got := len(mustList(t, regA)); got != podCount {
		t.Errorf("a's Lister: got %d pods, want %d", got, podCount)
	}

	b, regB := startShardReplica(t, kube, log, "b")
	waitUntil(t, "a and b own half each", func() bool {
		return len(owned(a)) == testShardRanges/2 && len(owned(b)) == testShardRanges/2
	})
	if both := intersect(owned(a), owned(b)); len(both) > 0 {
		t.Errorf("ranges owned by both: %v", both)
	}
	listed := len(mustList(t, regA)) + len(mustList(t, regB))
	if listed != podCount {
		t.Errorf("Listers: a and b list %d pods together, want %d", listed, podCount)
	}

	// Every update is handled, by the owner of the pod's range.
	for i := range podCount {
		updated := pod("default", fmt.Sprintf("p%02d", i), "2")
		updated.UID = testUID(i)
		if _, err := kube.CoreV1().Pods("default").Update(t.Context(), updated, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "every update handled", func() bool { return log.allAt(podCount, "2") })

	// A clean stop hands a's ranges back; b takes them all.
	if err := a.Stop(); err != nil {
		t.Fatalf("a's Stop: %v", err)
	}
	waitUntil(t, "b owns every range", func() bool { return len(owned(b)) == testShardRanges })
	if got := len(mustList(t, regB)); got != podCount {
		t.Errorf("b's Lister after a left: got %d pods, want %d", got, podCount)
	}
	st := b.Status().Sharding
	if st.Members == nil || !slices.Equal(st.Members, []string{"b"}) || st.ServerSide["pods"] {
		t.Errorf("b's Status().Sharding: got %+v, want members [b], client-side filtering", st)
	}
}

func mustList(t *testing.T, reg *Registration[*corev1.Pod]) []*corev1.Pod {
	t.Helper()
	pods, err := reg.Lister().List(nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return pods
}

func intersect(a, b []int) []int {
	var both []int
	for _, x := range a {
		if slices.Contains(b, x) {
			both = append(both, x)
		}
	}
	return both
}

func TestShardingBadInput(t *testing.T) {
	kube := fake.NewClientset()
	tests := []struct {
		name  string
		build func() error
		want  string
	}{
		{name: "Sharded without WithSharding", build: func() error {
			b := NewBuilder().WithClients(kube, nil)
			Watch(b, Funcs[*corev1.Pod]{}, Sharded(ShardByUID))
			_, err := b.Build()
			return err
		}, want: "Sharded needs Builder.WithSharding"},
		{name: "unknown key", build: func() error {
			b := NewBuilder().WithClients(kube, nil).WithSharding("ns", "group")
			Watch(b, Funcs[*corev1.Pod]{}, Sharded("object.metadata.name"))
			_, err := b.Build()
			return err
		}, want: `unknown key "object.metadata.name"`},
		{name: "too many ranges", build: func() error {
			_, err := NewBuilder().WithClients(kube, nil).WithSharding("ns", "group", ShardRanges(2000)).Build()
			return err
		}, want: "2000 ranges: want 1 to 1024"},
		{name: "with leader election", build: func() error {
			_, err := NewBuilder().WithClients(kube, nil).WithSharding("ns", "group").WithLeaderElection("ns", "lock").Build()
			return err
		}, want: "exclude each other"},
		{name: "no typed client", build: func() error {
			_, err := NewBuilder().WithClients(nil, nil).WithSharding("ns", "group").Build()
			return err
		}, want: "WithSharding needs a typed client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.build(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestShardedReconcileRunsKeysOfOwnedRangesOnly(t *testing.T) {
	const podCount = 40
	kube := fake.NewClientset(shardedPods(podCount)...)
	casLeases(kube)
	log := newShardLog(t)
	start := func(id string) (*Informer, *Reconciler[*corev1.Pod]) {
		b := NewBuilder().WithClients(kube, nil).
			WithSharding("kube-system", "test-group", ShardRanges(testShardRanges), ShardLease(LeaseIdentity(id), testShardTimings))
		handle := log.funcs(id).OnAdd
		rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
			p, err := req.Get()
			if err != nil {
				return Result{}, nil // deleted: nothing to do
			}
			handle(ctx, p)
			return Result{}, nil
		}, Sharded(ShardByUID), Workers(3))
		return buildAndStart(t, b), rc
	}
	a, _ := start("a")
	waitUntil(t, "a owns every range", func() bool { return len(owned(a)) == testShardRanges })
	waitUntil(t, "every pod reconciled", func() bool { return log.allAt(podCount, "1") })

	b, _ := start("b")
	waitUntil(t, "a and b own half each", func() bool {
		return len(owned(a)) == testShardRanges/2 && len(owned(b)) == testShardRanges/2
	})
	for i := range podCount {
		updated := pod("default", fmt.Sprintf("p%02d", i), "2")
		updated.UID = testUID(i)
		if _, err := kube.CoreV1().Pods("default").Update(t.Context(), updated, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "every update reconciled", func() bool { return log.allAt(podCount, "2") })
	log.mu.Lock()
	for name, byReplica := range log.handled {
		rng := shard.ObjectRange(podWithUID(name), shard.ByUID, testShardRanges)
		if byReplica["b"] > 0 && !slices.Contains(owned(b), rng) && !slices.Contains(owned(a), rng) {
			t.Errorf("pod %s (range %d) reconciled by b, which does not own it", name, rng)
		}
	}
	log.mu.Unlock()

	if err := a.Stop(); err != nil {
		t.Fatalf("a's Stop: %v", err)
	}
	waitUntil(t, "b owns every range", func() bool { return len(owned(b)) == testShardRanges })
}

// podWithUID returns a pod named like shardedPods' with its UID.
func podWithUID(name string) *corev1.Pod {
	var i int
	_, _ = fmt.Sscanf(name, "p%02d", &i)
	p := pod("default", name, "")
	p.UID = testUID(i)
	return p
}

// A replica whose renewals fail (cut off, or paused) stops handling when
// its renewal is older than the renew deadline, and its Run returns
// ErrMembershipLost, before another replica takes its ranges, which
// happens only once its Lease has not changed for the lease duration.
func TestShardingStalledReplicaStopsBeforeTakeover(t *testing.T) {
	const podCount = 40
	kube := fake.NewClientset(shardedPods(podCount)...)
	casLeases(kube)
	var failA atomic.Bool
	kube.PrependReactor("update", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		lease := action.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if failA.Load() && lease.Labels[shardRoleLabel] == shardRoleMember && leaseHolderOf(lease) == "a" {
			return true, nil, errors.New("injected: a is cut off")
		}
		return false, nil, nil
	})
	log := newShardLog(t)
	short := LeaseTimings(2*time.Second, time.Second, 100*time.Millisecond)
	startWith := func(id string) (*Informer, <-chan error) {
		b := NewBuilder().WithClients(kube, nil).
			WithSharding("kube-system", "test-group", ShardRanges(testShardRanges), ShardLease(LeaseIdentity(id), short))
		Watch(b, log.funcs(id), Sharded(ShardByUID))
		inf, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		runErr := make(chan error, 1)
		go func() { runErr <- inf.Run(t.Context()) }()
		t.Cleanup(func() { _ = inf.Stop() })
		return inf, runErr
	}
	a, aErr := startWith("a")
	b, _ := startWith("b")
	waitUntil(t, "a and b own half each", func() bool {
		return len(owned(a)) == testShardRanges/2 && len(owned(b)) == testShardRanges/2
	})
	aRanges := owned(a)

	failA.Store(true)
	var lostAt time.Time
	select {
	case err := <-aErr:
		lostAt = time.Now()
		if !errors.Is(err, ErrMembershipLost) {
			t.Errorf("a's Run: got %v, want ErrMembershipLost", err)
		}
	case <-time.After(waitBound):
		t.Fatal("a's Run did not return after its renewals failed")
	}
	if got := owned(a); len(got) != 0 {
		t.Errorf("a's owned ranges after the loss: got %v, want none", got)
	}
	waitUntil(t, "b owns every range", func() bool { return len(owned(b)) == testShardRanges })
	// b handles a's ranges only after a's Lease expired (2 s after its last
	// renewal), a second after a stopped handling (1 s after it).
	waitUntil(t, "b handled pods of a's ranges", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		for _, start := range log.starts {
			if start.replica == "b" && slices.Contains(aRanges, start.rng) {
				if !start.at.After(lostAt) {
					t.Errorf("b handled range %d at %v, before a's Run returned at %v", start.rng, start.at, lostAt)
				} else {
					t.Logf("a's ranges %v: b's first callback in them %v after a's Run returned", aRanges, start.at.Sub(lostAt))
				}
				return true
			}
		}
		return false
	})
	if st := b.Status().Sharding; !slices.Equal(st.Members, []string{"b"}) {
		t.Errorf("b's members after a's Lease expired: got %v, want [b]", st.Members)
	}
}

// The test pods spread over the ranges, as real ones do: a test whose pods
// all fell in one range would prove nothing about handovers.
func TestShardTestPodsSpreadOverRanges(t *testing.T) {
	perRange := make([]int, testShardRanges)
	for _, obj := range shardedPods(40) {
		perRange[shard.ObjectRange(obj.(*corev1.Pod), shard.ByUID, testShardRanges)]++
	}
	for rng, count := range perRange {
		if count == 0 {
			t.Errorf("range %d has no test pod: %v", rng, perRange)
		}
	}
}

func TestShardedRegistrationAddedLateAndRemoved(t *testing.T) {
	const podCount = 40
	kube := fake.NewClientset(shardedPods(podCount)...)
	casLeases(kube)
	first, late := newShardLog(t), newShardLog(t)
	b := NewBuilder().WithClients(kube, nil).
		WithSharding("kube-system", "test-group", ShardRanges(testShardRanges), ShardLease(LeaseIdentity("a"), testShardTimings))
	reg := Watch(b, first.funcs("a"), Sharded(ShardByUID))
	inf := buildAndStart(t, b)
	waitUntil(t, "every pod handled", func() bool { return first.allAt(podCount, "1") })

	// A registration made after Start gets the owned ranges' objects.
	lateReg := Watch(b, late.funcs("a"), Sharded(ShardByUID))
	if err := lateReg.Err(); err != nil {
		t.Fatalf("late Watch: %v", err)
	}
	waitUntil(t, "every pod handled by the late registration", func() bool { return late.allAt(podCount, "1") })

	// Removing one leaves the other running on the same informers.
	if err := reg.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := reg.Remove(t.Context()); err != nil {
		t.Errorf("second Remove: got %v, want nil", err)
	}
	if _, err := reg.Lister().List(nil); !errors.Is(err, ErrRemoved) {
		t.Errorf("removed registration's Lister: got %v, want ErrRemoved", err)
	}
	updated := pod("default", "p00", "2")
	updated.UID = testUID(0)
	if _, err := kube.CoreV1().Pods("default").Update(t.Context(), updated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the update reaches the remaining registration", func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return late.last["p00"] == "2"
	})
	first.mu.Lock()
	if got := first.last["p00"]; got != "1" {
		t.Errorf("removed registration saw p00 at %q, want no callback after Remove (last %q)", got, "1")
	}
	first.mu.Unlock()

	// Removing the last one stops the ranges' informers, without deletes.
	if err := lateReg.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := len(inf.Status().Informers); got != 0 {
		t.Errorf("informers after the last sharded registration was removed: got %d, want 0", got)
	}
}

func TestShardingLeaseErrorsShowInStatus(t *testing.T) {
	kube := fake.NewClientset(shardedPods(4)...)
	kube.PrependReactor("create", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(coordinationv1.Resource("leases"), "", errors.New("no rights"))
	})
	b := NewBuilder().WithClients(kube, nil).
		WithSharding("kube-system", "test-group", ShardRanges(testShardRanges), ShardLease(LeaseIdentity("a"), testShardTimings))
	Watch(b, Funcs[*corev1.Pod]{}, Sharded(ShardByUID))
	inf := buildAndStart(t, b)
	waitUntil(t, "Status().Sharding.LastError is set", func() bool { return inf.Status().Sharding.LastError != nil })
	st := inf.Status().Sharding
	if !errors.Is(st.LastError, ErrForbidden) || !strings.Contains(st.LastError.Error(), "delete on leases") || st.LastErrorTime.IsZero() {
		t.Errorf("LastError: got %v at %v, want ErrForbidden naming the rights on leases", st.LastError, st.LastErrorTime)
	}
	if len(st.Owned) != 0 {
		t.Errorf("owned without a Lease: got %v, want none", st.Owned)
	}
}
