package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// The mirror controller of these tests copies every ConfigMap labelled
// mirror=yes (a source) to a ConfigMap named <name>-copy with the same data
// and a controller owner reference to the source, and deletes the copy when
// the source is gone. kube-controller-manager does not run, so no garbage
// collector deletes orphaned copies: the controller does.

const (
	mirrorLabel  = "mirror"
	copySuffix   = "-copy"
	mirrorBurst  = 500 // changes made by TestReconcileMirrorConvergesAfterBurst
	mirrorWriter = 4   // goroutines making them, each on names of its own
	mirrorNames  = 10  // source names per goroutine
)

// mirror is the controller: a reconcile loop on sources, fed also by the
// events of copies through their owner reference.
type mirror struct {
	client kubernetes.Interface
	rc     *informer.Reconciler[*corev1.ConfigMap]
	copies *informer.Registration[*corev1.ConfigMap]
}

// newMirror registers the controller on b for namespace: a reconcile loop
// on the sources (the namespace's ConfigMaps labelled mirror=yes) and a
// registration on all its ConfigMaps that enqueues the owner of a copy
// that changed or was deleted.
func newMirror(b *informer.Builder, client kubernetes.Interface, namespace string, opts ...informer.WatchOption) *mirror {
	m := &mirror{client: client}
	scope := informer.InScope(informer.Scope{Namespace: namespace, LabelSelector: mirrorLabel + "=yes"})
	m.rc = informer.Reconcile(b, m.reconcile, append([]informer.WatchOption{scope, informer.Workers(4)}, opts...)...)
	m.copies = informer.Watch(b, informer.EnqueueOwners[*corev1.ConfigMap](m.rc, schema.GroupKind{Kind: "ConfigMap"}, true),
		informer.InScope(informer.Scope{Namespace: namespace}))
	return m
}

// reconcile makes the copy of one source what it should be, reading the
// source and the copy from the caches. A conflict or an AlreadyExists from
// a stale cache is returned, to be retried once the cache caught up.
func (m *mirror) reconcile(ctx context.Context, req informer.Request[*corev1.ConfigMap]) (informer.Result, error) {
	copyName := req.Name + copySuffix
	configMaps := m.client.CoreV1().ConfigMaps(req.Namespace)
	current, err := m.copies.Lister().Get(req.Namespace, copyName)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return informer.Result{}, err
	}

	source, err := req.Get()
	if apierrors.IsNotFound(err) {
		if current == nil {
			return informer.Result{}, nil
		}
		err := configMaps.Delete(ctx, copyName, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return informer.Result{}, err
	}
	if err != nil {
		return informer.Result{}, err
	}

	owner := metav1.NewControllerRef(source, corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if current == nil {
		want := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: copyName, OwnerReferences: []metav1.OwnerReference{*owner}},
			Data:       source.Data,
		}
		_, err := configMaps.Create(ctx, want, metav1.CreateOptions{})
		return informer.Result{}, err
	}
	if maps.Equal(current.Data, source.Data) && ownerUID(current) == source.UID {
		return informer.Result{}, nil
	}
	want := current.DeepCopy()
	want.Data = source.Data
	want.OwnerReferences = []metav1.OwnerReference{*owner}
	_, err = configMaps.Update(ctx, want, metav1.UpdateOptions{})
	return informer.Result{}, err
}

// ownerUID returns the UID of obj's controller, "" without one.
func ownerUID(obj metav1.Object) types.UID {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return ref.UID
	}
	return ""
}

// mirrorView is what the state of a namespace is compared on: by copy
// name, the copy's data and its controller's UID.
type mirrorView map[string]mirrorCopy

type mirrorCopy struct {
	Data     map[string]string
	OwnerUID types.UID
}

// serverMirror lists the ConfigMaps of namespace from the server and
// returns the copies that should exist (from the sources) and those that
// do.
func serverMirror(t *testing.T, client kubernetes.Interface, namespace string) (want, got mirrorView) {
	t.Helper()
	list := retryList(t, "configmaps", func(ctx context.Context) (*corev1.ConfigMapList, error) {
		return client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{})
	})
	want, got = mirrorView{}, mirrorView{}
	for _, cm := range list.Items {
		switch {
		case strings.HasSuffix(cm.Name, copySuffix):
			got[cm.Name] = mirrorCopy{Data: cm.Data, OwnerUID: ownerUID(&cm)}
		case cm.Labels[mirrorLabel] == "yes":
			want[cm.Name+copySuffix] = mirrorCopy{Data: cm.Data, OwnerUID: cm.UID}
		}
	}
	return want, got
}

