package informer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// revocableServer is a fake clientset whose pods can be made forbidden, as
// when a RoleBinding is deleted, and whose watches the test can end, as
// when the API server restarts.
type revocableServer struct {
	kube    *fake.Clientset
	denied  atomic.Bool
	watches chan watch.Interface // each watch opened on pods
}

func newRevocableServer(objects ...runtime.Object) *revocableServer {
	s := &revocableServer{kube: fake.NewClientset(objects...), watches: make(chan watch.Interface, 100)}
	forbidden := func() error {
		return apierrors.NewForbidden(podsGVR.GroupResource(), "", errors.New(`user "watcher" cannot list resource "pods"`))
	}
	s.kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if s.denied.Load() {
			return true, nil, forbidden()
		}
		return false, nil, nil
	})
	s.kube.PrependWatchReactor("pods", func(action clienttesting.Action) (bool, watch.Interface, error) {
		if s.denied.Load() {
			return true, nil, forbidden()
		}
		w, err := s.kube.Tracker().Watch(action.GetResource(), action.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		s.watches <- w
		return true, w, nil
	})
	return s
}

func nextWatch(t *testing.T, s *revocableServer) watch.Interface {
	t.Helper()
	select {
	case w := <-s.watches:
		return w
	case <-time.After(waitBound):
		t.Fatalf("no watch opened within %v", waitBound)
		return nil
	}
}

func nextChange(t *testing.T, changes <-chan StalenessChange) StalenessChange {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(waitBound):
		t.Fatalf("no staleness change within %v", waitBound)
		return StalenessChange{}
	}
}

func TestRevokedWatchMakesReadinessFailUntilItIsBack(t *testing.T) {
	server := newRevocableServer(pod("default", "kept", "1"), pod("default", "deleted", "1"))
	changes := make(chan StalenessChange, 10)
	events := make(chan event, 100)
	b := NewBuilder().WithClients(server.kube, nil).
		// Past the reflector's first retry delay (0.8-1.6 s), so that the
		// forbidden relist has been seen when the cache turns stale.
		WithStalenessBound(2 * time.Second).
		WithStalenessHandler(func(_ context.Context, c StalenessChange) { changes <- c })
	reg := Watch(b, recordingFuncs[*corev1.Pod](events))
	inf := startSynced(t, b)
	first := nextWatch(t, server)
	nextEvent(t, events)
	nextEvent(t, events)
	if err := inf.Ready(); err != nil {
		t.Fatalf("Ready after sync: %v", err)
	}

	// The RoleBinding goes, then the watch ends (an API server restart):
	// every relist is forbidden. Meanwhile pods change on the server.
	server.denied.Store(true)
	first.Stop()
	tracker := server.kube.Tracker()
	if err := tracker.Delete(podsGVR, "default", "deleted"); err != nil {
		t.Fatal(err)
	}
	if err := tracker.Create(podsGVR, pod("default", "created", "1"), "default"); err != nil {
		t.Fatal(err)
	}

	stale := nextChange(t, changes)
	if !stale.Stale || stale.Resource != "pods" {
		t.Errorf("change: got %+v, want pods stale", stale)
	}
	waitForLastError(t, inf, ErrForbidden)
	err := inf.Ready()
	var staleErr *StaleError
	if !errors.As(err, &staleErr) || !errors.Is(err, ErrStale) || !errors.Is(err, ErrForbidden) {
		t.Fatalf("Ready while forbidden: got %v, want a StaleError wrapping ErrForbidden", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "pods: stale for ") || !strings.Contains(msg, "the identity needs list and watch on pods") {
		t.Errorf("Ready message: got %q, want it to name pods, how long, and the fix", msg)
	}
	if err := inf.Healthy(); err != nil {
		t.Errorf("Healthy while stale: got %v, want nil (restarting would not help)", err)
	}
	st := inf.Status().Informers[0]
	if st.Watching || !st.Stale || st.NoWatchSince.IsZero() || !st.Synced {
		t.Errorf("status while stale: got %+v, want synced, no watch, stale", st)
	}

	// The RoleBinding is back: the informer relists by itself, the
	// deletion made meanwhile arrives as a delete with its final state
	// unknown, and readiness returns.
	server.denied.Store(false)
	current := nextChange(t, changes)
	if current.Stale || current.Duration < 2*time.Second {
		t.Errorf("change: got %+v, want current again after at least the bound", current)
	}
	got := map[string]event{}
	for len(got) < 2 {
		e := nextEvent(t, events)
		got[e.kind+" "+e.key] = e
	}
	if e, ok := got["delete default/deleted"]; !ok || !e.tombstone {
		t.Errorf("events after recovery: got %+v, want the deletion flagged IsFinalStateUnknown", got)
	}
	if _, ok := got["add default/created"]; !ok {
		t.Errorf("events after recovery: got %+v, want the creation", got)
	}
	if err := inf.Ready(); err != nil {
		t.Errorf("Ready after recovery: got %v, want nil", err)
	}
	pods, err := reg.Lister().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, ","), "kept") || !strings.Contains(strings.Join(names, ","), "created") {
		t.Errorf("cache after recovery: got %v, want kept and created", names)
	}
}

func TestQuietOpenWatchIsNeverStale(t *testing.T) {
	server := newRevocableServer()
	clock := clocktesting.NewFakeClock(time.Now())
	changes := make(chan StalenessChange, 10)
	events := make(chan event, 10)
	b := NewBuilder().WithClients(server.kube, nil).
		WithStalenessBound(time.Minute).
		WithStalenessHandler(func(_ context.Context, c StalenessChange) { changes <- c })
	b.settings.clock = clock
	Watch(b, recordingFuncs[*corev1.Pod](events))
	inf := startSynced(t, b)
	nextWatch(t, server)
	// An event through the watch proves it is open, then nothing happens
	// for far longer than the bound.
	if _, err := server.kube.CoreV1().Pods("default").Create(t.Context(), pod("default", "a", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events)
	clock.Step(time.Hour)

	if err := inf.Ready(); err != nil {
		t.Errorf("Ready: got %v, want nil for a quiet resource with an open watch", err)
	}
	st := inf.Status().Informers[0]
	if !st.Watching || st.Stale || st.CurrentSince.IsZero() || !st.NoWatchSince.IsZero() {
		t.Errorf("status: got %+v, want watching, current, not stale", st)
	}
	select {
	case c := <-changes:
		t.Errorf("staleness change %+v for an open watch", c)
	default:
	}
}

func TestStalenessBoundOff(t *testing.T) {
	server := newRevocableServer()
	b := NewBuilder().WithClients(server.kube, nil).WithStalenessBound(0)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := startSynced(t, b)
	server.denied.Store(true)
	nextWatch(t, server).Stop()
	waitForLastError(t, inf, ErrForbidden) // the watch is gone
	if err := inf.Ready(); err != nil {
		t.Errorf("Ready with the bound off: got %v, want nil", err)
	}
	if st := inf.Status().Informers[0]; st.Watching || st.Stale {
		t.Errorf("status: got %+v, want no watch and not stale (the bound is off)", st)
	}
}

// waitForLastError waits until the first informer's last list/watch error
// is of kind want.
func waitForLastError(t *testing.T, inf *Informer, want error) {
	t.Helper()
	for {
		next := inf.errorSignal()
		if errors.Is(inf.Status().Informers[0].LastError, want) {
			return
		}
		select {
		case <-next:
		case <-time.After(waitBound):
			t.Fatalf("no %v list/watch error within %v", want, waitBound)
		}
	}
}
