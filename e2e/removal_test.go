package e2e

import (
	"context"
	"testing"

	"github.com/informer-go/informer"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRemoveLastRegistrationLeavesNoGoroutine adds a ConfigMap
// registration to a running informer that watches pods with two
// registrations, removes it, and checks on the real server that the
// ConfigMap informer left no goroutine behind (its watch is closed), that
// the pod registrations go on, and that watching ConfigMaps again lists
// them again.
func TestRemoveLastRegistrationLeavesNoGoroutine(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "before", nil))
	createConfigMap(t, client, ns, "before")

	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
	podsA, podsB := newRecorder[*corev1.Pod](), newRecorder[*corev1.Pod]()
	informer.Watch(b, podsA.Funcs())
	informer.Watch(b, podsB.Funcs())
	inf := startInformer(t, b)
	podsA.expect(t, "add "+ns+"/before")
	podsB.expect(t, "add "+ns+"/before")

	// Everything running now, the pods informer and its watch included, is
	// allowed; what the ConfigMap registration starts must be gone after
	// its removal.
	snapshot := goleak.IgnoreCurrent()
	removed := newRecorder[*corev1.ConfigMap]()
	reg := informer.Watch(b, removed.Funcs())
	removed.expect(t, "add "+ns+"/before")
	if got := len(inf.Status().Informers); got != 2 {
		t.Fatalf("informers after the ConfigMap registration: got %d, want 2", got)
	}

	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	if err := reg.Remove(ctx); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := goleak.Find(snapshot); err != nil {
		t.Errorf("goroutines left by the removed ConfigMap informer: %v", err)
	}
	if st := inf.Status(); len(st.Informers) != 1 || len(st.Informers[0].Handlers) != 2 {
		t.Errorf("status after Remove: got %+v, want the pods informer alone, with its two handlers", st)
	}

	createPod(t, client, newPod(ns, "after", nil))
	podsA.expect(t, "add "+ns+"/after")
	podsB.expect(t, "add "+ns+"/after")

	createConfigMap(t, client, ns, "after")
	again := newRecorder[*corev1.ConfigMap]()
	informer.Watch(b, again.Funcs())
	for range 2 {
		if e := again.next(t); !e.InitialList {
			t.Errorf("new ConfigMap registration: got %s, want the adds of a new initial list", e)
		}
	}
	if got := len(again.State()); got != 2 {
		t.Errorf("ConfigMaps listed by the new registration: got %d, want 2", got)
	}
	removed.expectNoneQueued(t)
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Errorf("WaitForSync after watching ConfigMaps again: %v", err)
	}
}

// createConfigMap creates an empty ConfigMap and fails the test on error.
func createConfigMap(t *testing.T, client kubernetes.Interface, namespace, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := client.CoreV1().ConfigMaps(namespace).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ConfigMap %s/%s: %v", namespace, name, err)
	}
}