// awaitMirrored waits, within convergeBound, until the copies on the server
// are exactly those the sources on the server call for. The writes must
// have stopped.
func awaitMirrored(t *testing.T, client kubernetes.Interface, namespace string) {
	t.Helper()
	start := time.Now()
	var want, got mirrorView
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, convergeBound, true, func(context.Context) (bool, error) {
		want, got = serverMirror(t, client, namespace)
		return cmp.Equal(want, got, cmp.Comparer(equalData)), nil
	})
	if err != nil {
		t.Fatalf("copies on the server did not match the sources within %v: %v\ndiff (-want +got):\n%s",
			convergeBound, err, cmp.Diff(want, got, cmp.Comparer(equalData)))
	}
	t.Logf("%d copies match their sources on the server, %v after the writes stopped", len(want), time.Since(start).Round(time.Millisecond))
}

// equalData compares ConfigMap data, nil and empty being equal.
func equalData(a, b map[string]string) bool { return maps.Equal(a, b) }

// mirrorWrites makes random changes to the sources of one set of names and
// to their copies: creates, data updates, label flips (a source that loses
// mirror=yes must lose its copy), deletes, and deletes and edits of copies.
type mirrorWrites struct {
	configMaps corev1client.ConfigMapInterface
	namespace  string
	prefix     string
	rng        *rand.Rand
	exists     map[string]bool // what the writer believes; only used to pick operations
	generation int
}

func newMirrorWrites(client kubernetes.Interface, namespace, prefix string, seed uint64) *mirrorWrites {
	return &mirrorWrites{
		configMaps: client.CoreV1().ConfigMaps(namespace),
		namespace:  namespace,
		prefix:     prefix,
		rng:        rand.New(rand.NewPCG(seed, 2)),
		exists:     map[string]bool{},
	}
}

// step makes one change. An error means the change may or may not have
// happened; NotFound on a copy is not an error (the copy may not exist
// yet).
func (w *mirrorWrites) step(ctx context.Context) error {
	w.generation++
	gen := strconv.Itoa(w.generation)
	name := fmt.Sprintf("%s-%02d", w.prefix, w.rng.IntN(mirrorNames))
	var err error
	switch roll := w.rng.IntN(20); {
	case !w.exists[name]:
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.namespace, Name: name, Labels: map[string]string{mirrorLabel: "yes"}},
			Data:       map[string]string{"gen": gen},
		}
		_, err = w.configMaps.Create(ctx, cm, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			w.exists[name] = true
		}
	case roll < 10:
		patch := fmt.Sprintf(`{"data":{"gen":%q,"k%d":%q}}`, gen, w.rng.IntN(3), gen)
		err = w.patch(ctx, name, patch)
	case roll < 12:
		value := []string{"yes", "no"}[w.rng.IntN(2)]
		err = w.patch(ctx, name, fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, mirrorLabel, value))
	case roll < 16:
		err = w.configMaps.Delete(ctx, name, metav1.DeleteOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			w.exists[name] = false
		}
	case roll < 18:
		err = w.configMaps.Delete(ctx, name+copySuffix, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
	default:
		_, err = w.configMaps.Patch(ctx, name+copySuffix, types.MergePatchType, []byte(`{"data":{"gen":"tampered"}}`), metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("change %d on %s: %w", w.generation, name, err)
	}
	return nil
}

// patch merge-patches source name, noting a NotFound.
func (w *mirrorWrites) patch(ctx context.Context, name, patch string) error {
	_, err := w.configMaps.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		w.exists[name] = false
	}
	return err
}

// startMirror builds and starts an informer with the mirror controller on
// namespace and waits for sync.
func startMirror(t *testing.T, cfg *rest.Config, client kubernetes.Interface, namespace string, opts ...informer.WatchOption) (*mirror, *informer.Informer) {
	t.Helper()
	b := informer.NewBuilder().WithConfig(cfg)
	m := newMirror(b, client, namespace, opts...)
	inf := startInformer(t, b)
	return m, inf
}

