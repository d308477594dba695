package informer

import (
	"sync/atomic"

	"github.com/informer-go/informer/internal/intern"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// lastAppliedAnnotation is written by kubectl apply: a full copy of the
// applied object, useless to an informer.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// newTransform returns the transform applied to every object of one
// informer before it is cached: the default stripping (of what the typed
// informers' decoder left: see decode.go), the sharing of repeated strings
// unless turned off (with a table of the informer's own), then the user's
// transform. With neither stripping nor sharing it is the user's transform
// itself (nil when there is none).
func newTransform(s settings) cache.TransformFunc {
	user := s.transform
	strip := !s.keepManagedFields
	var table *intern.Table
	if s.shareStrings {
		table = intern.NewTable()
	}
	if !strip && table == nil {
		return user
	}
	return func(obj any) (any, error) {
		if strip {
			obj = stripBulkyMetadata(obj)
		}
		if table != nil {
			table.Share(obj)
		}
		if user != nil {
			return user(obj)
		}
		return obj, nil
	}
}

// countingTransform counts every object before handing it to next (which
// may be nil).
func countingTransform(received *atomic.Int64, next cache.TransformFunc) cache.TransformFunc {
	return func(obj any) (any, error) {
		received.Add(1)
		if next == nil {
			return obj, nil
		}
		return next(obj)
	}
}

// stripBulkyMetadata removes managedFields and the last-applied annotation in
// place. It is idempotent and leaves objects without metadata alone.
func stripBulkyMetadata(obj any) any {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if u != nil {
			stripUnstructured(u.Object)
		}
		return obj
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return obj
	}
	if accessor.GetManagedFields() != nil {
		accessor.SetManagedFields(nil)
	}
	if annotations := accessor.GetAnnotations(); annotations != nil {
		if _, ok := annotations[lastAppliedAnnotation]; ok {
			delete(annotations, lastAppliedAnnotation)
			if len(annotations) == 0 {
				accessor.SetAnnotations(nil)
			}
		}
	}
	return obj
}

// stripUnstructured is stripBulkyMetadata for an unstructured object's map.
// Unstructured's accessors would not do: GetAnnotations returns a copy, and
// GetManagedFields converts every entry to a struct.
func stripUnstructured(obj map[string]any) {
	unstructured.RemoveNestedField(obj, "metadata", "managedFields")
	annotations, _, _ := unstructured.NestedFieldNoCopy(obj, "metadata", "annotations")
	if m, ok := annotations.(map[string]any); ok {
		if _, ok := m[lastAppliedAnnotation]; ok {
			delete(m, lastAppliedAnnotation)
			if len(m) == 0 {
				unstructured.RemoveNestedField(obj, "metadata", "annotations")
			}
		}
	}
}
