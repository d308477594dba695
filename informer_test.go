package informer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestWatchPodsDeliversAddUpdateDelete(t *testing.T) {
	kube := fake.NewClientset(pod("default", "initial", "1"))
	watching := watchStarted(kube, "pods")
	events := make(chan event, 10)
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, recordingFuncs[*corev1.Pod](events))
	startSynced(t, b)

	if got, want := nextEvent(t, events), (event{kind: "add", key: "default/initial", initial: true, newLabel: "1"}); got != want {
		t.Fatalf("initial list: got %+v, want %+v", got, want)
	}
	waitFor(t, watching, "watch on pods")

	pods := kube.CoreV1().Pods("default")
	ctx := t.Context()
	if _, err := pods.Create(ctx, pod("default", "web", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Update(ctx, pod("default", "web", "2"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []event{
		{kind: "add", key: "default/web", newLabel: "1"},
		{kind: "update", key: "default/web", oldLabel: "1", newLabel: "2"},
		{kind: "delete", key: "default/web", newLabel: "2"},
	}
	var got []event
	for range want {
		got = append(got, nextEvent(t, events))
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(event{})); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestRegistrationsOnOneResourceShareOneInformer(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	var lists atomic.Int32
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		lists.Add(1)
		return false, nil, nil
	})
	first, second := make(chan event, 10), make(chan event, 10)
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, recordingFuncs[*corev1.Pod](first))
	Watch(b, recordingFuncs[*corev1.Pod](second))
	inf := startSynced(t, b)

	for name, ch := range map[string]chan event{"first": first, "second": second} {
		if got := nextEvent(t, ch); got.key != "default/a" {
			t.Errorf("%s handler: got %+v, want the add of default/a", name, got)
		}
	}
	if got := lists.Load(); got != 1 {
		t.Errorf("LIST calls: got %d, want 1", got)
	}
	if got := len(inf.order); got != 1 {
		t.Errorf("informers: got %d, want 1", got)
	}
}

func TestNamespaceAndLabelSelectorRestrictTheCache(t *testing.T) {
	kube := fake.NewClientset(
		pod("default", "match", "1"),
		pod("default", "other-label", "2"),
		pod("kube-system", "other-namespace", "1"),
	)
	b := NewBuilder().WithClients(kube, nil).WithNamespace("default").WithLabelSelector("v=1")
	reg := Watch(b, Funcs[*corev1.Pod]{})
	startSynced(t, b)

	got, err := reg.Lister().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "match" {
		t.Errorf("cached pods: got %v, want only default/match", names(got))
	}
}

func TestForbiddenListGivesSyncErrorNamingResource(t *testing.T) {
	kube := fake.NewClientset()
	listed := make(chan struct{}, 100)
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		listed <- struct{}{}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New(`User "jane" cannot list resource "pods"`))
	})
	b := NewBuilder().WithClients(kube, nil).WithSyncTimeout(time.Second)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := buildAndStart(t, b)
	// The second LIST starts after the first one's error was recorded.
	waitFor(t, listed, "first LIST")
	waitFor(t, listed, "second LIST")

	err := inf.WaitForSync(t.Context())
	var syncErr *SyncError
	if !errors.As(err, &syncErr) {
		t.Fatalf("WaitForSync: got %v, want a *SyncError", err)
	}
	if len(syncErr.Unsynced) != 1 || syncErr.Unsynced[0].Resource != "pods" {
		t.Fatalf("unsynced: got %+v, want only pods", syncErr.Unsynced)
	}
	for _, target := range []error{ErrForbidden, ErrSyncTimeout, context.DeadlineExceeded} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v): got false, want true; err: %v", target, err)
		}
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("apierrors.IsForbidden: got false, want true; err: %v", err)
	}
	for _, part := range []string{"pods: forbidden", `cannot list resource "pods"`, "needs list and watch on pods"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q does not contain %q", err, part)
		}
	}
}

