package informertest_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/informer-go/informer/informertest"
)

// eventBound bounds each wait for a watch event in these tests.
const eventBound = 30 * time.Second

// TestResourceVersionOnEveryWrite checks that each kind of write bumps the
// revision by one and returns an object carrying it.
func TestResourceVersionOnEveryWrite(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}}
	kube := informertest.NewClientset(configMap("default", "seed", "1"), pod)
	if got, want := kube.Revision(), int64(3); got != want {
		t.Fatalf("Revision after two initial objects: got %d, want %d", got, want)
	}
	cms := kube.CoreV1().ConfigMaps("default")
	tests := []struct {
		name  string
		write func(ctx context.Context) (metav1.Object, error) // nil object: none returned
	}{
		{"create", func(ctx context.Context) (metav1.Object, error) {
			return cms.Create(ctx, configMap("default", "a", "1"), metav1.CreateOptions{})
		}},
		{"create with generateName", func(ctx context.Context) (metav1.Object, error) {
			cm := configMap("default", "", "1")
			cm.GenerateName = "gen-"
			return cms.Create(ctx, cm, metav1.CreateOptions{})
		}},
		{"update", func(ctx context.Context) (metav1.Object, error) {
			return cms.Update(ctx, configMap("default", "a", "2"), metav1.UpdateOptions{})
		}},
		{"update with the current resourceVersion", func(ctx context.Context) (metav1.Object, error) {
			cm, err := cms.Get(ctx, "a", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			cm.Labels["v"] = "3"
			return cms.Update(ctx, cm, metav1.UpdateOptions{})
		}},
		{"update status", func(ctx context.Context) (metav1.Object, error) {
			p := pod.DeepCopy()
			p.Status.Phase = corev1.PodRunning
			return kube.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}},
		{"merge patch", func(ctx context.Context) (metav1.Object, error) {
			return cms.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"v":"5"}}}`), metav1.PatchOptions{})
		}},
		{"strategic merge patch", func(ctx context.Context) (metav1.Object, error) {
			return cms.Patch(ctx, "a", types.StrategicMergePatchType, []byte(`{"data":{"k":"v"}}`), metav1.PatchOptions{})
		}},
		{"JSON patch", func(ctx context.Context) (metav1.Object, error) {
			return cms.Patch(ctx, "a", types.JSONPatchType, []byte(`[{"op":"replace","path":"/metadata/labels/v","value":"6"}]`), metav1.PatchOptions{})
		}},
		{"apply that creates", func(ctx context.Context) (metav1.Object, error) {
			return cms.Apply(ctx, corev1apply.ConfigMap("b", "default").WithLabels(map[string]string{"v": "1"}),
				metav1.ApplyOptions{FieldManager: "test"})
		}},
		{"apply that updates", func(ctx context.Context) (metav1.Object, error) {
			return cms.Apply(ctx, corev1apply.ConfigMap("b", "default").WithLabels(map[string]string{"v": "2"}),
				metav1.ApplyOptions{FieldManager: "test"})
		}},
		{"delete", func(ctx context.Context) (metav1.Object, error) {
			return nil, cms.Delete(ctx, "a", metav1.DeleteOptions{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := kube.Revision()
			obj, err := tt.write(t.Context())
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			after := kube.Revision()
			if after != before+1 {
				t.Errorf("Revision: got %d, want %d", after, before+1)
			}
			if obj == nil {
				return
			}
			if got := revisionOf(t, obj); got != after {
				t.Errorf("resourceVersion of the returned object: got %d, want %d", got, after)
			}
			gvr := configMapsGVR
			if _, ok := obj.(*corev1.Pod); ok {
				gvr = corev1.SchemeGroupVersion.WithResource("pods")
			}
			storedObj, err := kube.Tracker().Get(gvr, "default", obj.GetName())
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			stored := storedObj.(metav1.Object)
			if got := revisionOf(t, stored); got != after {
				t.Errorf("resourceVersion of the stored object: got %d, want %d", got, after)
			}
			if stored.GetUID() == "" || stored.GetCreationTimestamp().Time.IsZero() {
				t.Errorf("stored object: got UID %q and creationTimestamp %v, want both set", stored.GetUID(), stored.GetCreationTimestamp())
			}
		})
	}
	if _, err := cms.Get(t.Context(), "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get after delete: got %v, want NotFound", err)
	}
}

func TestFailedWritesKeepTheRevision(t *testing.T) {
	kube := informertest.NewClientset(configMap("default", "a", "1"))
	cms := kube.CoreV1().ConfigMaps("default")
	stale := configMap("default", "a", "2")
	stale.ResourceVersion = "1"
	wrongUID := types.UID("not-the-uid")
	tests := []struct {
		name      string
		write     func(ctx context.Context) error
		wantError func(error) bool
	}{
		{"create of an existing name", func(ctx context.Context) error {
			_, err := cms.Create(ctx, configMap("default", "a", "1"), metav1.CreateOptions{})
			return err
		}, apierrors.IsAlreadyExists},
		{"update with a stale resourceVersion", func(ctx context.Context) error {
			_, err := cms.Update(ctx, stale, metav1.UpdateOptions{})
			return err
		}, apierrors.IsConflict},
		{"patch with a stale resourceVersion", func(ctx context.Context) error {
			_, err := cms.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"1"}}`), metav1.PatchOptions{})
			return err
		}, apierrors.IsConflict},
		{"update of a missing object", func(ctx context.Context) error {
			_, err := cms.Update(ctx, configMap("default", "missing", "1"), metav1.UpdateOptions{})
			return err
		}, apierrors.IsNotFound},
		{"delete with a stale resourceVersion", func(ctx context.Context) error {
			return cms.Delete(ctx, "a", *metav1.NewRVDeletionPrecondition("1"))
		}, apierrors.IsConflict},
		{"delete with another UID", func(ctx context.Context) error {
			return cms.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
		}, apierrors.IsConflict},
		{"delete of a missing object", func(ctx context.Context) error {
			return cms.Delete(ctx, "missing", metav1.DeleteOptions{})
		}, apierrors.IsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := kube.Revision()
			if err := tt.write(t.Context()); !tt.wantError(err) {
				t.Errorf("error: got %v, want one of the kind tested", err)
			}
			if got := kube.Revision(); got != before {
				t.Errorf("Revision: got %d, want %d (unchanged)", got, before)
			}
		})
	}
}

