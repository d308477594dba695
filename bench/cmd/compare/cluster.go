package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// latencyNamespace holds the pods the latency measurement writes to.
const latencyNamespace = "latency"

// protobuf is the content type of the floor's LIST and of the seeding
// client's writes.
const protobuf = "application/vnd.kubernetes.protobuf"

// writeClient returns a typed client for writing many objects quickly.
func writeClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 5000, 5000
	cfg.ContentType = protobuf
	return kubernetes.NewForConfig(cfg)
}

// seedPods creates namespace ns and count realistic pods in it, as
// realisticPod makes them, with the three writers a running pod has: the
// pod is created by the "kube-controller-manager" field manager; the server
// resets a new pod's status, so "kube-scheduler" then writes the
// PodScheduled condition and "kubelet" the rest of the status. Each stored
// pod so has three managedFields entries, as printed for the first pod.
func seedPods(ctx context.Context, kube kubernetes.Interface, ns string, count, workers int) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				if err := seedPod(ctx, kube, ns, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	first, err := kube.CoreV1().Pods(ns).Get(ctx, realisticPod(ns, 0).Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	size, _ := first.Marshal()
	managers := make([]string, 0, len(first.ManagedFields))
	for _, entry := range first.ManagedFields {
		managers = append(managers, entry.Manager)
	}
	logf("seeded %d pods in %s; pod 0: managedFields of %v, %d annotations, phase %s, %d bytes as protobuf",
		count, ns, managers, len(first.Annotations), first.Status.Phase, len(size))
	return nil
}

func seedPod(ctx context.Context, kube kubernetes.Interface, ns string, i int) error {
	pod := realisticPod(ns, i)
	status := pod.Status
	pod.ResourceVersion, pod.UID, pod.CreationTimestamp, pod.ManagedFields = "", "", metav1.Time{}, nil
	pods := kube.CoreV1().Pods(ns)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: "kube-controller-manager"})
	if err != nil {
		return fmt.Errorf("creating pod %d: %w", i, err)
	}
	for _, condition := range status.Conditions {
		if condition.Type == corev1.PodScheduled {
			created.Status.Conditions = []corev1.PodCondition{condition}
		}
	}
	scheduled, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{FieldManager: "kube-scheduler"})
	if err != nil {
		return fmt.Errorf("scheduling pod %d: %w", i, err)
	}
	scheduled.Status = status
	if _, err := pods.UpdateStatus(ctx, scheduled, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
		return fmt.Errorf("setting the status of pod %d: %w", i, err)
	}
	return nil
}

