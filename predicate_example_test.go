package informer_test

import (
	"context"
	"fmt"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// Deliver the events of web pods only, and of their updates only those that
// changed labels. Deletes are never filtered by built-in predicates: the
// delete of a db pod is delivered too.
func ExampleWithPredicates() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("default", "web-1", "web"), newPod("default", "db-1", "db"))
	// client-go's fake loses writes made before its watch is open: know when it is.
	watching := make(chan struct{}, 1)
	kube.PrependWatchReactor("pods", func(action clienttesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(action.GetResource(), action.GetNamespace())
		select {
		case watching <- struct{}{}:
		default:
		}
		return true, w, err
	})

	deleted := make(chan struct{})
	b := informer.NewBuilder().WithClients(kube, nil)
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(ctx context.Context, p *corev1.Pod) { fmt.Println("add", p.Name) },
		OnUpdate: func(ctx context.Context, oldPod, p *corev1.Pod) {
			fmt.Println("update", p.Name, "tier:", p.Labels["tier"])
		},
		OnDelete: func(ctx context.Context, p *corev1.Pod) {
			fmt.Println("delete", p.Name)
			close(deleted)
		},
	}, informer.WithPredicates(informer.LabelSelector("app=web"), informer.LabelsChanged()))
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
			fmt.Println("stop:", err)
		}
	}()
	if err := inf.WaitForSync(ctx); err != nil {
		fmt.Println(err)
		return
	}
	<-watching

	pods := kube.CoreV1().Pods("default")
	web, _ := pods.Get(ctx, "web-1", metav1.GetOptions{})
	web.Annotations = map[string]string{"note": "labels unchanged: filtered"}
	web, _ = pods.Update(ctx, web, metav1.UpdateOptions{})
	web.Labels["tier"] = "frontend"
	_, _ = pods.Update(ctx, web, metav1.UpdateOptions{})
	_ = pods.Delete(ctx, "db-1", metav1.DeleteOptions{})
	<-deleted
	// Output:
	// add web-1
	// update web-1 tier: frontend
	// delete db-1
}
