package informer

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
)

// Object is what an informer caches: a Kubernetes API object with metadata,
// such as *corev1.Pod, *unstructured.Unstructured or
// *metav1.PartialObjectMetadata.
type Object interface {
	comparable
	runtime.Object
	metav1.Object
}

// Funcs holds the callbacks for one registration. A nil field means "not
// interested". Each callback receives a context that ends when
// [Informer.Stop] is called; [IsInitialList] and [IsFinalStateUnknown] tell
// more about the event.
//
// Objects handed to callbacks are shared with the cache and with other
// handlers: they must not be modified. Copy first (obj.DeepCopy()) to change one.
//
// For one registration, callbacks are called one at a time, in the order
// the informer saw the events; different registrations run concurrently and
// never wait for one another.
type Funcs[T Object] struct {
	// OnAdd is called for each object in the initial list and for each
	// object created later.
	OnAdd func(ctx context.Context, obj T)
	// OnUpdate is called when an object changed. Updates where nothing
	// changed (periodic resync, a relist that returned the same
	// resourceVersion) are skipped unless [DeliverNoOpUpdates] is set.
	OnUpdate func(ctx context.Context, oldObj, newObj T)
	// OnDelete is called when an object was deleted, or stopped matching
	// the selectors. When the informer missed the final state (the watch was
	// down), obj is the last state it knew, and [IsFinalStateUnknown]
	// reports true; there is never a DeletedFinalStateUnknown to unwrap.
	OnDelete func(ctx context.Context, obj T)
}

type eventContextKey int

const (
	initialListKey eventContextKey = iota
	finalStateUnknownKey
)

// IsInitialList reports whether the add event whose context is ctx came from
// the informer's initial list, rather than from an object created later.
func IsInitialList(ctx context.Context) bool {
	v, _ := ctx.Value(initialListKey).(bool)
	return v
}

// IsFinalStateUnknown reports whether the delete event whose context is ctx
// was noticed on a relist: the object handed to OnDelete is the last state
// the informer knew, which may be older than the deleted one.
func IsFinalStateUnknown(ctx context.Context) bool {
	v, _ := ctx.Value(finalStateUnknownKey).(bool)
	return v
}

// eventContexts are the contexts handed to callbacks, made once at Start so
// that delivering an event allocates nothing.
type eventContexts struct {
	plain             context.Context
	initialList       context.Context
	finalStateUnknown context.Context
}

func newEventContexts(base context.Context) *eventContexts {
	return &eventContexts{
		plain:             base,
		initialList:       context.WithValue(base, initialListKey, true),
		finalStateUnknown: context.WithValue(base, finalStateUnknownKey, true),
	}
}

// WatchOption changes one registration made by [Watch], [WatchResource] or
// [WatchMetadata].
type WatchOption func(*watchOptions)

type watchOptions struct {
	deliverNoOps bool
	optional     bool
	name         string
	indexers     cache.Indexers
	err          error
}

// DeliverNoOpUpdates delivers updates where nothing changed: periodic resync
// (see [Builder.WithResync]) and relists that returned an object unchanged.
func DeliverNoOpUpdates() WatchOption {
	return func(o *watchOptions) { o.deliverNoOps = true }
}

// Optional marks the registration's informer as optional: when it cannot
// sync (no permission, CRD not installed), [Informer.WaitForSync] and
// [Informer.Ready] do not fail because of it, and [Informer.Status] shows
// why. It keeps retrying, and its handlers are called once it syncs. An
// informer shared with a registration that is not optional stays required.
func Optional() WatchOption {
	return func(o *watchOptions) { o.optional = true }
}

// WithName names the registration in logs, errors and status. The default is
// the resource followed by "#" and the registration's number.
func WithName(name string) WatchOption {
	return func(o *watchOptions) { o.name = name }
}

// WithIndex adds an index named name to the shared cache of the registration's
// resource, for [Lister.ByIndex]. indexFunc returns the index values of an
// object. Index names belong to the shared cache: once one registration on a
// resource added an index, another one adding the same name fails (an error
// from [Builder.Build], or [Registration.Err] after Build). Add an index
// once: every Lister of the resource can use it.
func WithIndex[T Object](name string, indexFunc func(obj T) ([]string, error)) WatchOption {
	return func(o *watchOptions) {
		if name == "" || indexFunc == nil {
			o.err = fmt.Errorf("informer: WithIndex: empty name or nil function")
			return
		}
		if o.indexers == nil {
			o.indexers = cache.Indexers{}
		}
		o.indexers[name] = func(obj any) ([]string, error) {
			typed, ok := obj.(T)
			if !ok {
				return nil, fmt.Errorf("informer: index %q: got %T, want %T", name, obj, *new(T))
			}
			return indexFunc(typed)
		}
	}
}

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

	started  atomic.Int64 // callbacks entered
	finished atomic.Int64 // callbacks returned
	panics   atomic.Int64

	// seen counts notifications that match the resource's received count
	// (see resource.received): all but resync updates and tombstones.
	// Backlog is received minus seen; it is unknown (late) for a
	// registration added after its informer started, which gets a replay of
	// the cache that was never counted as received.
	seen atomic.Int64
	late bool
}

