package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// initialPodCount is how many pods TestInitialSync lists.
	initialPodCount = 10_000
	// createWorkers is how many pods are created concurrently.
	createWorkers = 64
)

// TestInitialSync creates 10,000 pods, then checks that a new informer
// caches all of them and hands each one to its handler as an add of the
// initial list before WaitForSync returns.
func TestInitialSync(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)

	start := time.Now()
	createPods(t, ns, initialPodCount)
	t.Logf("created %d pods in %v", initialPodCount, time.Since(start).Round(time.Millisecond))

	var initialAdds, laterAdds atomic.Int64
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithSyncTimeout(waitBound)
	reg := informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(ctx context.Context, _ *corev1.Pod) {
			if informer.IsInitialList(ctx) {
				initialAdds.Add(1)
			} else {
				laterAdds.Add(1)
			}
		},
	})
	start = time.Now()
	startInformer(t, b)
	t.Logf("initial sync of %d pods (Build to WaitForSync returning) took %v", initialPodCount, time.Since(start).Round(time.Millisecond))

	pods, err := reg.Lister().List(nil)
	if err != nil {
		t.Fatalf("Lister().List: %v", err)
	}
	if got, want := len(pods), initialPodCount; got != want {
		t.Errorf("cached pods: got %d, want %d", got, want)
	}
	if got, want := initialAdds.Load(), int64(initialPodCount); got != want {
		t.Errorf("adds of the initial list seen by the handler when WaitForSync returned: got %d, want %d", got, want)
	}
	if got := laterAdds.Load(); got != 0 {
		t.Errorf("adds outside the initial list: got %d, want 0", got)
	}
}

// createPods creates count small pods in namespace with createWorkers
// concurrent requests, failing the test on the first error.
func createPods(t *testing.T, namespace string, count int) {
	t.Helper()
	cfg := adminConfig(t)
	// Protobuf is the cheapest encoding for the server to decode.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range createWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				pod := newPod(namespace, fmt.Sprintf("pod-%05d", i), map[string]string{"app": "sync"})
				if _, err := client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("creating pod %d of %d: %w", i+1, count, err)
						cancel()
					})
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}
