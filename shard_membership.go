package informer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/informer-go/informer/internal/shard"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Membership: this replica's Lease, renewed, and the others' Leases,
// watched; liveness is judged from changes seen here (see shard_group.go).

// memberLeaseName is the name of this replica's Lease: identities may hold
// characters a name may not.
func (g *shardGroup) memberLeaseName() string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(g.identity()))
	return g.config.group + "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
}

// current reports whether the last renewal is younger than the renew
// deadline.
func (g *shardGroup) current() bool {
	renewed := g.renewed.Load()
	return renewed != nil && g.since(*renewed) < g.config.lease.renewDeadline
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
			g.recordErr(g.leaseErr(err))
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

// warmAt reports whether member has range rng warm, by its Lease.
func (g *shardGroup) warmAt(member string, rng int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.memberByIdentityLocked(member)
	return m != nil && slices.Contains(m.warm, rng)
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
