package informertest_test

import (
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
)

func TestStartClusterSkipsWithoutBinaries(t *testing.T) {
	t.Setenv(localcluster.BinDirEnv, t.TempDir())
	tb := &recordingTB{TB: t}
	returned := false
	tb.run(func(tb testing.TB) {
		informertest.StartCluster(tb, localcluster.Options{})
		returned = true
	})
	fatal, skip := tb.messages()
	if returned || fatal != "" {
		t.Fatalf("StartCluster: got returned=%v, failure %q; want a skip", returned, fatal)
	}
	wantSkip := []string{"kube-apiserver/etcd binaries not found", "run `make tools` (or `make test`)"}
	if runtime.GOOS == "windows" {
		// Start rejects the platform before it looks for binaries.
		wantSkip = []string{"no local cluster on this OS", "not supported on windows"}
	}
	for _, want := range wantSkip {
		if !strings.Contains(skip, want) {
			t.Errorf("skip message: got %q, want it to contain %q", skip, want)
		}
	}
}

// TestStartCluster runs a real kube-apiserver and etcd from bin/ (it skips
// when they are not built) and watches ConfigMaps through the library.
func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server; skipped with -short")
	}
	cluster := informertest.StartCluster(t, localcluster.Options{})
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatalf("NewForConfig: %v", err)
	}
	const namespace = "informertest"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := kube.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", namespace, err)
	}

	rec := informertest.NewRecorder[*corev1.ConfigMap]()
	b := informer.NewBuilder().WithConfig(cluster.RESTConfig()).WithNamespace(namespace)
	informer.Watch(b, rec.Funcs())
	startSynced(t, b)

	created, err := kube.CoreV1().ConfigMaps(namespace).Create(t.Context(), configMap(namespace, "watched", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a ConfigMap: %v", err)
	}
	e := rec.WaitForEvent(t, informertest.Added, namespace, "watched")
	if e.InitialList || e.Object.UID != created.UID {
		t.Errorf("add event: got initial list %v, UID %q; want false, %q", e.InitialList, e.Object.UID, created.UID)
	}
}
