package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/internal/shard"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// These tests run a shard group of three in-process replicas against
// kube-apiserver, once with its ShardedListAndWatch gate on (each range's
// informer gets only its range from the server) and once with it off (the
// replicas filter on the client), with a writer updating the pods all the
// while.

const (
	shardE2ERanges = 8
	shardE2EPods   = 60
	shardE2EGroup  = "e2e-shards"
	// shardWriterPause paces the writer: pacing only, nothing waits on it.
	shardWriterPause = 10 * time.Millisecond
)

// shardCall is one callback of one replica, timed on the process's
// monotonic clock.
type shardCall struct {
	replica    string
	rng        int
	key        string
	rv         uint64
	start, end time.Time
}

// shardCallLog records the callbacks of every replica of a group, and the
// resourceVersion each pod was last handled at, by any replica.
type shardCallLog struct {
	mu    sync.Mutex
	calls []shardCall
	last  map[string]uint64 // pod name -> resourceVersion of the last callback that ended
}

func (l *shardCallLog) funcs(replica string) informer.Funcs[*corev1.Pod] {
	call := func(p *corev1.Pod) {
		start := time.Now()
		time.Sleep(time.Millisecond) // a callback that takes time, so overlaps would show
		rv, _ := strconv.ParseUint(p.ResourceVersion, 10, 64)
		c := shardCall{replica: replica, rng: shard.ObjectRange(p, shard.ByUID, shardE2ERanges), key: p.Name, rv: rv, start: start}
		l.mu.Lock()
		defer l.mu.Unlock()
		c.end = time.Now()
		l.calls = append(l.calls, c)
		l.last[p.Name] = rv
	}
	return informer.Funcs[*corev1.Pod]{
		OnAdd:    func(_ context.Context, p *corev1.Pod) { call(p) },
		OnUpdate: func(_ context.Context, _, p *corev1.Pod) { call(p) },
		OnDelete: func(_ context.Context, p *corev1.Pod) { call(p) },
	}
}

// checkNoOverlap checks that no two replicas ran callbacks of one range at
// the same time, and logs how many callbacks each replica ran.
func (l *shardCallLog) checkNoOverlap(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	calls := slices.Clone(l.calls)
	l.mu.Unlock()
	byRange := map[int][]shardCall{}
	perReplica := map[string]int{}
	for _, c := range calls {
		byRange[c.rng] = append(byRange[c.rng], c)
		perReplica[c.replica]++
	}
	overlaps := 0
	for rng, rc := range byRange {
		sort.Slice(rc, func(i, j int) bool { return rc[i].start.Before(rc[j].start) })
		// Sorted by start: a call of another replica that began earlier
		// overlaps c when it ended after c began.
		lastEnd := map[string]shardCall{}
		for _, c := range rc {
			for replica, prev := range lastEnd {
				if replica != c.replica && prev.end.After(c.start) {
					overlaps++
					if overlaps <= 5 {
						t.Errorf("range %d: callback of %s on pod %s (%s to %s) overlaps callback of %s on pod %s (%s to %s)",
							rng, prev.replica, prev.key, prev.start.Format(time.StampMicro), prev.end.Format(time.StampMicro),
							c.replica, c.key, c.start.Format(time.StampMicro), c.end.Format(time.StampMicro))
					}
				}
			}
			if prev, ok := lastEnd[c.replica]; !ok || c.end.After(prev.end) {
				lastEnd[c.replica] = c
			}
		}
	}
	if overlaps > 0 {
		t.Errorf("%d overlapping callbacks of one range on two replicas, want none", overlaps)
	}
	t.Logf("no-overlap check over %d callbacks in %d ranges: per replica %v; %d overlaps", len(calls), len(byRange), perReplica, overlaps)
}

// awaitLastHandled waits until the last callback of every pod of the
// server (by any replica) saw the server's resourceVersion.
func (l *shardCallLog) awaitLastHandled(t *testing.T, what string, client kubernetes.Interface, ns string) {
	t.Helper()
	want := serverPods(t, client, ns)
	var behind []string
	check := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		behind = behind[:0]
		for key, view := range want {
			name := key[len(ns)+1:]
			if strconv.FormatUint(l.last[name], 10) != view.ResourceVersion {
				behind = append(behind, fmt.Sprintf("%s handled at %d, server %s", name, l.last[name], view.ResourceVersion))
			}
		}
		return len(behind) == 0
	}
	deadline := time.Now().Add(waitBound)
	for !check() {
		if time.Now().After(deadline) {
			sort.Strings(behind)
			t.Fatalf("%s: %d of %d pods' last handled resourceVersion is not the server's within %v: %v",
				what, len(behind), len(want), waitBound, behind[:min(len(behind), 10)])
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	t.Logf("%s: every one of %d pods was last handled at the server's resourceVersion", what, len(want))
}

// shardReplica is one member of the group, run by Run in a goroutine,
// talking to the server through a proxy of its own.
type shardReplica struct {
	id    string
	proxy *tcpProxy
	reg   *informer.Registration[*corev1.Pod]
	inf   *informer.Informer
	*backgroundRun
}

func startShardReplica(t *testing.T, c *localcluster.Cluster, ns, id string, log *shardCallLog) *shardReplica {
	t.Helper()
	return startShardReplicaTimed(t, c, ns, id, log, informer.LeaseTimings(e2eLeaseDuration, e2eRenewDeadline, e2eRetryPeriod))
}

// startShardReplicaTimed is startShardReplica with the given lease timings.
func startShardReplicaTimed(t *testing.T, c *localcluster.Cluster, ns, id string, log *shardCallLog, timings informer.LeaseOption) *shardReplica {
	t.Helper()
	r := &shardReplica{id: id, proxy: startProxy(t, apiServerAddr(c))}
	b := informer.NewBuilder().WithConfig(proxiedConfig(c, r.proxy, nil)).WithNamespace(ns).
		WithSharding(ns, shardE2EGroup, informer.ShardRanges(shardE2ERanges),
			informer.ShardLease(informer.LeaseIdentity(id), timings))
	r.reg = informer.Watch(b, log.funcs(id), informer.Sharded(informer.ShardByUID))
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build %s: %v", id, err)
	}
	r.inf = inf
	r.backgroundRun = runInBackground(t, id, inf)
	return r
}

