package informer_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func newPod(namespace, name, app string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Labels: map[string]string{"app": app},
	}}
}

// Watch pods and print each one of the initial list. Against a real cluster,
// drop WithClients: the config is then resolved as LoadConfig says.
func Example() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("default", "web-1", "web"))

	b := informer.NewBuilder().WithClients(kube, nil).WithNamespace("default")
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(ctx context.Context, p *corev1.Pod) {
			fmt.Printf("add %s/%s (initial list: %v)\n", p.Namespace, p.Name, informer.IsInitialList(ctx))
		},
		OnDelete: func(ctx context.Context, p *corev1.Pod) {
			fmt.Printf("delete %s/%s\n", p.Namespace, p.Name)
		},
	})
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
	// WaitForSync returns once every handler has seen the initial list.
	if err := inf.WaitForSync(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("synced")
	// Output:
	// add default/web-1 (initial list: true)
	// synced
}

// Read the shared cache: no call to the API server.
func ExampleRegistration_Lister() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("default", "web-1", "web"), newPod("default", "db-1", "db"))

	b := informer.NewBuilder().WithClients(kube, nil)
	pods := informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	inf, _ := b.Build()
	_ = inf.Start(ctx)
	defer func() {
		if err := inf.Stop(); err != nil {
			fmt.Println("stop:", err)
		}
	}()
	_ = inf.WaitForSync(ctx)

	web, _ := pods.Lister().List(labels.SelectorFromSet(labels.Set{"app": "web"}))
	fmt.Println("web pods:", len(web))
	_, err := pods.Lister().Get("default", "gone")
	fmt.Println("missing pod is NotFound:", apierrors.IsNotFound(err))
	// Output:
	// web pods: 1
	// missing pod is NotFound: true
}

// Index the cache by node, then look pods up by node.
func ExampleWithIndex() {
	ctx := context.Background()
	p := newPod("default", "web-1", "web")
	p.Spec.NodeName = "node-a"
	kube := fake.NewClientset(p)

	b := informer.NewBuilder().WithClients(kube, nil)
	pods := informer.Watch(b, informer.Funcs[*corev1.Pod]{},
		informer.WithIndex("node", func(p *corev1.Pod) ([]string, error) {
			return []string{p.Spec.NodeName}, nil
		}))
	inf, _ := b.Build()
	_ = inf.Start(ctx)
	defer func() {
		if err := inf.Stop(); err != nil {
			fmt.Println("stop:", err)
		}
	}()
	_ = inf.WaitForSync(ctx)

	onNode, _ := pods.Lister().ByIndex("node", "node-a")
	for _, p := range onNode {
		fmt.Println(p.Name)
	}
	// Output: web-1
}

// A sync that cannot succeed says why instead of hanging.
func ExampleSyncError() {
	ctx := context.Background()
	kube := fake.NewClientset()
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no RBAC rule"))
	})

	b := informer.NewBuilder().WithClients(kube, nil).WithSyncTimeout(time.Second)
	informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	inf, _ := b.Build()
	_ = inf.Start(ctx)
	defer func() {
		if err := inf.Stop(); err != nil {
			fmt.Println("stop:", err)
		}
	}()

	err := inf.WaitForSync(ctx)
	var syncErr *informer.SyncError
	if errors.As(err, &syncErr) {
		for _, u := range syncErr.Unsynced {
			fmt.Println(u.Resource, "forbidden:", errors.Is(u.LastError, informer.ErrForbidden))
		}
	}
	fmt.Println("timed out:", errors.Is(err, informer.ErrSyncTimeout))
	// Output:
	// pods forbidden: true
	// timed out: true
}

// Cached objects share the strings that repeat between them by default, so
// that a large cache costs less memory; handlers and listers see the same
// values either way. WithStringSharing(false) turns it off, for a program
// that caches few objects and would rather not pay the CPU.
func ExampleBuilder_WithStringSharing() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("shop", "web-1", "web"), newPod("shop", "web-2", "web"))

	b := informer.NewBuilder().WithClients(kube, nil).WithStringSharing(false)
	pods := informer.Watch(b, informer.Funcs[*corev1.Pod]{})
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
	cached, err := pods.Lister().ListNamespace("shop", labels.SelectorFromSet(labels.Set{"app": "web"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(cached), "pods labelled app=web")
	// Output:
	// 2 pods labelled app=web
}

// Reconcile pods: the function gets a key, reads the pod from the shared
// cache, and is called again with backoff when it returns an error.
func ExampleReconcile() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("default", "web-1", "web"))
	b := informer.NewBuilder().WithClients(kube, nil)
	done := make(chan struct{})
	informer.Reconcile(b, func(ctx context.Context, req informer.Request[*corev1.Pod]) (informer.Result, error) {
		pod, err := req.Get()
		if apierrors.IsNotFound(err) {
			return informer.Result{}, nil // deleted: req.LastKnown() has its last state
		}
		if err != nil {
			return informer.Result{}, err
		}
		fmt.Println("reconcile", req, "app="+pod.Labels["app"])
		close(done)
		return informer.Result{}, nil
	}, informer.Workers(2), informer.MaxRetries(5))
	inf, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := inf.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	<-done
	if err := inf.Stop(); err != nil {
		fmt.Println("stop:", err)
	}
	// Output: reconcile default/web-1 app=web
}

// Elect a leader among replicas: every replica syncs its cache, only the
// leader's handlers run. The Lease is released at Stop, so that another
// replica takes over at once. Against a real cluster, drop WithClients and
// LeaseIdentity (the default is the host name, the pod's name in a pod,
// plus a random suffix).
func ExampleBuilder_WithLeaderElection() {
	ctx := context.Background()
	kube := fake.NewClientset(newPod("default", "web-1", "web"))

	handled := make(chan string, 1)
	b := informer.NewBuilder().WithClients(kube, nil).WithNamespace("default").
		WithLeaderElection("default", "pod-watcher", informer.LeaseIdentity("replica-1"))
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(ctx context.Context, p *corev1.Pod) {
			handled <- fmt.Sprintf("add %s/%s (initial list: %v)", p.Namespace, p.Name, informer.IsInitialList(ctx))
		},
	})
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
	// The first callback comes once this replica leads: the cache as adds.
	fmt.Println(<-handled)
	st := inf.Status().Leadership
	fmt.Printf("leading: %v, lease %s, identity %s\n", inf.Leading(), st.Lease, st.Identity)
	// Output:
	// add default/web-1 (initial list: true)
	// leading: true, lease default/pod-watcher, identity replica-1
}
