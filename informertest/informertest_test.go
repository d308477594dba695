package informertest_test

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// klog starts its flush daemon when client-go is imported.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
	)
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// configMap returns a ConfigMap whose label "v" is version.
func configMap(namespace, name, version string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Labels: map[string]string{"v": version},
	}}
}

// revisionOf parses an object's resourceVersion, failing the test if it is
// not a number.
func revisionOf(t *testing.T, obj metav1.Object) int64 {
	t.Helper()
	rev, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion of %s/%s: got %q, want a number", obj.GetNamespace(), obj.GetName(), obj.GetResourceVersion())
	}
	return rev
}

// watchConfigMaps starts an informer on kube that records ConfigMap events
// in the returned Recorder, waits until the initial list was delivered, and
// stops the informer at the end of the test.
func watchConfigMaps(t *testing.T, kube kubernetes.Interface, opts ...informertest.RecorderOption) *informertest.Recorder[*corev1.ConfigMap] {
	t.Helper()
	rec := informertest.NewRecorder[*corev1.ConfigMap](opts...)
	b := informer.NewBuilder().WithClients(kube, nil)
	informer.Watch(b, rec.Funcs())
	startSynced(t, b)
	return rec
}

// startSynced builds, starts and syncs b's informer, and stops it at the
// end of the test, checking that Stop succeeds.
func startSynced(t *testing.T, b *informer.Builder) {
	t.Helper()
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	if err := inf.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
}
