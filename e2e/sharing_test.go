package e2e

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStringSharing checks WithStringSharing on objects decoded from a real
// server, from both paths: the initial list and watch events. Pods cached
// from either share one copy of their image and label strings, and carry
// the same values as the server's.
func TestStringSharing(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	labels := func() map[string]string { return map[string]string{"app": "shared"} }
	listed := createPod(t, client, newPod(ns, "listed", labels()))

	rec := newRecorder[*corev1.Pod]()
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithStringSharing()
	reg := informer.Watch(b, rec.Funcs())
	startInformer(t, b)
	rec.expect(t, "add "+ns+"/listed")
	watched := createPod(t, client, newPod(ns, "watched", labels()))
	rec.expect(t, "add "+ns+"/watched")

	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	var cached [2]*corev1.Pod
	for i, want := range []*corev1.Pod{listed, watched} {
		got, err := reg.Lister().Get(ns, want.Name)
		if err != nil {
			t.Fatalf("Lister().Get(%q): %v", want.Name, err)
		}
		// The server's pod, as the default transform leaves it.
		want = want.DeepCopy()
		want.ManagedFields = nil
		if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
			t.Errorf("spec of cached pod %s differs from the server's (-server +cached):\n%s", want.Name, diff)
		}
		if diff := cmp.Diff(want.ObjectMeta, got.ObjectMeta, cmp.Comparer(func(a, b metav1.Time) bool { return a.Equal(&b) })); diff != "" {
			t.Errorf("metadata of cached pod %s differs from the server's (-server +cached):\n%s", want.Name, diff)
		}
		cached[i] = got
	}
	first, second := cached[0], cached[1]
	if !same(first.Spec.Containers[0].Image, second.Spec.Containers[0].Image) {
		t.Error("the listed and the watched pod hold two copies of their image, want one")
	}
	if !same(first.Labels["app"], second.Labels["app"]) {
		t.Error("the listed and the watched pod hold two copies of their label value, want one")
	}
	if !same(first.Namespace, second.Namespace) {
		t.Error("the listed and the watched pod hold two copies of their namespace, want one")
	}
}
