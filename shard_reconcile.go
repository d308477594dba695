package informer

import (
	"context"

	"github.com/informer-go/informer/internal/shard"
	"k8s.io/client-go/tools/cache"
)

// The reconcile side of sharding: a sharded reconcile loop reconciles a
// key only while this replica owns the key's range, and a range is handed
// over only once no reconcile of it runs here.

// rangeWork counts the reconciles running per range, for the handover.
type rangeWork struct {
	busy    map[int]int
	waiters map[int][]chan struct{} // closed when the range's count is 0
}

// keyRange returns the range of key: from its namespace when the loop is
// sharded by namespace, else from the cached object or, for a deleted one,
// its last known state. ok is false when neither is known here: the key is
// not in a range this replica owns.
func (rc *Reconciler[T]) keyRange(key cache.ObjectName) (rng int, ok bool) {
	st := rc.reg.sharded
	if st.key == shard.ByNamespace {
		return shard.RangeOf(shard.Hash(key.Namespace), st.ranges), true
	}
	if obj, err := rc.reg.Lister().Get(key.Namespace, key.Name); err == nil {
		return shard.ObjectRange(obj, st.key, st.ranges), true
	}
	if obj, known := rc.lastKnown(key); known {
		return shard.ObjectRange(obj, st.key, st.ranges), true
	}
	return 0, false
}

// enterRange counts a reconcile of key as running in its range, if this
// replica owns the range now; the caller then calls exitRange. The gate
// is asked under rc.mu, so that a handover that closed the gate and then
// waited (drainRange) sees every reconcile that got in.
func (rc *Reconciler[T]) enterRange(key cache.ObjectName) (rng int, owned bool) {
	rng, ok := rc.keyRange(key)
	if !ok {
		return 0, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.reg.sharded.open(rng) {
		return 0, false
	}
	if rc.work.busy == nil {
		rc.work = rangeWork{busy: map[int]int{}, waiters: map[int][]chan struct{}{}}
	}
	rc.work.busy[rng]++
	return rng, true
}

func (rc *Reconciler[T]) exitRange(rng int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.work.busy[rng]--
	if rc.work.busy[rng] > 0 {
		return
	}
	delete(rc.work.busy, rng)
	for _, ch := range rc.work.waiters[rng] {
		close(ch)
	}
	delete(rc.work.waiters, rng)
}

// drainRange waits until no reconcile of range rng runs here; the range's
// gate is closed.
func (rc *Reconciler[T]) drainRange(ctx context.Context, rng int) error {
	rc.mu.Lock()
	if rc.work.busy[rng] == 0 {
		rc.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	rc.work.waiters[rng] = append(rc.work.waiters[rng], ch)
	rc.mu.Unlock()
	return waitDone(ctx, ch)
}
