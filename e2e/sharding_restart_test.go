package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
)

// Lease timings of the restart test: generous enough that no member loses
// its membership, and no member judges another dead, while kube-apiserver
// is down. A kill and start of kube-apiserver takes 2.3-3.2 s on a
// loaded 2-core machine (the test logs it); the renew deadline must exceed that plus a retry
// period, and the lease duration must exceed it plus the time the Lease
// informers take to watch again (client-go's reflector backs off while the
// server is away).
const (
	restartLeaseDuration = 20 * time.Second
	restartRenewDeadline = 15 * time.Second
	restartRetryPeriod   = 500 * time.Millisecond
)

// TestShardingAPIServerRestartedDuringHandover restarts kube-apiserver
// (with the ShardedListAndWatch gate on, on a cluster of the test's own)
// while ranges are moving to a replica that just joined, with a writer
// updating the pods all the while: once while the joiner's caches of the
// moving ranges are filling (handover step 1), once as soon as one of them
// has synced while its old owner still holds it (steps 2 to 4: the joiner
// announces it warm, the owner closes its gate and writes the new owner).
// The three replicas must converge to owning every range exactly once,
// keep their memberships, never run callbacks of one range on two replicas
// at once, and handle every pod's last version.
func TestShardingAPIServerRestartedDuringHandover(t *testing.T) {
	requireCluster(t)
	start := time.Now()
	c := informertest.StartCluster(t, localcluster.Options{FeatureGates: map[string]bool{"ShardedListAndWatch": true}})
	t.Logf("own cluster with ShardedListAndWatch=true started in %v", time.Since(start).Round(time.Millisecond))
	// Each subtest runs its group in a namespace of its own.
	t.Run("joiner warming", func(t *testing.T) { testShardRestart(t, c, false) })
	t.Run("joiner warm", func(t *testing.T) { testShardRestart(t, c, true) })
}

// rangeSynced reports whether r's informer of range rng has synced.
func rangeSynced(r *shardReplica, rng int) bool {
	name := fmt.Sprintf("range %d/%d", rng, shardE2ERanges)
	for _, is := range r.inf.Status().Informers {
		if strings.Contains(is.Resource, name) {
			return is.Synced
		}
	}
	return false
}