func TestWatchResourceAndWatchMetadata(t *testing.T) {
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	widget := &unstructured.Unstructured{}
	widget.SetAPIVersion("example.com/v1")
	widget.SetKind("Widget")
	widget.SetNamespace("default")
	widget.SetName("w1")
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{widgets: "WidgetList"}, widget)

	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	podMeta := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p1"},
	}
	meta := metadatafake.NewSimpleMetadataClient(scheme, podMeta)

	dynEvents, metaEvents := make(chan event, 10), make(chan event, 10)
	b := NewBuilder().WithClients(nil, dyn).WithMetadataClient(meta)
	WatchResource(b, widgets, recordingFuncs[*unstructured.Unstructured](dynEvents))
	metaReg := WatchMetadata(b, podsGVR, recordingFuncs[*metav1.PartialObjectMetadata](metaEvents))
	startSynced(t, b)

	if got := nextEvent(t, dynEvents); got.key != "default/w1" || got.kind != "add" {
		t.Errorf("dynamic: got %+v, want add default/w1", got)
	}
	if got := nextEvent(t, metaEvents); got.key != "default/p1" || got.kind != "add" {
		t.Errorf("metadata: got %+v, want add default/p1", got)
	}
	if _, err := metaReg.Lister().Get("default", "p1"); err != nil {
		t.Errorf("metadata lister Get: %v", err)
	}
}

func TestHandlerContextEndsOnStop(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	entered := make(chan struct{})
	causes := make(chan error, 1)
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Pod]{OnAdd: func(ctx context.Context, _ *corev1.Pod) {
		close(entered)
		<-ctx.Done()
		causes <- context.Cause(ctx)
	}})
	inf := buildAndStart(t, b)
	waitFor(t, entered, "handler entered")
	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Stop returned, so the handler has returned and sent its cause.
	select {
	case cause := <-causes:
		if !errors.Is(cause, ErrStopped) {
			t.Errorf("handler context cause: got %v, want ErrStopped", cause)
		}
	default:
		t.Error("Stop returned before the handler did")
	}
}

func TestStopReturnsAfterTimeoutNamingBlockedHandler(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	entered, release := make(chan struct{}), make(chan struct{})
	b := NewBuilder().WithClients(kube, nil).WithStopTimeout(50 * time.Millisecond)
	Watch(b, Funcs[*corev1.Pod]{OnAdd: func(context.Context, *corev1.Pod) {
		close(entered)
		<-release // ignores ctx on purpose
	}}, WithName("stubborn"))
	inf := buildAndStart(t, b)
	waitFor(t, entered, "handler entered")

	err := inf.Stop()
	close(release)
	var stopErr *StopError
	if !errors.As(err, &stopErr) {
		t.Fatalf("Stop: got %v, want a *StopError", err)
	}
	if diff := cmp.Diff([]string{"stubborn"}, stopErr.Handlers); diff != "" {
		t.Errorf("handlers still running (-want +got):\n%s", diff)
	}
	if again := inf.Stop(); again != err {
		t.Errorf("second Stop: got %v, want the first result %v", again, err)
	}
}

func TestPanickingHandlerIsRecoveredAndOthersGoOn(t *testing.T) {
	kube := fake.NewClientset(pod("default", "bad", "1"), pod("default", "good", "1"))
	healthy := make(chan event, 10)
	seen := make(chan string, 10)
	b := NewBuilder().WithClients(kube, nil)
	panicky := Watch(b, Funcs[*corev1.Pod]{OnAdd: func(_ context.Context, p *corev1.Pod) {
		if p.Name == "bad" {
			panic("boom")
		}
		seen <- p.Name
	}})
	Watch(b, recordingFuncs[*corev1.Pod](healthy))
	startSynced(t, b)

	if got := <-seen; got != "good" {
		t.Errorf("panicking registration: got %q, want it to go on with good", got)
	}
	keys := map[string]bool{nextEvent(t, healthy).key: true, nextEvent(t, healthy).key: true}
	if !keys["default/bad"] || !keys["default/good"] {
		t.Errorf("other registration: got %v, want both pods", keys)
	}
	if got := panicky.Stats(); got.Panics != 1 || got.Delivered != 2 {
		t.Errorf("stats: got %+v, want 1 panic and 2 delivered", got)
	}
}

