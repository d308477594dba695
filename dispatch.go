package informer

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
)

// eventHandler is the cache.TypedResourceEventHandler client-go calls; it
// keeps those methods off the Registration's public API.
type eventHandler[T Object] struct{ r *Registration[T] }

func (h eventHandler[T]) OnAdd(obj T, isInitialList bool)         { h.r.onAdd(obj, isInitialList) }
func (h eventHandler[T]) OnUpdate(oldObj, newObj T)               { h.r.onUpdate(oldObj, newObj) }
func (h eventHandler[T]) OnDelete(deleted cache.DeletedObject[T]) { h.r.onDelete(deleted) }

func (r *Registration[T]) onAdd(obj T, isInitialList bool) {
	r.seen.Add(1)
	if r.funcs.OnAdd == nil || r.gated() || !r.accepts(addEvent, obj, obj) {
		return
	}
	ctx := r.contexts.plain
	if isInitialList {
		ctx = r.contexts.initialList
	}
	defer r.done(ctx, addEvent, obj, r.begin())
	r.funcs.OnAdd(ctx, obj)
}

func (r *Registration[T]) onUpdate(oldObj, newObj T) {
	if oldObj != newObj {
		// Resync hands the cached object twice; it was never received.
		r.seen.Add(1)
	}
	if r.funcs.OnUpdate == nil || r.gated() || (!r.opts.deliverNoOps && isNoOpUpdate(oldObj, newObj)) ||
		!r.accepts(updateEvent, oldObj, newObj) {
		return
	}
	ctx := r.contexts.plain
	defer r.done(ctx, updateEvent, newObj, r.begin())
	r.funcs.OnUpdate(ctx, oldObj, newObj)
}

func (r *Registration[T]) onDelete(deleted cache.DeletedObject[T]) {
	if deleted.FinalStateUnknown == nil {
		r.seen.Add(1) // tombstones come from a relist's bookkeeping, not from the server
	}
	if r.funcs.OnDelete == nil || r.gated() {
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
	if !r.accepts(deleteEvent, obj, obj) {
		return
	}
	defer r.done(ctx, deleteEvent, obj, r.begin())
	r.funcs.OnDelete(ctx, obj)
}

// gated reports whether the registration's gate forbids callbacks now
// (see Builder.WithLeaderElection).
func (r *Registration[T]) gated() bool {
	return r.gate != nil && !r.gate()
}

// accepts reports whether the registration's predicates let an event
// through; oldObj is read for updates only. Without predicates it costs a
// nil check. A panicking predicate is recovered, logged and counted like a
// callback, unless the builder asked to crash, and lets the event through:
// a bug in a filter should cost an extra event, not a lost one.
func (r *Registration[T]) accepts(kind eventKind, oldObj, obj T) (delivered bool) {
	if r.opts.predicate.node == nil {
		return true
	}
	if !r.crash {
		defer func() {
			if p := recover(); p != nil {
				delivered = true
				r.panics.Add(1)
				utilruntime.HandleErrorWithContext(r.contexts.plain, fmt.Errorf("panic: %v", p), "informer: predicate panicked; event delivered",
					"handler", r.name, "event", kind.String(), "namespace", obj.GetNamespace(), "name", obj.GetName())
			}
		}()
	}
	return r.opts.predicate.accepts(kind, oldObj, obj)
}

// done ends a callback: it counts it and, unless the builder asked to crash,
// recovers a panic and logs it with the resource and the object's key.
func (r *Registration[T]) done(ctx context.Context, event eventKind, obj T, start time.Time) {
	r.delivered.Add(1)
	r.inCallback.Store(false)
	panicked := false
	if !r.crash {
		if p := recover(); p != nil {
			panicked = true
			r.panics.Add(1)
			utilruntime.HandleErrorWithContext(ctx, fmt.Errorf("panic: %v", p), "informer: handler panicked; recovered",
				"handler", r.name, "event", event.String(), "namespace", obj.GetNamespace(), "name", obj.GetName())
		}
	}
	if r.handlerDone != nil {
		r.handlerDone(r.resourceName, r.name, event.String(), time.Since(start), panicked)
	}
}

// begin marks a callback as running and returns when it began, when a
// hook wants to know (else the zero time: reading the clock costs).
func (r *Registration[T]) begin() time.Time {
	r.inCallback.Store(true)
	if r.handlerDone != nil {
		return time.Now()
	}
	return time.Time{}
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