// registration is the untyped view of a [Registration] used by the builder
// and the informer.
type registration interface {
	resourceKey() resourceKey
	validate() error
	attach(res *resource, contexts *eventContexts, crashOnPanic bool) error
	setContexts(contexts *eventContexts)
	fail(err error)
	syncedChecker() cache.DoneChecker
	displayName() string
	running() bool
	optional() bool
	Stats() Stats
}

func (r *Registration[T]) resourceKey() resourceKey { return r.key }

func (r *Registration[T]) validate() error {
	if r.opts.err != nil {
		return r.opts.err
	}
	return r.key.validate()
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
	if r.res == nil {
		err := r.err
		if err == nil {
			err = fmt.Errorf("informer: lister for %s: the builder is not built", r.key)
		}
		return Lister[T]{err: err}
	}
	return Lister[T]{indexer: r.res.informer.GetIndexer(), resource: r.res.key.gvr.GroupResource()}
}

// Stats is a snapshot of a registration's counters.
type Stats struct {
	// Delivered counts callbacks that returned (or panicked).
	Delivered int64
	// Running is 1 while a callback is running, else 0.
	Running int64
	// Panics counts recovered panics.
	Panics int64
	// Backlog counts objects the informer received from the API server that
	// this registration has not started to process yet: queued in
	// client-go's FIFO or in the registration's own queue. A backlog that
	// keeps growing means a handler slower than the event rate. It is -1
	// (unknown) for a registration added after its informer started.
	Backlog int64
}

// Stats returns the registration's counters.
func (r *Registration[T]) Stats() Stats {
	// seen is read before received: an event counted in seen was counted
	// in received first, so the difference is never negative.
	seen := r.seen.Load()
	finished := r.finished.Load()
	st := Stats{Delivered: finished, Running: r.started.Load() - finished, Panics: r.panics.Load(), Backlog: -1}
	r.mu.Lock()
	res, late := r.res, r.late
	r.mu.Unlock()
	if res != nil && !late {
		st.Backlog = max(0, res.received.Load()-seen)
	}
	return st
}

func (r *Registration[T]) attach(res *resource, contexts *eventContexts, crashOnPanic bool) error {
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
	r.late = res.started.Load()
	r.crash = crashOnPanic
	r.contexts = contexts
	r.name = r.opts.name
	if r.name == "" {
		r.name = fmt.Sprintf("%s#%d", res.name, res.handlerCount()+1)
	}
	handle, err := cache.NewTypedSharedIndexInformer[T](res.informer).AddTypedEventHandler(eventHandler[T]{r})
	if err != nil {
		return fmt.Errorf("informer: %s: adding handler: %w", res.name, err)
	}
	r.handle = handle
	res.addHandler(r)
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
	return r.handle.HasSyncedChecker()
}

func (r *Registration[T]) displayName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.name
}

func (r *Registration[T]) optional() bool { return r.opts.optional }

func (r *Registration[T]) running() bool {
	return r.started.Load() != r.finished.Load()
}

// eventHandler is the cache.TypedResourceEventHandler client-go calls; it
// keeps those methods off the Registration's public API.
type eventHandler[T Object] struct{ r *Registration[T] }

func (h eventHandler[T]) OnAdd(obj T, isInitialList bool)         { h.r.onAdd(obj, isInitialList) }
func (h eventHandler[T]) OnUpdate(oldObj, newObj T)               { h.r.onUpdate(oldObj, newObj) }
func (h eventHandler[T]) OnDelete(deleted cache.DeletedObject[T]) { h.r.onDelete(deleted) }

func (r *Registration[T]) onAdd(obj T, isInitialList bool) {
	r.seen.Add(1)
	if r.funcs.OnAdd == nil {
		return
	}
	ctx := r.contexts.plain
	if isInitialList {
		ctx = r.contexts.initialList
	}
	r.started.Add(1)
	defer r.done(ctx, "add", obj)
	r.funcs.OnAdd(ctx, obj)
}

func (r *Registration[T]) onUpdate(oldObj, newObj T) {
	if oldObj != newObj {
		// Resync hands the cached object twice; it was never received.
		r.seen.Add(1)
	}
	if r.funcs.OnUpdate == nil || (!r.opts.deliverNoOps && isNoOpUpdate(oldObj, newObj)) {
		return
	}
	ctx := r.contexts.plain
	r.started.Add(1)
	defer r.done(ctx, "update", newObj)
	r.funcs.OnUpdate(ctx, oldObj, newObj)
}

