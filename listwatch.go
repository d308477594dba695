package informer

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// The informers are built on a ListWatch of our own rather than the one
// client-go's generated informers build inside: it is the one place that
// sees every LIST and WATCH the reflector makes, how each ended, and when a
// watch was closed, which is what tells whether a cache is current (see
// currency.go). client-go's reflector does not report a successful relist
// or a re-opened watch, and retries some watch errors without reporting
// them at all.

// listWatchFuncs list and watch one resource, in one namespace or all.
type listWatchFuncs struct {
	list  func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// listWatchOf makes listWatchFuncs of a client's List, whatever list type it
// returns, and Watch.
func listWatchOf[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error),
	watch func(context.Context, metav1.ListOptions) (watch.Interface, error)) listWatchFuncs {
	return listWatchFuncs{
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return list(ctx, opts)
		},
		watch: watch,
	}
}

// newListWatcher returns the ListWatch of an informer: funcs with the
// selectors applied by tweak, reporting to tracker. client is the client
// behind funcs: a fake that cannot stream lists (watch-list) says so, and
// the reflector then lists and watches as it does for the generated
// informers.
func newListWatcher(funcs listWatchFuncs, tweak func(*metav1.ListOptions), tracker *currency, client any) cache.ListerWatcher {
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			tweak(&opts)
			list, err := funcs.list(ctx, opts)
			tracker.listed(ctx, err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			tweak(&opts)
			w, err := funcs.watch(ctx, opts)
			streaming := opts.SendInitialEvents != nil && *opts.SendInitialEvents
			if err != nil && streaming && apierrors.IsInvalid(err) {
				// A server without streaming lists refuses them; the
				// reflector falls back to LIST and WATCH at once, as it
				// expects to: not an error of the resource.
				return nil, err
			}
			if err != nil {
				tracker.watchFailed(ctx, err)
				return nil, err
			}
			if streaming {
				// A streaming list (watch-list): current only once its
				// initial events are through.
				return tracker.watchListOpened(w), nil
			}
			return tracker.watchOpened(w), nil
		},
	}, client)
}

// typedClientMethods names, for one built-in type, the methods that reach
// its client in a kubernetes.Interface: the group version's (CoreV1) and
// the resource's (Pods), which takes a namespace when the resource is
// namespaced.
type typedClientMethods struct {
	group, resource string
	namespaced      bool
}

var typedMethodCache sync.Map // schema.GroupVersionKind -> typedClientMethods

// typedListWatch lists and watches the built-in resource of kind gvk
// through kube, as the generated informers do (kube.CoreV1().Pods(ns)). The
// client is found by the Go type its List method returns, so any
// implementation of kubernetes.Interface serves, fakes included.
func typedListWatch(kube kubernetes.Interface, gvk schema.GroupVersionKind, namespace string) (listWatchFuncs, error) {
	methods, err := findTypedClient(gvk)
	if err != nil {
		return listWatchFuncs{}, err
	}
	group := reflect.ValueOf(kube).MethodByName(methods.group).Call(nil)[0]
	var args []reflect.Value
	if methods.namespaced {
		args = []reflect.Value{reflect.ValueOf(namespace)}
	}
	client := group.MethodByName(methods.resource).Call(args)[0]
	list, watchMethod := client.MethodByName("List"), client.MethodByName("Watch")
	return listWatchFuncs{
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			out := list.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(opts)})
			obj, _ := out[0].Interface().(runtime.Object)
			err, _ := out[1].Interface().(error)
			return obj, err
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			out := watchMethod.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(opts)})
			w, _ := out[0].Interface().(watch.Interface)
			err, _ := out[1].Interface().(error)
			return w, err
		},
	}, nil
}

