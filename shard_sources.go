package informer

import (
	"context"
	"fmt"
	"slices"

	"github.com/informer-go/informer/internal/shard"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"
)

// Range sources: the informers of each range, whether the server filters
// by range, and the handlers of a range attached and removed (see
// shard_group.go).

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
		g.recordErr(err)
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
	g.serverSide[key] = serverSide
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
