package informer

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// Scope says which objects of a resource an informer lists and watches:
// one namespace or all, and label and field selectors, as the API server
// filters them. The zero Scope is every object.
type Scope struct {
	// Namespace restricts the cache to one namespace; "" means all
	// namespaces. Cluster-scoped resources ignore it.
	Namespace string
	// LabelSelector and FieldSelector restrict the cache to matching
	// objects, in kubectl's syntax ("app=web,tier!=cache",
	// "status.phase=Running"). Objects that stop matching are delivered as
	// deletes.
	LabelSelector string
	FieldSelector string

	// shardSelector restricts an informer to one hash range of a sharded
	// registration (see Builder.WithSharding); set by the shard group only.
	shardSelector string
	shardRange    string // "3/32": range 3 of 32, for names
}

// InScope gives a registration a cache scope of its own instead of the
// builder's ([Builder.WithNamespace], [Builder.WithLabelSelector],
// [Builder.WithFieldSelector]): for example ConfigMaps of one namespace
// with a label, next to Pods of every namespace. The scope replaces the
// builder's as a whole; it may be narrower or wider.
//
// Registrations of one resource and kind of cache with equal scopes share
// one informer and one cache; each different scope is an informer of its
// own, with its own LIST and WATCH, so an object in two scopes is cached
// twice. A registration without InScope has the builder's scope and shares
// with InScope registrations whose scope equals it. Invalid selectors are
// an error from [Builder.Build].
func InScope(scope Scope) WatchOption {
	return func(o *watchOptions) {
		if _, err := labels.Parse(scope.LabelSelector); err != nil {
			o.fail(fmt.Errorf("informer: InScope: label selector %q: %w", scope.LabelSelector, err))
			return
		}
		if _, err := fields.ParseSelector(scope.FieldSelector); err != nil {
			o.fail(fmt.Errorf("informer: InScope: field selector %q: %w", scope.FieldSelector, err))
			return
		}
		o.scope = &scope
	}
}

// String describes a scope for names in logs and status, for example
// "namespace=team-a, labels=app=web"; "all" for the zero Scope.
func (s Scope) String() string {
	var parts []string
	if s.Namespace != "" {
		parts = append(parts, "namespace="+s.Namespace)
	}
	if s.LabelSelector != "" {
		parts = append(parts, "labels="+s.LabelSelector)
	}
	if s.FieldSelector != "" {
		parts = append(parts, "fields="+s.FieldSelector)
	}
	if s.shardRange != "" {
		parts = append(parts, "range "+s.shardRange)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}
