package informer

import (
	"fmt"

	"k8s.io/client-go/tools/cache"
)

// WatchOption changes one registration made by [Watch], [WatchResource] or
// [WatchMetadata].
type WatchOption func(*watchOptions)

type watchOptions struct {
	deliverNoOps bool
	optional     bool
	name         string
	indexers     cache.Indexers
	predicate    Predicate        // zero: every event is delivered
	reconcile    reconcileOptions // options of Reconcile registrations only
	scope        *Scope           // InScope; nil: the builder's
	shardKey     ShardKey         // Sharded; "": not sharded
	err          error
}

// fail records the first error of a registration's options; later ones
// would only repeat that the registration is invalid.
func (o *watchOptions) fail(err error) {
	if o.err == nil {
		o.err = err
	}
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
			o.fail(fmt.Errorf("informer: WithIndex: empty name or nil function"))
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

// WithPredicates delivers only the events that predicates let through (see
// [Predicate] for what each one decides, and for the deletes and finalizer
// changes that built-ins never drop). An event must pass all of them, as
// with [And], and all of those of several WithPredicates options. Updates
// where nothing changed are skipped before predicates see them, unless
// [DeliverNoOpUpdates] is given. An event a predicate drops is handled as
// far as [Stats.Backlog] is concerned, but no callback runs and
// [Stats.Delivered] does not count it. A panic in a predicate is handled
// like one in a callback, and the event is then delivered.
//
// A predicate that was built wrong (a [LabelSelector] that does not parse)
// or whose function takes another type than the registration's is an error
// from [Builder.Build], or [Registration.Err] after Build.
func WithPredicates(predicates ...Predicate) WatchOption {
	return func(o *watchOptions) {
		if len(predicates) == 0 {
			return
		}
		added := And(predicates...)
		if err := added.check(nil); err != nil {
			o.fail(fmt.Errorf("informer: WithPredicates: %w", err))
			return
		}
		if o.predicate.node != nil {
			added = And(o.predicate, added)
		}
		o.predicate = added
	}
}
