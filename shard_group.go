package informer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/informer-go/informer/internal/shard"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
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
	probeErr   error
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

// memberLeaseName is the name of this replica's Lease: identities may hold
// characters a name may not.
func (g *shardGroup) memberLeaseName() string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(g.identity()))
	return g.config.group + "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
}

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

// current reports whether the last renewal is younger than the renew
// deadline.
func (g *shardGroup) current() bool {
	renewed := g.renewed.Load()
	return renewed != nil && g.since(*renewed) < g.config.lease.renewDeadline
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

// leaseInformer watches the group's Leases.
func (g *shardGroup) leaseInformer() cache.SharedIndexInformer {
	selector := shardGroupLabel + "=" + g.config.group
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return g.leases.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return g.leases.Watch(ctx, opts)
		},
	}
	// A fake client says it cannot stream lists; the reflector then lists.
	informer := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, g.client), &coordinationv1.Lease{}, 0, cache.Indexers{})
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { g.observe(obj, false) },
		UpdateFunc: func(_, obj any) { g.observe(obj, false) },
		DeleteFunc: func(obj any) { g.observe(obj, true) },
	})
	return informer
}

// observe records a Lease of the group as seen now.
func (g *shardGroup) observe(obj any, deleted bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	lease, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return
	}
	g.mu.Lock()
	switch lease.Labels[shardRoleLabel] {
	case shardRoleOwners:
		if !deleted {
			owners, err := decodeOwners(lease, g.config.ranges)
			g.owners, g.ownersErr = owners, err
		}
	case shardRoleMember:
		holder := leaseHolderOf(lease)
		if lease.Name == g.memberLeaseName() {
			break // this replica's own: judged by its renewals
		}
		prev := g.observed[lease.Name]
		switch {
		case deleted || holder == "":
			delete(g.observed, lease.Name) // left the group
		case prev == nil || prev.holder != holder || prev.renewTime != renewTimeOf(lease):
			warm, _ := shard.ParseRanges(lease.Annotations[shardWarmAnnotation])
			g.observed[lease.Name] = &observedMember{holder: holder, renewTime: renewTimeOf(lease), seenAt: time.Now(), warm: warm}
		default:
			prev.warm, _ = shard.ParseRanges(lease.Annotations[shardWarmAnnotation])
		}
	}
	g.mu.Unlock()
	g.poke()
}

// renewals creates this replica's Lease, then renews it every retry
// period until ctx ends. The membership is lost once the last successful
// renewal is older than the renew deadline, whether the next one fails or
// succeeds: meanwhile the others may have judged this replica dead and
// taken its ranges (the owners Lease is another object than the one
// renewed, so a late renewal proves nothing), and the gates are closed.
// The Informer then stops.
func (g *shardGroup) renewals(ctx, runCtx context.Context) {
	ticker := time.NewTicker(g.config.lease.retryPeriod)
	defer ticker.Stop()
	for {
		wasCurrent := g.renewed.Load() == nil || g.current()
		err := g.renew(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Could not renew the shard Lease", "group", g.name(), "err", err)
		}
		if g.renewed.Load() != nil && (!wasCurrent || !g.current()) && runCtx.Err() == nil {
			cause := err
			if cause == nil {
				cause = errors.New("renewals were late")
			}
			g.lose(fmt.Errorf("%w: group %s: Lease not renewed within %v: %w", ErrMembershipLost, g.name(), g.config.lease.renewDeadline, cause))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (g *shardGroup) name() string { return g.config.namespace + "/" + g.config.group }

// renew writes this replica's Lease: its renew time and warm ranges.
func (g *shardGroup) renew(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, g.config.lease.renewDeadline)
	defer cancel()
	g.mu.Lock()
	lease := g.ownLease.DeepCopy()
	warm := g.warmRangesLocked()
	g.mu.Unlock()
	now := metav1.NewMicroTime(time.Now())
	identity := g.identity()
	seconds := int32(g.config.lease.leaseDuration / time.Second)
	create := lease == nil
	if create {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
			Name:   g.memberLeaseName(),
			Labels: map[string]string{shardGroupLabel: g.config.group, shardRoleLabel: shardRoleMember},
		}}
		lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: &identity, LeaseDurationSeconds: &seconds, AcquireTime: &now}
	}
	lease.Spec.RenewTime = &now
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[shardWarmAnnotation] = shard.FormatRanges(warm)
	var written *coordinationv1.Lease
	var err error
	if create {
		written, err = g.leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// A Lease of this identity from an earlier run: take it over.
			var existing *coordinationv1.Lease
			if existing, err = g.leases.Get(ctx, lease.Name, metav1.GetOptions{}); err == nil {
				lease.ResourceVersion = existing.ResourceVersion
				written, err = g.leases.Update(ctx, lease, metav1.UpdateOptions{})
			}
		}
	} else {
		written, err = g.leases.Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			g.mu.Lock()
			g.ownLease = nil // read again (or create) next time
			g.mu.Unlock()
		}
	}
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.ownLease = written
	g.mu.Unlock()
	g.renewed.Store(&start)
	g.poke()
	return nil
}

