package informer

import (
	"context"
	"fmt"
	"sort"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// The queue side of a Reconciler: keys in, workers out, what Stop leaves.

// enqueue adds obj's key, remembering a deleted object's last state.
func (rc *Reconciler[T]) enqueue(obj T, deleted bool) {
	key := cache.NewObjectName(obj.GetNamespace(), obj.GetName())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if deleted {
		rc.last[key] = obj
	} else {
		delete(rc.last, key)
	}
	rc.enqueueLocked(key)
}

// enqueueKey adds a key mapped from another resource's event.
func (rc *Reconciler[T]) enqueueKey(key cache.ObjectName) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.enqueueLocked(key)
}

// enqueueLocked adds key to the queue, or keeps it for start. The caller
// holds rc.mu.
func (rc *Reconciler[T]) enqueueLocked(key cache.ObjectName) {
	rc.enqueues++
	rc.pending[key] = rc.enqueues
	if rc.queue == nil {
		rc.early = append(rc.early, key)
		return
	}
	rc.queue.Add(key)
}

func (rc *Reconciler[T]) lastKnown(key cache.ObjectName) (T, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	obj, ok := rc.last[key]
	return obj, ok
}

// start creates the queue and starts the workers: they wait until the
// registration has seen the initial list (or until runCtx ends), then call
// the ReconcileFunc with workCtx, which ends only when Stop gives up.
func (rc *Reconciler[T]) start(runCtx, workCtx context.Context, crashOnPanic bool, hooks Hooks, gate func() bool) {
	rc.mu.Lock()
	rc.crash = crashOnPanic
	rc.hooks = hooks
	rc.gate = gate
	config := workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{}
	if hooks.QueueMetrics != nil {
		config.Name, config.MetricsProvider = rc.reg.displayName(), hooks.QueueMetrics
	}
	rc.queue = workqueue.NewTypedRateLimitingQueueWithConfig(rc.opts.rateLimiter, config)
	for _, key := range rc.early {
		rc.queue.Add(key)
	}
	rc.early = nil
	rc.mu.Unlock()
	// The informers stop when runCtx ends, whether Stop ended it or the
	// caller of Start: reconciling from a cache that no longer follows the
	// server would act on old state, so the loop stops taking keys too.
	context.AfterFunc(runCtx, rc.shutDown)
	synced := rc.reg.syncedChecker()
	for range rc.opts.workers {
		rc.workers.Go(func() {
			if !cache.WaitFor(runCtx, "", synced) {
				return
			}
			for rc.processNext(workCtx) {
			}
		})
	}
}

// shutDown stops taking keys; running calls go on. (The workqueue's own
// ShutDown lets workers drain what is queued; Stop must not wait for that.)
func (rc *Reconciler[T]) shutDown() {
	rc.stopping.Store(true)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.queue != nil {
		rc.queue.ShutDown()
	}
}

func (rc *Reconciler[T]) setOwner(i *Informer) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.owner = i
}

// wait waits for the workers, then records and logs the abandoned keys,
// once: Remove after Stop waits again.
func (rc *Reconciler[T]) wait(ctx context.Context) {
	rc.workers.Wait()
	rc.waitOnce.Do(func() { rc.recordAbandoned(ctx) })
}

// recordAbandoned records and logs the keys left pending.
func (rc *Reconciler[T]) recordAbandoned(ctx context.Context) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.abandoned = rc.abandoned[:0]
	for key := range rc.pending {
		rc.abandoned = append(rc.abandoned, key)
	}
	sort.Slice(rc.abandoned, func(i, j int) bool { return rc.abandoned[i].String() < rc.abandoned[j].String() })
	if len(rc.abandoned) > 0 {
		klog.FromContext(ctx).Info("Reconcile loop stopped with keys not reconciled", "reconciler", rc.reg.displayName(),
			"count", len(rc.abandoned), "first", rc.abandoned[0].String())
	}
}

// running reports whether a call of the ReconcileFunc is running; Stop
// names such a loop when it times out.
func (rc *Reconciler[T]) running() bool { return rc.inFlight.Load() > 0 }

