package informer

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Watch registers callbacks for the built-in type T, such as *corev1.Pod or
// *appsv1.Deployment; the resource is found from T. Use [WatchResource] for
// custom resources and [WatchMetadata] to cache metadata only. Typed
// registrations of one resource share one informer and one cache; a
// [WatchResource] or [WatchMetadata] of the same resource has its own.
//
// Errors (an unknown type, bad options) are reported by [Builder.Build]. On a
// builder that was already built, Watch adds the registration to the running
// [Informer]: its informer starts at once if the Informer was started, and
// [Informer.WaitForSync] then covers it; errors are then reported by
// [Registration.Err].
func Watch[T Object](b *Builder, funcs Funcs[T], opts ...WatchOption) *Registration[T] {
	key, err := typedResourceKey[T]()
	return register(b, key, err, funcs, opts, false)
}

// WatchResource registers callbacks for any resource, typically a custom
// resource, through the dynamic client. gvr must name a version and the
// plural resource, for example {Group: "example.com", Version: "v1",
// Resource: "widgets"}. See [Watch] for errors and sharing.
func WatchResource(b *Builder, gvr schema.GroupVersionResource, funcs Funcs[*unstructured.Unstructured], opts ...WatchOption) *Registration[*unstructured.Unstructured] {
	return register(b, resourceKey{source: sourceDynamic, gvr: gvr}, nil, funcs, opts, false)
}

// WatchMetadata registers callbacks for any resource, caching only object
// metadata (names, labels, annotations, owners): the cheapest way to watch
// when the spec and status are not needed. See [Watch] for errors and sharing.
func WatchMetadata(b *Builder, gvr schema.GroupVersionResource, funcs Funcs[*metav1.PartialObjectMetadata], opts ...WatchOption) *Registration[*metav1.PartialObjectMetadata] {
	return register(b, resourceKey{source: sourceMetadata, gvr: gvr}, nil, funcs, opts, false)
}

// register makes the registration behind Watch, WatchResource and
// WatchMetadata, and, with reconciling set, behind the Reconcile functions.
func register[T Object](b *Builder, key resourceKey, keyErr error, funcs Funcs[T], opts []WatchOption, reconciling bool) *Registration[T] {
	r := &Registration[T]{key: key, funcs: funcs}
	for _, opt := range opts {
		if opt != nil {
			opt(&r.opts)
		}
	}
	if r.opts.reconcile.set && !reconciling && r.opts.err == nil {
		r.opts.err = fmt.Errorf("informer: watch %s: Workers, MaxRetries and RateLimiter apply to Reconcile registrations only", key)
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
