package e2e

import (
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestMetadata watches configmaps through the metadata client: events carry
// names and labels, and the cache holds *metav1.PartialObjectMetadata.
func TestMetadata(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

	rec := newRecorder[*metav1.PartialObjectMetadata]()
	// The label selector keeps out configmaps that kube-controller-manager
	// publishes in every namespace, when it runs.
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithLabelSelector("app=e2e")
	reg := informer.WatchMetadata(b, configMaps, rec.Funcs())
	startInformer(t, b)

	labels := map[string]string{"app": "e2e", "color": "red"}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings", Labels: maps.Clone(labels)},
		Data:       map[string]string{"key": "value"},
	}
	created, err := client.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating configmap settings: %v", err)
	}
	added := rec.expect(t, "add "+ns+"/settings")
	if diff := cmp.Diff(labels, added.Object.Labels); diff != "" {
		t.Errorf("labels of the added configmap (-want +got):\n%s", diff)
	}
	if got, want := added.Object.UID, created.UID; got != want {
		t.Errorf("UID of the added configmap: got %q, want %q", got, want)
	}
	checkStripped(t, "added configmap", added.Object)

	// Lister[*metav1.PartialObjectMetadata].Get checks the type of what the
	// cache holds and fails on anything else.
	cached, err := reg.Lister().Get(ns, "settings")
	if err != nil {
		t.Fatalf("Lister().Get(%q, %q): %v", ns, "settings", err)
	}
	if got, want := cached.Name, "settings"; got != want {
		t.Errorf("name of the cached configmap: got %q, want %q", got, want)
	}
	if diff := cmp.Diff(labels, cached.Labels); diff != "" {
		t.Errorf("labels of the cached configmap (-want +got):\n%s", diff)
	}

	created.Labels["color"] = "blue"
	if _, err := client.CoreV1().ConfigMaps(ns).Update(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating configmap settings: %v", err)
	}
	updated := rec.expect(t, "update "+ns+"/settings")
	if got, want := updated.OldObject.Labels["color"], "red"; got != want {
		t.Errorf("label color of the old configmap of the update: got %q, want %q", got, want)
	}
	if got, want := updated.Object.Labels["color"], "blue"; got != want {
		t.Errorf("label color of the new configmap of the update: got %q, want %q", got, want)
	}

	if err := client.CoreV1().ConfigMaps(ns).Delete(t.Context(), "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting configmap settings: %v", err)
	}
	rec.expect(t, "delete "+ns+"/settings")
	rec.expectNoneQueued(t)
	if _, err := reg.Lister().Get(ns, "settings"); !apierrors.IsNotFound(err) {
		t.Errorf("Lister().Get of the deleted configmap: got error %v, want NotFound", err)
	}
}
