package informer

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
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