func TestWatchAfterStartStartsNewInformer(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}})
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := startSynced(t, b)

	events := make(chan event, 10)
	reg := Watch(b, recordingFuncs[*corev1.ConfigMap](events))
	if err := reg.Err(); err != nil {
		t.Fatalf("late Watch: %v", err)
	}
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatalf("WaitForSync after late Watch: %v", err)
	}
	if !reg.HasSynced() {
		t.Error("late registration: HasSynced false after WaitForSync")
	}
	if got := nextEvent(t, events); got.key != "default/cm" {
		t.Errorf("late registration: got %+v, want add default/cm", got)
	}
}

func TestWatchAfterStopFails(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := inf.Stop(); err != nil {
		t.Fatal(err)
	}
	reg := Watch(b, Funcs[*corev1.Pod]{})
	if !errors.Is(reg.Err(), ErrStopped) {
		t.Errorf("Watch after Stop: got %v, want ErrStopped", reg.Err())
	}
	if _, err := reg.Lister().List(nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Lister after failed Watch: got %v, want ErrStopped", err)
	}
}

func TestLifecycleMisuse(t *testing.T) {
	newInf := func(t *testing.T) *Informer {
		inf, err := NewBuilder().WithClients(fake.NewClientset(), nil).Build()
		if err != nil {
			t.Fatal(err)
		}
		return inf
	}
	t.Run("stop before start", func(t *testing.T) {
		inf := newInf(t)
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: got %v, want nil", err)
		}
		if err := inf.Start(t.Context()); !errors.Is(err, ErrStopped) {
			t.Errorf("Start after Stop: got %v, want ErrStopped", err)
		}
		if err := inf.WaitForSync(t.Context()); !errors.Is(err, ErrStopped) {
			t.Errorf("WaitForSync after Stop: got %v, want ErrStopped", err)
		}
	})
	t.Run("double start and stop", func(t *testing.T) {
		inf := newInf(t)
		if err := inf.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := inf.Start(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
			t.Errorf("second Start: got %v, want ErrAlreadyStarted", err)
		}
		for i := range 2 {
			if err := inf.Stop(); err != nil {
				t.Errorf("Stop #%d: got %v, want nil", i+1, err)
			}
		}
	})
	t.Run("wait before start", func(t *testing.T) {
		inf := newInf(t)
		if err := inf.WaitForSync(t.Context()); !errors.Is(err, ErrNotStarted) {
			t.Errorf("WaitForSync before Start: got %v, want ErrNotStarted", err)
		}
	})
	t.Run("build twice", func(t *testing.T) {
		b := NewBuilder().WithClients(fake.NewClientset(), nil)
		if _, err := b.Build(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Build(); !errors.Is(err, ErrAlreadyBuilt) {
			t.Errorf("second Build: got %v, want ErrAlreadyBuilt", err)
		}
	})
	t.Run("configured after build", func(t *testing.T) {
		b := NewBuilder().WithClients(fake.NewClientset(), nil).WithNamespace("before")
		if err := b.Err(); err != nil {
			t.Fatalf("Err before Build: got %v, want nil", err)
		}
		inf, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		b.WithNamespace("after")
		err = b.Err()
		if !errors.Is(err, ErrAlreadyBuilt) || !strings.Contains(err.Error(), "WithNamespace") {
			t.Errorf("Err after a late WithNamespace: got %v, want ErrAlreadyBuilt naming WithNamespace", err)
		}
		if err := inf.Start(t.Context()); !errors.Is(err, ErrAlreadyBuilt) {
			t.Errorf("Start after a late WithNamespace: got %v, want ErrAlreadyBuilt", err)
		}
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	t.Run("errors before build", func(t *testing.T) {
		b := NewBuilder().WithResync(-time.Second)
		if err := b.Err(); err == nil || !strings.Contains(err.Error(), "WithResync") {
			t.Errorf("Err: got %v, want the WithResync error Build will report", err)
		}
	})
	t.Run("stop while waiting for sync", func(t *testing.T) {
		kube := fake.NewClientset()
		listing := make(chan struct{}, 100)
		kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
			listing <- struct{}{}
			return true, nil, errors.New("connection refused")
		})
		b := NewBuilder().WithClients(kube, nil)
		Watch(b, Funcs[*corev1.Pod]{})
		inf, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := inf.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, listing, "LIST")
		stopped := make(chan error, 1)
		go func() { stopped <- inf.Stop() }()
		if err := inf.WaitForSync(t.Context()); !errors.Is(err, ErrStopped) {
			t.Errorf("WaitForSync during Stop: got %v, want ErrStopped", err)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func TestRunSyncsBlocksAndStops(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	events := make(chan event, 10)
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, recordingFuncs[*corev1.Pod](events))
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- inf.Run(ctx) }()
	nextEvent(t, events)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: got %v, want nil after cancel", err)
		}
	case <-time.After(waitBound):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunCancelledWhileSyncingIsNotAnError(t *testing.T) {
	kube := fake.NewClientset()
	listed := forbidList(kube, "pods")
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Pod]{})
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- inf.Run(ctx) }()
	waitFor(t, listed, "LIST")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: got %v, want nil after cancel during sync", err)
		}
	case <-time.After(waitBound):
		t.Fatal("Run did not return after cancel")
	}
}

