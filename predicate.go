package informer

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Predicate decides which events of a registration reach its callbacks;
// give predicates to [Watch], [WatchResource], [WatchMetadata] or
// [Reconcile] and its kin with [WithPredicates]. For each event a predicate passes it, drops it or leaves
// it alone (no opinion), and an event is delivered unless the registration's
// predicates drop it. Built-in predicates read only metadata, so each works
// on typed, unstructured and metadata registrations alike; custom ones
// ([AddFunc], [UpdateFunc], [DeleteFunc]) take the registration's object
// type. The zero Predicate leaves every event alone.
//
// What each one does with an add, an update and a delete:
//
//	predicate                add                update                                       delete
//	GenerationChanged()      -                  passes if generation changed or is 0 (1) *   -
//	LabelsChanged()          -                  passes if labels changed *                   -
//	AnnotationsChanged()     -                  passes if annotations changed *              -
//	ResourceVersionChanged() -                  passes if resourceVersion changed *          -
//	LabelSelector(s)         passes if matches  passes if old or new matches (2) *           -
//	InNamespaces(ns...)      passes if in ns    passes if in ns *                            -
//	AddFunc(f)               f(obj)             -                                            -
//	UpdateFunc(f)            -                  f(oldObj, newObj)                            -
//	DeleteFunc(f)            -                  -                                            f(obj)
//
//	-    leaves the event alone
//	*    except an update that changed deletionTimestamp or finalizers: left alone
//	(1)  drops status-only updates, and label and annotation ones: the API server
//	     increments generation only when the desired state (the spec) changes.
//	     That is the point, as with controller-runtime's GenerationChangedPredicate,
//	     for a controller that must not wake up on its own status writes, and the
//	     surprise for one that reads status others write. Objects without a
//	     generation (0: ConfigMaps, Secrets) have every update passed, since
//	     nothing tells a change of their desired state from another one.
//	(2)  so an object that stops matching is seen
//
// Built-in predicates never drop a delete, nor an update that changed
// metadata.deletionTimestamp or metadata.finalizers: they leave those events
// alone. A controller that put a finalizer on an object therefore sees its
// deletion start and its finalizer go, whatever built-ins filter its events.
// Custom predicates are obeyed: the function you gave decides, and a
// DeleteFunc or UpdateFunc that returns false drops even those events.
//
// [And], [Or] and [Not] combine predicates. Predicates that leave an event
// alone take no part: And drops what one of the others drops, Or passes
// what one of the others passes, Not swaps pass and drop; with no other,
// they leave the event alone too. The guarantee is thus applied once, to the
// registration's predicates as a whole: for a delete, or an update that
// changed deletionTimestamp or finalizers, the built-ins are taken out
// wherever they sit, and only custom predicates decide (with none, the event
// is delivered). Not(LabelSelector("app=web")) still delivers the deletion
// of a web pod. And Not(UpdateFunc(f)) filters updates only, where
// controller-runtime's Not of an update filter drops every create and
// delete.
type Predicate struct {
	node predicateNode
}

// predicateNode is a built-in, custom or combined predicate.
type predicateNode interface {
	decide(ev predicateEvent) verdict
	// check returns the predicate's first error: one made when it was
	// built, or, when objType is not nil, a custom predicate that takes
	// another type.
	check(objType reflect.Type) error
}

type verdict uint8

const (
	abstain verdict = iota // no opinion: takes no part in And, Or and Not
	pass
	drop
)

func verdictOf(passes bool) verdict {
	if passes {
		return pass
	}
	return drop
}

// eventKind is the kind of event a callback or a predicate sees.
type eventKind uint8

const (
	addEvent eventKind = iota
	updateEvent
	deleteEvent
)

func (k eventKind) String() string {
	switch k {
	case addEvent:
		return "add"
	case updateEvent:
		return "update"
	}
	return "delete"
}

// predicateEvent is one event as predicates see it.
type predicateEvent struct {
	kind   eventKind
	oldObj metav1.Object // updates only
	obj    metav1.Object
	// deletion reports an update that changed deletionTimestamp or
	// finalizers, which built-in predicates leave alone.
	deletion bool
}

// accepts reports whether p lets an event through; oldObj is read for
// updates only.
func (p Predicate) accepts(kind eventKind, oldObj, obj metav1.Object) bool {
	ev := predicateEvent{kind: kind, oldObj: oldObj, obj: obj}
	if kind == updateEvent {
		ev.deletion = !oldObj.GetDeletionTimestamp().Equal(obj.GetDeletionTimestamp()) ||
			!slices.Equal(oldObj.GetFinalizers(), obj.GetFinalizers())
	}
	return p.decide(ev) != drop
}

func (p Predicate) decide(ev predicateEvent) verdict {
	if p.node == nil {
		return abstain
	}
	return p.node.decide(ev)
}

