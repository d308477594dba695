package informer

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// Lister reads a shared cache with types: get by namespace and name, list by
// label selector, look up by index. It reads local memory only; it never
// calls the API server. Get one from [Registration.Lister].
//
// Returned objects are shared with the cache and with handlers: they must
// not be modified. A Lister is safe for concurrent use.
type Lister[T Object] struct {
	indexer  cache.Indexer
	resource schema.GroupResource
	err      error
}

// Get returns the object namespace/name ("" namespace for cluster-scoped
// resources). A missing object gives the error client-go's dynamic lister
// and the API server give: apierrors.IsNotFound is true and it reads
// `pods "web-1" not found`.
func (l Lister[T]) Get(namespace, name string) (T, error) {
	var zero T
	if l.err != nil {
		return zero, l.err
	}
	key := cache.NewObjectName(namespace, name).String()
	item, exists, err := l.indexer.GetByKey(key)
	if err != nil {
		return zero, err
	}
	if !exists {
		return zero, apierrors.NewNotFound(l.resource, name)
	}
	return l.cast(item)
}

// List returns every cached object matching selector, in no particular
// order. A nil selector matches everything.
func (l Lister[T]) List(selector labels.Selector) ([]T, error) {
	return l.list(func(add cache.AppendFunc) error {
		return cache.ListAll(l.indexer, everythingIfNil(selector), add)
	})
}

// ListNamespace returns the cached objects of one namespace matching
// selector. A nil selector matches everything.
func (l Lister[T]) ListNamespace(namespace string, selector labels.Selector) ([]T, error) {
	return l.list(func(add cache.AppendFunc) error {
		return cache.ListAllByNamespace(l.indexer, namespace, everythingIfNil(selector), add)
	})
}

// ByIndex returns the cached objects whose index named index (added with
// [WithIndex]) contains value.
func (l Lister[T]) ByIndex(index, value string) ([]T, error) {
	if l.err != nil {
		return nil, l.err
	}
	items, err := l.indexer.ByIndex(index, value)
	if err != nil {
		return nil, fmt.Errorf("informer: %s: %w", l.resource, err)
	}
	out := make([]T, 0, len(items))
	for _, item := range items {
		obj, err := l.cast(item)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func (l Lister[T]) list(walk func(cache.AppendFunc) error) ([]T, error) {
	if l.err != nil {
		return nil, l.err
	}
	var out []T
	var castErr error
	err := walk(func(item any) {
		obj, err := l.cast(item)
		if err != nil {
			castErr = err
			return
		}
		out = append(out, obj)
	})
	if err == nil {
		err = castErr
	}
	return out, err
}

func (l Lister[T]) cast(item any) (T, error) {
	obj, ok := item.(T)
	if !ok {
		return obj, fmt.Errorf("informer: %s: cache holds %T, want %T (a transform must not change the type)", l.resource, item, obj)
	}
	return obj, nil
}

func everythingIfNil(selector labels.Selector) labels.Selector {
	if selector == nil {
		return labels.Everything()
	}
	return selector
}
