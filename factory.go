package informer

import (
	"errors"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata/metadatainformer"
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
	return resourceKey{source: sourceTyped, gvr: plural}, nil
}

// factories creates the client-go informer factories lazily, all with the
// same namespace, selectors and resync.
type factories struct {
	clients  clientSet
	settings settings

	typed    informers.SharedInformerFactory
	dynamic  dynamicinformer.DynamicSharedInformerFactory
	metadata metadatainformer.SharedInformerFactory
}

func (f *factories) tweakListOptions(opts *metav1.ListOptions) {
	if f.settings.labelSelector != "" {
		opts.LabelSelector = f.settings.labelSelector
	}
	if f.settings.fieldSelector != "" {
		opts.FieldSelector = f.settings.fieldSelector
	}
}

// informerFor returns a new informer for key from the matching factory.
func (f *factories) informerFor(key resourceKey) (cache.SharedIndexInformer, error) {
	switch key.source {
	case sourceTyped:
		if f.clients.kube == nil {
			return nil, fmt.Errorf("informer: watch %s: no typed client: pass a kubernetes.Interface to WithClients", key)
		}
		if f.typed == nil {
			f.typed = informers.NewSharedInformerFactoryWithOptions(f.clients.kube, f.settings.resync,
				informers.WithNamespace(f.settings.namespace), informers.WithTweakListOptions(f.tweakListOptions))
		}
		generic, err := f.typed.ForResource(key.gvr)
		if err != nil {
			return nil, fmt.Errorf("informer: watch %s: %w", key, err)
		}
		return generic.Informer(), nil
	case sourceDynamic:
		if f.clients.dyn == nil {
			return nil, fmt.Errorf("informer: watch %s: no dynamic client: pass a dynamic.Interface to WithClients", key)
		}
		if f.dynamic == nil {
			f.dynamic = dynamicinformer.NewFilteredDynamicSharedInformerFactory(f.clients.dyn, f.settings.resync,
				f.settings.namespace, f.tweakListOptions)
		}
		return f.dynamic.ForResource(key.gvr).Informer(), nil
	default:
		if f.clients.meta == nil {
			return nil, fmt.Errorf("informer: watch %s: no metadata client: pass a metadata.Interface to WithMetadataClient", key)
		}
		if f.metadata == nil {
			f.metadata = metadatainformer.NewFilteredSharedInformerFactory(f.clients.meta, f.settings.resync,
				f.settings.namespace, f.tweakListOptions)
		}
		return f.metadata.ForResource(key.gvr).Informer(), nil
	}
}

// start starts every informer created since the last start; informers
// already running are left alone.
func (f *factories) start(stop <-chan struct{}) {
	if f.typed != nil {
		f.typed.Start(stop)
	}
	if f.dynamic != nil {
		f.dynamic.Start(stop)
	}
	if f.metadata != nil {
		f.metadata.Start(stop)
	}
}

// shutdown waits for every informer goroutine to end; the stop channel must
// be closed.
func (f *factories) shutdown() {
	if f.typed != nil {
		f.typed.Shutdown()
	}
	if f.dynamic != nil {
		f.dynamic.Shutdown()
	}
	if f.metadata != nil {
		f.metadata.Shutdown()
	}
}