// TestReconcileMirrorConvergesAfterBurst runs the mirror controller while
// four writers make 500 changes as fast as the server takes them, then
// checks that the copies on the server are exactly those the sources call
// for, and that no key was dropped.
func TestReconcileMirrorConvergesAfterBurst(t *testing.T) {
	client := adminClient(t)
	ns := newNamespace(t, client)
	m, inf := startMirror(t, adminConfig(t), client, ns, informer.MaxRetries(8))
	seed := testSeed(t)

	start := time.Now()
	var wg sync.WaitGroup
	for i := range mirrorWriter {
		writes := newMirrorWrites(client, ns, fmt.Sprintf("src-%d", i), seed+uint64(i))
		wg.Go(func() {
			for range mirrorBurst / mirrorWriter {
				if err := writes.step(t.Context()); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d changes made in %v", mirrorBurst, time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	awaitMirrored(t, client, ns)
	st := m.rc.Stats()
	t.Logf("reconciler: %+v", st)
	if st.Reconciles == 0 {
		t.Errorf("Stats().Reconciles: got 0, want some")
	}
	if st.Dropped != 0 {
		t.Errorf("Stats().Dropped: got %d, want 0", st.Dropped)
	}
	logStatus(t, inf)
}

// TestReconcileMirrorConvergesAfterAPIServerKill runs the mirror controller
// on a cluster of its own while one writer makes changes, kills
// kube-apiserver, starts it again, and checks once the writes stopped that
// the copies on the server are exactly those the sources call for.
func TestReconcileMirrorConvergesAfterAPIServerKill(t *testing.T) {
	c := startFaultCluster(t)
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	m, inf := startMirror(t, fastConfig(c), client, ns)
	writes := newMirrorWrites(client, ns, "src", testSeed(t))

	progress := newWriteProgress()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			callCtx, cancelCall := context.WithTimeout(ctx, churnCallTimeout)
			err := writes.step(callCtx)
			cancelCall()
			if ctx.Err() != nil {
				return
			}
			progress.record(err)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(churnErrorPause): // pacing only
				}
			}
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)

	progress.waitWrites(t, 100)
	if err := c.KillAPIServer(); err != nil {
		t.Fatalf("KillAPIServer: %v", err)
	}
	killed := time.Now()
	progress.waitFailures(t, 3)
	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatalf("StartAPIServer: %v", err)
	}
	t.Logf("kube-apiserver down for %v", time.Since(killed).Round(time.Millisecond))
	progress.waitWrites(t, 100)
	stop()
	ok, failed, lastErr := progress.counts()
	t.Logf("writer: %d changes succeeded, %d failed (last error: %v)", ok, failed, lastErr)

	awaitMirrored(t, client, ns)
	st := m.rc.Stats()
	t.Logf("reconciler: %+v", st)
	if st.Reconciles == 0 {
		t.Errorf("Stats().Reconciles: got 0, want some")
	}
	logStatus(t, inf)
}

// writeProgress counts a writer's successes and failures, for tests to
// wait on.
type writeProgress struct {
	mu      sync.Mutex
	ok      int
	failed  int
	lastErr error
	changed chan struct{} // closed and replaced after each write
}

func newWriteProgress() *writeProgress { return &writeProgress{changed: make(chan struct{})} }

func (p *writeProgress) record(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.ok++
	} else {
		p.failed++
		p.lastErr = err
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *writeProgress) counts() (ok, failed int, lastErr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.failed, p.lastErr
}

// waitFor blocks until cond holds, failing the test if it does not within
// convergeBound.
func (p *writeProgress) waitFor(t *testing.T, what string, cond func(ok, failed int) bool) {
	t.Helper()
	timer := time.NewTimer(convergeBound)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok, failed, lastErr, changed := p.ok, p.failed, p.lastErr, p.changed
		p.mu.Unlock()
		if cond(ok, failed) {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("writer: waiting for %s: not within %v (%d ok, %d failed, last error: %v)", what, convergeBound, ok, failed, lastErr)
		case <-t.Context().Done():
			t.Fatalf("writer: waiting for %s: test context done", what)
		}
	}
}

func (p *writeProgress) waitWrites(t *testing.T, n int) {
	t.Helper()
	base, _, _ := p.counts()
	p.waitFor(t, fmt.Sprintf("%d successful writes", n), func(ok, _ int) bool { return ok >= base+n })
}