func (p Predicate) check(objType reflect.Type) error {
	if p.node == nil {
		return nil
	}
	return p.node.check(objType)
}

// builtIn is a predicate of this package. It decides adds and updates (a
// nil function leaves them alone) and leaves alone every delete and every
// update that changed the deletion state.
type builtIn struct {
	add    func(obj metav1.Object) bool
	update func(oldObj, newObj metav1.Object) bool
	err    error
}

func (p builtIn) decide(ev predicateEvent) verdict {
	switch {
	case ev.kind == addEvent && p.add != nil:
		return verdictOf(p.add(ev.obj))
	case ev.kind == updateEvent && p.update != nil && !ev.deletion:
		return verdictOf(p.update(ev.oldObj, ev.obj))
	}
	return abstain
}

func (p builtIn) check(reflect.Type) error { return p.err }

// GenerationChanged passes updates that changed metadata.generation, and
// every update of an object without one (generation 0). It drops
// status-only updates, and label and annotation ones: the table of
// [Predicate] says why. Custom resources increment generation on status
// writes too unless status is a subresource; some built-in resources on
// other writes (Deployments on annotation changes). When status or labels
// matter, combine it, as in Or(GenerationChanged(), LabelsChanged()), or
// write an [UpdateFunc]. See [Predicate] for deletes and deletions, which it
// never drops.
func GenerationChanged() Predicate {
	return Predicate{builtIn{update: func(oldObj, newObj metav1.Object) bool {
		return newObj.GetGeneration() == 0 || oldObj.GetGeneration() != newObj.GetGeneration()
	}}}
}

// LabelsChanged passes updates that changed the object's labels. See
// [Predicate] for deletes and deletions, which it never drops.
func LabelsChanged() Predicate {
	return Predicate{builtIn{update: func(oldObj, newObj metav1.Object) bool {
		return !maps.Equal(oldObj.GetLabels(), newObj.GetLabels())
	}}}
}

// AnnotationsChanged passes updates that changed the object's annotations.
// The last-applied annotation is stripped by default (see
// [Builder.WithManagedFields]), so a change to it alone is not seen. See
// [Predicate] for deletes and deletions, which it never drops.
func AnnotationsChanged() Predicate {
	return Predicate{builtIn{update: func(oldObj, newObj metav1.Object) bool {
		return !maps.Equal(oldObj.GetAnnotations(), newObj.GetAnnotations())
	}}}
}

// ResourceVersionChanged passes updates whose resourceVersion changed,
// like controller-runtime's ResourceVersionChangedPredicate. Updates with
// an unchanged resourceVersion are already skipped unless
// [DeliverNoOpUpdates] is given, so alone it adds nothing for objects from
// an API server; objects without a resourceVersion (client-go's fake
// clientset sets none) have every update dropped. See [Predicate] for
// deletes and deletions, which it never drops.
func ResourceVersionChanged() Predicate {
	return Predicate{builtIn{update: func(oldObj, newObj metav1.Object) bool {
		return oldObj.GetResourceVersion() != newObj.GetResourceVersion()
	}}}
}

// LabelSelector passes adds of objects whose labels match selector, in the
// syntax of kubectl's -l flag ("app=web,tier!=cache"), and updates where
// the old or the new object matches: an object that stops matching arrives
// as an update whose new object does not match, one that starts matching as
// an update too. It filters callbacks only: unlike
// [Builder.WithLabelSelector], which restricts the cache and turns an
// object that stops matching into a delete, it leaves the cache whole. A selector that does not parse is an error from
// [Builder.Build]. See [Predicate] for deletes and deletions, which it
// never drops.
func LabelSelector(selector string) Predicate {
	parsed, err := labels.Parse(selector)
	if err != nil {
		return Predicate{builtIn{err: fmt.Errorf("LabelSelector %q: %w", selector, err)}}
	}
	matches := func(obj metav1.Object) bool { return parsed.Matches(labels.Set(obj.GetLabels())) }
	return Predicate{builtIn{
		add: matches,
		update: func(oldObj, newObj metav1.Object) bool {
			return matches(oldObj) || matches(newObj)
		},
	}}
}

// InNamespaces passes adds and updates of objects in one of namespaces ("",
// for cluster-scoped objects). It filters callbacks only: unlike
// [Builder.WithNamespace], which restricts the cache to one namespace, it
// leaves the cache whole. No
// namespace at all is an error from [Builder.Build]. See [Predicate] for
// deletes and deletions, which it never drops.
func InNamespaces(namespaces ...string) Predicate {
	if len(namespaces) == 0 {
		return Predicate{builtIn{err: errors.New("InNamespaces: no namespace given")}}
	}
	namespaces = slices.Clone(namespaces)
	in := func(obj metav1.Object) bool { return slices.Contains(namespaces, obj.GetNamespace()) }
	return Predicate{builtIn{
		add:    in,
		update: func(_, newObj metav1.Object) bool { return in(newObj) },
	}}
}