func TestListResourceVersion(t *testing.T) {
	kube := informertest.NewClientset(configMap("default", "a", "1"), configMap("other", "b", "2"))
	if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "c", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	tests := []struct {
		name      string
		namespace string
		selector  string
		wantNames []string
	}{
		{"all", "", "", []string{"a", "c", "b"}},
		{"namespace", "default", "", []string{"a", "c"}},
		{"label selector", "", "v=1", []string{"a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := kube.CoreV1().ConfigMaps(tt.namespace).List(t.Context(), metav1.ListOptions{LabelSelector: tt.selector})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if got, want := list.ResourceVersion, strconv.FormatInt(kube.Revision(), 10); got != want {
				t.Errorf("list resourceVersion: got %q, want %q", got, want)
			}
			var names []string
			for _, cm := range list.Items {
				names = append(names, cm.Name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("names: got %q, want %q", names, tt.wantNames)
			}
		})
	}
}

// watchEvent is a watch event as "TYPE namespace/name rv=N".
func watchEvent(e watch.Event) string {
	m := e.Object.(metav1.Object)
	return fmt.Sprintf("%s %s/%s rv=%s", e.Type, m.GetNamespace(), m.GetName(), m.GetResourceVersion())
}

// receive reads n events from w, failing the test if they do not come.
func receive(t *testing.T, w watch.Interface, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(eventBound)
	for len(got) < n {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d events %q, want %d", len(got), got, n)
			}
			got = append(got, watchEvent(e))
		case <-timeout:
			t.Fatalf("got %d events %q within %v, want %d", len(got), got, eventBound, n)
		}
	}
	return got
}

// noEventQueued fails if w delivers any event before that of a new write,
// which creates ConfigMap default/zz-sentinel. A watch delivers events in
// the order they were written, so one that should not be there comes first.
func noEventQueued(t *testing.T, kube *informertest.Clientset, w watch.Interface) {
	t.Helper()
	created, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "zz-sentinel", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the sentinel: %v", err)
	}
	want := "ADDED default/zz-sentinel rv=" + created.ResourceVersion
	if got := receive(t, w, 1); got[0] != want {
		t.Errorf("unexpected event %s, want the sentinel's %s", got[0], want)
	}
}

