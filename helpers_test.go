package informer

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitBound bounds every wait in these tests; reaching it is a failure, not
// a synchronization point.
const waitBound = 20 * time.Second

// event is one callback as a test saw it.
type event struct {
	kind      string // add, update, delete
	key       string // namespace/name
	initial   bool
	tombstone bool
	oldLabel  string // value of label "v" on the old object (updates)
	newLabel  string // value of label "v" on the object
}

// recordingFuncs returns Funcs that send every callback to a channel.
func recordingFuncs[T Object](events chan<- event) Funcs[T] {
	key := func(obj T) string { return obj.GetNamespace() + "/" + obj.GetName() }
	return Funcs[T]{
		OnAdd: func(ctx context.Context, obj T) {
			events <- event{kind: "add", key: key(obj), initial: IsInitialList(ctx), newLabel: obj.GetLabels()["v"]}
		},
		OnUpdate: func(ctx context.Context, oldObj, newObj T) {
			events <- event{kind: "update", key: key(newObj), oldLabel: oldObj.GetLabels()["v"], newLabel: newObj.GetLabels()["v"]}
		},
		OnDelete: func(ctx context.Context, obj T) {
			events <- event{kind: "delete", key: key(obj), tombstone: IsFinalStateUnknown(ctx), newLabel: obj.GetLabels()["v"]}
		},
	}
}

// nextEvent returns the next recorded event, failing the test if none comes
// within waitBound.
func nextEvent(t *testing.T, events <-chan event) event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(waitBound):
		t.Fatalf("no event within %v", waitBound)
		return event{}
	}
}

// watchStarted makes the fake clientset signal when a watch on resource is
// open, so that a test creates objects only once the informer can see them
// (client-go's fake loses deletes made between LIST and WATCH).
func watchStarted(kube *fake.Clientset, resource string) <-chan struct{} {
	started := make(chan struct{}, 16)
	kube.PrependWatchReactor(resource, func(action clienttesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(action.GetResource(), action.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		started <- struct{}{}
		return true, w, nil
	})
	return started
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitBound):
		t.Fatalf("%s did not happen within %v", what, waitBound)
	}
}

func pod(namespace, name, version string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Labels: map[string]string{"v": version},
	}}
}

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// buildAndStart builds and starts, and stops at the end of the test
// (Stop is idempotent: a test may stop earlier and check the result).
func buildAndStart(t *testing.T, b *Builder) *Informer {
	t.Helper()
	inf, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = inf.Stop() })
	if err := inf.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return inf
}

// startSynced builds, starts and syncs, and stops at the end of the test,
// failing it if Stop fails.
func startSynced(t *testing.T, b *Builder) *Informer {
	t.Helper()
	inf := buildAndStart(t, b)
	t.Cleanup(func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
	return inf
}