func (r *shardReplica) sharding() *informer.ShardingStatus { return r.inf.Status().Sharding }

// cached returns the number of objects in the caches of the replica's
// informers (only pods are watched).
func (r *shardReplica) cached() int {
	n := 0
	for _, is := range r.inf.Status().Informers {
		n += is.CachedObjects
	}
	return n
}

// partition reports whether the replicas together own every range exactly
// once, each owning some and none warming; it describes what it saw.
func partition(replicas []*shardReplica) (bool, string) {
	seen := make([]int, shardE2ERanges)
	desc := ""
	ok := true
	for _, r := range replicas {
		st := r.sharding()
		desc += fmt.Sprintf("%s owns %v warms %v sees %v; ", r.id, st.Owned, st.Warming, st.Members)
		if len(st.Owned) == 0 || len(st.Warming) != 0 || len(st.Members) != len(replicas) {
			ok = false
		}
		for _, rng := range st.Owned {
			seen[rng]++
		}
	}
	for _, n := range seen {
		ok = ok && n == 1
	}
	return ok, desc
}

func awaitPartition(t *testing.T, what string, bound time.Duration, replicas []*shardReplica) time.Time {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		ok, desc := partition(replicas)
		if ok {
			t.Logf("%s: %s", what, desc)
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, bound, desc)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// podWriter updates the test's pods round robin until stopped.
type podWriter struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ok     int
	failed int
}

func startPodWriter(t *testing.T, client kubernetes.Interface, ns string) *podWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &podWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for gen := 0; ctx.Err() == nil; gen++ {
			name := fmt.Sprintf("pod-%02d", gen%shardE2EPods)
			callCtx, stop := context.WithTimeout(ctx, churnCallTimeout)
			_, err := client.CoreV1().Pods(ns).Patch(callCtx, name, types.MergePatchType,
				fmt.Appendf(nil, `{"metadata":{"labels":{"v":"%d"}}}`, gen), metav1.PatchOptions{})
			stop()
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			if err == nil {
				w.ok++
			} else {
				w.failed++
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(shardWriterPause):
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// waitWrites waits until n more updates have succeeded, polling.
func (w *podWriter) waitWrites(t *testing.T, n int) {
	t.Helper()
	count := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.ok
	}
	base := count()
	eventually(t, fmt.Sprintf("%d more pod updates", n), waitBound, func() bool { return count() >= base+n })
}

// stop ends the writer once its last write returned, and reports its counts.
func (w *podWriter) stop() (ok, failed int) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ok, w.failed
}

// podsByRange returns the names of the server's pods per range.
func podsByRange(t *testing.T, client kubernetes.Interface, ns string) map[int][]string {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	byRange := map[int][]string{}
	for i := range list.Items {
		rng := shard.ObjectRange(&list.Items[i], shard.ByUID, shardE2ERanges)
		byRange[rng] = append(byRange[rng], list.Items[i].Name)
	}
	return byRange
}

func TestSharding(t *testing.T) {
	requireCluster(t)
	start := time.Now()
	gateOn := informertest.StartCluster(t, localcluster.Options{FeatureGates: map[string]bool{"ShardedListAndWatch": true}})
	t.Logf("cluster with ShardedListAndWatch=true started in %v", time.Since(start).Round(time.Millisecond))
	for _, tc := range []struct {
		name    string
		cluster *localcluster.Cluster
		gateOn  bool
	}{
		{name: "gate on", cluster: gateOn, gateOn: true},
		{name: "gate off", cluster: cluster, gateOn: false},
	} {
		t.Run(tc.name, func(t *testing.T) { testShardGroup(t, tc.cluster, tc.gateOn) })
	}
}

