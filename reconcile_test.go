package informer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// fastRetries retries failed keys after 1-10 ms instead of client-go's
// default 5 ms to 1000 s, so retry tests take milliseconds.
func fastRetries() WatchOption {
	return RateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[cache.ObjectName](time.Millisecond, 10*time.Millisecond))
}

// calls records reconcile calls and lets a test wait for them.
type calls struct {
	mu   sync.Mutex
	keys []string
	seen chan string
}

func newCalls() *calls { return &calls{seen: make(chan string, 1000)} }

func (c *calls) record(key string) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	c.seen <- key
}

func (c *calls) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.keys {
		if k == key {
			n++
		}
	}
	return n
}

// next waits for the next call and returns its key.
func (c *calls) next(t *testing.T) string {
	t.Helper()
	select {
	case key := <-c.seen:
		return key
	case <-time.After(waitBound):
		t.Fatalf("no reconcile within %v", waitBound)
		return ""
	}
}

// waitIdle waits until the loop has nothing queued or running.
func waitIdle[T Object](t *testing.T, rc *Reconciler[T]) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for rc.Stats().Queued > 0 || rc.running() || rc.reg.Stats().Backlog > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reconcile loop not idle within %v: %+v", waitBound, rc.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReconcileReadsTheCacheAndSeesDeletes(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	c := newCalls()
	type seen struct {
		label   string
		found   bool
		lastKey string
	}
	results := make(chan seen, 10)
	b := NewBuilder().WithClients(kube, nil)
	Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		p, err := req.Get()
		switch {
		case err == nil:
			results <- seen{label: p.Labels["v"], found: true}
		case apierrors.IsNotFound(err):
			last, ok := req.LastKnown()
			s := seen{}
			if ok {
				s.lastKey, s.label = last.Namespace+"/"+last.Name, last.Labels["v"]
			}
			results <- s
		default:
			return Result{}, err
		}
		c.record(req.String())
		return Result{}, nil
	})
	started := watchStarted(kube, "pods")
	startSynced(t, b)
	waitFor(t, started, "watch")

	next := func() seen {
		t.Helper()
		select {
		case s := <-results:
			return s
		case <-time.After(waitBound):
			t.Fatalf("no reconcile within %v", waitBound)
			return seen{}
		}
	}
	if got := next(); !got.found || got.label != "1" {
		t.Errorf("first reconcile: got %+v, want pod a with v=1 from the cache", got)
	}
	if err := kube.CoreV1().Pods("default").Delete(t.Context(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got.found || got.lastKey != "default/a" || got.label != "1" {
		t.Errorf("after delete: got %+v, want not found with the last known state default/a v=1", got)
	}
}

func TestReconcileCollapsesEventsOfAQueuedKey(t *testing.T) {
	kube := fake.NewClientset(pod("default", "block", "1"), pod("default", "x", "1"))
	c := newCalls()
	release := make(chan struct{})
	blocked := make(chan struct{})
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		if req.Name == "block" {
			close(blocked)
			<-release
		}
		c.record(req.Name)
		return Result{}, nil
	})
	started := watchStarted(kube, "pods")
	startSynced(t, b)
	waitFor(t, started, "watch")
	waitFor(t, blocked, "reconcile of block")
	// The one worker is held on "block" (the first key of the initial
	// list, or the second after x). Three updates of x while it waits.
	for i := range 3 {
		if _, err := kube.CoreV1().Pods("default").Update(t.Context(), pod("default", "x", fmt.Sprint(i+2)), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Every event handed to the queue: two adds and three updates whose
	// callbacks (which enqueue) returned.
	deadline := time.Now().Add(waitBound)
	for rc.reg.Stats().Delivered < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("events not handed to the queue: %+v", rc.reg.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	xBefore := c.count("x")
	close(release)
	waitIdle(t, rc)
	if got := c.count("x") - xBefore; got != 1 {
		t.Errorf("reconciles of x after three queued updates: got %d, want 1", got)
	}
}

func TestReconcileNeverRunsOneKeyTwiceAtOnce(t *testing.T) {
	kube := fake.NewClientset()
	var running sync.Map // key -> *atomic.Int32
	var overlaps, total atomic.Int64
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		n, _ := running.LoadOrStore(req.Name, new(atomic.Int32))
		if n.(*atomic.Int32).Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(100 * time.Microsecond) // widen the window an overlap would need
		n.(*atomic.Int32).Add(-1)
		total.Add(1)
		return Result{}, nil
	}, Workers(4))
	startSynced(t, b)
	pods := kube.CoreV1().Pods("default")
	for i := range 4 {
		if _, err := pods.Create(t.Context(), pod("default", fmt.Sprint("p", i), "0"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 50 {
		for i := range 4 {
			if _, err := pods.Update(t.Context(), pod("default", fmt.Sprint("p", i), fmt.Sprint(round)), metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitIdle(t, rc)
	if got := overlaps.Load(); got != 0 {
		t.Errorf("calls that overlapped another call of the same key: got %d, want 0 (of %d calls)", got, total.Load())
	}
}

func TestReconcileRetriesWithBackoffThenDrops(t *testing.T) {
	kube := fake.NewClientset(pod("default", "bad", "1"))
	c := newCalls()
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		c.record(req.Name)
		return Result{}, errors.New("conflict")
	}, MaxRetries(2), fastRetries())
	startSynced(t, b)
	for range 3 {
		c.next(t)
	}
	waitIdle(t, rc)
	got := rc.Stats()
	want := ReconcileStats{Reconciles: 3, Errors: 3, Retries: 2, Dropped: 1}
	if got != want {
		t.Errorf("stats: got %+v, want %+v (the first try and two retries, then dropped)", got, want)
	}
	if n := c.count("bad"); n != 3 {
		t.Errorf("calls: got %d, want 3", n)
	}
}

func TestReconcileRequeueAfterIsNotAFailure(t *testing.T) {
	kube := fake.NewClientset(pod("default", "later", "1"))
	c := newCalls()
	var first atomic.Bool
	first.Store(true)
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		c.record(req.Name)
		if first.Swap(false) {
			return Result{RequeueAfter: 10 * time.Millisecond}, nil
		}
		return Result{}, nil
	}, MaxRetries(0))
	startSynced(t, b)
	c.next(t)
	c.next(t) // called again after RequeueAfter, though MaxRetries is 0
	waitIdle(t, rc)
	if got, want := rc.Stats(), (ReconcileStats{Reconciles: 2, Requeues: 1}); got != want {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}
}

func TestReconcilePanicIsRecoveredAndRetried(t *testing.T) {
	kube := fake.NewClientset(pod("default", "p", "1"))
	c := newCalls()
	var first atomic.Bool
	first.Store(true)
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		defer c.record(req.Name)
		if first.Swap(false) {
			panic("boom")
		}
		return Result{}, nil
	}, fastRetries())
	startSynced(t, b)
	c.next(t)
	c.next(t)
	waitIdle(t, rc)
	if got, want := rc.Stats(), (ReconcileStats{Reconciles: 2, Errors: 1, Panics: 1, Retries: 1}); got != want {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}
}

