package informer

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/informer-go/informer/internal/shard"
	"k8s.io/client-go/tools/cache"
)

// Registration is the result of [Watch], [WatchResource] and [WatchMetadata]:
// a handle on one set of callbacks and on the shared cache behind them. Its
// methods are safe for concurrent use.
type Registration[T Object] struct {
	key   resourceKey
	funcs Funcs[T]
	opts  watchOptions

	mu       sync.Mutex
	err      error
	res      *resource
	handle   cache.ResourceEventHandlerRegistration
	name     string
	contexts *eventContexts
	crash    bool
	// gate, when set, is asked before each callback: a replica that does
	// not lead (see Builder.WithLeaderElection) calls none.
	gate func() bool
	// handlerDone is Hooks.HandlerDone, called with resourceName.
	handlerDone  func(resource, handler, event string, took time.Duration, panicked bool)
	resourceName string

	inCallback atomic.Bool  // a callback is running (one at a time)
	delivered  atomic.Int64 // callbacks returned or panicked
	panics     atomic.Int64

	// seen counts notifications that match the resource's received count
	// (see resource.received): all but resync updates and tombstones.
	// Backlog is received minus seen; it is unknown (late) for a
	// registration added after its informer started, which gets a replay of
	// the cache that was never counted as received.
	seen atomic.Int64
	late bool

	// sharded is set for a [Sharded] registration (see shard_registration.go);
	// rangeDrain, set for a reconcile loop's, waits for its reconciles of a
	// range that is leaving.
	sharded    *shardedState
	rangeDrain func(ctx context.Context, rng int) error
}

// registration is the untyped view of a [Registration] used by the builder
// and the informer.
type registration interface {
	resourceKey(def Scope) resourceKey
	validate() error
	attach(res *resource, env handlerEnv) error
	activate() error
	setContexts(contexts *eventContexts)
	fail(err error)
	syncedChecker() cache.DoneChecker
	shardKey() ShardKey
	bindShards(group *shardGroup)
	displayName() string
	running() bool
	optional() bool
	Stats() Stats
}

// resourceKey returns the key of the registration's informer, with its own
// scope (InScope) or else def, the builder's.
func (r *Registration[T]) resourceKey(def Scope) resourceKey {
	key := r.key
	key.scope = def
	if r.opts.scope != nil {
		key.scope = *r.opts.scope
	}
	return key
}

func (r *Registration[T]) validate() error {
	if r.opts.err != nil {
		return r.opts.err
	}
	if err := r.key.validate(); err != nil {
		return err
	}
	if err := r.opts.predicate.check(reflect.TypeFor[T]()); err != nil {
		return fmt.Errorf("informer: watch %s: WithPredicates: %w", r.key, err)
	}
	return nil
}

// Err reports why the registration is not active: an error from
// [Builder.Build] or, for a registration made after Build, from attaching it.
func (r *Registration[T]) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Registration[T]) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// HasSynced reports whether the cache has synced and this registration's
// callbacks have been called for every object of the initial list.
func (r *Registration[T]) HasSynced() bool {
	r.mu.Lock()
	handle := r.handle
	r.mu.Unlock()
	return handle != nil && handle.HasSynced()
}

// Lister returns the typed read side of the shared cache behind this
// registration. Before [Builder.Build] attached the registration, its
// methods return an error.
func (r *Registration[T]) Lister() Lister[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sharded != nil && r.err == nil {
		return Lister[T]{views: r.shardedViews, resource: r.key.gvr.GroupResource()}
	}
	if r.res == nil {
		err := r.err
		if err == nil {
			err = fmt.Errorf("informer: lister for %s: the builder is not built", r.key)
		}
		return Lister[T]{err: err}
	}
	return Lister[T]{indexer: r.res.informer.GetIndexer(), resource: r.res.key.gvr.GroupResource()}
}

// handlerEnv is what an [Informer] hands each registration it attaches.
type handlerEnv struct {
	contexts *eventContexts
	crash    bool
	hooks    Hooks
	// gate, when set, is asked before each callback.
	gate func() bool
	// deferred attaches without adding the handler to the informer:
	// activate adds it later (when the replica starts leading), and
	// client-go then hands it the cache as adds.
	deferred bool
}

// attach binds the registration to res (its cache, for the Lister) and,
// unless env defers it, adds its handler.
func (r *Registration[T]) attach(res *resource, env handlerEnv) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if len(r.opts.indexers) > 0 {
		if err := res.informer.AddIndexers(r.opts.indexers); err != nil {
			return fmt.Errorf("informer: %s: adding indexes: %w", res.name, err)
		}
	}
	r.res = res
	r.crash, r.gate = env.crash, env.gate
	r.handlerDone, r.resourceName = env.hooks.HandlerDone, res.name
	r.contexts = env.contexts
	r.name = r.opts.name
	if r.name == "" {
		r.name = fmt.Sprintf("%s#%d", res.name, res.handlerCount()+1)
	}
	if !env.deferred {
		if err := r.activateLocked(); err != nil {
			r.res = nil
			return err
		}
	}
	res.addHandler(r)
	return nil
}

// activate adds the handler of an attached registration to its informer,
// if it was deferred; the informer hands it the cache as adds.
func (r *Registration[T]) activate() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res == nil || r.handle != nil {
		return nil // removed, or active
	}
	return r.activateLocked()
}

func (r *Registration[T]) activateLocked() error {
	r.late = r.res.started.Load()
	handle, err := cache.NewTypedSharedIndexInformer[T](r.res.informer).AddTypedEventHandler(eventHandler[T]{r})
	if err != nil {
		return fmt.Errorf("informer: %s: adding handler: %w", r.res.name, err)
	}
	r.handle = handle
	return nil
}

// setContexts hands the registration its callback contexts at Start, before
// any callback can run.
func (r *Registration[T]) setContexts(contexts *eventContexts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.contexts = contexts
}

func (r *Registration[T]) syncedChecker() cache.DoneChecker {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handle == nil {
		return removedChecker{} // removed: nothing to wait for
	}
	return r.handle.HasSyncedChecker()
}

// removedChecker is the sync checker of a removed registration: done.
type removedChecker struct{}

var closedChannel = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (removedChecker) Name() string          { return "removed registration" }
func (removedChecker) Done() <-chan struct{} { return closedChannel }

func (r *Registration[T]) displayName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.name
}

func (r *Registration[T]) optional() bool { return r.opts.optional }

func (r *Registration[T]) shardKey() ShardKey { return r.opts.shardKey }

// bindShards prepares a sharded registration for its ranges.
func (r *Registration[T]) bindShards(group *shardGroup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sharded = &shardedState{key: shard.Key(r.opts.shardKey), ranges: group.config.ranges, open: group.open,
		group: group, attached: map[int]rangeAttachment{}}
}

func (r *Registration[T]) running() bool {
	return r.inCallback.Load()
}
