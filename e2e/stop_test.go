package e2e

import (
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/informer-go/informer"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// closeIdleAttempts bounds how often TestStopLeavesNoGoroutines closes idle
// connections before it reports what is left.
const closeIdleAttempts = 5

// knownIssuesEnv, when set to 1, runs the tests of known library issues,
// which fail until the issue is fixed.
const knownIssuesEnv = "E2E_KNOWN_ISSUES"

// TestStopLeavesNoGoroutines runs an informer with a typed, a dynamic and a
// metadata registration, stops it, and checks that no goroutine it started
// is left.
func TestStopLeavesNoGoroutines(t *testing.T) {
	ignoreCurrent, transports := runAndStopInformer(t)

	// Stop does not close the connections of the HTTP client that Build
	// created (see TestStopClosesIdleConnections): their goroutines
	// (x/net/http2 read loops) stay until the server or the idle timeout
	// (90s) closes them. Close them here, so that any goroutine left is the
	// informer's own. A connection whose watch streams x/net/http2 has not
	// finished tearing down (it does that on goroutines of its own, after
	// Stop closed the response bodies) is not idle yet; hence the bounded
	// retry.
	var leaked error
	for range closeIdleAttempts {
		for _, rt := range transports {
			utilnet.CloseIdleConnectionsFor(rt)
		}
		// Find itself retries for about half a second before it reports.
		if leaked = goleak.Find(ignoreCurrent); leaked == nil {
			break
		}
	}
	if leaked != nil {
		t.Errorf("goroutines left after Stop: %v", leaked)
	}
}

// TestStopClosesIdleConnections shows a known issue: the HTTP client that
// Build creates is never told to close its idle connections, so after Stop
// a connection goroutine per API server stays for up to the transport's
// idle timeout (90s). It runs only with E2E_KNOWN_ISSUES=1.
func TestStopClosesIdleConnections(t *testing.T) {
	if os.Getenv(knownIssuesEnv) != "1" {
		t.Skipf("known issue, fails until Informer.Stop closes the idle connections of the HTTP client it created; set %s=1 to run", knownIssuesEnv)
	}
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
	// client-go shares one transport, and so one HTTP/2 connection, between
	// all configs with the same TLS settings. A Proxy function makes the
	// config uncacheable, so the informer gets a transport of its own, whose
	// connection goroutines the leak check can see instead of hiding them
	// among the test's own. The function returns no proxy: connect directly.
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
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