// custom is a predicate made by AddFunc, UpdateFunc or DeleteFunc: it
// decides one kind of event, and is obeyed.
type custom struct {
	kind    eventKind
	objType reflect.Type              // the type its function takes
	decides func(predicateEvent) bool // nil when given a nil function
}

func (p custom) decide(ev predicateEvent) verdict {
	if ev.kind != p.kind || p.decides == nil {
		return abstain
	}
	return verdictOf(p.decides(ev))
}

func (p custom) check(objType reflect.Type) error {
	name := [...]string{addEvent: "AddFunc", updateEvent: "UpdateFunc", deleteEvent: "DeleteFunc"}[p.kind]
	switch {
	case p.decides == nil:
		return fmt.Errorf("%s[%v]: nil function", name, p.objType)
	case objType != nil && objType != p.objType:
		return fmt.Errorf("%s[%v]: the registration's objects are %v, so the function must take a %v", name, p.objType, objType, objType)
	}
	return nil
}

// AddFunc passes the adds for which f returns true and drops the others;
// it leaves updates and deletes alone. T must be the registration's type
// (*corev1.Pod for Watch[*corev1.Pod], *unstructured.Unstructured for
// [WatchResource], *metav1.PartialObjectMetadata for [WatchMetadata]);
// another one is an error from [Builder.Build]. So is a nil f.
func AddFunc[T Object](f func(obj T) bool) Predicate {
	return newCustom[T](addEvent, f != nil, func(ev predicateEvent) bool {
		obj, _ := ev.obj.(T) // the type was checked by Build
		return f(obj)
	})
}

// UpdateFunc passes the updates for which f returns true and drops the
// others, those that changed deletionTimestamp or finalizers included; it
// leaves adds and deletes alone. T is as for [AddFunc].
func UpdateFunc[T Object](f func(oldObj, newObj T) bool) Predicate {
	return newCustom[T](updateEvent, f != nil, func(ev predicateEvent) bool {
		oldObj, _ := ev.oldObj.(T)
		newObj, _ := ev.obj.(T)
		return f(oldObj, newObj)
	})
}

// DeleteFunc passes the deletes for which f returns true and drops the
// others; it leaves adds and updates alone. T is as for [AddFunc]. f gets
// what OnDelete would get: the last state the informer knew, which may be
// older than the deleted one (see [IsFinalStateUnknown]).
func DeleteFunc[T Object](f func(obj T) bool) Predicate {
	return newCustom[T](deleteEvent, f != nil, func(ev predicateEvent) bool {
		obj, _ := ev.obj.(T)
		return f(obj)
	})
}

func newCustom[T Object](kind eventKind, hasFunc bool, decides func(predicateEvent) bool) Predicate {
	p := custom{kind: kind, objType: reflect.TypeFor[T]()}
	if hasFunc {
		p.decides = decides
	}
	return Predicate{p}
}

type and []Predicate

// And drops an event that one of predicates drops, passes one that at
// least one of them passes and none drops, and leaves alone one that they
// all leave alone (see [Predicate]). [WithPredicates] combines its
// predicates with And.
func And(predicates ...Predicate) Predicate {
	return Predicate{and(slices.Clone(predicates))}
}

func (ps and) decide(ev predicateEvent) verdict {
	v := abstain
	for _, p := range ps {
		switch p.decide(ev) {
		case drop:
			return drop
		case pass:
			v = pass
		}
	}
	return v
}

func (ps and) check(objType reflect.Type) error { return checkAll(ps, objType) }

type or []Predicate

// Or passes an event that one of predicates passes, drops one that at
// least one of them drops and none passes, and leaves alone one that they
// all leave alone (see [Predicate]).
func Or(predicates ...Predicate) Predicate {
	return Predicate{or(slices.Clone(predicates))}
}

func (ps or) decide(ev predicateEvent) verdict {
	v := abstain
	for _, p := range ps {
		switch p.decide(ev) {
		case pass:
			return pass
		case drop:
			v = drop
		}
	}
	return v
}

func (ps or) check(objType reflect.Type) error { return checkAll(ps, objType) }

func checkAll(ps []Predicate, objType reflect.Type) error {
	for _, p := range ps {
		if err := p.check(objType); err != nil {
			return err
		}
	}
	return nil
}

type not struct{ operand Predicate }

// Not drops what p passes, passes what p drops, and leaves alone what p
// leaves alone, so Not of built-ins never drops what they leave alone:
// deletes, and updates that changed deletionTimestamp or finalizers (see
// [Predicate]).
func Not(p Predicate) Predicate {
	return Predicate{not{p}}
}

func (p not) decide(ev predicateEvent) verdict {
	switch p.operand.decide(ev) {
	case pass:
		return drop
	case drop:
		return pass
	}
	return abstain
}

func (p not) check(objType reflect.Type) error { return p.operand.check(objType) }
