package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// ReconcileFunc brings the world in line with one object. It is called with
// the object's key only: it reads the object's current state from the
// shared cache ([Request.Get]), so it acts on the latest state however many
// events led to the call (level-triggered). It returns an error to be
// retried with backoff, or a [Result] asking to be called again later.
type ReconcileFunc[T Object] func(ctx context.Context, req Request[T]) (Result, error)

// Result tells what to do with a key after a successful reconcile.
type Result struct {
	// RequeueAfter, if positive, reconciles the key again after this long.
	// It is not a failure: no backoff, no retry counted.
	RequeueAfter time.Duration
}

// Request is the key a [ReconcileFunc] is called for, with access to the
// object's state in the shared cache.
type Request[T Object] struct {
	// Namespace and Name identify the object ("" namespace for
	// cluster-scoped resources).
	Namespace, Name string

	rc *Reconciler[T]
}

// String returns "namespace/name", or "name" for a cluster-scoped object.
func (r Request[T]) String() string { return cache.NewObjectName(r.Namespace, r.Name).String() }

// Get returns the object's current state from the shared cache. For an
// object that no longer exists the error is a not-found error
// (apierrors.IsNotFound); [Request.LastKnown] then has its last state.
// The object is shared with the cache: never modify it; DeepCopy first.
func (r Request[T]) Get() (T, error) {
	return r.rc.reg.Lister().Get(r.Namespace, r.Name)
}

// LastKnown returns the last state the informer had of a deleted object,
// whether its delete event was seen or not, until a reconcile of the key
// succeeds. ok is false for an object that exists or was never seen.
func (r Request[T]) LastKnown() (obj T, ok bool) {
	return r.rc.lastKnown(cache.NewObjectName(r.Namespace, r.Name))
}

// reconcileOptions are the options of a Reconcile registration.
type reconcileOptions struct {
	workers       int // 0: 1
	maxRetries    int
	maxRetriesSet bool // else retries are unlimited
	rateLimiter   workqueue.TypedRateLimiter[cache.ObjectName]
	set           bool // a reconcile option was given: an error on Watch
}

// Workers sets how many keys a [Reconcile] registration processes at once
// (default 1). One key is never processed by two workers at the same time.
func Workers(n int) WatchOption {
	return func(o *watchOptions) {
		o.reconcile.set = true
		if n < 1 {
			o.fail(fmt.Errorf("informer: Workers(%d): want at least 1", n))
			return
		}
		o.reconcile.workers = n
	}
}

// MaxRetries drops a key after it failed n+1 times in a row (the first try
// and n retries); [ReconcileStats.Dropped] counts it. By default keys are
// retried until they succeed, with the backoff of the rate limiter.
func MaxRetries(n int) WatchOption {
	return func(o *watchOptions) {
		o.reconcile.set = true
		if n < 0 {
			o.fail(fmt.Errorf("informer: MaxRetries(%d): want 0 or more", n))
			return
		}
		o.reconcile.maxRetries, o.reconcile.maxRetriesSet = n, true
	}
}

// RateLimiter sets how long a failed key waits before it is retried. The
// default is client-go's default controller rate limiter: per key,
// exponential from 5 ms to 1000 s; overall, 10 retries per second with a
// burst of 100.
func RateLimiter(limiter workqueue.TypedRateLimiter[cache.ObjectName]) WatchOption {
	return func(o *watchOptions) {
		o.reconcile.set = true
		if limiter == nil {
			o.fail(errors.New("informer: RateLimiter: nil limiter"))
			return
		}
		o.reconcile.rateLimiter = limiter
	}
}

// ReconcileStats is a snapshot of a [Reconciler]'s counters.
type ReconcileStats struct {
	// Reconciles counts calls of the ReconcileFunc that returned or panicked.
	Reconciles int64
	// Errors counts calls that returned an error or panicked; Panics counts
	// the panics alone.
	Errors, Panics int64
	// Retries counts keys put back with backoff after an error; Requeues
	// counts keys put back by [Result.RequeueAfter].
	Retries, Requeues int64
	// Dropped counts keys given up after [MaxRetries].
	Dropped int64
	// Queued is the number of keys waiting to be processed now, not
	// counting those waiting for their backoff or RequeueAfter to pass.
	Queued int
}

// Reconciler is the result of [Reconcile], [ReconcileResource] and
// [ReconcileMetadata]: a reconcile loop on one resource. Its methods are
// safe for concurrent use.
type Reconciler[T Object] struct {
	reg  *Registration[T]
	fn   ReconcileFunc[T]
	opts reconcileOptions

	reconciles, errors, panics, retries, requeues, dropped atomic.Int64
	inFlight                                               atomic.Int64
	stopping                                               atomic.Bool

	mu    sync.Mutex
	queue workqueue.TypedRateLimitingInterface[cache.ObjectName] // nil until started
	early []cache.ObjectName                                     // keys enqueued before start
	// pending holds the keys enqueued and not done, each with the number
	// of the enqueue that last added it, so that finishing a call does not
	// forget a key an event enqueued again during the call.
	pending   map[cache.ObjectName]uint64
	enqueues  uint64
	last      map[cache.ObjectName]T // deleted objects' last state
	abandoned []cache.ObjectName
	crash     bool
	hooks     Hooks
	gate      func() bool // see runner.start
	work      rangeWork   // sharded loops: reconciles running per range
	workers   sync.WaitGroup
	waitOnce  sync.Once
	owner     *Informer // set once attached, for Remove
}

