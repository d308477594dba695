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
//
// The Lister of a [Sharded] registration reads the ranges this replica owns
// at the time of each call.
type Lister[T Object] struct {
	indexer  cache.Indexer
	views    func() []listerView // sharded: the caches of the owned ranges
	resource schema.GroupResource
	err      error
}

// listerView is one range's cache and the test of the range: the cache
// holds more when the server did not filter.
type listerView struct {
	indexer cache.Indexer
	match   func(any) bool
}

// each calls read for the cache of an unsharded Lister, or for each owned
// range's, with the test of items that belong (nil: all do).
func (l Lister[T]) each(read func(indexer cache.Indexer, match func(any) bool) error) error {
	if l.views == nil {
		return read(l.indexer, nil)
	}
	for _, view := range l.views() {
		if err := read(view.indexer, view.match); err != nil {
			return err
		}
	}
	return nil
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
	var found any
	err := l.each(func(indexer cache.Indexer, match func(any) bool) error {
		item, exists, err := indexer.GetByKey(key)
		if err == nil && exists && (match == nil || match(item)) {
			found = item
		}
		return err
	})
	if err != nil {
		return zero, err
	}
	if found == nil {
		return zero, apierrors.NewNotFound(l.resource, name)
	}
	return l.cast(found)
}

// List returns every cached object matching selector, in no particular
// order. A nil selector matches everything.
func (l Lister[T]) List(selector labels.Selector) ([]T, error) {
	return l.list(func(indexer cache.Indexer, add cache.AppendFunc) error {
		return cache.ListAll(indexer, everythingIfNil(selector), add)
	})
}

// ListNamespace returns the cached objects of one namespace matching
// selector. A nil selector matches everything.
func (l Lister[T]) ListNamespace(namespace string, selector labels.Selector) ([]T, error) {
	return l.list(func(indexer cache.Indexer, add cache.AppendFunc) error {
		return cache.ListAllByNamespace(indexer, namespace, everythingIfNil(selector), add)
	})
}

// ByIndex returns the cached objects whose index named index (added with
// [WithIndex]) contains value.
func (l Lister[T]) ByIndex(index, value string) ([]T, error) {
	if l.err != nil {
		return nil, l.err
	}
	var out []T
	err := l.each(func(indexer cache.Indexer, match func(any) bool) error {
		items, err := indexer.ByIndex(index, value)
		if err != nil {
			return fmt.Errorf("informer: %s: %w", l.resource, err)
		}
		for _, item := range items {
			if match != nil && !match(item) {
				continue
			}
			obj, err := l.cast(item)
			if err != nil {
				return err
			}
			out = append(out, obj)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

func (l Lister[T]) list(walk func(cache.Indexer, cache.AppendFunc) error) ([]T, error) {
	if l.err != nil {
		return nil, l.err
	}
	var out []T
	var castErr error
	err := l.each(func(indexer cache.Indexer, match func(any) bool) error {
		return walk(indexer, func(item any) {
			if match != nil && !match(item) {
				return
			}
			obj, err := l.cast(item)
			if err != nil {
				castErr = err
				return
			}
			out = append(out, obj)
		})
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