// lose closes every gate and stops the Informer: others may take this
// replica's ranges once its Lease expires.
func (g *shardGroup) lose(err error) {
	for rng := range g.active {
		g.active[rng].Store(false)
	}
	g.mu.Lock()
	if g.lost != nil {
		g.mu.Unlock()
		return
	}
	g.lost = err
	close(g.lostCh)
	g.mu.Unlock()
	g.inf.mu.Lock()
	ctx, cancel := g.inf.runCtx, g.inf.cancel
	g.inf.mu.Unlock()
	klog.FromContext(ctx).Error(err, "Lost the shard group membership; stopping", "group", g.name(), "identity", g.identity())
	cancel(err)
}

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

// liveMembersLocked returns the identities of the live members, this
// replica included, sorted.
func (g *shardGroup) liveMembersLocked() []string {
	members := []string{g.identity()}
	for _, m := range g.observed {
		if g.since(m.seenAt) < g.config.lease.leaseDuration {
			members = append(members, m.holder)
		}
	}
	slices.Sort(members)
	return slices.Compact(members)
}

// memberByIdentity returns what was observed of a member, nil if nothing.
func (g *shardGroup) memberByIdentityLocked(identity string) *observedMember {
	for _, m := range g.observed {
		if m.holder == identity {
			return m
		}
	}
	return nil
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

// warmAt reports whether member has range rng warm, by its Lease.
func (g *shardGroup) warmAt(member string, rng int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.memberByIdentityLocked(member)
	return m != nil && slices.Contains(m.warm, rng)
}

// warmRangesLocked returns the ranges whose informers here have synced and
// are not active: ready to be handed over.
func (g *shardGroup) warmRangesLocked() []int {
	var warm []int
	keys := g.regKeysLocked()
	for rng, sources := range g.sources {
		if g.active[rng].Load() {
			continue
		}
		synced := true
		for _, key := range keys {
			res, ok := sources[key]
			synced = synced && ok && res.informer.HasSynced()
		}
		if synced {
			warm = append(warm, rng)
		}
	}
	slices.Sort(warm)
	return warm
}

// regKeysLocked returns the distinct resources of the sharded
// registrations.
func (g *shardGroup) regKeysLocked() []resourceKey {
	var keys []resourceKey
	for _, reg := range g.regs {
		key := reg.resourceKey(g.inf.settings.scope())
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// ensureSources starts the informers of range rng, one per sharded
// resource, if they are not running; it reports whether they all exist.
func (g *shardGroup) ensureSources(ctx context.Context, rng int) bool {
	g.mu.Lock()
	var missing []resourceKey
	for _, key := range g.regKeysLocked() {
		if _, ok := g.sources[rng][key]; !ok {
			missing = append(missing, key)
		}
	}
	g.mu.Unlock()
	for _, key := range missing {
		serverSide, err := g.probe(ctx, key)
		if err != nil {
			return false
		}
		rangeKey := key
		if serverSide {
			sel := shard.Selector(g.regKey(key), g.config.ranges, rng)
			rangeKey.scope.shardSelector = sel.String()
			rangeKey.scope.shardRange = fmt.Sprintf("%d/%d", rng, g.config.ranges)
		} else {
			// One informer of every object, shared by the ranges, each
			// range's handler filtering.
			rangeKey.scope.shardRange = "all ranges, filtered here"
		}
		res, err := g.inf.rangeSource(rangeKey)
		if err != nil {
			klog.FromContext(ctx).Error(err, "Could not start a range's informer", "group", g.name(), "range", rng)
			return false
		}
		g.mu.Lock()
		if g.sources[rng] == nil {
			g.sources[rng] = map[resourceKey]*resource{}
		}
		g.sources[rng][key] = res
		g.mu.Unlock()
	}
	return true
}

// regKey returns the shard key of the registrations on key.
func (g *shardGroup) regKey(key resourceKey) shard.Key {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, reg := range g.regs {
		if reg.resourceKey(g.inf.settings.scope()) == key {
			return shard.Key(reg.shardKey())
		}
	}
	return shard.ByUID
}

// probe finds out, once per resource, whether the API server filters by
// shard: a LIST of one object with a shardSelector must echo it in
// ListMeta.ShardInfo. Servers without the ShardedListAndWatch gate ignore
// the selector and echo nothing.
func (g *shardGroup) probe(ctx context.Context, key resourceKey) (bool, error) {
	g.mu.Lock()
	serverSide, known := g.serverSide[key]
	g.mu.Unlock()
	if known {
		return serverSide, nil
	}
	sel := shard.Selector(g.regKey(key), g.config.ranges, 0).String()
	list, err := g.inf.factories.list(ctx, key, metav1.ListOptions{Limit: 1, ShardSelector: sel})
	if err != nil {
		err = classifyListWatchError(key.gvr.Resource, err)
		g.mu.Lock()
		g.probeErr = err
		g.mu.Unlock()
		klog.FromContext(ctx).Info("Shard support probe failed; retrying", "group", g.name(), "resource", key.String(), "err", err)
		return false, err
	}
	if accessor, ok := list.(interface{ GetShardInfo() *metav1.ShardInfo }); ok {
		serverSide = accessor.GetShardInfo() != nil
	} else if u, ok := list.(*unstructured.UnstructuredList); ok {
		_, serverSide, _ = unstructured.NestedMap(u.Object, "metadata", "shardInfo")
	}
	logger := klog.FromContext(ctx)
	if serverSide {
		logger.Info("The API server filters by shard", "group", g.name(), "resource", key.String())
	} else {
		logger.Info("The API server does not filter by shard (is its ShardedListAndWatch feature gate off?); filtering on the client",
			"group", g.name(), "resource", key.String())
	}
	g.mu.Lock()
	g.serverSide[key], g.probeErr = serverSide, nil
	g.mu.Unlock()
	return serverSide, nil
}

// activate opens the gate of range rng and attaches the handlers of every
// sharded registration that has none for it yet (all of them when the
// range arrives, a registration made later otherwise): each receives the
// range's cached objects as adds.
func (g *shardGroup) activate(ctx context.Context, rng int) {
	if !g.ensureSources(ctx, rng) {
		return
	}
	g.mu.Lock()
	sources, regs := g.sources[rng], slices.Clone(g.regs)
	g.mu.Unlock()
	arrived := !g.active[rng].Swap(true)
	for _, reg := range regs {
		res, ok := sources[reg.resourceKey(g.inf.settings.scope())]
		if !ok {
			continue
		}
		g.inf.mu.Lock()
		env := g.inf.handlerEnv()
		g.inf.mu.Unlock()
		if err := reg.attachRange(rng, res, env, g.gate(rng)); err != nil {
			klog.FromContext(ctx).Error(err, "Could not start a range's handler", "group", g.name(), "range", rng)
		}
	}
	if arrived {
		klog.FromContext(ctx).V(2).Info("Range owned; handlers started", "group", g.name(), "range", rng)
	}
}

// deactivate closes the gate of range rng and removes its handlers,
// waiting for their running callbacks.
func (g *shardGroup) deactivate(ctx context.Context, rng int) error {
	g.active[rng].Store(false)
	g.mu.Lock()
	regs := slices.Clone(g.regs)
	g.mu.Unlock()
	for _, reg := range regs {
		if err := reg.detachRange(ctx, rng); err != nil {
			return err
		}
	}
	return nil
}

// handOver gives range rng to next: once no callback of the range runs
// here, next is written as its owner.
func (g *shardGroup) handOver(ctx context.Context, rng int, next string) {
	if err := g.deactivate(ctx, rng); err != nil {
		klog.FromContext(ctx).Error(err, "Range not handed over: handlers still running", "group", g.name(), "range", rng)
		return
	}
	me := g.identity()
	if err := g.updateOwners(ctx, func(owners []string) bool {
		if owners[rng] != me {
			return false
		}
		owners[rng] = next
		return true
	}); err != nil {
		// Still written as owner here: take it back up at the next pass.
		klog.FromContext(ctx).Info("Could not hand a range over; retrying", "group", g.name(), "range", rng, "err", err)
		return
	}
	klog.FromContext(ctx).V(2).Info("Range handed over", "group", g.name(), "range", rng, "to", next)
	g.dropSources(rng)
}

// claim writes this replica as the owner of range rng, if its owner is
// still prev (free, or a member whose Lease expired). A member judged dead
// here is read once more from the server first: its Lease must not have
// been renewed since.
func (g *shardGroup) claim(ctx context.Context, rng int, prev string) bool {
	if prev != "" && !g.confirmedDead(ctx, prev) {
		return false
	}
	me := g.identity()
	err := g.updateOwners(ctx, func(owners []string) bool {
		if owners[rng] != prev {
			return false
		}
		owners[rng] = me
		return true
	})
	if err != nil {
		klog.FromContext(ctx).Info("Could not claim a range; retrying", "group", g.name(), "range", rng, "err", err)
		return false
	}
	g.mu.Lock()
	claimed := g.owners[rng] == me
	g.mu.Unlock()
	if claimed {
		klog.FromContext(ctx).V(2).Info("Range claimed", "group", g.name(), "range", rng, "from", prev)
	}
	return claimed
}

// confirmedDead reads member's Lease from the server: dead when it is
// gone, released, or unchanged since this replica last saw it change.
func (g *shardGroup) confirmedDead(ctx context.Context, member string) bool {
	g.mu.Lock()
	var name string
	var seen observedMember
	for leaseName, m := range g.observed {
		if m.holder == member {
			name, seen = leaseName, *m
		}
	}
	g.mu.Unlock()
	if name == "" {
		return true // no Lease seen at all: gone
	}
	lease, err := g.leases.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true
	case err != nil:
		return false
	}
	return leaseHolderOf(lease) != member || renewTimeOf(lease) == seen.renewTime
}

// updateOwners applies change to the owners read fresh from the server and
// writes them with the read resourceVersion: a concurrent change makes it
// read and try again. change returns false to write nothing.
func (g *shardGroup) updateOwners(ctx context.Context, change func(owners []string) bool) error {
	name := g.config.group
	for range 5 {
		lease, err := g.leases.Get(ctx, name, metav1.GetOptions{})
		exists := err == nil
		if apierrors.IsNotFound(err) {
			lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
				Name:   name,
				Labels: map[string]string{shardGroupLabel: g.config.group, shardRoleLabel: shardRoleOwners},
			}}
		} else if err != nil {
			return err
		}
		owners, err := decodeOwners(lease, g.config.ranges)
		if err != nil {
			return err
		}
		if !change(owners) {
			g.setOwners(owners)
			return nil
		}
		encoded, err := json.Marshal(owners)
		if err != nil {
			return err
		}
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[shardOwnersAnnotation] = string(encoded)
		if exists {
			_, err = g.leases.Update(ctx, lease, metav1.UpdateOptions{})
		} else {
			_, err = g.leases.Create(ctx, lease, metav1.CreateOptions{})
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return err
		}
		g.setOwners(owners)
		return nil
	}
	return fmt.Errorf("informer: group %s: the owners Lease kept changing", g.name())
}

