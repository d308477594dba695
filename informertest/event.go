package informertest

import (
	"fmt"
	"strings"

	"k8s.io/client-go/tools/cache"

	"github.com/informer-go/informer"
)

// EventKind says which callback of [informer.Funcs] an [Event] came from.
type EventKind int

// The kinds of [Event].
const (
	// Added is a call of OnAdd.
	Added EventKind = iota + 1
	// Updated is a call of OnUpdate.
	Updated
	// Deleted is a call of OnDelete.
	Deleted
)

// String returns "add", "update" or "delete".
func (k EventKind) String() string {
	switch k {
	case Added:
		return "add"
	case Updated:
		return "update"
	case Deleted:
		return "delete"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event is one callback recorded by a [Recorder].
type Event[T informer.Object] struct {
	// Kind is the callback.
	Kind EventKind
	// Object is the object handed to the callback: the new state for an
	// update, the last known state for a delete.
	Object T
	// OldObject is the state before an update; the zero T for other kinds.
	OldObject T
	// InitialList reports [informer.IsInitialList] for the callback: the add
	// came from the informer's initial list.
	InitialList bool
	// FinalStateUnknown reports [informer.IsFinalStateUnknown] for the
	// callback: the delete was noticed on a relist.
	FinalStateUnknown bool
}

// Key returns the object's namespace/name, or its name when it is
// cluster-scoped, as client-go's cache keys objects.
func (e Event[T]) Key() string {
	var zero T
	if e.Object == zero {
		return ""
	}
	return cache.MetaObjectToName(e.Object).String()
}

// String describes the event in one line, for example
// "update default/web rv=7 (old rv=5)".
func (e Event[T]) String() string {
	var b strings.Builder
	var zero T
	if e.Object == zero {
		fmt.Fprintf(&b, "%s <nil>", e.Kind)
	} else {
		fmt.Fprintf(&b, "%s %s rv=%s", e.Kind, e.Key(), e.Object.GetResourceVersion())
	}
	if e.Kind == Updated && e.OldObject != zero {
		fmt.Fprintf(&b, " (old rv=%s)", e.OldObject.GetResourceVersion())
	}
	if e.InitialList {
		b.WriteString(" (initial list)")
	}
	if e.FinalStateUnknown {
		b.WriteString(" (final state unknown)")
	}
	return b.String()
}
