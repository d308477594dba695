package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The libraries compared. The -meta variants cache pod metadata only, the
// -unstructured ones whole pods as *unstructured.Unstructured, through each
// library's dynamic-client path.
const (
	libOurs             = "ours"
	libRaw              = "raw"
	libCtrl             = "ctrl"
	libOursMeta         = "ours-meta"
	libRawMeta          = "raw-meta"
	libCtrlMeta         = "ctrl-meta"
	libOursUnstructured = "ours-unstructured"
	libRawUnstructured  = "raw-unstructured"
	libCtrlUnstructured = "ctrl-unstructured"
	// libOursNoShare is ours with WithStringSharing(false), typed: the
	// defaults but for string sharing, which shows what the sharing costs
	// and saves. Not part of the three-way comparison; it has lines of its
	// own against raw and ctrl.
	libOursNoShare = "ours-noshare"
	// libOursUnstructuredNoShare is ours-unstructured with
	// WithStringSharing(false).
	libOursUnstructuredNoShare = "ours-unstructured-noshare"
	// libOursKeep is ours with WithManagedFields: nothing stripped, strings
	// still shared (the default), managedFields' included. Not part of the
	// comparison; it tells what the stripping costs or saves.
	libOursKeep = "ours-keep"
)

// typedLibs are the three libraries in the order they are compared.
var typedLibs = []string{libOurs, libRaw, libCtrl}

// deliveryLibs are the libraries of the delivery measurement: the three
// compared, ours without string sharing (ours-noshare), and ours without the
// default stripping (ours-keep: logged only, it tells what the stripping costs).
var deliveryLibs = []string{libOurs, libRaw, libCtrl, libOursNoShare, libOursKeep}

// heapLibs are the libraries of the heap measurement, in the order they
// are measured.
var heapLibs = []string{
	libOurs, libRaw, libCtrl,
	libOursMeta, libRawMeta, libCtrlMeta,
	libOursNoShare,
	libOursUnstructured, libRawUnstructured, libCtrlUnstructured,
	libOursUnstructuredNoShare,
}

// counter is the handler every library gets: it counts adds and updates,
// and closes a channel when a count reaches the number wanted, so that the
// measuring goroutine wakes at once instead of polling.
type counter struct {
	adds, updates             atomic.Int64
	addsWanted, updatesWanted int64
	addsDone, updatesDone     chan struct{}
	// observe, when set, is called with the new object of each update
	// (the latency measurement reads its stamp).
	observe func(obj metav1.Object)
}

func newCounter(addsWanted, updatesWanted int) *counter {
	return &counter{
		addsWanted: int64(addsWanted), updatesWanted: int64(updatesWanted),
		addsDone: make(chan struct{}), updatesDone: make(chan struct{}),
	}
}

func (c *counter) add() {
	if c.adds.Add(1) == c.addsWanted {
		close(c.addsDone)
	}
}

func (c *counter) update(obj metav1.Object) {
	if c.observe != nil {
		c.observe(obj)
	}
	if c.updates.Add(1) == c.updatesWanted {
		close(c.updatesDone)
	}
}

// wait waits for done or gives up after timeout.
func wait(done <-chan struct{}, timeout time.Duration, what string) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
	}
}

// subjectOptions are the few settings a measurement changes; everything
// else is each library's default.
type subjectOptions struct {
	resync    time.Duration // 0 = the library's default
	namespace string        // "" = all namespaces
}

// subject is one library set up to watch pods with a counter as handler.
type subject struct {
	lib   string
	start func(ctx context.Context) error // does not block
	wait  func(ctx context.Context) error // the library's own wait for sync
	stop  func()                          // waits for the library's goroutines
}