func (g *shardGroup) setOwners(owners []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.owners = owners
}

// dropSources stops the informers of range rng, unless it is active or
// another range shares them, and drops their caches without deletes.
func (g *shardGroup) dropSources(rng int) {
	if g.active[rng].Load() {
		return
	}
	g.mu.Lock()
	sources := g.sources[rng]
	delete(g.sources, rng)
	g.mu.Unlock()
	for _, res := range sources {
		g.dropIfUnused(res)
	}
}

// dropIfUnused stops res unless a range still uses it (client-side
// filtering shares one informer among the ranges).
func (g *shardGroup) dropIfUnused(res *resource) {
	g.mu.Lock()
	for _, others := range g.sources {
		for _, other := range others {
			if other == res {
				g.mu.Unlock()
				return
			}
		}
	}
	g.mu.Unlock()
	g.inf.dropSource(res)
}

// remove forgets a sharded registration: its handlers of every range are
// removed (waiting for running callbacks and, for a reconcile loop,
// reconciles), and the informers of a resource no registration needs any
// more are stopped, without deletes.
func (g *shardGroup) remove(ctx context.Context, reg sharded) error {
	g.mu.Lock()
	g.regs = slices.DeleteFunc(g.regs, func(other sharded) bool { return other == reg })
	keys := g.regKeysLocked()
	g.mu.Unlock()
	for _, rng := range reg.attachedRanges() {
		if err := reg.detachRange(ctx, rng); err != nil {
			return err
		}
	}
	key := reg.resourceKey(g.inf.settings.scope())
	if slices.Contains(keys, key) {
		return nil // other registrations go on with the resource
	}
	var unused []*resource
	g.mu.Lock()
	for _, sources := range g.sources {
		if res, ok := sources[key]; ok {
			unused = append(unused, res)
			delete(sources, key)
		}
	}
	g.mu.Unlock()
	for _, res := range unused {
		g.dropIfUnused(res)
	}
	return nil
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
	return st
}

// decodeOwners reads the owners annotation of the owners Lease: n owners,
// "" for free ranges, all free when the annotation is missing (a new
// group). An annotation for another number of ranges is an error: the
// members must all use the same ShardRanges.
func decodeOwners(lease *coordinationv1.Lease, n int) ([]string, error) {
	owners := make([]string, n)
	encoded, ok := lease.Annotations[shardOwnersAnnotation]
	if !ok {
		return owners, nil
	}
	var decoded []string
	if err := json.Unmarshal([]byte(encoded), &decoded); err != nil {
		return owners, fmt.Errorf("informer: shard owners Lease %s: %w", lease.Name, err)
	}
	if len(decoded) != n {
		return owners, fmt.Errorf("informer: shard owners Lease %s has %d ranges, this replica %d: every member must use the same ShardRanges",
			lease.Name, len(decoded), n)
	}
	copy(owners, decoded)
	return owners, nil
}

func leaseHolderOf(lease *coordinationv1.Lease) string {
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func renewTimeOf(lease *coordinationv1.Lease) string {
	if lease.Spec.RenewTime == nil {
		return ""
	}
	return lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
}