func testShardGroup(t *testing.T, c *localcluster.Cluster, gateOn bool) {
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	createNumberedPods(t, client, ns, "pod", shardE2EPods)
	byRange := podsByRange(t, client, ns)
	counts := make([]int, shardE2ERanges)
	for rng := range counts {
		counts[rng] = len(byRange[rng])
	}
	t.Logf("pods per range: %v", counts)
	inRanges := func(ranges []int) int {
		n := 0
		for _, rng := range ranges {
			n += counts[rng]
		}
		return n
	}

	log := &shardCallLog{last: map[string]uint64{}}
	writer := startPodWriter(t, client, ns)
	a := startShardReplica(t, c, ns, "a", log)
	b := startShardReplica(t, c, ns, "b", log)
	cr := startShardReplica(t, c, ns, "c", log)
	all := []*shardReplica{a, b, cr}

	// (1) Each replica owns ranges, all 8 exactly once.
	awaitPartition(t, "three replicas split the ranges", waitBound, all)
	for _, r := range all {
		if got := r.sharding().ServerSide["pods"]; got != gateOn {
			t.Errorf("%s: Status().Sharding.ServerSide[pods]: got %t, want %t (map %v)", r.id, got, gateOn, r.sharding().ServerSide)
		}
	}

	// (2) Caches and Listers hold the owned ranges only (the Lister only,
	// with the gate off: one informer of every pod, filtered here).
	for _, r := range all {
		var owned []int
		var cached, listed, want int
		deadline := time.Now().Add(waitBound)
		for {
			owned = r.sharding().Owned
			want = inRanges(owned)
			cached = r.cached()
			pods, err := r.reg.Lister().List(nil)
			if err != nil {
				t.Fatalf("%s: Lister().List: %v", r.id, err)
			}
			listed = len(pods)
			cacheOK := !gateOn || cached == want
			if listed == want && cacheOK {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s owns %v (%d pods): its Lister lists %d, its caches hold %d (gate on %t); want %d listed, and cached too with the gate on",
					r.id, owned, want, listed, cached, gateOn, want)
				break
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
		t.Logf("%s owns ranges %v: %d of %d pods; Lister %d, cached %d in %d informers",
			r.id, owned, want, shardE2EPods, listed, cached, len(r.inf.Status().Informers))
	}

	// (4) A clean stop hands c's ranges to a and b, under writes.
	writer.waitWrites(t, 100)
	stopAt := time.Now()
	cr.cancel()
	if err := cr.wait(t); err != nil {
		t.Errorf("Run of the stopped replica c: got %v, want nil", err)
	}
	t.Logf("c's Run returned %v after the stop", cr.returned.Sub(stopAt).Round(time.Millisecond))
	takenAt := awaitPartition(t, "a and b take c's ranges", waitBound, []*shardReplica{a, b})
	writer.waitWrites(t, 100) // some writes after the handover
	t.Logf("handover after a clean stop: %v (retry period %v, lease duration %v)",
		takenAt.Sub(stopAt).Round(time.Millisecond), e2eRetryPeriod, e2eLeaseDuration)
	ok, failed := writer.stop()
	t.Logf("writer: %d updates succeeded, %d failed", ok, failed)
	log.awaitLastHandled(t, "after the clean stop", client, ns)

	// (5) Cut b off, as if its node died: a takes its ranges once its Lease
	// expires, and b's Run returns ErrMembershipLost.
	writer = startPodWriter(t, client, ns)
	writer.waitWrites(t, 100)
	cutAt := time.Now()
	b.proxy.Cut()
	takenAt = awaitPartition(t, "a takes the ranges of the cut-off b", takeoverBound, []*shardReplica{a})
	t.Logf("takeover after b was cut off: %v (lease duration %v, renew deadline %v, retry period %v; bound %v)",
		takenAt.Sub(cutAt).Round(time.Millisecond), e2eLeaseDuration, e2eRenewDeadline, e2eRetryPeriod, takeoverBound)
	err := b.wait(t)
	t.Logf("b's Run returned %v after the cut: %v", b.returned.Sub(cutAt).Round(time.Millisecond), err)
	if !errors.Is(err, informer.ErrMembershipLost) {
		t.Errorf("Run of the cut-off replica b: got %v, want an error wrapping ErrMembershipLost", err)
	}
	if lost := b.sharding().Lost; !errors.Is(lost, informer.ErrMembershipLost) {
		t.Errorf("b's Status().Sharding.Lost: got %v, want ErrMembershipLost", lost)
	}
	writer.waitWrites(t, 100) // some writes after the takeover
	ok, failed = writer.stop()
	t.Logf("writer: %d updates succeeded, %d failed", ok, failed)
	log.awaitLastHandled(t, "after the takeover", client, ns)
	if pods, err := a.reg.Lister().List(nil); err != nil || len(pods) != shardE2EPods {
		t.Errorf("a's Lister after the takeover: got %d pods (err %v), want %d", len(pods), err, shardE2EPods)
	}

	// (3) No two replicas ran callbacks of one range at once, throughout.
	log.checkNoOverlap(t)
}
