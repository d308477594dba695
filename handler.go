package informer

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