func (rc *Reconciler[T]) displayName() string { return rc.reg.displayName() }

// processNext processes one key; it returns false once the queue is shut
// down.
func (rc *Reconciler[T]) processNext(ctx context.Context) bool {
	key, shutdown := rc.queue.Get()
	if shutdown {
		return false
	}
	defer rc.queue.Done(key)
	if rc.stopping.Load() {
		return false // the key stays pending: abandoned
	}
	if rc.gate != nil && !rc.gate() {
		// This replica no longer leads: no call starts, and the Informer
		// is stopping (see Builder.WithLeaderElection).
		rc.shutDown()
		return false
	}
	rc.mu.Lock()
	enqueue := rc.pending[key]
	rc.mu.Unlock()
	if rc.reg.sharded != nil {
		rng, owned := rc.enterRange(key)
		if !owned {
			// Another replica's now (or not known here): its owner
			// reconciles it from the state it receives with the range.
			rc.queue.Forget(key)
			rc.finish(key, enqueue)
			return true
		}
		defer rc.exitRange(rng)
	}
	rc.inFlight.Add(1)
	start := time.Now()
	result, panicked, err := rc.call(ctx, key)
	took := time.Since(start)
	rc.inFlight.Add(-1)
	rc.reconciles.Add(1)
	if done := rc.hooks.ReconcileDone; done != nil {
		outcome := "success"
		switch {
		case panicked:
			outcome = "panic"
		case err != nil:
			outcome = "error"
		case result.RequeueAfter > 0:
			outcome = "requeue"
		}
		done(rc.reg.displayName(), outcome, took)
	}
	switch {
	case err != nil:
		rc.errors.Add(1)
		if rc.opts.maxRetriesSet && rc.queue.NumRequeues(key) >= rc.opts.maxRetries {
			rc.queue.Forget(key)
			rc.dropped.Add(1)
			if rc.hooks.KeyDropped != nil {
				rc.hooks.KeyDropped(rc.reg.displayName())
			}
			rc.finish(key, enqueue)
			utilruntime.HandleErrorWithContext(ctx, err, "Reconcile failed; dropping the key after the last retry",
				"reconciler", rc.reg.displayName(), "key", key.String(), "retries", rc.opts.maxRetries)
			return true
		}
		rc.retries.Add(1)
		if rc.hooks.KeyRetried != nil {
			rc.hooks.KeyRetried(rc.reg.displayName())
		}
		klog.FromContext(ctx).V(2).Info("Reconcile failed; retrying with backoff",
			"reconciler", rc.reg.displayName(), "key", key.String(), "err", err)
		rc.queue.AddRateLimited(key)
	case result.RequeueAfter > 0:
		rc.queue.Forget(key)
		rc.requeues.Add(1)
		rc.queue.AddAfter(key, result.RequeueAfter)
	default:
		rc.queue.Forget(key)
		rc.finish(key, enqueue)
	}
	return true
}

// finish forgets a key that needs no more work, unless an event enqueued it
// again since its call began.
func (rc *Reconciler[T]) finish(key cache.ObjectName, enqueue uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.pending[key] != enqueue {
		return
	}
	delete(rc.pending, key)
	delete(rc.last, key)
}

// call runs the ReconcileFunc, turning a panic into an error unless the
// builder asked to crash.
func (rc *Reconciler[T]) call(ctx context.Context, key cache.ObjectName) (result Result, panicked bool, err error) {
	if !rc.crash {
		defer func() {
			if p := recover(); p != nil {
				panicked = true
				rc.panics.Add(1)
				err = fmt.Errorf("informer: reconcile %s panicked: %v", key, p)
				utilruntime.HandleErrorWithContext(ctx, err, "Reconcile panicked; recovered, will retry", "reconciler", rc.reg.displayName(), "key", key.String())
			}
		}()
	}
	result, err = rc.fn(ctx, Request[T]{Namespace: key.Namespace, Name: key.Name, rc: rc})
	return result, false, err
}
