package informer

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

// TestTransformSeesEachReceivedObjectOnce checks what WithTransform's doc,
// string sharing and the backlog counter rely on: client-go v0.37's
// informers call the transform once for each object received from the
// server (list items and watch events, deletes included), and never for a
// resync, which hands cached objects to handlers again.
func TestTransformSeesEachReceivedObjectOnce(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"), pod("default", "b", "1"))
	var (
		mu    sync.Mutex
		seen  = map[*corev1.Pod]int{}
		calls int
	)
	transform := func(obj any) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if p, ok := obj.(*corev1.Pod); ok {
			seen[p]++
		}
		return obj, nil
	}
	events := make(chan event, 100)
	b := NewBuilder().WithClients(kube, nil).WithTransform(transform).WithResync(time.Second)
	Watch(b, recordingFuncs[*corev1.Pod](events), DeliverNoOpUpdates())
	started := watchStarted(kube, "pods")
	startSynced(t, b)
	waitFor(t, started, "watch")
	nextEvent(t, events)
	nextEvent(t, events)

	pods := kube.CoreV1().Pods("default")
	if _, err := pods.Update(t.Context(), pod("default", "a", "2"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(t.Context(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait for the two events, then for a resync of "a" (an update whose
	// old and new objects are the cached one).
	for want := []string{"update default/a", "delete default/b"}; len(want) > 0; want = want[1:] {
		if e := nextEvent(t, events); e.kind+" "+e.key != want[0] {
			t.Fatalf("event: got %s %s, want %s", e.kind, e.key, want[0])
		}
	}
	for {
		if e := nextEvent(t, events); e.kind == "update" && e.oldLabel == e.newLabel {
			break
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if calls != 4 {
		t.Errorf("transform calls: got %d, want 4 (two listed pods, one update, one delete), none for the resync", calls)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("pod %s/%s: transformed %d times, want once", p.Namespace, p.Name, n)
		}
	}
}

func TestDefaultTransformStripsBulkyMetadata(t *testing.T) {
	newPod := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name:          "a",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{lastAppliedAnnotation: "{}", "keep": "me"},
		}}
	}
	tests := []struct {
		name            string
		s               settings
		wantManaged     bool
		wantAnnotations map[string]string
		wantLabel       string
	}{
		{"default strips", settings{}, false, map[string]string{"keep": "me"}, ""},
		{"kept on request", settings{keepManagedFields: true}, true, map[string]string{lastAppliedAnnotation: "{}", "keep": "me"}, ""},
		{"user transform runs after", settings{transform: func(obj any) (any, error) {
			obj.(*corev1.Pod).Labels = map[string]string{"seen": "yes"}
			return obj, nil
		}}, false, map[string]string{"keep": "me"}, "yes"},
		{"sharing strings keeps values", settings{shareStrings: true}, false, map[string]string{"keep": "me"}, ""},
		{"sharing strings with managedFields kept", settings{keepManagedFields: true, shareStrings: true}, true,
			map[string]string{lastAppliedAnnotation: "{}", "keep": "me"}, ""},
		{"user transform runs after sharing", settings{shareStrings: true, transform: func(obj any) (any, error) {
			obj.(*corev1.Pod).Labels = map[string]string{"seen": "yes"}
			return obj, nil
		}}, false, map[string]string{"keep": "me"}, "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			transform := newTransform(tt.s)
			var obj any = newPod()
			if transform != nil {
				var err error
				// Twice: client-go calls it once per object, but stripping twice must not hurt.
				for range 2 {
					if obj, err = transform(obj); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := obj.(*corev1.Pod)
			if (got.ManagedFields != nil) != tt.wantManaged {
				t.Errorf("managedFields kept: got %v, want %v", got.ManagedFields != nil, tt.wantManaged)
			}
			if diff := cmp.Diff(tt.wantAnnotations, got.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if got.Labels["seen"] != tt.wantLabel {
				t.Errorf("user transform label: got %q, want %q", got.Labels["seen"], tt.wantLabel)
			}
		})
	}
}

func TestDefaultTransformStripsUnstructuredAndMetadataObjects(t *testing.T) {
	newUnstructured := func(annotations map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{
			"name":          "a",
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
			"annotations":   annotations,
		}}}
	}
	tests := []struct {
		name            string
		obj             metav1.Object
		wantAnnotations map[string]string
	}{
		{"unstructured", newUnstructured(map[string]any{lastAppliedAnnotation: "{}", "keep": "me"}), map[string]string{"keep": "me"}},
		{"unstructured, last-applied only", newUnstructured(map[string]any{lastAppliedAnnotation: "{}"}), nil},
		{"metadata", &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name:          "a",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{lastAppliedAnnotation: "{}", "keep": "me"},
		}}, map[string]string{"keep": "me"}},
	}
	transform := newTransform(settings{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: client-go calls it once per object, but stripping twice must not hurt.
			for range 2 {
				if _, err := transform(tt.obj); err != nil {
					t.Fatal(err)
				}
			}
			if got := tt.obj.GetManagedFields(); got != nil {
				t.Errorf("managedFields: got %v, want none", got)
			}
			if diff := cmp.Diff(tt.wantAnnotations, tt.obj.GetAnnotations()); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
		})
	}
}
