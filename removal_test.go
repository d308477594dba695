package informer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestRemoveOneRegistrationLeavesTheOthers(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	removed, kept := make(chan event, 10), make(chan event, 10)
	b := NewBuilder().WithClients(kube, nil)
	gone := Watch(b, recordingFuncs[*corev1.Pod](removed))
	Watch(b, recordingFuncs[*corev1.Pod](kept))
	started := watchStarted(kube, "pods")
	inf := startSynced(t, b)
	waitFor(t, started, "watch")
	nextEvent(t, removed)
	nextEvent(t, kept)

	if err := gone.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := kube.CoreV1().Pods("default").Create(t.Context(), pod("default", "b", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, kept); e.key != "default/b" {
		t.Errorf("kept registration: got %+v, want the add of default/b", e)
	}
	select {
	case e := <-removed:
		t.Errorf("removed registration got %+v", e)
	default:
	}
	if err := gone.Err(); !errors.Is(err, ErrRemoved) {
		t.Errorf("Err: got %v, want ErrRemoved", err)
	}
	if _, err := gone.Lister().List(nil); !errors.Is(err, ErrRemoved) {
		t.Errorf("Lister: got %v, want ErrRemoved", err)
	}
	if err := gone.Remove(t.Context()); err != nil {
		t.Errorf("second Remove: got %v, want nil", err)
	}
	st := inf.Status()
	if len(st.Informers) != 1 || len(st.Informers[0].Handlers) != 1 {
		t.Errorf("status: got %+v, want one informer with one handler", st)
	}
	if err := inf.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

func TestRemoveLastRegistrationStopsItsInformer(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	var lists atomic.Int32
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		lists.Add(1)
		return false, nil, nil
	})
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.ConfigMap]{}) // another informer, which goes on
	events := make(chan event, 10)
	reg := Watch(b, recordingFuncs[*corev1.Pod](events))
	inf := startSynced(t, b)
	nextEvent(t, events)

	if err := reg.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	st := inf.Status()
	if len(st.Informers) != 1 || st.Informers[0].Resource != "configmaps" {
		t.Errorf("status: got %+v, want only the configmaps informer", st)
	}
	if lists.Load() != 1 {
		t.Fatalf("lists of pods: got %d, want 1", lists.Load())
	}

	// Watching pods again starts a new informer with a new list.
	again := make(chan event, 10)
	Watch(b, recordingFuncs[*corev1.Pod](again))
	if e := nextEvent(t, again); e.kind != "add" || e.key != "default/a" || !e.initial {
		t.Errorf("new registration: got %+v, want the initial add of default/a", e)
	}
	if got := lists.Load(); got != 2 {
		t.Errorf("lists of pods: got %d, want 2 (a new informer lists again)", got)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Errorf("WaitForSync: %v", err)
	}
}

func TestRemovedInformerLeavesNoGoroutine(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	b := NewBuilder().WithClients(kube, nil)
	buildAndStart(t, b)
	before := goleak.IgnoreCurrent()
	events := make(chan event, 10)
	reg := Watch(b, recordingFuncs[*corev1.Pod](events))
	nextEvent(t, events)
	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	if err := reg.Remove(ctx); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left by the removed informer: %v", err)
	}
}

func TestRemoveWaitsForARunningCallbackWithinItsContext(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	entered, release := make(chan struct{}), make(chan struct{})
	b := NewBuilder().WithClients(kube, nil)
	reg := Watch(b, Funcs[*corev1.Pod]{OnAdd: func(context.Context, *corev1.Pod) {
		close(entered)
		<-release
	}})
	buildAndStart(t, b)
	waitFor(t, entered, "callback")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := reg.Remove(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Remove with a blocked callback: got %v, want the context's deadline", err)
	}
	close(release)
	if err := reg.Remove(t.Context()); err != nil {
		t.Errorf("second Remove: got %v, want nil", err)
	}
}

func TestRemoveBeforeBuildFails(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	reg := Watch(b, Funcs[*corev1.Pod]{})
	if err := reg.Remove(t.Context()); err == nil {
		t.Error("Remove before Build: got nil, want an error")
	}
}

func TestRemoveReconcilerAbandonsItsKeys(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"), pod("default", "b", "1"))
	entered, release := make(chan string, 10), make(chan struct{})
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		entered <- req.Name
		<-release
		return Result{}, nil
	})
	inf := buildAndStart(t, b)
	var first string
	select {
	case first = <-entered:
	case <-time.After(waitBound):
		t.Fatal("no reconcile")
	}
	removed := make(chan error, 1)
	go func() { removed <- rc.Remove(t.Context()) }()
	// Remove stops the workers first: wait until they stopped taking keys,
	// then let the running call return.
	deadline := time.Now().Add(waitBound)
	for !rc.stopping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not stop taking keys")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-removed; err != nil {
		t.Fatalf("Remove: %v", err)
	}
	abandoned := rc.Abandoned()
	if len(abandoned) != 1 || abandoned[0].Name == first {
		t.Errorf("abandoned: got %v, want the one key not reconciled (not %s)", abandoned, first)
	}
	if got := len(inf.Status().Informers); got != 0 {
		t.Errorf("informers after removing the only loop: got %d, want 0", got)
	}
}

func TestRemoveBeforeStartAndAfterStop(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	b := NewBuilder().WithClients(kube, nil)
	early := Watch(b, Funcs[*corev1.ConfigMap]{})
	late := Watch(b, Funcs[*corev1.Pod]{})
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := early.Remove(t.Context()); err != nil {
		t.Fatalf("Remove before Start: %v", err)
	}
	if err := inf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
	if st := inf.Status(); len(st.Informers) != 1 || st.Informers[0].Resource != "pods" {
		t.Errorf("status: got %+v, want only pods (configmaps removed before Start)", st)
	}
	if err := inf.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := late.Remove(t.Context()); err != nil {
		t.Errorf("Remove after Stop: got %v, want nil", err)
	}
}

func TestRemoveEndsTheWaitForWhatWasRemoved(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	listing := make(chan struct{}, 100)
	kube.PrependReactor("list", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		select {
		case listing <- struct{}{}:
		default:
		}
		// Never synced. (A reactor that blocks would hold the fake's lock
		// and block every other request.)
		return true, nil, errors.New("connection refused")
	})
	b := NewBuilder().WithClients(kube, nil).WithSyncTimeout(time.Hour)
	Watch(b, Funcs[*corev1.Pod]{})
	stuck := Watch(b, Funcs[*corev1.ConfigMap]{})
	inf := buildAndStart(t, b)
	waitFor(t, listing, "the configmaps list")
	synced := make(chan error, 1)
	go func() { synced <- inf.WaitForSync(t.Context()) }()
	// The next retry of the list comes about a second later: WaitForSync is
	// waiting by then, for configmaps too.
	for len(listing) > 0 {
		<-listing
	}
	waitFor(t, listing, "a retry of the configmaps list")
	select {
	case err := <-synced:
		t.Fatalf("WaitForSync returned %v while configmaps cannot sync", err)
	default:
	}

	if err := stuck.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	select {
	case err := <-synced:
		if err != nil {
			t.Errorf("WaitForSync: got %v, want nil once the stuck registration is removed", err)
		}
	case <-time.After(waitBound):
		t.Fatal("WaitForSync still waits for a removed registration")
	}
	if got := inf.Status(); len(got.Informers) != 1 {
		t.Errorf("informers: got %d, want 1 (pods)", len(got.Informers))
	}
}