func (p *writeProgress) waitFailures(t *testing.T, n int) {
	t.Helper()
	_, base, _ := p.counts()
	p.waitFor(t, fmt.Sprintf("%d failed writes", n), func(_, failed int) bool { return failed >= base+n })
}

// crdBound bounds the waits of TestReconcileCRDInstalledDeletedAndReinstalled:
// after a run of failures (the resource missing), client-go's reflector
// retries with a backoff of up to [30s, 60s).
const crdBound = 120 * time.Second

// TestReconcileCRDInstalledDeletedAndReinstalled runs an optional
// reconcile loop on widgets on a cluster of its own, where the widget CRD
// is missing at first, then installed, deleted and installed again while
// the program runs. The loop records what each call finds: an add when
// Request.Get finds the widget, a delete (of Request.LastKnown) when it
// does not.
func TestReconcileCRDInstalledDeletedAndReinstalled(t *testing.T) {
	const widgetCount = 3
	c := startFaultCluster(t)
	client, dyn := directClients(t, c)
	ns := newNamespace(t, client)

	calls := informertest.NewRecorder[*unstructured.Unstructured](informertest.WithWaitTimeout(crdBound))
	record := calls.Funcs()
	b := informer.NewBuilder().WithConfig(fastConfig(c)).WithNamespace(ns).WithSyncTimeout(failingSyncTimeout)
	rc := informer.ReconcileResource(b, widgetGVR, func(ctx context.Context, req informer.Request[*unstructured.Unstructured]) (informer.Result, error) {
		widget, err := req.Get()
		switch {
		case err == nil:
			record.OnAdd(ctx, widget)
		case apierrors.IsNotFound(err):
			if last, ok := req.LastKnown(); ok {
				record.OnDelete(ctx, last)
			}
		default:
			return informer.Result{}, err
		}
		return informer.Result{}, nil
	}, informer.Optional())
	inf := startUnsynced(t, b)
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Errorf("WaitForSync with only an optional loop whose CRD is missing: got %v, want nil", err)
	}
	awaitLastError(t, inf, time.Time{}, informer.ErrResourceNotFound)

	installWidgets := func(prefix string) {
		t.Helper()
		crd, err := dyn.Resource(crdGVR).Create(t.Context(), widgetCRD(), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the CRD: %v", err)
		}
		if err := waitEstablished(t.Context(), dyn, crd.GetName()); err != nil {
			t.Fatal(err)
		}
		installed := time.Now()
		widgets := dyn.Resource(widgetGVR).Namespace(ns)
		for i := range widgetCount {
			if _, err := widgets.Create(t.Context(), newWidget(ns, fmt.Sprintf("%s-%d", prefix, i), "red"), metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating widget %s-%d: %v", prefix, i, err)
			}
		}
		for i := range widgetCount {
			calls.WaitForEvent(t, informertest.Added, ns, fmt.Sprintf("%s-%d", prefix, i))
		}
		t.Logf("widgets %s-*: reconciled %v after the CRD was established", prefix, time.Since(installed).Round(time.Millisecond))
	}

	installWidgets("first")
	if st := inf.Status().Informers[0]; !st.Synced {
		t.Errorf("Status().Synced once the CRD exists: got false, want true")
	}

	deleted := time.Now()
	crdName := widgetCRD().GetName()
	if err := dyn.Resource(crdGVR).Delete(t.Context(), crdName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the CRD: %v", err)
	}
	for i := range widgetCount {
		e := calls.WaitForEvent(t, informertest.Deleted, ns, fmt.Sprintf("first-%d", i))
		if got, want := widgetColor(e.Object), "red"; got != want {
			t.Errorf("spec.color of LastKnown of widget first-%d: got %q, want %q", i, got, want)
		}
	}
	awaitGone(t, dyn, crdName)
	awaitLastError(t, inf, deleted, informer.ErrResourceNotFound)

	installWidgets("second")
	st := rc.Stats()
	t.Logf("reconciler: %+v", st)
	if st.Errors != 0 || st.Dropped != 0 {
		t.Errorf("Stats(): got %d errors and %d dropped, want none", st.Errors, st.Dropped)
	}
	logStatus(t, inf)
}
