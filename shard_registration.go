package informer

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/informer-go/informer/internal/shard"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The registration side of sharding: a sharded registration has one
// handler per range this replica owns, each on the range's informer,
// each letting through only the objects of its range while the range's
// gate is open.

// shardedState is what a sharded registration adds to a [Registration].
type shardedState struct {
	key    shard.Key
	ranges int
	// open reports whether this replica owns a range now (its gate).
	open  func(rng int) bool
	group *shardGroup // for Remove
	// serial keeps the callbacks of the registration one at a time across
	// its ranges' handlers, as for any registration.
	serial sync.Mutex
	// attached maps each range with a handler here to its informer and
	// handle.
	attached map[int]rangeAttachment
	bound    bool // the callback settings are set
}

type rangeAttachment struct {
	res    *resource
	handle cache.ResourceEventHandlerRegistration
}

// sharded is the view of a sharded registration used by the shard group.
type sharded interface {
	registration
	attachRange(rng int, res *resource, env handlerEnv, gate func() bool) error
	detachRange(ctx context.Context, rng int) error
	attachedRanges() []int
}

// attachRange adds a handler for range rng on res, the range's informer:
// client-go hands it the cached objects as adds, then the events; it calls
// the registration's callbacks for objects of rng only, while gate allows.
func (r *Registration[T]) attachRange(rng int, res *resource, env handlerEnv, gate func() bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil // removed (or failed): nothing to attach
	}
	st := r.sharded
	if _, ok := st.attached[rng]; ok {
		return nil
	}
	if !st.bound {
		// Once, before the first handler: callbacks read these unlocked.
		st.bound = true
		r.crash, r.contexts = env.crash, env.contexts
		r.handlerDone, r.resourceName = env.hooks.HandlerDone, r.key.String()
		r.name = r.opts.name
		if r.name == "" {
			r.name = r.key.String() + " (sharded)"
		}
		r.late = true // received counts are per range informer: no backlog
	}
	handler := rangeHandler[T]{r: r, rng: rng, gate: gate}
	handle, err := cache.NewTypedSharedIndexInformer[T](res.informer).AddTypedEventHandler(handler)
	if err != nil {
		return fmt.Errorf("informer: %s: adding handler: %w", res.name, err)
	}
	st.attached[rng] = rangeAttachment{res: res, handle: handle}
	res.addHandler(r)
	return nil
}

// detachRange removes the handler of range rng and waits until a callback
// it was running has returned. The range's gate must be closed first.
func (r *Registration[T]) detachRange(ctx context.Context, rng int) error {
	r.mu.Lock()
	att, ok := r.sharded.attached[rng]
	delete(r.sharded.attached, rng)
	r.mu.Unlock()
	if !ok {
		return nil
	}
	att.res.removeHandler(r)
	if err := att.res.informer.RemoveEventHandler(att.handle); err != nil {
		return fmt.Errorf("informer: %s: removing the handler of range %d: %w", r.displayName(), rng, err)
	}
	if shutdown, ok := att.handle.(interface{ ShutdownChan() <-chan struct{} }); ok {
		if err := waitDone(ctx, shutdown.ShutdownChan()); err != nil {
			return err
		}
	}
	r.mu.Lock()
	drain := r.rangeDrain
	r.mu.Unlock()
	if drain != nil {
		return drain(ctx, rng)
	}
	return nil
}

// attachedRanges returns the ranges with a handler here, sorted.
func (r *Registration[T]) attachedRanges() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sharded == nil {
		return nil
	}
	ranges := make([]int, 0, len(r.sharded.attached))
	for rng := range r.sharded.attached {
		ranges = append(ranges, rng)
	}
	slices.Sort(ranges)
	return ranges
}

// shardedViews returns the caches of the attached ranges, each with the
// test of its range, for the Lister.
func (r *Registration[T]) shardedViews() []listerView {
	r.mu.Lock()
	defer r.mu.Unlock()
	views := make([]listerView, 0, len(r.sharded.attached))
	for rng, att := range r.sharded.attached {
		views = append(views, listerView{indexer: att.res.informer.GetIndexer(), match: r.sharded.matcher(rng)})
	}
	return views
}

// matcher returns the test of range rng for cached items.
func (st *shardedState) matcher(rng int) func(any) bool {
	return func(item any) bool {
		obj, ok := item.(metav1.Object)
		return ok && shard.ObjectRange(obj, st.key, st.ranges) == rng
	}
}

// rangeHandler is the client-go handler of one range of a sharded
// registration.
type rangeHandler[T Object] struct {
	r    *Registration[T]
	rng  int
	gate func() bool
}

// admit takes the registration's serial lock for obj when obj is in the
// handler's range and the range's gate allows; the caller then unlocks.
// The gate is asked under the lock, so that once it closed and the lock
// was free, no callback of the range starts.
func (h rangeHandler[T]) admit(obj T) bool {
	st := h.r.sharded
	if shard.ObjectRange(obj, st.key, st.ranges) != h.rng {
		return false // the server did not filter: not ours
	}
	st.serial.Lock()
	if !h.gate() {
		st.serial.Unlock()
		return false
	}
	return true
}

func (h rangeHandler[T]) OnAdd(obj T, isInitialList bool) {
	if h.admit(obj) {
		defer h.r.sharded.serial.Unlock()
		h.r.onAdd(obj, isInitialList)
	}
}

func (h rangeHandler[T]) OnUpdate(oldObj, newObj T) {
	if h.admit(newObj) {
		defer h.r.sharded.serial.Unlock()
		h.r.onUpdate(oldObj, newObj)
	}
}

func (h rangeHandler[T]) OnDelete(deleted cache.DeletedObject[T]) {
	obj := deleted.OptionalObj
	var zero T
	if obj == zero {
		// A tombstone without the object: its key is all there is, and the
		// range cannot be told. The range's informer had the object, so
		// with a server that filters it is the range's.
		h.r.sharded.serial.Lock()
		if !h.gate() {
			h.r.sharded.serial.Unlock()
			return
		}
	} else if !h.admit(obj) {
		return
	}
	defer h.r.sharded.serial.Unlock()
	h.r.onDelete(deleted)
}