// historyClientset returns a Clientset with this history:
// revision 2 add default/a, 3 add other/b, 4 add default/c,
// 5 update default/a (v=2), 6 delete default/c, 7 update other/b (v=1).
func historyClientset(t *testing.T) *informertest.Clientset {
	t.Helper()
	kube := informertest.NewClientset(configMap("default", "a", "1"), configMap("other", "b", "2"))
	ctx := t.Context()
	if _, err := kube.CoreV1().ConfigMaps("default").Create(ctx, configMap("default", "c", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps("default").Update(ctx, configMap("default", "a", "2"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kube.CoreV1().ConfigMaps("default").Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps("other").Update(ctx, configMap("other", "b", "1"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return kube
}

func TestWatchReplaysFromResourceVersion(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		opts      metav1.ListOptions
		want      []string
	}{
		{"from 1", "", metav1.ListOptions{ResourceVersion: "1"}, []string{
			"ADDED default/a rv=2", "ADDED other/b rv=3", "ADDED default/c rv=4",
			"MODIFIED default/a rv=5", "DELETED default/c rv=6", "MODIFIED other/b rv=7",
		}},
		{"from 4", "", metav1.ListOptions{ResourceVersion: "4"}, []string{
			"MODIFIED default/a rv=5", "DELETED default/c rv=6", "MODIFIED other/b rv=7",
		}},
		{"from the current revision", "", metav1.ListOptions{ResourceVersion: "7"}, nil},
		{"from 4 in one namespace", "default", metav1.ListOptions{ResourceVersion: "4"}, []string{
			"MODIFIED default/a rv=5", "DELETED default/c rv=6",
		}},
		{"existing objects first, for an empty resourceVersion", "", metav1.ListOptions{}, []string{
			"ADDED default/a rv=5", "ADDED other/b rv=7",
		}},
		{"existing objects first, for resourceVersion 0", "", metav1.ListOptions{ResourceVersion: "0"}, []string{
			"ADDED default/a rv=5", "ADDED other/b rv=7",
		}},
		{"label selector: objects that start or stop matching", "", metav1.ListOptions{ResourceVersion: "1", LabelSelector: "v=1"}, []string{
			"ADDED default/a rv=2", "ADDED default/c rv=4",
			"DELETED default/a rv=5", "DELETED default/c rv=6", "ADDED other/b rv=7",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := historyClientset(t)
			w, err := kube.CoreV1().ConfigMaps(tt.namespace).Watch(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			defer w.Stop()
			got := receive(t, w, len(tt.want))
			if !slices.Equal(got, tt.want) {
				t.Errorf("replayed events:\ngot  %q\nwant %q", got, tt.want)
			}

			// Live events follow the replay, and nothing else comes first.
			if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "live", "1"), metav1.CreateOptions{}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := "ADDED default/live rv=8"
			if got := receive(t, w, 1); got[0] != want {
				t.Errorf("live event: got %q, want %q", got[0], want)
			}
		})
	}
}

func TestWatchRejectsBadRequests(t *testing.T) {
	kube := informertest.NewClientset()
	yes := true
	tests := []struct {
		name string
		opts metav1.ListOptions
	}{
		{"resourceVersion not a number", metav1.ListOptions{ResourceVersion: "abc"}},
		{"resourceVersion ahead of the revision", metav1.ListOptions{ResourceVersion: "99"}},
		{"watch-list", metav1.ListOptions{SendInitialEvents: &yes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := kube.CoreV1().ConfigMaps("").Watch(t.Context(), tt.opts)
			if err == nil {
				w.Stop()
			}
			if !apierrors.IsBadRequest(err) {
				t.Errorf("error: got %v, want BadRequest", err)
			}
		})
	}
}

// TestWatchWithoutReader writes more than client-go's fake watch holds (100
// events, then it panics) while nobody reads, then reads everything. (Each
// write costs milliseconds: client-go's field-managed tracker builds a REST
// mapper for every write.)
func TestWatchWithoutReader(t *testing.T) {
	const writes = 300
	kube := informertest.NewClientset()
	w, err := kube.CoreV1().ConfigMaps("").Watch(t.Context(), metav1.ListOptions{ResourceVersion: strconv.FormatInt(kube.Revision(), 10)})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	for i := range writes {
		if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", fmt.Sprintf("cm-%04d", i), "1"), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
	}
	got := receive(t, w, writes)
	for i, e := range got {
		want := fmt.Sprintf("ADDED default/cm-%04d rv=%d", i, i+2)
		if e != want {
			t.Fatalf("event %d: got %q, want %q", i, e, want)
		}
	}
	noEventQueued(t, kube, w)
}

func TestWatchStop(t *testing.T) {
	kube := informertest.NewClientset()
	w, err := kube.CoreV1().ConfigMaps("").Watch(t.Context(), metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	// Queued and unread when the watch stops: Stop must not wait for a reader.
	if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "a", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	w.Stop()
	w.Stop()
	if e, ok := <-w.ResultChan(); ok {
		t.Errorf("after Stop: got event %s, want a closed channel", watchEvent(e))
	}
	// Writes after Stop go nowhere and do not block.
	if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "b", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("Create after Stop: %v", err)
	}
}

func TestDeleteCollection(t *testing.T) {
	kube := informertest.NewClientset(
		configMap("default", "a", "1"), configMap("default", "b", "2"),
		configMap("default", "c", "1"), configMap("other", "d", "1"),
	)
	w, err := kube.CoreV1().ConfigMaps("").Watch(t.Context(), metav1.ListOptions{ResourceVersion: "5"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	err = kube.CoreV1().ConfigMaps("default").DeleteCollection(t.Context(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "v=1"})
	if err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	want := []string{"DELETED default/a rv=6", "DELETED default/c rv=7"}
	if got := receive(t, w, 2); !slices.Equal(got, want) {
		t.Errorf("events:\ngot  %q\nwant %q", got, want)
	}
	list, err := kube.CoreV1().ConfigMaps("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	if want := []string{"b", "d"}; !slices.Equal(names, want) {
		t.Errorf("left: got %q, want %q", names, want)
	}
	noEventQueued(t, kube, w)
}

func TestTrackerWritesAreVersioned(t *testing.T) {
	kube := informertest.NewClientset()
	w, err := kube.CoreV1().ConfigMaps("default").Watch(t.Context(), metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	if err := kube.Tracker().Add(configMap("default", "a", "1")); err != nil {
		t.Fatalf("Tracker().Add: %v", err)
	}
	if err := kube.Tracker().Delete(configMapsGVR, "default", "a"); err != nil {
		t.Fatalf("Tracker().Delete: %v", err)
	}
	want := []string{"ADDED default/a rv=2", "DELETED default/a rv=3"}
	if got := receive(t, w, 2); !slices.Equal(got, want) {
		t.Errorf("events:\ngot  %q\nwant %q", got, want)
	}
}

// TestInformerSeesUpdates checks that updates through the library arrive as
// updates, with the old and the new object.
func TestInformerSeesUpdates(t *testing.T) {
	kube := informertest.NewClientset(configMap("default", "a", "1"))
	rec := watchConfigMaps(t, kube)
	cms := kube.CoreV1().ConfigMaps("default")
	for _, version := range []string{"2", "3"} {
		if _, err := cms.Update(t.Context(), configMap("default", "a", version), metav1.UpdateOptions{}); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	for _, want := range []struct{ oldV, newV, oldRV, newRV string }{
		{"1", "2", "2", "3"},
		{"2", "3", "3", "4"},
	} {
		e := rec.WaitForEvent(t, informertest.Updated, "default", "a")
		got := struct{ oldV, newV, oldRV, newRV string }{
			e.OldObject.Labels["v"], e.Object.Labels["v"], e.OldObject.ResourceVersion, e.Object.ResourceVersion,
		}
		if got != want {
			t.Errorf("update (label v, resourceVersion): got %+v, want %+v", got, want)
		}
	}
	// The state the events rebuild is the server's.
	list, err := cms.List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	state := rec.State()
	if len(state) != len(list.Items) {
		t.Errorf("rebuilt state: got %d objects, want %d", len(state), len(list.Items))
	}
	for _, cm := range list.Items {
		if got := state["default/"+cm.Name]; got == nil || got.ResourceVersion != cm.ResourceVersion {
			t.Errorf("rebuilt state of default/%s: got %v, want resourceVersion %s", cm.Name, got, cm.ResourceVersion)
		}
	}
}