func (r *Registration[T]) onDelete(deleted cache.DeletedObject[T]) {
	if deleted.FinalStateUnknown == nil {
		r.seen.Add(1) // tombstones come from a relist's bookkeeping, not from the server
	}
	if r.funcs.OnDelete == nil {
		return
	}
	ctx := r.contexts.plain
	obj := deleted.OptionalObj
	if deleted.FinalStateUnknown != nil {
		ctx = r.contexts.finalStateUnknown
		var zero T
		if obj == zero {
			// The informer lost every copy; hand over an object that carries
			// at least the namespace and name.
			obj = newObjectNamed[T](deleted.GetNamespace(), deleted.GetName())
		}
	}
	r.started.Add(1)
	defer r.done(ctx, "delete", obj)
	r.funcs.OnDelete(ctx, obj)
}

// done ends a callback: it counts it and, unless the builder asked to crash,
// recovers a panic and logs it with the resource and the object's key.
func (r *Registration[T]) done(ctx context.Context, event string, obj T) {
	r.finished.Add(1)
	if r.crash {
		return
	}
	if p := recover(); p != nil {
		r.panics.Add(1)
		utilruntime.HandleErrorWithContext(ctx, fmt.Errorf("panic: %v", p), "informer: handler panicked; recovered",
			"handler", r.name, "event", event, "namespace", obj.GetNamespace(), "name", obj.GetName())
	}
}

// isNoOpUpdate reports whether an update changed nothing. resourceVersions
// decide when both are set; otherwise (fake clients never set them) the
// objects are compared semantically.
func isNoOpUpdate[T Object](oldObj, newObj T) bool {
	if oldObj == newObj {
		return true
	}
	oldRV, newRV := oldObj.GetResourceVersion(), newObj.GetResourceVersion()
	if oldRV != "" && newRV != "" {
		return oldRV == newRV
	}
	return equality.Semantic.DeepEqual(oldObj, newObj)
}

// newObjectNamed returns a new, empty T (a pointer to a struct) with the
// given namespace and name.
func newObjectNamed[T Object](namespace, name string) T {
	obj := reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	return obj
}

// Watch registers callbacks for the built-in type T, such as *corev1.Pod or
// *appsv1.Deployment; the resource is found from T. Use [WatchResource] for
// custom resources and [WatchMetadata] to cache metadata only. Registrations
// of one resource share one informer and one cache.
//
// Errors (an unknown type, bad options) are reported by [Builder.Build]. On a
// builder that was already built, Watch adds the registration to the running
// [Informer]: its informer starts at once if the Informer was started, and
// [Informer.WaitForSync] then covers it; errors are then reported by
// [Registration.Err].
func Watch[T Object](b *Builder, funcs Funcs[T], opts ...WatchOption) *Registration[T] {
	key, err := typedResourceKey[T]()
	return register(b, key, err, funcs, opts)
}

// WatchResource registers callbacks for any resource, typically a custom
// resource, through the dynamic client. gvr must name a version and the
// plural resource, for example {Group: "example.com", Version: "v1",
// Resource: "widgets"}. See [Watch] for errors and sharing.
func WatchResource(b *Builder, gvr schema.GroupVersionResource, funcs Funcs[*unstructured.Unstructured], opts ...WatchOption) *Registration[*unstructured.Unstructured] {
	return register(b, resourceKey{source: sourceDynamic, gvr: gvr}, nil, funcs, opts)
}

// WatchMetadata registers callbacks for any resource, caching only object
// metadata (names, labels, annotations, owners): the cheapest way to watch
// when the spec and status are not needed. See [Watch] for errors and sharing.
func WatchMetadata(b *Builder, gvr schema.GroupVersionResource, funcs Funcs[*metav1.PartialObjectMetadata], opts ...WatchOption) *Registration[*metav1.PartialObjectMetadata] {
	return register(b, resourceKey{source: sourceMetadata, gvr: gvr}, nil, funcs, opts)
}

func register[T Object](b *Builder, key resourceKey, keyErr error, funcs Funcs[T], opts []WatchOption) *Registration[T] {
	r := &Registration[T]{key: key, funcs: funcs}
	for _, opt := range opts {
		if opt != nil {
			opt(&r.opts)
		}
	}
	if keyErr != nil && r.opts.err == nil {
		r.opts.err = keyErr
	}
	if b == nil {
		r.err = fmt.Errorf("informer: watch %s: nil *Builder", key)
		return r
	}
	b.register(r)
	return r
}