// newSubject sets up lib on src with h as its only handler. Nothing is
// contacted before start.
func newSubject(lib string, src *source, h *counter, o subjectOptions) (*subject, error) {
	switch lib {
	case libOurs, libOursMeta, libOursUnstructured, libOursNoShare, libOursUnstructuredNoShare, libOursKeep:
		return newOurs(lib, src, h, o)
	case libRaw:
		return newRaw(src, h, o)
	case libRawMeta:
		return newRawMetadata(src, h, o)
	case libRawUnstructured:
		return newRawUnstructured(src, h, o)
	case libCtrl, libCtrlMeta, libCtrlUnstructured:
		return newCtrl(lib, src, h, o)
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// newOurs uses this repository's library with its defaults (which strip
// managedFields and share strings); ours-noshare adds
// WithStringSharing(false), ours-keep WithManagedFields.
func newOurs(lib string, src *source, h *counter, o subjectOptions) (*subject, error) {
	b := informer.NewBuilder()
	if src.isFake() {
		b.WithClients(src.kube, src.dyn).WithMetadataClient(src.meta)
	} else {
		b.WithConfig(src.config)
	}
	if o.resync > 0 {
		b.WithResync(o.resync)
	}
	if o.namespace != "" {
		b.WithNamespace(o.namespace)
	}
	switch lib {
	case libOursKeep:
		b.WithManagedFields()
	case libOursNoShare, libOursUnstructuredNoShare:
		b.WithStringSharing(false)
	}
	switch lib {
	case libOursMeta:
		informer.WatchMetadata(b, podsResource, informer.Funcs[*metav1.PartialObjectMetadata]{
			OnAdd:    func(context.Context, *metav1.PartialObjectMetadata) { h.add() },
			OnUpdate: func(_ context.Context, _, obj *metav1.PartialObjectMetadata) { h.update(obj) },
		})
	case libOursUnstructured, libOursUnstructuredNoShare:
		informer.WatchResource(b, podsResource, informer.Funcs[*unstructured.Unstructured]{
			OnAdd:    func(context.Context, *unstructured.Unstructured) { h.add() },
			OnUpdate: func(_ context.Context, _, obj *unstructured.Unstructured) { h.update(obj) },
		})
	default:
		informer.Watch(b, informer.Funcs[*corev1.Pod]{
			OnAdd:    func(context.Context, *corev1.Pod) { h.add() },
			OnUpdate: func(_ context.Context, _, obj *corev1.Pod) { h.update(obj) },
		})
	}
	inf, err := b.Build()
	if err != nil {
		return nil, err
	}
	return &subject{
		lib:   lib,
		start: inf.Start,
		wait:  inf.WaitForSync,
		stop:  func() { _ = inf.Stop() },
	}, nil
}

// rawHandler is the client-go handler around h.
func rawHandler(h *counter) toolscache.ResourceEventHandlerFuncs {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { h.add() },
		UpdateFunc: func(_, obj any) { h.update(obj.(metav1.Object)) },
	}
}

// rawFactory is the part of client-go's informer factories that a subject
// uses.
type rawFactory interface {
	Start(stop <-chan struct{})
	WaitForCacheSync(stop <-chan struct{}) map[any]bool
	Shutdown()
}

// clientGoFactory is what client-go's typed, metadata and dynamic informer
// factories have in common: their WaitForCacheSync differ only in the key
// of the map they return (a type or a resource).
type clientGoFactory[K comparable] interface {
	Start(stop <-chan struct{})
	WaitForCacheSync(stop <-chan struct{}) map[K]bool
	Shutdown()
}

// factoryOf adapts one of client-go's factories to rawFactory.
type factoryOf[K comparable] struct {
	clientGoFactory[K]
}

func (f factoryOf[K]) WaitForCacheSync(stop <-chan struct{}) map[any]bool {
	synced := map[any]bool{}
	for key, ok := range f.clientGoFactory.WaitForCacheSync(stop) {
		synced[key] = ok
	}
	return synced
}

// rawSubject runs an informer of factory the way client-go's examples do:
// Start, then WaitForCacheSync (in client-go v0.37 it waits on the
// informers' sync signals, without polling), then close the
// stop channel and Shutdown.
func rawSubject(lib string, factory rawFactory, inf toolscache.SharedIndexInformer, h *counter) (*subject, error) {
	if _, err := inf.AddEventHandler(rawHandler(h)); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	return &subject{
		lib: lib,
		start: func(context.Context) error {
			factory.Start(stop)
			return nil
		},
		wait: func(ctx context.Context) error {
			for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
				if !ok {
					return fmt.Errorf("%s: %v did not sync", lib, typ)
				}
			}
			return nil
		},
		stop: func() {
			close(stop)
			factory.Shutdown()
		},
	}, nil
}

// newRaw uses client-go directly: a clientset with its default options
// (JSON) and informers.NewSharedInformerFactory.
func newRaw(src *source, h *counter, o subjectOptions) (*subject, error) {
	kube := src.kube
	if !src.isFake() {
		var err error
		if kube, err = kubernetes.NewForConfig(src.config); err != nil {
			return nil, err
		}
	}
	factory := informers.NewSharedInformerFactory(kube, o.resync)
	if o.namespace != "" {
		factory = informers.NewSharedInformerFactoryWithOptions(kube, o.resync, informers.WithNamespace(o.namespace))
	}
	return rawSubject(libRaw, factoryOf[reflect.Type]{factory}, factory.Core().V1().Pods().Informer(), h)
}

