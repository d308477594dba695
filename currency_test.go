package informer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"
)

// currencyRecorder keeps what a currency reported.
type currencyRecorder struct {
	mu      sync.Mutex
	errs    []error
	changes []StalenessChange
}

func (r *currencyRecorder) onError(_ context.Context, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *currencyRecorder) onChange(change StalenessChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, change)
}

func (r *currencyRecorder) recorded() []StalenessChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StalenessChange(nil), r.changes...)
}

func TestCurrencyFollowsListsAndWatches(t *testing.T) {
	const bound = time.Minute
	start := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakeClock(start)
	rec := &currencyRecorder{}
	c := newCurrency(clock, bound, nil, "pods", rec.onError, rec.onChange)
	t.Cleanup(func() { c.stop(); c.wait() })

	if got := c.state(); got.watching || got.everCurrent || !got.since.Equal(start) {
		t.Fatalf("new: got %+v, want not watching since creation", got)
	}
	clock.Step(2 * bound)
	if got := c.staleFor(clock.Now()); got != 0 {
		t.Errorf("never synced: stale for %v, want 0 (a cache that never synced is unsynced, not stale)", got)
	}

	// A list, then a watch: current since the list ended.
	c.listed(t.Context(), nil)
	listedAt := clock.Now()
	clock.Step(time.Second)
	w := c.watchOpened(watch.NewFake())
	if got := c.state(); !got.watching || !got.since.Equal(listedAt) {
		t.Fatalf("after list and watch: got %+v, want watching since the list at %v", got, listedAt)
	}
	// A quiet resource: no events for far longer than the bound.
	clock.Step(10 * bound)
	if got := c.staleFor(clock.Now()); got != 0 {
		t.Errorf("quiet open watch: stale for %v, want 0", got)
	}
	if got := rec.recorded(); len(got) != 0 {
		t.Errorf("quiet open watch: got changes %+v, want none", got)
	}

	// The watch ends; the re-watch fails.
	w.Stop()
	lostAt := clock.Now()
	forbidden := errors.New("forbidden")
	c.watchFailed(t.Context(), forbidden)
	if len(rec.errs) != 1 || rec.errs[0] != forbidden {
		t.Errorf("errors: got %v, want the watch's", rec.errs)
	}
	clock.Step(bound - time.Second)
	if got := c.staleFor(clock.Now()); got != 0 {
		t.Errorf("within the bound: stale for %v, want 0", got)
	}
	if got := rec.recorded(); len(got) != 0 {
		t.Errorf("within the bound: got changes %+v, want none", got)
	}
	clock.Step(2 * time.Second)
	wantChanges(t, rec, 1)
	if got := c.staleFor(clock.Now()); got != bound+time.Second {
		t.Errorf("past the bound: stale for %v, want %v", got, bound+time.Second)
	}
	if got := rec.recorded()[0]; !got.Stale || !got.NoWatchSince.Equal(lostAt) || got.Duration != bound {
		t.Errorf("stale change: got %+v, want stale since %v after %v", got, lostAt, bound)
	}

	// Retries go on; staleness is said once.
	clock.Step(10 * bound)
	c.listed(t.Context(), nil) // a list alone does not make it current
	if got := c.staleFor(clock.Now()); got == 0 {
		t.Error("after a list without a watch: not stale, want stale until a watch opens")
	}
	c.watchOpened(watch.NewFake())
	wantChanges(t, rec, 2)
	got := rec.recorded()
	if len(got) != 2 {
		t.Fatalf("changes: got %+v, want stale then current, once each", got)
	}
	if want := clock.Now().Sub(lostAt); got[1].Stale || got[1].Duration != want {
		t.Errorf("current change: got %+v, want current after %v without a watch", got[1], want)
	}
	if st := c.state(); !st.watching || c.staleFor(clock.Now()) != 0 {
		t.Errorf("after recovery: got %+v, want watching and not stale", st)
	}
}

func TestCurrencyWithoutBoundIsNeverStale(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Now())
	rec := &currencyRecorder{}
	c := newCurrency(clock, 0, nil, "pods", rec.onError, rec.onChange)
	c.watchOpened(watch.NewFake()).Stop()
	clock.Step(time.Hour)
	if got := c.staleFor(clock.Now()); got != 0 {
		t.Errorf("stale for %v with the bound off, want 0", got)
	}
	if clock.HasWaiters() {
		t.Error("a timer is armed with the bound off")
	}
	c.stop()
	c.wait()
}

func TestCurrencyStopDisarms(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Now())
	rec := &currencyRecorder{}
	c := newCurrency(clock, time.Second, nil, "pods", rec.onError, rec.onChange)
	c.watchOpened(watch.NewFake()).Stop()
	c.stop()
	c.wait()
	clock.Step(time.Hour)
	if got := rec.recorded(); len(got) != 0 {
		t.Errorf("changes after stop: got %+v, want none", got)
	}
}

// wantChanges fails unless rec has n changes: the fake clock runs a timer's
// callback within Step.
func wantChanges(t *testing.T, rec *currencyRecorder, n int) {
	t.Helper()
	if got := rec.recorded(); len(got) != n {
		t.Fatalf("got changes %+v, want %d", got, n)
	}
}

func initialEventsEnd() watch.Event {
	bookmark := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		ResourceVersion: "10", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"},
	}}
	return watch.Event{Type: watch.Bookmark, Object: bookmark}
}

func TestStreamingListIsCurrentFromItsBookmark(t *testing.T) {
	inner := watch.NewFake()
	var opens, closes atomic.Int32
	w := newInitialEventsWatch(inner, func() { opens.Add(1) }, func() { closes.Add(1) })

	go func() {
		inner.Add(pod("default", "a", "1"))
		inner.Action(initialEventsEnd().Type, initialEventsEnd().Object)
		inner.Add(pod("default", "b", "1"))
	}()
	first := <-w.ResultChan()
	if first.Type != watch.Added || opens.Load() != 0 {
		t.Fatalf("first event: got %v with %d opens, want an add before the watch counts as open", first.Type, opens.Load())
	}
	if e := <-w.ResultChan(); !isInitialEventsEnd(e) {
		t.Fatalf("second event: got %v, want the initial-events-end bookmark", e.Type)
	}
	if e := <-w.ResultChan(); e.Type != watch.Added {
		t.Fatalf("third event: got %v, want the add after the bookmark", e.Type)
	}
	if got := opens.Load(); got != 1 {
		t.Errorf("opens after the bookmark: got %d, want 1", got)
	}
	w.Stop()
	w.Stop()
	if got := closes.Load(); got != 1 {
		t.Errorf("closes: got %d, want 1", got)
	}
}

func TestStreamingListStoppedBeforeItsBookmarkNeverOpens(t *testing.T) {
	inner := watch.NewFake()
	var opens, closes atomic.Int32
	w := newInitialEventsWatch(inner, func() { opens.Add(1) }, func() { closes.Add(1) })
	go inner.Add(pod("default", "a", "1"))
	<-w.ResultChan()
	w.Stop()
	if _, ok := <-w.ResultChan(); ok {
		t.Error("result channel still open after Stop and the end of the stream")
	}
	if opens.Load() != 0 || closes.Load() != 0 {
		t.Errorf("opens, closes: got %d, %d, want 0, 0", opens.Load(), closes.Load())
	}
}
