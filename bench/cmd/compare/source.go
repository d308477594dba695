package main

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	toolscache "k8s.io/client-go/tools/cache"
)

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// source is where a subject's informer lists and watches pods: either fake
// clients (kube, meta and dyn) fed by list functions and one fake watcher,
// or a real API server (config).
type source struct {
	// Fake clients, nil for a real server.
	kube kubernetes.Interface
	meta metadata.Interface
	dyn  dynamic.Interface
	// Watcher is the watch every fake client returns: what is pushed into it
	// reaches the informer.
	watcher *watch.FakeWatcher

	// A real server, or the wire benchmark's wireServer.
	config *rest.Config
	// mapper, when set, replaces controller-runtime's discovery of the
	// pod resource (the wire benchmark's server answers pods only).
	mapper meta.RESTMapper
}

func (s *source) isFake() bool { return s.config == nil }

// podMapper is a REST mapper that knows pods only.
func podMapper() meta.RESTMapper {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Pod"), meta.RESTScopeNamespace)
	return mapper
}

// fakeLists are the LIST responses of a fake source's clients, each called
// at every LIST of its client; a nil one lists no pods.
type fakeLists struct {
	typed    func() *corev1.PodList
	metadata func() *metav1.List
	dynamic  func() (*unstructured.UnstructuredList, error)
}

// newFakeSource returns fake typed, metadata and dynamic clients whose LIST
// of pods returns what lists says and whose WATCH returns one fake watcher
// buffering up to watchBuffer events. The watch is built with
// watch.NewFakeWithChanSize: the fake clients' own watch holds 100 events
// and panics past that, which would break the event counts. The three
// clients keep the fakes' "no watch-list semantics" marker, so the
// reflector lists and then watches.
func newFakeSource(lists fakeLists, watchBuffer int) *source {
	w := watch.NewFakeWithChanSize(watchBuffer, false)
	watchReactor := func(clienttesting.Action) (bool, watch.Interface, error) { return true, w, nil }

	kube := kubefake.NewClientset()
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if lists.typed == nil {
			return true, &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		}
		return true, lists.typed(), nil
	})
	kube.PrependWatchReactor("pods", watchReactor)

	meta := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	meta.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if lists.metadata == nil {
			return true, &metav1.List{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		}
		return true, lists.metadata(), nil
	})
	meta.PrependWatchReactor("pods", watchReactor)

	// The fake dynamic client lists only the resources it knows the list
	// kind of. Its LIST hands the reactor's items on by reference (an
	// unstructured-to-unstructured conversion is a shallow copy), so what
	// lists.dynamic decoded is what the informer caches.
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{podsResource: "PodList"})
	dyn.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if lists.dynamic == nil {
			list := &unstructured.UnstructuredList{}
			list.SetAPIVersion("v1")
			list.SetKind("PodList")
			list.SetResourceVersion("1")
			return true, list, nil
		}
		list, err := lists.dynamic()
		if err != nil {
			return true, nil, err
		}
		return true, list, nil
	})
	dyn.PrependWatchReactor("pods", watchReactor)
	return &source{kube: kube, meta: meta, dyn: dyn, watcher: w}
}

// fakePodsListWatch is the list/watch of pods over the fake typed client,
// built as client-go's own pod informer builds it.
func (s *source) fakePodsListWatch() toolscache.ListerWatcher {
	return listWatch(s.kube.CoreV1().Pods(metav1.NamespaceAll), s.kube)
}

// fakeMetadataListWatch is the list/watch of pod metadata over the fake
// metadata client, built as client-go's metadata informer builds it.
func (s *source) fakeMetadataListWatch() toolscache.ListerWatcher {
	return listWatch(s.meta.Resource(podsResource).Namespace(metav1.NamespaceAll), s.meta)
}

// fakeDynamicListWatch is the list/watch of pods over the fake dynamic
// client, built as client-go's dynamic informer builds it.
func (s *source) fakeDynamicListWatch() toolscache.ListerWatcher {
	return listWatch(s.dyn.Resource(podsResource).Namespace(metav1.NamespaceAll), s.dyn)
}

// listWatch is the list/watch over client, with the watch-list semantics
// of fake (which says it has none), as client-go's informers build theirs.
func listWatch[L runtime.Object](client interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}, fake any) toolscache.ListerWatcher {
	return toolscache.ToListWatcherWithWatchListSemantics(&toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.List(ctx, opts)
		},
		WatchFuncWithContext: client.Watch,
	}, fake)
}
