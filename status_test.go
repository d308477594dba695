package informer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// forbidList makes every LIST of resource fail with Forbidden and signals
// each attempt.
func forbidList(kube *fake.Clientset, resource string) <-chan struct{} {
	listed := make(chan struct{}, 100)
	kube.PrependReactor("list", resource, func(clienttesting.Action) (bool, runtime.Object, error) {
		select {
		case listed <- struct{}{}:
		default:
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("no rights"))
	})
	return listed
}

func TestOptionalInformerDoesNotFailSync(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	listed := forbidList(kube, "secrets")
	b := NewBuilder().WithClients(kube, nil).WithSyncTimeout(10 * time.Second)
	Watch(b, Funcs[*corev1.Pod]{}, WithName("pods-handler"))
	Watch(b, Funcs[*corev1.Secret]{}, Optional(), WithName("secrets-handler"))
	inf := startSynced(t, b) // fails the test if the optional informer blocks sync
	// The second LIST starts after the first one's error was recorded.
	waitFor(t, listed, "first LIST of secrets")
	waitFor(t, listed, "second LIST of secrets")

	if err := inf.Ready(); err != nil {
		t.Errorf("Ready: got %v, want nil with only an optional informer unsynced", err)
	}
	st := inf.Status()
	if len(st.Informers) != 2 {
		t.Fatalf("informers in status: got %d, want 2", len(st.Informers))
	}
	pods, secrets := st.Informers[0], st.Informers[1]
	if !pods.Synced || !pods.Required || pods.CachedObjects != 1 {
		t.Errorf("pods status: got %+v, want synced, required, 1 object", pods)
	}
	if secrets.Synced || secrets.Required {
		t.Errorf("secrets status: got synced=%v required=%v, want false, false", secrets.Synced, secrets.Required)
	}
	if !errors.Is(secrets.LastError, ErrForbidden) || secrets.LastErrorTime.IsZero() {
		t.Errorf("secrets last error: got %v at %v, want forbidden with a time", secrets.LastError, secrets.LastErrorTime)
	}
	if len(pods.Handlers) != 1 || pods.Handlers[0].Name != "pods-handler" || !pods.Handlers[0].Synced {
		t.Errorf("pods handlers: got %+v, want one synced pods-handler", pods.Handlers)
	}
}

func TestOptionalSharedWithRequiredStaysRequired(t *testing.T) {
	kube := fake.NewClientset()
	forbidList(kube, "pods")
	b := NewBuilder().WithClients(kube, nil).WithSyncTimeout(time.Second)
	Watch(b, Funcs[*corev1.Pod]{}, Optional())
	Watch(b, Funcs[*corev1.Pod]{})
	inf := buildAndStart(t, b)
	var syncErr *SyncError
	if err := inf.WaitForSync(t.Context()); !errors.As(err, &syncErr) {
		t.Errorf("WaitForSync: got %v, want a *SyncError for the required pods informer", err)
	}
}

func TestProbes(t *testing.T) {
	kube := fake.NewClientset()
	listed := forbidList(kube, "pods")
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	probe := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		name        string
		step        func()
		wantHealthz int
		wantReadyz  int
		wantText    string
	}{
		{"built", func() {}, 503, 503, "not started"},
		{"started, forbidden", func() {
			if err := inf.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, listed, "first LIST")
			waitFor(t, listed, "second LIST") // the first error is recorded by then
		}, 200, 503, "pods: forbidden"},
		{"stopped", func() {
			if err := inf.Stop(); err != nil {
				t.Fatal(err)
			}
		}, 503, 503, "stopped"},
	}
	for _, tt := range tests {
		tt.step()
		healthz, _ := probe(inf.HealthzHandler())
		readyz, body := probe(inf.ReadyzHandler())
		if healthz != tt.wantHealthz || readyz != tt.wantReadyz {
			t.Errorf("%s: healthz/readyz: got %d/%d, want %d/%d", tt.name, healthz, readyz, tt.wantHealthz, tt.wantReadyz)
		}
		if !strings.Contains(body, tt.wantText) {
			t.Errorf("%s: readyz body %q does not contain %q", tt.name, body, tt.wantText)
		}
	}
}

