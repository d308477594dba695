package informer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/informer-go/informer/internal/shard"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// The shard group: membership on Leases, the owners of the hash ranges,
// and the handover protocol (SCALING.md describes it step by step).
//
// Every member holds a Lease of its own (role "member"), renewed every
// retry period, whose annotation lists the ranges whose caches it has warm
// for a handover. One more Lease, named after the group (role "owners"),
// records the owner of each range; it is changed only by compare-and-swap
// updates, so two members never both take a range. A member:
//   - computes the target owners from the live members and the current
//     owners (shard.Assign), alike on every member;
//   - starts and warms the informers of the ranges it should own;
//   - takes a range that is free, or whose owner's Lease expired, by
//     writing itself as the owner, then opens the range's gate;
//   - gives a range it owns to its target owner once that member has the
//     range warm: it closes the range's gate, removes the range's handlers
//     and waits for their running callbacks, then writes the new owner;
//   - starts no callback at all once its own last renewal is older than
//     the renew deadline, shorter than the lease duration after which the
//     others take its ranges.

// Labels and annotations of the group's Leases.
const (
	shardGroupLabel       = "informer.dev/shard-group"
	shardRoleLabel        = "informer.dev/shard-role"
	shardRoleMember       = "member"
	shardRoleOwners       = "owners"
	shardWarmAnnotation   = "informer.dev/shard-warm"
	shardOwnersAnnotation = "informer.dev/shard-owners"
)

// shardGroup is one replica's membership in its group.
type shardGroup struct {
	config *shardingConfig
	inf    *Informer
	leases coordinationclient.LeaseInterface
	client kubernetes.Interface
	// since returns the time elapsed since t (time.Since; a fake in tests).
	since func(t time.Time) time.Duration

	renewed atomic.Pointer[time.Time] // when the last successful renewal began
	active  []atomic.Bool             // per range: its handlers may run here
	trigger chan struct{}             // a reconcile pass is wanted

	mu         sync.Mutex
	regs       []sharded
	sources    map[int]map[resourceKey]*resource // per range: its informer of each sharded resource
	serverSide map[resourceKey]bool
	lastErr    error // the last error reading or writing the Leases, or probing the server
	lastErrAt  time.Time
	observed   map[string]*observedMember // member Leases by identity
	owners     []string                   // as last read
	ownersErr  error                      // the owners Lease cannot be read
	ownLease   *coordinationv1.Lease
	members    []string
	lost       error
	lostCh     chan struct{}
	cancel     context.CancelFunc // ends the renewals and the Lease informer
	done       sync.WaitGroup
}

// observedMember is what this replica saw of another member's Lease, and
// when, by its own clock: liveness is judged from changes seen here, as
// client-go's leader election does, so clock skew between nodes does not
// matter.
type observedMember struct {
	holder, renewTime string
	seenAt            time.Time
	warm              []int
}

func newShardGroup(config *shardingConfig, kube kubernetes.Interface, inf *Informer) *shardGroup {
	return &shardGroup{
		config:     config,
		inf:        inf,
		leases:     kube.CoordinationV1().Leases(config.namespace),
		client:     kube,
		since:      time.Since,
		active:     make([]atomic.Bool, config.ranges),
		trigger:    make(chan struct{}, 1),
		sources:    map[int]map[resourceKey]*resource{},
		serverSide: map[resourceKey]bool{},
		observed:   map[string]*observedMember{},
		owners:     make([]string, config.ranges),
		lostCh:     make(chan struct{}),
	}
}

func (g *shardGroup) identity() string { return g.config.lease.identity }

// add records a sharded registration; the ranges it owns are attached as
// they come.
func (g *shardGroup) add(reg sharded) {
	g.mu.Lock()
	g.regs = append(g.regs, reg)
	g.mu.Unlock()
	g.poke() // a registration made after Start gets the ranges owned now
}

// gate returns the gate of range rng (see open).
func (g *shardGroup) gate(rng int) func() bool {
	return func() bool { return g.open(rng) }
}

// open reports whether range rng's gate is open: the range is active here
// and this replica's membership is current.
func (g *shardGroup) open(rng int) bool {
	return g.active[rng].Load() && g.current()
}

func (g *shardGroup) poke() {
	select {
	case g.trigger <- struct{}{}:
	default:
	}
}

// start joins the group and runs the membership until runCtx ends; the
// Lease and its informer go on until leave.
func (g *shardGroup) start(runCtx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(runCtx))
	g.mu.Lock()
	g.cancel = cancel
	g.mu.Unlock()
	informer := g.leaseInformer()
	g.done.Go(func() { informer.RunWithContext(ctx) })
	g.done.Go(func() { g.renewals(ctx, runCtx) })
	g.done.Go(func() {
		if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
			return
		}
		g.reconcileLoop(runCtx)
	})
}

func (g *shardGroup) name() string { return g.config.namespace + "/" + g.config.group }