// restConfigFrom loads the kubeconfig a parent hands to its children.
func restConfigFrom(kubeconfig string) (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// syncResult is what a sync child reports.
type syncResult struct {
	// Seconds runs from Start until the library reported the cache synced
	// and the handler had counted every pod.
	Seconds float64 `json:"seconds"`
	// WaitSeconds runs from Start until the library's wait returned.
	WaitSeconds float64 `json:"waitSeconds"`
	// HandledSeconds runs from Start until the handler counted the last pod.
	HandledSeconds float64 `json:"handledSeconds"`
	// HeapAllocPerPod is the heap kept per pod after sync (see measureHeap).
	HeapAllocPerPod float64 `json:"heapAllocPerPod"`
	// ClientCPUSeconds is the CPU this process used from Start to synced;
	// MachineBusySeconds the busy time of all cores over the same span
	// (negative when unknown). Their difference is mostly the API server.
	ClientCPUSeconds   float64 `json:"clientCPUSeconds"`
	MachineBusySeconds float64 `json:"machineBusySeconds"`
}

// measureSync times lib's first sync of pods pods from a real server. It
// runs in a child process of its own: clients, connections and caches
// start cold, as in a program that starts. Clients are created before the
// clock starts; controller-runtime's REST mapper discovers the pod resource
// then too (in GetInformer).
func measureSync(ctx context.Context, lib string, cfg *rest.Config, pods int, profilePath string) (syncResult, error) {
	h := newCounter(pods, 0)
	s, err := newSubject(lib, &source{config: cfg}, h, subjectOptions{})
	if err != nil {
		return syncResult{}, err
	}
	defer s.stop()
	before := settledMemStats()
	stopProfile, err := startCPUProfile(profilePath)
	if err != nil {
		return syncResult{}, err
	}
	cpuBefore := sampleCPU()
	start := time.Now()
	handled := make(chan time.Duration, 1)
	go func() {
		select {
		case <-h.addsDone:
			handled <- time.Since(start)
		case <-ctx.Done():
			handled <- 0
		}
	}()
	if err := s.start(ctx); err != nil {
		return syncResult{}, errors.Join(err, stopProfile())
	}
	waitCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	err = s.wait(waitCtx)
	waited := time.Since(start)
	if err == nil {
		err = wait(h.addsDone, stepTimeout, lib+" initial adds")
	}
	elapsed := time.Since(start)
	cpuAfter := sampleCPU()
	err = errors.Join(err, stopProfile())
	if err != nil {
		return syncResult{}, err
	}
	after := settledMemStats()
	busy := -1.0
	if cpuBefore.ok && cpuAfter.ok {
		busy = (cpuAfter.machine - cpuBefore.machine).Seconds()
	}
	return syncResult{
		Seconds:            elapsed.Seconds(),
		WaitSeconds:        waited.Seconds(),
		HandledSeconds:     (<-handled).Seconds(),
		HeapAllocPerPod:    (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(pods),
		ClientCPUSeconds:   (cpuAfter.self - cpuBefore.self).Seconds(),
		MachineBusySeconds: busy,
	}, nil
}

// floorResult is what a floor child reports.
type floorResult struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
}

// measureFloor times what no informer can beat: one plain LIST of every
// pod as protobuf, read to the end and discarded, over a new connection
// (the TLS handshake included, as in an informer's first LIST).
func measureFloor(ctx context.Context, cfg *rest.Config) (floorResult, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return floorResult{}, err
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/api/v1/pods", nil)
	if err != nil {
		return floorResult{}, err
	}
	req.Header.Set("Accept", protobuf)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return floorResult{}, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	elapsed := time.Since(start)
	if err != nil {
		return floorResult{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return floorResult{}, fmt.Errorf("LIST pods: %s", resp.Status)
	}
	return floorResult{Seconds: elapsed.Seconds(), Bytes: n}, nil
}

// writeAtRate patches the stamp annotation of pods lat-000... at rate
// writes a second for duration, from a pool of workers so that a slow
// response does not delay the next write. It returns the number of
// successful writes.
func writeAtRate(ctx context.Context, kube kubernetes.Interface, podCount, rate int, duration time.Duration) (int64, error) {
	jobs := make(chan int, rate)
	var (
		sent   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		first  atomic.Pointer[error]
	)
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				name := latencyPodName(i % podCount)
				patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"%d"}}}`, stampAnnotation, time.Now().UnixNano())
				_, err := kube.CoreV1().Pods(latencyNamespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, &err)
					continue
				}
				sent.Add(1)
			}
		})
	}
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	end := time.Now().Add(duration)
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		<-ticker.C
		jobs <- i
	}
	ticker.Stop()
	close(jobs)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return sent.Load(), fmt.Errorf("latency: %d writes failed, the first with: %w", n, *first.Load())
	}
	return sent.Load(), ctx.Err()
}

func latencyPodName(i int) string { return fmt.Sprintf("lat-%03d", i) }

// seedLatencyPods creates namespace latencyNamespace with count realistic
// pods named lat-000, lat-001...
func seedLatencyPods(ctx context.Context, kube kubernetes.Interface, count int) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: latencyNamespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for i := range count {
		pod := realisticPod(latencyNamespace, i)
		pod.Name, pod.GenerateName = latencyPodName(i), ""
		pod.ResourceVersion, pod.UID, pod.CreationTimestamp, pod.ManagedFields = "", "", metav1.Time{}, nil
		if _, err := kube.CoreV1().Pods(latencyNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// logf writes a progress line to stderr; stdout carries only results.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}