func TestReadyAfterSync(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(pod("default", "a", "1")), nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := startSynced(t, b)
	if err := inf.Ready(); err != nil {
		t.Errorf("Ready after WaitForSync: got %v, want nil", err)
	}
	if err := inf.Healthy(); err != nil {
		t.Errorf("Healthy while running: got %v, want nil", err)
	}
}

func TestFailFastEndsWaitOnLastingErrors(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	forbidList(kube, "secrets")
	// A sync timeout far beyond the test's patience: only fail-fast can end
	// the wait in time.
	b := NewBuilder().WithClients(kube, nil).WithFailFast().WithSyncTimeout(time.Hour)
	Watch(b, Funcs[*corev1.Pod]{})
	Watch(b, Funcs[*corev1.Secret]{})
	inf := buildAndStart(t, b)
	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	err := inf.WaitForSync(ctx)
	var syncErr *SyncError
	if !errors.As(err, &syncErr) || !errors.Is(err, ErrFailFast) || !errors.Is(err, ErrForbidden) {
		t.Fatalf("WaitForSync: got %v, want a *SyncError caused by ErrFailFast with a forbidden error", err)
	}
	if len(syncErr.Unsynced) != 1 || syncErr.Unsynced[0].Resource != "secrets" {
		t.Errorf("unsynced: got %+v, want only secrets", syncErr.Unsynced)
	}
}

func TestSlowHandlerBacklogIsVisibleAndDelaysNoOther(t *testing.T) {
	kube := fake.NewClientset(pod("default", "initial", "1"))
	watching := watchStarted(kube, "pods")
	entered, release := make(chan struct{}), make(chan struct{})
	caughtUp := make(chan string, 10)
	b := NewBuilder().WithClients(kube, nil)
	slow := Watch(b, Funcs[*corev1.Pod]{OnAdd: func(_ context.Context, p *corev1.Pod) {
		if p.Name == "block" {
			close(entered)
			<-release
		}
		caughtUp <- p.Name
	}}, WithName("slow"))
	fast := make(chan event, 10)
	Watch(b, recordingFuncs[*corev1.Pod](fast), WithName("fast"))
	inf := startSynced(t, b)
	waitFor(t, watching, "watch on pods")
	if got := <-caughtUp; got != "initial" {
		t.Fatalf("slow handler first add: got %q, want initial", got)
	}
	nextEvent(t, fast) // initial

	const queued = 5
	for _, name := range []string{"block", "q1", "q2", "q3", "q4", "q5"} {
		if _, err := kube.CoreV1().Pods("default").Create(t.Context(), pod("default", name, "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, entered, "slow handler blocked")
	for range queued + 1 {
		nextEvent(t, fast) // the fast handler is not held up by the slow one
	}
	if got := slow.Stats(); got.Backlog != queued || !got.Running {
		t.Errorf("slow handler stats: got %+v, want backlog %d and 1 running", got, queued)
	}
	if got := inf.Status().Informers[0].Handlers[1].Backlog; got != 0 {
		t.Errorf("fast handler backlog: got %d, want 0", got)
	}

	close(release)
	for range queued + 1 {
		<-caughtUp
	}
	// A handler counts a callback as finished only after it returned, which
	// is after its last send: Stop waits for that.
	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := slow.Stats(); got.Backlog != 0 || got.Running {
		t.Errorf("slow handler stats after catching up: got %+v, want no backlog, none running", got)
	}
}

func TestLateRegistrationBacklogIsUnknown(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(pod("default", "a", "1")), nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := startSynced(t, b)
	late := Watch(b, Funcs[*corev1.Pod]{})
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := late.Stats().Backlog; got != -1 {
		t.Errorf("late registration backlog: got %d, want -1 (unknown)", got)
	}
}