func TestBadInputIsAnErrorFromBuild(t *testing.T) {
	kube := fake.NewClientset()
	tests := []struct {
		name      string
		configure func(*Builder)
		wantErr   string
	}{
		{"nil config", func(b *Builder) { b.WithConfig(nil) }, "nil *rest.Config"},
		{"invalid label selector", func(b *Builder) { b.WithClients(kube, nil).WithLabelSelector("a b c") }, "WithLabelSelector"},
		{"invalid field selector", func(b *Builder) { b.WithClients(kube, nil).WithFieldSelector("a==b==c") }, "WithFieldSelector"},
		{"negative resync", func(b *Builder) { b.WithClients(kube, nil).WithResync(-time.Second) }, "negative period"},
		{"zero sync timeout", func(b *Builder) { b.WithClients(kube, nil).WithSyncTimeout(0) }, "WithSyncTimeout"},
		{"zero stop timeout", func(b *Builder) { b.WithClients(kube, nil).WithStopTimeout(0) }, "WithStopTimeout"},
		{"bad rate limits", func(b *Builder) { b.WithClients(kube, nil).WithRateLimits(0, 1) }, "WithRateLimits"},
		{"nil typed client", func(b *Builder) {
			Watch(b.WithClients(nil, nil), Funcs[*corev1.Pod]{})
		}, "no typed client"},
		{"nil dynamic client", func(b *Builder) {
			WatchResource(b.WithClients(kube, nil), schema.GroupVersionResource{Group: "x.io", Version: "v1", Resource: "things"}, Funcs[*unstructured.Unstructured]{})
		}, "no dynamic client"},
		{"nil metadata client", func(b *Builder) {
			WatchMetadata(b.WithClients(kube, nil), podsGVR, Funcs[*metav1.PartialObjectMetadata]{})
		}, "no metadata client"},
		{"empty GVR", func(b *Builder) {
			WatchResource(b.WithClients(kube, nil), schema.GroupVersionResource{}, Funcs[*unstructured.Unstructured]{})
		}, "empty GroupVersionResource"},
		{"GVR without version", func(b *Builder) {
			WatchResource(b.WithClients(kube, nil), schema.GroupVersionResource{Group: "x.io", Resource: "things"}, Funcs[*unstructured.Unstructured]{})
		}, "has no version"},
		{"unknown Go type", func(b *Builder) {
			Watch(b.WithClients(kube, nil), Funcs[*notAKubernetesType]{})
		}, "not a built-in Kubernetes type"},
		{"unstructured through Watch", func(b *Builder) {
			Watch(b.WithClients(kube, nil), Funcs[*unstructured.Unstructured]{})
		}, "use WatchResource"},
		{"bad index", func(b *Builder) {
			Watch(b.WithClients(kube, nil), Funcs[*corev1.Pod]{}, WithIndex[*corev1.Pod]("", nil))
		}, "WithIndex"},
		{"missing kubeconfig", func(b *Builder) { b.WithKubeconfig("/nonexistent/kubeconfig", "") }, "/nonexistent/kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder()
			tt.configure(b)
			inf, err := b.Build()
			if err == nil {
				_ = inf.Stop()
				t.Fatalf("Build: got nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Build: got %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestWatchWithNilBuilder(t *testing.T) {
	reg := Watch(nil, Funcs[*corev1.Pod]{})
	if err := reg.Err(); err == nil || !strings.Contains(err.Error(), "nil *Builder") {
		t.Errorf("Err: got %v, want a nil *Builder error", err)
	}
}

// notAKubernetesType implements Object but is unknown to client-go's scheme.
type notAKubernetesType struct {
	metav1.TypeMeta
	metav1.ObjectMeta
}

func (n *notAKubernetesType) DeepCopyObject() runtime.Object { c := *n; return &c }

func TestListerReadsTheSharedCache(t *testing.T) {
	onNode := func(name, node string) *corev1.Pod {
		p := pod("default", name, "1")
		p.Spec.NodeName = node
		return p
	}
	other := pod("other", "c", "2")
	kube := fake.NewClientset(onNode("a", "n1"), onNode("b", "n2"), other)
	b := NewBuilder().WithClients(kube, nil)
	reg := Watch(b, Funcs[*corev1.Pod]{}, WithIndex("node", func(p *corev1.Pod) ([]string, error) {
		return []string{p.Spec.NodeName}, nil
	}))
	startSynced(t, b)
	lister := reg.Lister()

	if p, err := lister.Get("default", "a"); err != nil || p.Name != "a" {
		t.Errorf("Get default/a: got %v, %v", p, err)
	}
	if _, err := lister.Get("default", "missing"); !apierrors.IsNotFound(err) || err.Error() != `pods "missing" not found` {
		t.Errorf("Get missing: got %v, want NotFound reading pods \"missing\" not found", err)
	}
	all, err := lister.List(nil)
	if err != nil || len(all) != 3 {
		t.Errorf("List(nil): got %v, %v; want 3 pods", names(all), err)
	}
	v2, err := lister.List(labels.SelectorFromSet(labels.Set{"v": "2"}))
	if err != nil || len(v2) != 1 || v2[0].Name != "c" {
		t.Errorf("List(v=2): got %v, %v; want [c]", names(v2), err)
	}
	inDefault, err := lister.ListNamespace("default", nil)
	if err != nil || len(inDefault) != 2 {
		t.Errorf("ListNamespace(default): got %v, %v; want 2 pods", names(inDefault), err)
	}
	onN2, err := lister.ByIndex("node", "n2")
	if err != nil || len(onN2) != 1 || onN2[0].Name != "b" {
		t.Errorf("ByIndex(node, n2): got %v, %v; want [b]", names(onN2), err)
	}
	if _, err := lister.ByIndex("missing-index", "x"); err == nil {
		t.Error("ByIndex on a missing index: got nil error")
	}
}

func TestIndexNameIsPerResource(t *testing.T) {
	byNode := func(p *corev1.Pod) ([]string, error) { return []string{p.Spec.NodeName}, nil }
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	first := Watch(b, Funcs[*corev1.Pod]{}, WithIndex("node", byNode))
	second := Watch(b, Funcs[*corev1.Pod]{}, WithIndex("node", byNode))
	inf, err := b.Build()
	if err == nil {
		_ = inf.Stop()
		t.Fatal("Build: got nil error, want an index conflict")
	}
	if !strings.Contains(err.Error(), "node") {
		t.Errorf("Build: got %q, want it to name the index", err)
	}
	if first.Err() != nil || second.Err() == nil {
		t.Errorf("Err: got %v for the first registration and %v for the second, want nil and an error", first.Err(), second.Err())
	}
}

func TestListerBeforeBuildFails(t *testing.T) {
	reg := Watch(NewBuilder().WithClients(fake.NewClientset(), nil), Funcs[*corev1.Pod]{})
	if _, err := reg.Lister().Get("default", "a"); err == nil || !strings.Contains(err.Error(), "not built") {
		t.Errorf("Get before Build: got %v, want a not built error", err)
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

func TestFirstOptionErrorIsReported(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	Watch(b, Funcs[*corev1.Pod]{}, WithIndex[*corev1.Pod]("", nil), WithPredicates(LabelSelector("a in (")))
	_, err := b.Build()
	if err == nil || !strings.Contains(err.Error(), "WithIndex") {
		t.Errorf("Build: got %v, want the first option's error (WithIndex)", err)
	}
}