// findTypedClient finds the methods of kubernetes.Interface whose client's
// List returns the list type of gvk (for a Pod, *corev1.PodList).
func findTypedClient(gvk schema.GroupVersionKind) (typedClientMethods, error) {
	if cached, ok := typedMethodCache.Load(gvk); ok {
		return cached.(typedClientMethods), nil
	}
	listObj, err := scheme.Scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err != nil {
		return typedClientMethods{}, fmt.Errorf("no list type for %s: %w", gvk, err)
	}
	listType := reflect.TypeOf(listObj)
	clientset := reflect.TypeFor[kubernetes.Interface]()
	for i := range clientset.NumMethod() {
		groupMethod := clientset.Method(i)
		if groupMethod.Type.NumIn() != 0 || groupMethod.Type.NumOut() != 1 || groupMethod.Type.Out(0).Kind() != reflect.Interface {
			continue
		}
		groupType := groupMethod.Type.Out(0)
		for j := range groupType.NumMethod() {
			resourceMethod := groupType.Method(j)
			in := resourceMethod.Type
			namespaced := in.NumIn() == 1 && in.In(0).Kind() == reflect.String
			if (in.NumIn() != 0 && !namespaced) || in.NumOut() != 1 || in.Out(0).Kind() != reflect.Interface {
				continue
			}
			list, ok := in.Out(0).MethodByName("List")
			if !ok || list.Type.NumOut() != 2 || list.Type.Out(0) != listType {
				continue
			}
			if _, ok := in.Out(0).MethodByName("Watch"); !ok {
				continue
			}
			methods := typedClientMethods{group: groupMethod.Name, resource: resourceMethod.Name, namespaced: namespaced}
			typedMethodCache.Store(gvk, methods)
			return methods, nil
		}
	}
	return typedClientMethods{}, fmt.Errorf("no typed client in kubernetes.Interface lists %v", listType)
}

// restClients makes, and keeps one per group version, the REST clients
// behind the typed informers of an [Informer] built from a cluster config:
// the typed clientset's config and HTTP client, with a serializer of our
// own. Unless managedFields are kept, its protobuf decoder strips them
// before decoding (see decode.go). Injected clientsets (fakes) are used
// through typedListWatch instead.
type restClients struct {
	config     *rest.Config
	httpClient *http.Client
	serializer runtime.NegotiatedSerializer

	mu      sync.Mutex
	clients map[schema.GroupVersion]*rest.RESTClient
}

// newRESTClients returns the REST client maker of the typed clientset's
// config and HTTP client; lean selects the stripping serializer.
func newRESTClients(config *rest.Config, httpClient *http.Client, lean bool) *restClients {
	serializer := scheme.Codecs.WithoutConversion()
	if lean {
		serializer = newLeanSerializer()
	}
	return &restClients{config: config, httpClient: httpClient, serializer: serializer, clients: map[schema.GroupVersion]*rest.RESTClient{}}
}

// client returns the REST client of group version gv.
func (c *restClients) client(gv schema.GroupVersion) (*rest.RESTClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if client, ok := c.clients[gv]; ok {
		return client, nil
	}
	cfg := rest.CopyConfig(c.config)
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.NegotiatedSerializer = c.serializer
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	client, err := rest.RESTClientForConfigAndClient(cfg, c.httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the REST client of %s: %w", gv, err)
	}
	c.clients[gv] = client
	return client, nil
}

// listWatch lists and watches the built-in resource of kind gvk, named
// resource, as the typed clientset does, through the REST client of its
// group version.
func (c *restClients) listWatch(gvk schema.GroupVersionKind, resource, namespace string) (listWatchFuncs, error) {
	methods, err := findTypedClient(gvk)
	if err != nil {
		return listWatchFuncs{}, err
	}
	client, err := c.client(gvk.GroupVersion())
	if err != nil {
		return listWatchFuncs{}, err
	}
	listKind := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	request := func(opts *metav1.ListOptions) *rest.Request {
		var timeout time.Duration
		if opts.TimeoutSeconds != nil {
			timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
		}
		return client.Get().NamespaceIfScoped(namespace, methods.namespaced).Resource(resource).
			VersionedParams(opts, scheme.ParameterCodec).Timeout(timeout)
	}
	return listWatchFuncs{
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list, err := scheme.Scheme.New(listKind)
			if err != nil {
				return nil, fmt.Errorf("no list type for %s: %w", gvk, err)
			}
			return list, request(&opts).Do(ctx).Into(list)
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return request(&opts).Watch(ctx)
		},
	}, nil
}
