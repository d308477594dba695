package informertest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/informer-go/informer/informertest"
)

// recordingTB is a testing.TB whose Fatalf and Skipf record the message and
// end the calling goroutine, as the real ones do, without failing or
// skipping the real test. Other methods go to the real test.
type recordingTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
	skip  string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skip = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with r on a new goroutine and waits until it returns or
// exits through Fatalf or Skipf.
func (r *recordingTB) run(f func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

func (r *recordingTB) messages() (fatal, skip string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal, r.skip
}

func TestWaitForEvent(t *testing.T) {
	rec := informertest.NewRecorder[*corev1.ConfigMap]()
	funcs := rec.Funcs()
	v1, v2 := configMap("default", "a", "1"), configMap("default", "a", "2")
	go func() {
		ctx := context.Background()
		funcs.OnAdd(ctx, v1)
		funcs.OnUpdate(ctx, v1, v2)
		funcs.OnDelete(ctx, v2)
	}()
	// Waited for out of order: each wait finds its event whenever it came.
	if e := rec.WaitForEvent(t, informertest.Deleted, "default", "a"); e.Object != v2 {
		t.Errorf("delete: got object %v, want %v", e.Object, v2)
	}
	if e := rec.WaitForEvent(t, informertest.Updated, "default", "a"); e.OldObject != v1 || e.Object != v2 {
		t.Errorf("update: got %v -> %v, want %v -> %v", e.OldObject, e.Object, v1, v2)
	}
	if e := rec.WaitForEvent(t, informertest.Added, "default", "a"); e.Object != v1 || e.InitialList {
		t.Errorf("add: got object %v, initial list %v; want %v, false", e.Object, e.InitialList, v1)
	}
}

func TestWaitForEventInitialList(t *testing.T) {
	kube := informertest.NewClientset(configMap("default", "listed", "1"))
	rec := watchConfigMaps(t, kube)
	if _, err := kube.CoreV1().ConfigMaps("default").Create(t.Context(), configMap("default", "created", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, tt := range []struct {
		name        string
		initialList bool
	}{
		{"listed", true},
		{"created", false},
	} {
		if e := rec.WaitForEvent(t, informertest.Added, "default", tt.name); e.InitialList != tt.initialList {
			t.Errorf("add of %s: got InitialList %v, want %v", tt.name, e.InitialList, tt.initialList)
		}
	}
}

func TestWaitForEventReturnsEachEventOnce(t *testing.T) {
	rec := informertest.NewRecorder[*corev1.ConfigMap](informertest.WithWaitTimeout(50 * time.Millisecond))
	funcs := rec.Funcs()
	v1, v2, v3 := configMap("default", "a", "1"), configMap("default", "a", "2"), configMap("default", "a", "3")
	funcs.OnUpdate(context.Background(), v1, v2)
	funcs.OnUpdate(context.Background(), v2, v3)
	for _, want := range []*corev1.ConfigMap{v2, v3} {
		if e := rec.WaitForEvent(t, informertest.Updated, "default", "a"); e.Object != want {
			t.Errorf("update: got %s, want v=%s", e, want.Labels["v"])
		}
	}
	tb := &recordingTB{TB: t}
	tb.run(func(tb testing.TB) { rec.WaitForEvent(tb, informertest.Updated, "default", "a") })
	fatal, _ := tb.messages()
	if want := "[returned by an earlier WaitForEvent]"; !strings.Contains(fatal, want) {
		t.Errorf("third wait for an update: got failure %q, want one containing %q", fatal, want)
	}
}

func TestWaitForEventTimeout(t *testing.T) {
	rec := informertest.NewRecorder[*corev1.ConfigMap](informertest.WithWaitTimeout(20 * time.Millisecond))
	a := configMap("default", "a", "1")
	a.ResourceVersion = "5"
	rec.Funcs().OnAdd(context.Background(), a)

	tb := &recordingTB{TB: t}
	returned := false
	tb.run(func(tb testing.TB) {
		rec.WaitForEvent(tb, informertest.Deleted, "default", "missing")
		returned = true
	})
	if returned {
		t.Fatalf("WaitForEvent returned, want it to fail the test")
	}
	fatal, _ := tb.messages()
	for _, want := range []string{
		"no delete event for default/missing",
		"wait timed out after 20ms",
		"1 event(s) recorded:",
		"\tadd default/a rv=5",
	} {
		if !strings.Contains(fatal, want) {
			t.Errorf("failure message: got %q, want it to contain %q", fatal, want)
		}
	}
}

func TestWaitFor(t *testing.T) {
	atLeast := func(n int) func([]informertest.Event[*corev1.ConfigMap]) bool {
		return func(events []informertest.Event[*corev1.ConfigMap]) bool { return len(events) >= n }
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		events  int
		cond    func([]informertest.Event[*corev1.ConfigMap]) bool
		wantErr error // nil: success
	}{
		{"condition met", context.Background(), 3, atLeast(3), nil},
		{"context canceled", canceled, 3, atLeast(4), context.Canceled},
		{"timeout", context.Background(), 3, atLeast(4), context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := informertest.NewRecorder[*corev1.ConfigMap](informertest.WithWaitTimeout(50 * time.Millisecond))
			if tt.wantErr == nil {
				rec = informertest.NewRecorder[*corev1.ConfigMap]()
			}
			funcs := rec.Funcs()
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := range tt.events {
					funcs.OnAdd(context.Background(), configMap("default", fmt.Sprint(i), "1"))
				}
			})
			defer wg.Wait()
			err := rec.WaitFor(tt.ctx, tt.cond)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("WaitFor: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestState(t *testing.T) {
	a1, a2 := configMap("default", "a", "1"), configMap("default", "a", "2")
	b := configMap("default", "b", "1")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	ctx := context.Background()
	tests := []struct {
		name   string
		replay func(rec *informertest.Recorder[*corev1.ConfigMap])
		want   map[string]*corev1.ConfigMap
	}{
		{"empty", func(*informertest.Recorder[*corev1.ConfigMap]) {}, map[string]*corev1.ConfigMap{}},
		{"add, update, delete", func(rec *informertest.Recorder[*corev1.ConfigMap]) {
			f := rec.Funcs()
			f.OnAdd(ctx, a1)
			f.OnAdd(ctx, b)
			f.OnUpdate(ctx, a1, a2)
			f.OnDelete(ctx, b)
		}, map[string]*corev1.ConfigMap{"default/a": a2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := informertest.NewRecorder[*corev1.ConfigMap]()
			tt.replay(rec)
			if got := rec.State(); !maps.Equal(got, tt.want) {
				t.Errorf("State: got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("cluster-scoped", func(t *testing.T) {
		rec := informertest.NewRecorder[*corev1.Node]()
		rec.Funcs().OnAdd(ctx, node)
		if got := slices.Collect(maps.Keys(rec.State())); !slices.Equal(got, []string{"n"}) {
			t.Errorf("State keys: got %q, want [n]", got)
		}
	})
}

func TestRecorderConcurrentUse(t *testing.T) {
	const goroutines, perGoroutine = 8, 50
	rec := informertest.NewRecorder[*corev1.ConfigMap]()
	funcs := rec.Funcs()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				funcs.OnAdd(context.Background(), configMap("default", fmt.Sprintf("%d-%d", g, i), "1"))
				_ = rec.Events()
			}
		})
	}
	err := rec.WaitFor(t.Context(), func(events []informertest.Event[*corev1.ConfigMap]) bool {
		return len(events) == goroutines*perGoroutine
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	if got := len(rec.State()); got != goroutines*perGoroutine {
		t.Errorf("State: got %d objects, want %d", got, goroutines*perGoroutine)
	}
}
