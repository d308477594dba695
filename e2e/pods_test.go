package e2e

import (
	"testing"

	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// TestPodEvents follows one pod through add, update and delete, and checks
// that a pod created before Start arrives as part of the initial list.
func TestPodEvents(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	createPod(t, client, newPod(ns, "early", map[string]string{"v": "early"}))

	rec := newRecorder[*corev1.Pod]()
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
	reg := informer.Watch(b, rec.Funcs())
	startInformer(t, b)

	// WaitForSync returned: the handler has seen the whole initial list.
	early := rec.expect(t, "add "+ns+"/early")
	if !early.InitialList {
		t.Errorf("IsInitialList of the add of a pod created before Start: got false, want true")
	}
	rec.expectNoneQueued(t)

	pod := newPod(ns, "p", map[string]string{"v": "one"})
	pod.Annotations = map[string]string{lastAppliedAnnotation: `{"apiVersion":"v1","kind":"Pod"}`, "keep": "me"}
	created := createPod(t, client, pod)
	if len(created.ManagedFields) == 0 {
		t.Fatalf("the server returned pod %s without managedFields; the stripping check below would prove nothing", created.Name)
	}

	added := rec.expect(t, "add "+ns+"/p")
	if added.InitialList {
		t.Errorf("IsInitialList of the add of a pod created after sync: got true, want false")
	}
	checkStripped(t, "added pod", added.Object)
	if got, want := added.Object.Labels["v"], "one"; got != want {
		t.Errorf("label v of the added pod: got %q, want %q", got, want)
	}
	if got, want := added.Object.Annotations["keep"], "me"; got != want {
		t.Errorf("annotation keep of the added pod: got %q, want %q", got, want)
	}
	cached, err := reg.Lister().Get(ns, "p")
	if err != nil {
		t.Fatalf("Lister().Get(%q, %q): %v", ns, "p", err)
	}
	if cached.UID != added.Object.UID || cached.ResourceVersion != added.Object.ResourceVersion {
		t.Errorf("Lister().Get: got UID %s at resourceVersion %s, want %s at %s as handed to OnAdd",
			cached.UID, cached.ResourceVersion, added.Object.UID, added.Object.ResourceVersion)
	}

	relabeled := created.DeepCopy()
	relabeled.Labels["v"] = "two"
	if _, err := client.CoreV1().Pods(ns).Update(t.Context(), relabeled, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating pod p: %v", err)
	}
	updated := rec.expect(t, "update "+ns+"/p")
	if got, want := updated.OldObject.Labels["v"], "one"; got != want {
		t.Errorf("label v of the old pod of the update: got %q, want %q", got, want)
	}
	if got, want := updated.Object.Labels["v"], "two"; got != want {
		t.Errorf("label v of the new pod of the update: got %q, want %q", got, want)
	}
	if oldRV, newRV := resourceVersion(t, updated.OldObject), resourceVersion(t, updated.Object); newRV <= oldRV {
		t.Errorf("resourceVersions of the update: got old %d, new %d, want new > old", oldRV, newRV)
	}
	checkStripped(t, "old pod of the update", updated.OldObject)
	checkStripped(t, "new pod of the update", updated.Object)

	deleted := deletePod(t, client, rec, ns, "p")
	if got, want := deleted.Object.Labels["v"], "two"; got != want {
		t.Errorf("label v of the deleted pod: got %q, want %q", got, want)
	}
	checkStripped(t, "deleted pod", deleted.Object)
	if _, err := reg.Lister().Get(ns, "p"); !apierrors.IsNotFound(err) {
		t.Errorf("Lister().Get of the deleted pod: got error %v, want NotFound", err)
	}
	rec.expectNoneQueued(t)
}

// checkStripped fails if obj kept managedFields or the last-applied
// annotation, which the builder strips by default.
func checkStripped(t *testing.T, what string, obj metav1.Object) {
	t.Helper()
	if got := len(obj.GetManagedFields()); got != 0 {
		t.Errorf("managedFields of the %s: got %d entries, want none (stripped by default)", what, got)
	}
	if _, ok := obj.GetAnnotations()[lastAppliedAnnotation]; ok {
		t.Errorf("annotations of the %s: got %s, want it stripped", what, lastAppliedAnnotation)
	}
}

// TestSelectors checks that label and field selectors and the namespace
// restrict what handlers see. Each case creates the objects that must not
// arrive before an object that must: events come in order, so an unwanted
// event would come first.
func TestSelectors(t *testing.T) {
	t.Run("label", func(t *testing.T) {
		client := adminClient(t)
		ns := newNamespace(t, client)
		rec := newRecorder[*corev1.Pod]()
		b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithLabelSelector("app=match")
		reg := informer.Watch(b, rec.Funcs())
		startInformer(t, b)

		createPod(t, client, newPod(ns, "other", map[string]string{"app": "other"}))
		matching := createPod(t, client, newPod(ns, "matching", map[string]string{"app": "match"}))
		rec.expect(t, "add "+ns+"/matching")

		// Relabeling it so that it no longer matches is a delete.
		matching.Labels["app"] = "gone"
		if _, err := client.CoreV1().Pods(ns).Update(t.Context(), matching, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("relabeling pod matching: %v", err)
		}
		deleted := rec.expect(t, "delete "+ns+"/matching")
		if deleted.FinalStateUnknown {
			t.Errorf("IsFinalStateUnknown of the delete of a pod that stopped matching: got true, want false")
		}
		rec.expectNoneQueued(t)
		pods, err := reg.Lister().List(nil)
		if err != nil {
			t.Fatalf("Lister().List: %v", err)
		}
		if got := len(pods); got != 0 {
			t.Errorf("cached pods: got %d, want 0", got)
		}
	})

	t.Run("field", func(t *testing.T) {
		client := adminClient(t)
		ns := newNamespace(t, client)
		rec := newRecorder[*corev1.Pod]()
		b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).WithFieldSelector("metadata.name=x")
		reg := informer.Watch(b, rec.Funcs())
		startInformer(t, b)

		createPod(t, client, newPod(ns, "y", nil))
		createPod(t, client, newPod(ns, "x", nil))
		rec.expect(t, "add "+ns+"/x")
		if err := client.CoreV1().Pods(ns).Delete(t.Context(), "y", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod y: %v", err)
		}
		deletePod(t, client, rec, ns, "x")
		rec.expectNoneQueued(t)
		if _, err := reg.Lister().Get(ns, "y"); !apierrors.IsNotFound(err) {
			t.Errorf("Lister().Get of pod y: got error %v, want NotFound", err)
		}
	})

	t.Run("namespace", func(t *testing.T) {
		client := adminClient(t)
		ns := newNamespace(t, client)
		elsewhere := newNamespace(t, client)
		rec := newRecorder[*corev1.Pod]()
		b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
		reg := informer.Watch(b, rec.Funcs())
		startInformer(t, b)

		createPod(t, client, newPod(elsewhere, "p", nil))
		createPod(t, client, newPod(ns, "p", nil))
		rec.expect(t, "add "+ns+"/p")
		rec.expectNoneQueued(t)
		if _, err := reg.Lister().Get(elsewhere, "p"); !apierrors.IsNotFound(err) {
			t.Errorf("Lister().Get of the pod in namespace %s: got error %v, want NotFound", elsewhere, err)
		}
	})
}
