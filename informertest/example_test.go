package informertest_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
)

// Every write gets the next resourceVersion, and a watch from an old one
// replays what happened since, deletes included.
func ExampleNewClientset() {
	ctx := context.Background()
	kube := informertest.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "settings"},
	})
	cms := kube.CoreV1().ConfigMaps("default")

	cm, err := cms.Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("initial:", cm.ResourceVersion)
	cm.Data = map[string]string{"mode": "fast"}
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("updated:", cm.ResourceVersion)
	if err := cms.Delete(ctx, "settings", metav1.DeleteOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("revision:", kube.Revision())

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Stop()
	for range 2 {
		e := <-w.ResultChan()
		fmt.Println(e.Type, e.Object.(*corev1.ConfigMap).ResourceVersion)
	}
	// Output:
	// initial: 2
	// updated: 3
	// revision: 4
	// MODIFIED 3
	// DELETED 4
}

// Record what a registration receives, and wait for it instead of sleeping.
func ExampleRecorder() {
	ctx := context.Background()
	kube := informertest.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a"},
	})
	rec := informertest.NewRecorder[*corev1.ConfigMap]()
	b := informer.NewBuilder().WithClients(kube, nil)
	informer.Watch(b, rec.Funcs())
	inf, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := inf.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := inf.Stop(); err != nil {
			fmt.Println(err)
		}
	}()
	if err := inf.WaitForSync(ctx); err != nil {
		fmt.Println(err)
		return
	}

	cms := kube.CoreV1().ConfigMaps("default")
	b1 := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "b"}}
	if _, err := cms.Create(ctx, b1, metav1.CreateOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	a := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a"}, Data: map[string]string{"k": "v"}}
	if _, err := cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		fmt.Println(err)
		return
	}

	err = rec.WaitFor(ctx, func(events []informertest.Event[*corev1.ConfigMap]) bool {
		return len(events) == 4
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range rec.Events() {
		fmt.Println(e)
	}
	fmt.Println("state:", slices.Sorted(maps.Keys(rec.State())))
	// Output:
	// add default/a rv=2 (initial list)
	// add default/b rv=3
	// update default/a rv=4 (old rv=2)
	// delete default/a rv=5
	// state: [default/b]
}

// In a test, wait for one event; if it does not come, the test fails with
// the list of events that did.
func ExampleRecorder_WaitForEvent() {
	testHandler := func(t *testing.T) {
		kube := informertest.NewClientset()
		rec := informertest.NewRecorder[*corev1.ConfigMap]()
		b := informer.NewBuilder().WithClients(kube, nil)
		informer.Watch(b, rec.Funcs())
		inf, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inf.Stop() })
		if err := inf.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := inf.WaitForSync(t.Context()); err != nil {
			t.Fatal(err)
		}

		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}}
		if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		e := rec.WaitForEvent(t, informertest.Added, "default", "web")
		t.Logf("got %s", e)
	}
	_ = testHandler
}

// In a test, run a real API server from the binaries `make tools` built;
// the test is skipped when they are missing.
func ExampleStartCluster() {
	testAgainstRealServer := func(t *testing.T) {
		cluster := informertest.StartCluster(t, localcluster.Options{})
		rec := informertest.NewRecorder[*corev1.ConfigMap]()
		b := informer.NewBuilder().WithConfig(cluster.RESTConfig()).WithNamespace("default")
		informer.Watch(b, rec.Funcs())
		inf, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inf.Stop() })
		if err := inf.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := inf.WaitForSync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_ = testAgainstRealServer
}
