package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// failingSyncTimeout is the sync timeout of informers that are expected not
// to sync: long enough for the first list to fail, short enough to keep the
// suite fast.
const failingSyncTimeout = 5 * time.Second

// listWatchPods are the RBAC rules an informer on pods needs.
var listWatchPods = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}}

// TestRBAC checks that an informer syncs with exactly list and watch on its
// resource, and that missing rights give a *SyncError that says forbidden.
func TestRBAC(t *testing.T) {
	c := requireCluster(t)
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "visible", nil))

	podReader, err := c.AddUser(t.Context(), "e2e-pod-reader", listWatchPods)
	if err != nil {
		t.Fatalf("AddUser(e2e-pod-reader): %v", err)
	}
	nobody, err := c.AddUser(t.Context(), "e2e-nobody", nil)
	if err != nil {
		t.Fatalf("AddUser(e2e-nobody): %v", err)
	}

	t.Run("list and watch on pods", func(t *testing.T) {
		b := informer.NewBuilder().WithConfig(podReader).WithNamespace(ns).WithSyncTimeout(waitBound)
		reg := informer.Watch(b, informer.Funcs[*corev1.Pod]{})
		startInformer(t, b)
		if _, err := reg.Lister().Get(ns, "visible"); err != nil {
			t.Errorf("Lister().Get(%q, %q): %v", ns, "visible", err)
		}
	})

	t.Run("no rights on configmaps", func(t *testing.T) {
		b := informer.NewBuilder().WithConfig(podReader).WithNamespace(ns)
		informer.Watch(b, informer.Funcs[*corev1.ConfigMap]{})
		checkForbidden(t, b, "configmaps")
	})

	t.Run("no rights at all", func(t *testing.T) {
		b := informer.NewBuilder().WithConfig(nobody).WithNamespace(ns)
		informer.Watch(b, informer.Funcs[*corev1.Pod]{})
		checkForbidden(t, b, "pods")
	})
}

// checkForbidden starts b's informer and checks that WaitForSync fails with
// a *SyncError that names resource and says forbidden.
func checkForbidden(t *testing.T, b *informer.Builder, resource string) {
	t.Helper()
	syncErr := expectSyncError(t, b.WithSyncTimeout(failingSyncTimeout))
	t.Logf("WaitForSync: %v", syncErr)
	if !errors.Is(syncErr, informer.ErrForbidden) {
		t.Errorf("errors.Is(err, ErrForbidden): got false, want true; err: %v", syncErr)
	}
	if !apierrors.IsForbidden(syncErr) {
		t.Errorf("apierrors.IsForbidden(err): got false, want true; err: %v", syncErr)
	}
	if !errors.Is(syncErr, informer.ErrSyncTimeout) {
		t.Errorf("errors.Is(err, ErrSyncTimeout): got false, want true; err: %v", syncErr)
	}
	msg := syncErr.Error()
	for _, want := range []string{resource, "forbidden"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error message: got %q, want it to contain %q", msg, want)
		}
	}
	if got, want := len(syncErr.Unsynced), 1; got != want {
		t.Fatalf("unsynced informers: got %d, want %d; err: %v", got, want, syncErr)
	}
	if got, want := syncErr.Unsynced[0].Resource, resource; got != want {
		t.Errorf("unsynced resource: got %q, want %q", got, want)
	}
}

// expectSyncError builds and starts b's informer, which must not sync, and
// returns the *SyncError of WaitForSync. The test's cleanup stops the
// informer.
func expectSyncError(t *testing.T, b *informer.Builder) *informer.SyncError {
	t.Helper()
	inf := startUnsynced(t, b)
	start := time.Now()
	err := inf.WaitForSync(t.Context())
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("WaitForSync: got nil, want a *SyncError")
	}
	var syncErr *informer.SyncError
	if !errors.As(err, &syncErr) {
		t.Fatalf("WaitForSync: got %T (%v), want a *SyncError", err, err)
	}
	// The timeout is the only way out here; it must not take much longer.
	if elapsed > failingSyncTimeout+10*time.Second {
		t.Errorf("WaitForSync returned after %v, want about the sync timeout of %v", elapsed, failingSyncTimeout)
	}
	return syncErr
}

// TestUnknownResource checks that watching a resource the server does not
// serve gives a *SyncError that says the resource was not found.
func TestUnknownResource(t *testing.T) {
	ns := newNamespace(t, adminClient(t))
	gizmos := schema.GroupVersionResource{Group: "nope.e2e.informer.dev", Version: "v1", Resource: "gizmos"}
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithSyncTimeout(failingSyncTimeout)
	informer.WatchResource(b, gizmos, informer.Funcs[*unstructured.Unstructured]{})

	syncErr := expectSyncError(t, b)
	t.Logf("WaitForSync: %v", syncErr)
	if !errors.Is(syncErr, informer.ErrResourceNotFound) {
		t.Errorf("errors.Is(err, ErrResourceNotFound): got false, want true; err: %v", syncErr)
	}
	if errors.Is(syncErr, informer.ErrForbidden) {
		t.Errorf("errors.Is(err, ErrForbidden): got true, want false; err: %v", syncErr)
	}
	if msg := syncErr.Error(); !strings.Contains(msg, "gizmos") {
		t.Errorf("error message: got %q, want it to name gizmos", msg)
	}
}