// newRawMetadata uses client-go's metadata informer factory.
func newRawMetadata(src *source, h *counter, o subjectOptions) (*subject, error) {
	if !src.isFake() {
		return nil, errors.New("raw-meta runs on the fake source only")
	}
	factory := metadatainformer.NewFilteredSharedInformerFactory(src.meta, o.resync, o.namespace, nil)
	return rawSubject(libRawMeta, factoryOf[schema.GroupVersionResource]{factory}, factory.ForResource(podsResource).Informer(), h)
}

// newRawUnstructured uses client-go's dynamic informer factory
// (dynamicinformer.NewDynamicSharedInformerFactory), as a program does for a
// resource it has no Go type for.
func newRawUnstructured(src *source, h *counter, o subjectOptions) (*subject, error) {
	dyn := src.dyn
	if !src.isFake() {
		var err error
		if dyn, err = dynamic.NewForConfig(src.config); err != nil {
			return nil, err
		}
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, o.resync)
	if o.namespace != "" {
		factory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, o.resync, o.namespace, nil)
	}
	return rawSubject(libRawUnstructured, factoryOf[schema.GroupVersionResource]{factory}, factory.ForResource(podsResource).Informer(), h)
}

// fakeServer stands in for the rest.Config controller-runtime requires; no
// request reaches it, since the informers are built on the fake source.
var fakeServer = &rest.Config{Host: "http://127.0.0.1:1"}

// newCtrl uses controller-runtime's cache: cache.New with default options,
// GetInformer, AddEventHandler. On the fake source the two options that
// would reach a server are replaced: Mapper by a static one that knows pods,
// and NewInformer by client-go's own constructor (the default) given the
// fake's list/watch instead of controller-runtime's. A source with a
// mapper (the wire benchmark) replaces only Mapper. ctrl-meta and
// ctrl-unstructured ask GetInformer for a *metav1.PartialObjectMetadata and
// an *unstructured.Unstructured whose kind is v1 Pod.
func newCtrl(lib string, src *source, h *counter, o subjectOptions) (*subject, error) {
	var obj client.Object = &corev1.Pod{}
	switch lib {
	case libCtrlMeta:
		partial := &metav1.PartialObjectMetadata{}
		partial.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		obj = partial
	case libCtrlUnstructured:
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		obj = u
	}
	opts := crcache.Options{}
	cfg := src.config
	if src.isFake() {
		cfg = fakeServer
		opts.Mapper = podMapper()
		opts.NewInformer = func(_ toolscache.ListerWatcher, example runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
			var lw toolscache.ListerWatcher
			switch example.(type) {
			case *metav1.PartialObjectMetadata:
				lw = src.fakeMetadataListWatch()
			case *unstructured.Unstructured:
				lw = src.fakeDynamicListWatch()
			default:
				lw = src.fakePodsListWatch()
			}
			return toolscache.NewSharedIndexInformer(lw, example, resync, indexers)
		}
	}
	if src.mapper != nil {
		opts.Mapper = src.mapper
	}
	if o.resync > 0 {
		opts.SyncPeriod = &o.resync
	}
	if o.namespace != "" {
		opts.DefaultNamespaces = map[string]crcache.Config{o.namespace: {}}
	}
	c, err := crcache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(context.Background(), obj)
	if err != nil {
		return nil, err
	}
	if _, err := inf.AddEventHandler(rawHandler(h)); err != nil {
		return nil, err
	}
	var cancel context.CancelFunc
	done := make(chan struct{})
	return &subject{
		lib: lib,
		start: func(ctx context.Context) error {
			ctx, cancel = context.WithCancel(ctx)
			go func() {
				defer close(done)
				// Start returns when ctx is cancelled; if it fails before,
				// wait reports the cache that did not sync.
				_ = c.Start(ctx)
			}()
			return nil
		},
		wait: func(ctx context.Context) error {
			if !c.WaitForCacheSync(ctx) {
				return fmt.Errorf("%s: cache did not sync", lib)
			}
			return nil
		},
		stop: func() {
			if cancel != nil {
				cancel()
				<-done
			}
		},
	}, nil
}