func testShardRestart(t *testing.T, c *localcluster.Cluster, warm bool) {
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	createNumberedPods(t, client, ns, "pod", shardE2EPods)
	byRange := podsByRange(t, client, ns)
	counts := make([]int, shardE2ERanges)
	for rng := range counts {
		counts[rng] = len(byRange[rng])
	}
	t.Logf("pods per range: %v", counts)

	timings := informer.LeaseTimings(restartLeaseDuration, restartRenewDeadline, restartRetryPeriod)
	log := &shardCallLog{last: map[string]uint64{}}
	writer := startPodWriter(t, client, ns)
	a := startShardReplicaTimed(t, c, ns, "a", log, timings)
	b := startShardReplicaTimed(t, c, ns, "b", log, timings)
	awaitPartition(t, "two replicas split the ranges", waitBound, []*shardReplica{a, b})
	for _, r := range []*shardReplica{a, b} {
		if !r.sharding().ServerSide["pods"] {
			t.Fatalf("%s: Status().Sharding.ServerSide: got %v, want pods filtered by the server", r.id, r.sharding().ServerSide)
		}
	}
	writer.waitWrites(t, 50)

	// The third replica triggers handovers: catch one in flight (a range
	// warming at the joiner and still owned by a or b; synced at the
	// joiner too when warm), then kill kube-apiserver at once. A joiner
	// that took a range before one was caught is stopped cleanly and
	// another joins (a clean leave hands its ranges back at once).
	var cr *shardReplica
	var joinedAt time.Time
	inFlight := func() ([]int, string) {
		sa, sb, sc := a.sharding(), b.sharding(), cr.sharding()
		var moving []int
		for _, rng := range sc.Warming {
			if (slices.Contains(sa.Owned, rng) || slices.Contains(sb.Owned, rng)) && (!warm || rangeSynced(cr, rng)) {
				moving = append(moving, rng)
			}
		}
		return moving, fmt.Sprintf("a owns %v; b owns %v; %s owns %v, warms %v", sa.Owned, sb.Owned, cr.id, sc.Owned, sc.Warming)
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		joinedAt = time.Now()
		cr = startShardReplicaTimed(t, c, ns, fmt.Sprintf("c%d", attempt), log, timings)
		caught := false
		deadline := time.Now().Add(waitBound)
		for {
			moving, desc := inFlight()
			if len(moving) > 0 {
				caught = true
				break
			}
			if len(cr.sharding().Owned) > 0 {
				t.Logf("attempt %d: no handover caught in flight before %s owned a range (%v after it started): %s",
					attempt, cr.id, time.Since(joinedAt).Round(time.Millisecond), desc)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no handover in flight within %v: %s", waitBound, desc)
			}
			time.Sleep(time.Millisecond) // polling interval: a handover takes a sync and a renewal at least
		}
		if caught {
			break
		}
		if attempt == attempts {
			t.Fatalf("no handover caught in flight in %d attempts", attempts)
		}
		cr.cancel()
		if err := cr.wait(t); err != nil {
			t.Fatalf("Run of the stopped joiner %s: %v", cr.id, err)
		}
		awaitPartition(t, "a and b take the joiner's ranges back", waitBound, []*shardReplica{a, b})
	}
	all := []*shardReplica{a, b, cr}
	if err := c.KillAPIServer(); err != nil {
		t.Fatalf("KillAPIServer: %v", err)
	}
	killedAt := time.Now()
	// With the server gone nothing more is written: what is warming at the
	// joiner now was in flight when the server died (still owned by a or
	// b, or between their gate's closing and their write of the owner).
	sc := cr.sharding()
	moving, desc := inFlight()
	var synced []int
	for _, rng := range sc.Warming {
		if rangeSynced(cr, rng) {
			synced = append(synced, rng)
		}
	}
	t.Logf("kube-apiserver killed %v after %s started; in flight: warming at %s %v (synced %v), of which still owned by a or b %v; %s",
		killedAt.Sub(joinedAt).Round(time.Millisecond), cr.id, cr.id, sc.Warming, synced, moving, desc)
	if len(sc.Warming) == 0 {
		t.Errorf("at the kill: no range warming at %s, want at least one in flight: %s", cr.id, desc)
	}

	// Watch the members each replica sees until the group settles.
	monitor := startMemberMonitor(all)
	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatalf("StartAPIServer: %v", err)
	}
	restartedAt := time.Now()
	down := restartedAt.Sub(killedAt)
	t.Logf("kube-apiserver down for %v (kill to /readyz OK); renew deadline %v, lease duration %v, retry period %v",
		down.Round(time.Millisecond), restartRenewDeadline, restartLeaseDuration, restartRetryPeriod)

	settledAt := awaitPartition(t, "three replicas own every range once after the restart", convergeBound, all)
	t.Logf("partition reached %v after kube-apiserver was ready again (%v after the kill)",
		settledAt.Sub(restartedAt).Round(time.Millisecond), settledAt.Sub(killedAt).Round(time.Millisecond))
	monitor.stop(t)

	writer.waitWrites(t, 100) // some writes after the handovers
	ok, failed := writer.stop()
	t.Logf("writer: %d updates succeeded, %d failed (the server was down for some)", ok, failed)
	log.awaitLastHandled(t, "after the restart", client, ns)

	// Nobody lost its membership: Run goes on, Lost is nil.
	for _, r := range all {
		select {
		case <-r.done:
			t.Errorf("Run of %s returned %v after the restart, want it running", r.id, r.runErr)
		default:
		}
		if lost := r.sharding().Lost; lost != nil {
			t.Errorf("%s's Status().Sharding.Lost: got %v, want nil", r.id, lost)
		}
	}
	if ok, desc := partition(all); !ok {
		t.Errorf("at the end: the ranges are not owned exactly once by the three replicas: %s", desc)
	}

	log.checkNoOverlap(t)
}

// memberMonitor samples the members every replica sees, to report whether
// one judged another dead meanwhile.
type memberMonitor struct {
	replicas []*shardReplica
	quit     chan struct{}
	done     sync.WaitGroup
	fewest   map[string][]string // per replica, the shortest member list seen
}

func startMemberMonitor(replicas []*shardReplica) *memberMonitor {
	m := &memberMonitor{replicas: replicas, quit: make(chan struct{}), fewest: map[string][]string{}}
	m.done.Go(func() {
		for {
			for _, r := range m.replicas {
				members := r.sharding().Members
				if prev, ok := m.fewest[r.id]; !ok || len(members) < len(prev) {
					m.fewest[r.id] = members
				}
			}
			select {
			case <-m.quit:
				return
			case <-time.After(20 * time.Millisecond): // sampling interval
			}
		}
	})
	return m
}

// stop ends the sampling and logs the fewest members each replica saw.
func (m *memberMonitor) stop(t *testing.T) {
	t.Helper()
	close(m.quit)
	m.done.Wait()
	for _, r := range m.replicas {
		t.Logf("%s saw at least the members %v while kube-apiserver restarted and the group settled", r.id, m.fewest[r.id])
	}
}
