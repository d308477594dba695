package informer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
)

// source says which client and factory serve an informer.
type source int

const (
	sourceTyped source = iota
	sourceDynamic
	sourceMetadata
)

func (s source) String() string {
	switch s {
	case sourceDynamic:
		return "unstructured"
	case sourceMetadata:
		return "metadata"
	default:
		return "typed"
	}
}

// resourceKey identifies one shared informer: registrations with equal keys
// share it.
type resourceKey struct {
	source source
	gvr    schema.GroupVersionResource
	kind   string // the Kind of a typed resource
	scope  Scope  // set when the registration is attached
}

func (k resourceKey) String() string {
	name := k.gvr.Resource
	if k.gvr.Group != "" {
		name += "." + k.gvr.Version + "." + k.gvr.Group
	} else if k.gvr.Version != "" && k.gvr.Version != "v1" {
		name += "." + k.gvr.Version
	}
	if k.source != sourceTyped {
		name += " (" + k.source.String() + ")"
	}
	return name
}

func (k resourceKey) validate() error {
	switch {
	case k.gvr.Empty():
		return fmt.Errorf("informer: watch %s: empty GroupVersionResource", k.source)
	case k.gvr.Resource == "":
		return fmt.Errorf("informer: watch %s: GroupVersionResource %q has no resource", k.source, k.gvr)
	case k.gvr.Version == "":
		return fmt.Errorf("informer: watch %s: GroupVersionResource %q has no version", k.gvr.Resource, k.gvr)
	}
	return nil
}

// typedResourceKey finds the resource of a built-in Go type through
// client-go's scheme.
func typedResourceKey[T Object]() (resourceKey, error) {
	typ := reflect.TypeFor[T]()
	switch typ {
	case reflect.TypeFor[*unstructured.Unstructured]():
		return resourceKey{}, errors.New("informer: Watch[*unstructured.Unstructured]: use WatchResource with a GroupVersionResource")
	case reflect.TypeFor[*metav1.PartialObjectMetadata]():
		return resourceKey{}, errors.New("informer: Watch[*metav1.PartialObjectMetadata]: use WatchMetadata with a GroupVersionResource")
	}
	if typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
		return resourceKey{}, fmt.Errorf("informer: Watch[%v]: want a pointer to a struct such as *corev1.Pod", typ)
	}
	obj := reflect.New(typ.Elem()).Interface().(T)
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return resourceKey{}, fmt.Errorf("informer: Watch[%v]: not a built-in Kubernetes type known to client-go; use WatchResource for custom resources", typ)
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvks[0])
	return resourceKey{source: sourceTyped, gvr: plural, kind: gvks[0].Kind}, nil
}

// factories creates the shared informers, each for the scope of its key
// and all with the same resync, on a ListWatch of our own (see
// listwatch.go), and runs them.
type factories struct {
	clients  clientSet
	settings settings
	running  sync.WaitGroup // one goroutine per running informer
}

// selectors returns the function that sets scope's selectors on the
// options of every LIST and WATCH.
func selectors(scope Scope) func(*metav1.ListOptions) {
	return func(opts *metav1.ListOptions) {
		opts.LabelSelector = scope.LabelSelector
		opts.FieldSelector = scope.FieldSelector
		opts.ShardSelector = scope.shardSelector
	}
}

// newInformer returns a new informer for key that reports its lists and
// watches to tracker.
func (f *factories) newInformer(key resourceKey, tracker *currency) (cache.SharedIndexInformer, error) {
	funcs, client, example, err := f.listWatchFuncs(key)
	if err != nil {
		return nil, err
	}
	lw := newListWatcher(funcs, selectors(key.scope), tracker, client)
	return cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{
		ResyncPeriod:      f.settings.resync,
		Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		ObjectDescription: key.String(),
	}), nil
}

// list makes one LIST of key's resource in key's scope, with opts; a
// ShardSelector in opts is kept (the shard probe sets one on a key
// without).
func (f *factories) list(ctx context.Context, key resourceKey, opts metav1.ListOptions) (runtime.Object, error) {
	funcs, _, _, err := f.listWatchFuncs(key)
	if err != nil {
		return nil, err
	}
	shardSelector := opts.ShardSelector
	selectors(key.scope)(&opts)
	if shardSelector != "" {
		opts.ShardSelector = shardSelector
	}
	return funcs.list(ctx, opts)
}

// listWatchFuncs returns the functions that list and watch key's resource
// in key's namespace, the client behind them and an example object.
func (f *factories) listWatchFuncs(key resourceKey) (funcs listWatchFuncs, client any, example runtime.Object, err error) {
	namespace := key.scope.Namespace
	switch key.source {
	case sourceTyped:
		if f.clients.kube == nil {
			return funcs, nil, nil, fmt.Errorf("informer: watch %s: no typed client: pass a kubernetes.Interface to WithClients", key)
		}
		gvk := key.gvr.GroupVersion().WithKind(key.kind)
		if example, err = scheme.Scheme.New(gvk); err != nil {
			return funcs, nil, nil, fmt.Errorf("informer: watch %s: %w", key, err)
		}
		if f.clients.typedREST != nil {
			funcs, err = f.clients.typedREST.listWatch(gvk, key.gvr.Resource, namespace)
		} else {
			funcs, err = typedListWatch(f.clients.kube, gvk, namespace)
		}
		if err != nil {
			return funcs, nil, nil, fmt.Errorf("informer: watch %s: %w", key, err)
		}
		return funcs, f.clients.kube, example, nil
	case sourceDynamic:
		if f.clients.dyn == nil {
			return funcs, nil, nil, fmt.Errorf("informer: watch %s: no dynamic client: pass a dynamic.Interface to WithClients", key)
		}
		resource := f.clients.dyn.Resource(key.gvr).Namespace(namespace)
		return listWatchOf(resource.List, resource.Watch), f.clients.dyn, &unstructured.Unstructured{}, nil
	default:
		if f.clients.meta == nil {
			return funcs, nil, nil, fmt.Errorf("informer: watch %s: no metadata client: pass a metadata.Interface to WithMetadataClient", key)
		}
		resource := f.clients.meta.Resource(key.gvr).Namespace(namespace)
		return listWatchOf(resource.List, resource.Watch), f.clients.meta, &metav1.PartialObjectMetadata{}, nil
	}
}

// run runs inf until ctx ends or stop is called; done is closed once it
// has stopped.
func (f *factories) run(ctx context.Context, inf cache.SharedIndexInformer) (stop func(), done <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	f.running.Go(func() {
		defer close(finished)
		inf.RunWithContext(ctx)
	})
	return cancel, finished
}

// shutdown waits for every informer goroutine to end; their context must
// have ended.
func (f *factories) shutdown() {
	f.running.Wait()
}
