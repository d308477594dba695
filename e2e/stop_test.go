package e2e

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/informer-go/informer"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestStopLeavesNoGoroutines runs an informer with a typed, a dynamic and a
// metadata registration, with one event through an open watch, stops it,
// and checks that no goroutine it started is left, connection goroutines
// included: Stop closes the connections of the HTTP client Build created,
// the one client shared by all registrations.
func TestStopLeavesNoGoroutines(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "p", nil))

	ignoreCurrent := goleak.IgnoreCurrent()

	cfg := adminConfig(t)
	var transports atomic.Int32
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		transports.Add(1)
		return rt
	}

	rec := newRecorder[*corev1.Pod]()
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns)
	informer.Watch(b, rec.Funcs())
	informer.WatchResource(b, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, informer.Funcs[*unstructured.Unstructured]{})
	informer.WatchMetadata(b, schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, informer.Funcs[*metav1.PartialObjectMetadata]{})
	inf := startInformer(t, b)
	rec.expect(t, "add "+ns+"/p")
	// One event through an open watch, so that watches are running at Stop.
	createPod(t, client, newPod(ns, "q", nil))
	rec.expect(t, "add "+ns+"/q")

	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, want := transports.Load(), int32(1); got != want {
		t.Errorf("transports created by Build: got %d, want %d (one HTTP client shared by all clients)", got, want)
	}
	goleak.VerifyNone(t, ignoreCurrent)
}
