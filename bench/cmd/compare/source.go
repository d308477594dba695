package main

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
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
// clients (kube and meta) fed by a list function and one fake watcher, or a
// real API server (config).
type source struct {
	// Fake clients, nil for a real server.
	kube kubernetes.Interface
	meta metadata.Interface
	// Watcher is the watch every fake client returns: what is pushed into it
	// reaches the informer.
	watcher *watch.FakeWatcher

	// A real server.
	config *rest.Config
}

func (s *source) isFake() bool { return s.config == nil }

// newFakeSource returns fake typed and metadata clients whose LIST of pods
// returns list() (called at each LIST) and whose WATCH returns one fake
// watcher buffering up to watchBuffer events. The watch is built with
// watch.NewFakeWithChanSize: the fake clientset's own watch holds 100
// events and panics past that, which would break the event counts.
// Both clients keep the fake's "no watch-list semantics" marker, so the
// reflector lists and then watches.
func newFakeSource(typedList func() *corev1.PodList, metaList func() *metav1.List, watchBuffer int) *source {
	w := watch.NewFakeWithChanSize(watchBuffer, false)
	watchReactor := func(clienttesting.Action) (bool, watch.Interface, error) { return true, w, nil }

	kube := kubefake.NewClientset()
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if typedList == nil {
			return true, &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		}
		return true, typedList(), nil
	})
	kube.PrependWatchReactor("pods", watchReactor)

	meta := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	meta.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if metaList == nil {
			return true, &metav1.List{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		}
		return true, metaList(), nil
	})
	meta.PrependWatchReactor("pods", watchReactor)
	return &source{kube: kube, meta: meta, watcher: w}
}

// fakePodsListWatch is the list/watch of pods over the fake typed client,
// built as client-go's own pod informer builds it.
func (s *source) fakePodsListWatch() toolscache.ListerWatcher {
	pods := s.kube.CoreV1().Pods(metav1.NamespaceAll)
	return toolscache.ToListWatcherWithWatchListSemantics(&toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		},
	}, s.kube)
}

// fakeMetadataListWatch is the list/watch of pod metadata over the fake
// metadata client, built as client-go's metadata informer builds it.
func (s *source) fakeMetadataListWatch() toolscache.ListerWatcher {
	pods := s.meta.Resource(podsResource).Namespace(metav1.NamespaceAll)
	return toolscache.ToListWatcherWithWatchListSemantics(&toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		},
	}, s.meta)
}