func TestReconcileStopAbandonsQueuedKeys(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"), pod("default", "b", "1"), pod("default", "c", "1"))
	entered := make(chan string, 10)
	release := make(chan struct{})
	b := NewBuilder().WithClients(kube, nil)
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		entered <- req.Name
		<-release
		return Result{}, nil
	})
	// The handler's context ends when Stop begins, after the loop stopped
	// taking keys: then the running call may return.
	Watch(b, Funcs[*corev1.Pod]{OnAdd: func(ctx context.Context, _ *corev1.Pod) {
		context.AfterFunc(ctx, func() { closeOnce(release) })
	}})
	inf := buildAndStart(t, b)
	var first string
	select {
	case first = <-entered:
	case <-time.After(waitBound):
		t.Fatal("no reconcile")
	}
	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	var abandoned []string
	for _, req := range rc.Abandoned() {
		abandoned = append(abandoned, req.Name)
	}
	want := []string{"a", "b", "c"}
	want = slices.DeleteFunc(want, func(name string) bool { return name == first })
	if !slices.Equal(abandoned, want) {
		t.Errorf("abandoned: got %v, want %v (all but %s, which was running and finished)", abandoned, want, first)
	}
}

var closeMu sync.Mutex

func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func TestReconcileOptionsOnWatchAreAnError(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	Watch(b, Funcs[*corev1.Pod]{}, Workers(2))
	if _, err := b.Build(); err == nil {
		t.Fatal("Build: got nil, want an error for Workers on Watch")
	}
	b = NewBuilder().WithClients(fake.NewClientset(), nil)
	Reconcile(b, func(context.Context, Request[*corev1.Pod]) (Result, error) { return Result{}, nil }, Workers(0))
	if _, err := b.Build(); err == nil {
		t.Fatal("Build: got nil, want an error for Workers(0)")
	}
}

func TestReconcileAddedAfterStart(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := startSynced(t, b)
	c := newCalls()
	rc := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		c.record(req.Name)
		return Result{}, nil
	})
	if err := rc.Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got != "a" {
		t.Errorf("reconcile: got %q, want a", got)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Errorf("WaitForSync: %v", err)
	}
}
