package informer

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// directRegistration returns a registration whose callbacks the test calls
// itself, as client-go would.
func directRegistration(events chan event, opts ...WatchOption) *Registration[*corev1.Pod] {
	r := &Registration[*corev1.Pod]{funcs: recordingFuncs[*corev1.Pod](events), name: "test"}
	for _, opt := range opts {
		opt(&r.opts)
	}
	r.contexts = newEventContexts(context.Background())
	return r
}

func withRV(p *corev1.Pod, rv string) *corev1.Pod {
	p.ResourceVersion = rv
	return p
}

func TestNoOpUpdatesAreSkipped(t *testing.T) {
	same := pod("default", "a", "1")
	tests := []struct {
		name     string
		old, new *corev1.Pod
		wantCall bool
	}{
		{"same object (resync)", same, same, false},
		{"same resourceVersion", withRV(pod("default", "a", "1"), "5"), withRV(pod("default", "a", "2"), "5"), false},
		{"new resourceVersion", withRV(pod("default", "a", "1"), "5"), withRV(pod("default", "a", "1"), "6"), true},
		{"no resourceVersion, equal", pod("default", "a", "1"), pod("default", "a", "1"), false},
		{"no resourceVersion, changed", pod("default", "a", "1"), pod("default", "a", "2"), true},
		{"one resourceVersion missing, changed", withRV(pod("default", "a", "1"), "5"), pod("default", "a", "2"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, deliverNoOps := range []bool{false, true} {
				events := make(chan event, 1)
				var opts []WatchOption
				if deliverNoOps {
					opts = append(opts, DeliverNoOpUpdates())
				}
				directRegistration(events, opts...).onUpdate(tt.old, tt.new)
				want := tt.wantCall || deliverNoOps
				if got := len(events) == 1; got != want {
					t.Errorf("DeliverNoOpUpdates=%v: handler called: got %v, want %v", deliverNoOps, got, want)
				}
			}
		})
	}
}

func TestDeletesUnwrapTombstones(t *testing.T) {
	last := pod("default", "a", "7")
	tests := []struct {
		name    string
		deleted cache.DeletedObject[*corev1.Pod]
		want    event
	}{
		{"plain delete", cache.DeletedObject[*corev1.Pod]{OptionalObj: last},
			event{kind: "delete", key: "default/a", newLabel: "7"}},
		{"tombstone with last state", cache.DeletedObject[*corev1.Pod]{
			OptionalObj:       last,
			FinalStateUnknown: &cache.DeletedFinalStateUnknown{Key: "default/a", Obj: last},
		}, event{kind: "delete", key: "default/a", tombstone: true, newLabel: "7"}},
		{"tombstone without state", cache.DeletedObject[*corev1.Pod]{
			FinalStateUnknown: &cache.DeletedFinalStateUnknown{Key: "default/a"},
		}, event{kind: "delete", key: "default/a", tombstone: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make(chan event, 1)
			directRegistration(events).onDelete(tt.deleted)
			if diff := cmp.Diff(tt.want, <-events, cmp.AllowUnexported(event{})); diff != "" {
				t.Errorf("delete event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddReportsInitialList(t *testing.T) {
	events := make(chan event, 2)
	r := directRegistration(events)
	r.onAdd(pod("default", "a", "1"), true)
	r.onAdd(pod("default", "b", "1"), false)
	if got := <-events; !got.initial {
		t.Errorf("add from initial list: IsInitialList false")
	}
	if got := <-events; got.initial {
		t.Errorf("later add: IsInitialList true")
	}
}

func TestNilCallbacksAreNoOps(t *testing.T) {
	r := &Registration[*corev1.Pod]{contexts: newEventContexts(context.Background())}
	p := pod("default", "a", "1")
	r.onAdd(p, true)
	r.onUpdate(p, pod("default", "a", "2"))
	r.onDelete(cache.DeletedObject[*corev1.Pod]{OptionalObj: p})
	if got := r.Stats().Delivered; got != 0 {
		t.Errorf("delivered: got %d, want 0 for nil callbacks", got)
	}
	// The backlog counts events a registration has not reached, whether or
	// not it has a callback for them.
	if got := r.seen.Load(); got != 3 {
		t.Errorf("events seen: got %d, want 3 (add, update, delete) with nil callbacks", got)
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
				// Twice: transforms must be idempotent.
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
			// Twice: transforms must be idempotent.
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
