package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// skipMessage is what every test says when the server binaries are missing.
const skipMessage = "e2e: skipping: kube-apiserver/etcd binaries not found; `make test` builds them and runs this suite"

// waitBound bounds every wait of the suite; reaching it is a failure, never
// a synchronization point.
const waitBound = 60 * time.Second

// cleanupTimeout bounds the API calls made by cleanups, which run after
// t.Context() is done.
const cleanupTimeout = 30 * time.Second

// cluster is the control plane shared by every test; nil when the binaries
// are missing.
var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite starts the cluster, runs the tests, stops the cluster and checks
// that neither goroutines nor server processes are left. It returns the exit
// code.
func runSuite(m *testing.M) int {
	start := time.Now()
	c, err := localcluster.Start(context.Background(), localcluster.Options{})
	switch {
	case errors.Is(err, localcluster.ErrBinariesMissing):
		fmt.Println(skipMessage)
		return m.Run() // every test skips with skipMessage
	case err != nil:
		fmt.Fprintf(os.Stderr, "e2e: starting the cluster: %v\n", err)
		return 1
	}
	cluster = c
	fmt.Printf("e2e: cluster started in %v at %s\n", time.Since(start).Round(time.Millisecond), c.APIServerURL())
	servers := childProcesses()
	if len(servers) == 0 {
		fmt.Fprintln(os.Stderr, "e2e: found no server process among the children of the test binary")
		_ = c.Stop()
		return 1
	}

	code := m.Run()

	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the cluster: %v\n", err)
		code = 1
	}
	if left := childProcesses(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: child processes left after Stop: got %v, want none (servers were %v)\n", left, servers)
		code = 1
	}
	for pid, name := range servers {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			fmt.Fprintf(os.Stderr, "e2e: %s (pid %d) still exists after Stop\n", name, pid)
			code = 1
		}
	}
	// Nothing of ours is ignored: only klog's flush daemon, which starts
	// when client-go is imported and runs for the life of the program.
	if err := goleak.Find(goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: goroutines left after the tests and the cluster stopped: %v\n", err)
		code = 1
	}
	if code == 0 {
		fmt.Println("e2e: cluster stopped; no server process and no goroutine left")
	}
	return code
}

// childProcesses returns the live child processes of the test binary, pid
// to command name, read from /proc. The cluster's servers are its only
// children.
func childProcesses() map[int]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	kids := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may contain spaces and parentheses.
		open, closing := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(string(stat[closing+1:]))
		if len(fields) > 1 && fields[1] == self {
			kids[pid] = string(stat[open+1 : closing])
		}
	}
	return kids
}

// requireCluster returns the shared cluster, or skips the test when the
// binaries are missing.
func requireCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	if cluster == nil {
		t.Skip(skipMessage)
	}
	return cluster
}

// adminConfig returns a fresh admin client configuration of the shared
// cluster (see [fastConfig]).
func adminConfig(t *testing.T) *rest.Config {
	t.Helper()
	return fastConfig(requireCluster(t))
}

// adminClient returns a typed admin client of the shared cluster.
func adminClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	client, _ := directClients(t, requireCluster(t))
	return client
}

var nonNameChars = regexp.MustCompile(`[^a-z0-9]+`)

// newNamespace creates a namespace for the test, named after it, and deletes
// it when the test ends. Without kube-controller-manager the namespace then
// stays Terminating with its contents, which no other test looks at.
func newNamespace(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	prefix := strings.Trim(nonNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + prefix + "-"}}
	created, err := client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := client.CoreV1().Namespaces().Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", created.Name, err)
		}
	})
	return created.Name
}