// reconcileLoop runs a reconcile pass at each change of the group's
// Leases, each renewal and each retry period, until ctx ends.
func (g *shardGroup) reconcileLoop(ctx context.Context) {
	ticker := time.NewTicker(g.config.lease.retryPeriod)
	defer ticker.Stop()
	for {
		if g.current() {
			g.reconcile(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-g.trigger:
		case <-ticker.C:
		}
	}
}

// reconcile moves this replica one step towards the target ownership.
func (g *shardGroup) reconcile(ctx context.Context) {
	g.mu.Lock()
	members := g.liveMembersLocked()
	g.members = members
	owners, ownersErr := slices.Clone(g.owners), g.ownersErr
	g.mu.Unlock()
	if ownersErr != nil {
		// Never guess: a member configured differently owns ranges this
		// replica cannot name.
		g.recordErr(ownersErr) // a configuration error, not the server's
		klog.FromContext(ctx).Error(ownersErr, "Shard group stalled", "group", g.name())
		return
	}
	target := shard.Assign(members, g.config.ranges, owners)
	me := g.identity()
	for rng := range g.config.ranges {
		if ctx.Err() != nil {
			return
		}
		owner := owners[rng]
		if owner != me && g.active[rng].Load() {
			// Taken from this replica, judged dead while it was cut off:
			// stop at once (its membership is lost by now, too).
			_ = g.deactivate(ctx, rng)
		}
		switch {
		case owner == me && target[rng] != me:
			if g.warmAt(target[rng], rng) {
				g.handOver(ctx, rng, target[rng])
			} else {
				g.activate(ctx, rng) // until the next owner is ready
			}
		case owner == me:
			g.activate(ctx, rng)
		case target[rng] == me:
			if !g.ensureSources(ctx, rng) {
				continue
			}
			if owner == "" || !slices.Contains(members, owner) {
				if g.claim(ctx, rng, owner) {
					g.activate(ctx, rng)
				}
			}
		default:
			g.dropSources(rng)
		}
	}
}

// closeGates closes every range's gate: no callback starts any more.
func (g *shardGroup) closeGates() {
	for rng := range g.active {
		g.active[rng].Store(false)
	}
}

// leave hands this replica's ranges back and deletes its Lease, so that the
// others take them at once; every callback must have returned. Not after
// a lost membership: the others take the ranges when the Lease expires.
func (g *shardGroup) leave() {
	g.closeGates()
	g.mu.Lock()
	cancel, lost := g.cancel, g.lost
	g.mu.Unlock()
	if cancel == nil {
		return // never started
	}
	if lost == nil {
		ctx, stop := context.WithTimeout(context.Background(), g.config.lease.renewDeadline)
		me := g.identity()
		err := g.updateOwners(ctx, func(owners []string) bool {
			changed := false
			for rng, owner := range owners {
				if owner == me {
					owners[rng], changed = "", true
				}
			}
			return changed
		})
		if err == nil {
			err = g.leases.Delete(ctx, g.memberLeaseName(), metav1.DeleteOptions{})
		}
		stop()
		if err != nil && !apierrors.IsNotFound(err) {
			klog.Background().Error(err, "Could not leave the shard group cleanly; the others take over when the Lease expires", "group", g.name())
		} else {
			klog.Background().Info("Left the shard group", "group", g.name(), "identity", g.identity())
		}
	}
	cancel()
	g.done.Wait()
}

func (g *shardGroup) lostErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lost
}

func (g *shardGroup) status() *ShardingStatus {
	st := &ShardingStatus{Group: g.name(), Identity: g.identity(), Ranges: g.config.ranges, ServerSide: map[string]bool{}}
	g.mu.Lock()
	defer g.mu.Unlock()
	for rng := range g.config.ranges {
		if g.active[rng].Load() {
			st.Owned = append(st.Owned, rng)
		} else if _, ok := g.sources[rng]; ok {
			st.Warming = append(st.Warming, rng)
		}
	}
	st.Members = slices.Clone(g.members)
	st.Epoch = shard.Epoch(st.Members)
	for key, serverSide := range g.serverSide {
		st.ServerSide[key.String()] = serverSide
	}
	st.Lost = g.lost
	st.LastError, st.LastErrorTime = g.lastErr, g.lastErrAt
	return st
}

// recordErr keeps err for Status: the last error reading or writing the
// group's Leases or probing the server.
func (g *shardGroup) recordErr(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastErr, g.lastErrAt = err, time.Now()
}

// leaseErr classifies an error reading or writing the group's Leases, with
// the rights they need as the hint when it is forbidden.
func (g *shardGroup) leaseErr(err error) error {
	classified := classifyListWatchError("leases", err)
	if lw, ok := classified.(*listWatchError); ok && lw.reason == ErrForbidden {
		lw.hint = "the identity needs get, list, watch, create, update and delete on leases (coordination.k8s.io) in namespace " + g.config.namespace
	}
	return fmt.Errorf("shard group %s: %w", g.name(), classified)
}