// Reconcile registers a reconcile loop on the built-in type T, such as
// *corev1.Pod: every add, update and delete of an object enqueues its key
// in client-go's rate-limiting workqueue, and fn is called for the key by
// [Workers] workers once the cache has synced. Events for a key already
// queued collapse into one call; a key is never processed by two workers
// at once; an error or a panic retries the key with backoff ([RateLimiter],
// [MaxRetries]). Registrations options ([WithName], [Optional], predicates)
// apply as for [Watch], with which it shares the informer and its cache.
//
// [Informer.Stop] stops taking keys, waits for running calls within the
// stop timeout (their context ends only when the timeout runs out), and
// logs the keys it abandoned ([Reconciler.Abandoned]).
func Reconcile[T Object](b *Builder, fn ReconcileFunc[T], opts ...WatchOption) *Reconciler[T] {
	key, err := typedResourceKey[T]()
	return newReconciler(b, key, err, fn, opts)
}

// ReconcileResource is [Reconcile] for any resource through the dynamic
// client, typically a custom resource (see [WatchResource]).
func ReconcileResource(b *Builder, gvr schema.GroupVersionResource, fn ReconcileFunc[*unstructured.Unstructured], opts ...WatchOption) *Reconciler[*unstructured.Unstructured] {
	return newReconciler(b, resourceKey{source: sourceDynamic, gvr: gvr}, nil, fn, opts)
}

// ReconcileMetadata is [Reconcile] on a metadata-only cache (see
// [WatchMetadata]).
func ReconcileMetadata(b *Builder, gvr schema.GroupVersionResource, fn ReconcileFunc[*metav1.PartialObjectMetadata], opts ...WatchOption) *Reconciler[*metav1.PartialObjectMetadata] {
	return newReconciler(b, resourceKey{source: sourceMetadata, gvr: gvr}, nil, fn, opts)
}

func newReconciler[T Object](b *Builder, key resourceKey, keyErr error, fn ReconcileFunc[T], opts []WatchOption) *Reconciler[T] {
	var o watchOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	rc := &Reconciler[T]{
		fn:      fn,
		opts:    o.reconcile,
		pending: map[cache.ObjectName]uint64{},
		last:    map[cache.ObjectName]T{},
	}
	if rc.opts.workers == 0 {
		rc.opts.workers = 1
	}
	if rc.opts.rateLimiter == nil {
		rc.opts.rateLimiter = workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName]()
	}
	if fn == nil && keyErr == nil {
		keyErr = fmt.Errorf("informer: reconcile %s: nil ReconcileFunc", key)
	}
	rc.reg = register(b, key, keyErr, Funcs[T]{
		OnAdd:    func(_ context.Context, obj T) { rc.enqueue(obj, false) },
		OnUpdate: func(_ context.Context, _, obj T) { rc.enqueue(obj, false) },
		OnDelete: func(_ context.Context, obj T) { rc.enqueue(obj, true) },
	}, opts, true)
	rc.reg.mu.Lock()
	rc.reg.rangeDrain = rc.drainRange
	rc.reg.mu.Unlock()
	if b != nil && rc.reg.Err() == nil {
		b.addRunner(rc)
	}
	return rc
}

// Err reports why the reconcile loop is not active (see [Registration.Err]).
func (rc *Reconciler[T]) Err() error { return rc.reg.Err() }

// Lister returns the typed read side of the shared cache behind the loop.
func (rc *Reconciler[T]) Lister() Lister[T] { return rc.reg.Lister() }

// Stats returns the loop's counters.
func (rc *Reconciler[T]) Stats() ReconcileStats {
	st := ReconcileStats{
		Reconciles: rc.reconciles.Load(), Errors: rc.errors.Load(), Panics: rc.panics.Load(),
		Retries: rc.retries.Load(), Requeues: rc.requeues.Load(), Dropped: rc.dropped.Load(),
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.queue != nil {
		st.Queued = rc.queue.Len()
	} else {
		st.Queued = len(rc.early)
	}
	return st
}

// Abandoned returns, after [Informer.Stop] or [Reconciler.Remove], the keys
// that were enqueued and not reconciled successfully when the loop stopped
// (queued, waiting for a retry or a RequeueAfter), sorted.
func (rc *Reconciler[T]) Abandoned() []Request[T] {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Request[T], 0, len(rc.abandoned))
	for _, key := range rc.abandoned {
		out = append(out, Request[T]{Namespace: key.Namespace, Name: key.Name, rc: rc})
	}
	return out
}
