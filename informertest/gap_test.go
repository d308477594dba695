package informertest_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/informer-go/informer/informertest"
)

// holdBound bounds how long a test waits for a held watch to be requested.
const holdBound = 30 * time.Second

// watchFake is what holdFirstWatch needs of a fake clientset: both
// *fake.Clientset and *informertest.Clientset have it.
type watchFake interface {
	kubernetes.Interface
	PrependWatchReactor(resource string, reaction clienttesting.WatchReactionFunc)
	InvokesWatch(action clienttesting.Action) (watch.Interface, error)
}

// watchHold holds the first watch request on a resource. The client gets a
// watch at once, but the request reaches the clientset's own watch reactor
// only after release is closed, so that writes made meanwhile fall between
// the informer's LIST and its WATCH. The fake runs reactors under its lock,
// so a reactor cannot simply block: writes would block too.
type watchHold struct {
	requested chan struct{}
	release   chan struct{}
}

func holdFirstWatch(t *testing.T, kube watchFake, resource string) *watchHold {
	h := &watchHold{requested: make(chan struct{}, 1), release: make(chan struct{})}
	var held atomic.Bool
	kube.PrependWatchReactor(resource, func(action clienttesting.Action) (bool, watch.Interface, error) {
		if !held.CompareAndSwap(false, true) {
			// Later watches, and the held one once released, go on to
			// the clientset's own reactor.
			return false, nil, nil
		}
		h.requested <- struct{}{}
		return true, newHeldWatch(t, kube, action, h.release), nil
	})
	return h
}

// waitRequested waits until the held watch was requested.
func (h *watchHold) waitRequested(t *testing.T) {
	t.Helper()
	select {
	case <-h.requested:
	case <-time.After(holdBound):
		t.Fatalf("no watch requested within %v", holdBound)
	}
}

// heldWatch forwards the events of the watch it opens once released.
type heldWatch struct {
	result   chan watch.Event
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func newHeldWatch(t *testing.T, kube watchFake, action clienttesting.Action, release <-chan struct{}) *heldWatch {
	w := &heldWatch{result: make(chan watch.Event), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer close(w.result)
		select {
		case <-release:
		case <-w.stop:
			return
		}
		inner, err := kube.InvokesWatch(action)
		if err != nil {
			t.Errorf("opening the held watch: %v", err)
			return
		}
		defer inner.Stop()
		for {
			select {
			case e, ok := <-inner.ResultChan():
				if !ok {
					return
				}
				select {
				case w.result <- e:
				case <-w.stop:
					return
				}
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

func (w *heldWatch) ResultChan() <-chan watch.Event { return w.result }

func (w *heldWatch) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// describe renders an event as "kind key v=label", with "v=old->new" for
// updates.
func describe(e informertest.Event[*corev1.ConfigMap]) string {
	if e.Kind == informertest.Updated {
		return fmt.Sprintf("%s %s v=%s->%s", e.Kind, e.Key(), e.OldObject.Labels["v"], e.Object.Labels["v"])
	}
	return fmt.Sprintf("%s %s v=%s", e.Kind, e.Key(), e.Object.Labels["v"])
}

// TestWritesBetweenListAndWatch holds the informer's WATCH until writes
// made after its LIST are done, and compares what the handler saw with
// client-go's fake and with informertest's.
func TestWritesBetweenListAndWatch(t *testing.T) {
	setLabel := func(ctx context.Context, kube kubernetes.Interface, version string) error {
		cm, err := kube.CoreV1().ConfigMaps("default").Get(ctx, "target", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		cm.Labels["v"] = version
		_, err = kube.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
		return err
	}
	create := func(ctx context.Context, kube kubernetes.Interface) error {
		_, err := kube.CoreV1().ConfigMaps("default").Create(ctx, configMap("default", "target", "1"), metav1.CreateOptions{})
		return err
	}
	del := func(ctx context.Context, kube kubernetes.Interface) error {
		return kube.CoreV1().ConfigMaps("default").Delete(ctx, "target", metav1.DeleteOptions{})
	}
	tests := []struct {
		name      string
		exists    bool // "target" exists before the informer starts
		gap       []func(context.Context, kubernetes.Interface) error
		want      []string // with informertest.NewClientset
		wantPlain []string // with fake.NewClientset
	}{
		{
			name:      "create",
			gap:       []func(context.Context, kubernetes.Interface) error{create},
			want:      []string{"add default/target v=1"},
			wantPlain: []string{"add default/target v=1"},
		},
		{
			name:   "update",
			exists: true,
			gap: []func(context.Context, kubernetes.Interface) error{
				func(ctx context.Context, kube kubernetes.Interface) error { return setLabel(ctx, kube, "2") },
			},
			want:      []string{"update default/target v=1->2"},
			wantPlain: []string{"update default/target v=1->2"},
		},
		{
			name:      "delete",
			exists:    true,
			gap:       []func(context.Context, kubernetes.Interface) error{del},
			want:      []string{"delete default/target v=1"},
			wantPlain: nil,
		},
		{
			name:   "two updates",
			exists: true,
			gap: []func(context.Context, kubernetes.Interface) error{
				func(ctx context.Context, kube kubernetes.Interface) error { return setLabel(ctx, kube, "2") },
				func(ctx context.Context, kube kubernetes.Interface) error { return setLabel(ctx, kube, "3") },
			},
			want:      []string{"update default/target v=1->2", "update default/target v=2->3"},
			wantPlain: []string{"update default/target v=1->3"},
		},
		{
			name:      "create then delete",
			gap:       []func(context.Context, kubernetes.Interface) error{create, del},
			want:      []string{"add default/target v=1", "delete default/target v=1"},
			wantPlain: nil,
		},
	}
	clients := []struct {
		name string
		new  func(objects ...runtime.Object) watchFake
		want func(i int) []string
	}{
		{"informertest", func(o ...runtime.Object) watchFake { return informertest.NewClientset(o...) }, func(i int) []string { return tests[i].want }},
		{"client-go fake", func(o ...runtime.Object) watchFake { return fake.NewClientset(o...) }, func(i int) []string { return tests[i].wantPlain }},
	}
	for _, client := range clients {
		for i, tt := range tests {
			t.Run(client.name+"/"+tt.name, func(t *testing.T) {
				objects := []runtime.Object{configMap("default", "other", "1")}
				if tt.exists {
					objects = append(objects, configMap("default", "target", "1"))
				}
				kube := client.new(objects...)
				hold := holdFirstWatch(t, kube, "configmaps")
				rec := watchConfigMaps(t, kube)
				hold.waitRequested(t)

				for _, write := range tt.gap {
					if err := write(t.Context(), kube); err != nil {
						t.Fatalf("write between LIST and WATCH: %v", err)
					}
				}
				close(hold.release)
				// Events of one registration arrive in order: once the
				// sentinel's add is in, so is everything written before.
				// Its name sorts last because client-go's fake replays in
				// name order (informertest's replays in revision order).
				if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "zz-sentinel", "1"), metav1.CreateOptions{}); err != nil {
					t.Fatalf("creating the sentinel: %v", err)
				}
				rec.WaitForEvent(t, informertest.Added, "default", "zz-sentinel")

				var got []string
				for _, e := range rec.Events() {
					if e.Key() == "default/target" && !e.InitialList {
						got = append(got, describe(e))
					}
				}
				if want := client.want(i); !slices.Equal(got, want) {
					t.Errorf("events for default/target after the initial list:\ngot  %q\nwant %q", got, want)
				}
			})
		}
	}
}
