package e2e

import (
	"net/http"
	"sync"
	"testing"

	"github.com/informer-go/informer"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestStopLeavesNoGoroutines runs an informer with a typed, a dynamic and a
// metadata registration, stops it, and checks that no goroutine it started
// is left, connection goroutines included: Stop closes the connections of
// the HTTP client Build created.
func TestStopLeavesNoGoroutines(t *testing.T) {
	ignoreCurrent, _ := runAndStopInformer(t)
	goleak.VerifyNone(t, ignoreCurrent)
}

// runAndStopInformer takes a goroutine snapshot, then builds, starts, syncs
// and stops an informer with a typed, a dynamic and a metadata registration,
// with one event through an open watch. It returns the snapshot and the
// transports Build created.
func runAndStopInformer(t *testing.T) (goleak.Option, []http.RoundTripper) {
	t.Helper()
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "p", nil))

	ignoreCurrent := goleak.IgnoreCurrent()

	cfg := adminConfig(t)
	var (
		mu         sync.Mutex
		transports []http.RoundTripper
	)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		mu.Lock()
		defer mu.Unlock()
		transports = append(transports, rt)
		return rt
	}

	rec := newRecorder[*corev1.Pod]()
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns)
	informer.Watch(b, rec.funcs())
	informer.WatchResource(b, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, informer.Funcs[*unstructured.Unstructured]{})
	informer.WatchMetadata(b, schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, informer.Funcs[*metav1.PartialObjectMetadata]{})
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := inf.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		_ = inf.Stop()
		t.Fatalf("WaitForSync: %v", err)
	}
	rec.expect(t, "add "+ns+"/p")
	// One event through an open watch, so that watches are running at Stop.
	createPod(t, client, newPod(ns, "q", nil))
	rec.expect(t, "add "+ns+"/q")

	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if got, want := len(transports), 1; got != want {
		t.Errorf("transports created by Build: got %d, want %d (one HTTP client shared by all clients)", got, want)
	}
	return ignoreCurrent, append([]http.RoundTripper(nil), transports...)
}