// newPod returns a small pod that nothing will ever run: the cluster has no
// scheduler and no kubelet.
func newPod(namespace, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// createPod creates a pod and fails the test on error.
func createPod(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := client.CoreV1().Pods(pod.Namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return created
}

// deletePod deletes a pod and checks what the informer reports. The real
// server deletes a pod in two steps, even one that no node runs (grace
// period 0): it first sets metadata.deletionTimestamp, an update, then
// removes the pod, a delete. deletePod returns the delete event.
func deletePod(t *testing.T, client kubernetes.Interface, rec *recorder[*corev1.Pod], namespace, name string) informertest.Event[*corev1.Pod] {
	t.Helper()
	if err := client.CoreV1().Pods(namespace).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod %s/%s: %v", namespace, name, err)
	}
	marked := rec.expect(t, "update "+namespace+"/"+name)
	if marked.OldObject.DeletionTimestamp != nil || marked.Object.DeletionTimestamp == nil {
		t.Errorf("deletionTimestamp of pod %s/%s in the update before the delete: got old %v, new %v, want old unset and new set",
			namespace, name, marked.OldObject.DeletionTimestamp, marked.Object.DeletionTimestamp)
	}
	deleted := rec.expect(t, "delete "+namespace+"/"+name)
	if deleted.FinalStateUnknown {
		t.Errorf("IsFinalStateUnknown of the delete of pod %s/%s seen on the watch: got true, want false", namespace, name)
	}
	if resourceVersion(t, deleted.Object) <= resourceVersion(t, marked.Object) {
		t.Errorf("resourceVersion of the deleted pod %s/%s: got %s, want more than %s (the update before)",
			namespace, name, deleted.Object.ResourceVersion, marked.Object.ResourceVersion)
	}
	return deleted
}

// startUnsynced builds and starts b's informer without waiting for sync;
// the test's cleanup stops it, checking that Stop succeeds.
func startUnsynced(t *testing.T, b *informer.Builder) *informer.Informer {
	t.Helper()
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := inf.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return inf
}

// startInformer builds b, starts the informer and waits for sync; it stops the
// informer when the test ends, checking that Stop succeeds.
func startInformer(t *testing.T, b *informer.Builder) *informer.Informer {
	t.Helper()
	inf := startUnsynced(t, b)
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
	return inf
}

// recorder records a registration's callbacks with an
// [informertest.Recorder] and reads them back one at a time, in the order
// the handler was called.
type recorder[T informer.Object] struct {
	*informertest.Recorder[T]
	read int // events returned by next so far
}

func newRecorder[T informer.Object]() *recorder[T] {
	return &recorder[T]{Recorder: informertest.NewRecorder[T](informertest.WithWaitTimeout(waitBound))}
}

// next returns the next event, failing the test if none comes within
// waitBound.
func (r *recorder[T]) next(t *testing.T) informertest.Event[T] {
	t.Helper()
	var e informertest.Event[T]
	err := r.WaitFor(t.Context(), func(events []informertest.Event[T]) bool {
		if len(events) <= r.read {
			return false
		}
		e = events[r.read]
		return true
	})
	if err != nil {
		t.Fatalf("waiting for event %d: %v", r.read+1, err)
	}
	r.read++
	return e
}

// expect reads the next event and checks that it is want ("add ns/name").
func (r *recorder[T]) expect(t *testing.T, want string) informertest.Event[T] {
	t.Helper()
	e := r.next(t)
	if got := e.Kind.String() + " " + e.Key(); got != want {
		t.Fatalf("got event %q (%s), want %q", got, e, want)
	}
	return e
}

// expectNoneQueued fails if an event is already waiting. Tests make it
// meaningful by calling it after an event that the informer must have
// delivered after any unwanted one.
func (r *recorder[T]) expectNoneQueued(t *testing.T) {
	t.Helper()
	if events := r.Events(); len(events) > r.read {
		t.Fatalf("got unexpected event %s, want none", events[r.read])
	}
}

// resourceVersion parses an object's resourceVersion. It is opaque to
// clients in general; kube-apiserver over etcd makes it a counter, which
// lets the tests check ordering.
func resourceVersion(t *testing.T, obj metav1.Object) uint64 {
	t.Helper()
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion of %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
	return rv
}
