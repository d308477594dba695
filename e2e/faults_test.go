package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Every test in this file but TestFaultSecretsNeverLogged, which injects no
// fault into the server, runs its own control plane: the faults it injects
// (a killed kube-apiserver, a restarted etcd, a compacted history, RBAC and
// CRD changes) would disturb the suite's shared cluster. Each one ends by
// checking that three views agree once the writes stopped: a fresh LIST
// from the server, the informer's cache and the state rebuilt from the
// handler's events. RELIABILITY.md at the repository root lists them.

// TestFaultAPIServerKilledDuringChurn kills kube-apiserver with SIGKILL and
// starts it again five times while pods are created, updated and deleted,
// then checks that the informer's cache and handlers agree with the server.
func TestFaultAPIServerKilledDuringChurn(t *testing.T) {
	const restarts = 5
	c := startFaultCluster(t)
	w := watchChurnedPods(t, c)
	client, ns, rec, churn := w.client, w.ns, w.rec, w.churn
	for i := range restarts {
		churn.waitWrites(t, 20)
		if err := c.KillAPIServer(); err != nil {
			t.Fatalf("KillAPIServer (%d of %d): %v", i+1, restarts, err)
		}
		killed := time.Now()
		churn.waitFailures(t, 3)
		if err := c.StartAPIServer(t.Context()); err != nil {
			t.Fatalf("StartAPIServer (%d of %d): %v", i+1, restarts, err)
		}
		down := time.Since(killed)
		awaitReconnect(t, client, rec, ns)
		t.Logf("restart %d of %d: kube-apiserver down for %v, informer back %v after the restart",
			i+1, restarts, down.Round(time.Millisecond), (time.Since(killed) - down).Round(time.Millisecond))
	}
	w.finish(t)
}

// TestFaultEtcdRestartedDuringChurn restarts etcd three times while pods
// are created, updated and deleted, then checks that the informer's cache
// and handlers agree with the server. It runs with kube-apiserver's watch
// cache on (the default) and off (every watch is then an etcd watch of
// kube-apiserver's etcd client); both ways, kube-apiserver must keep the
// informer's watch open across the restarts: the informer makes no request
// after its first watch.
func TestFaultEtcdRestartedDuringChurn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{name: "watch cache", flags: nil},
		{name: "no watch cache", flags: noWatchCache},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const restarts = 3
			c := startFaultCluster(t, tc.flags...)
			w := watchChurnedPods(t, c)
			client, ns, rec, churn := w.client, w.ns, w.rec, w.churn
			for i := range restarts {
				churn.waitWrites(t, 20)
				start := time.Now()
				if err := c.RestartEtcd(t.Context()); err != nil {
					t.Fatalf("RestartEtcd (%d of %d): %v", i+1, restarts, err)
				}
				restarted := time.Since(start)
				awaitReconnect(t, client, rec, ns)
				t.Logf("restart %d of %d: etcd restarted and kube-apiserver ready in %v, informer delivering again %v later",
					i+1, restarts, restarted.Round(time.Millisecond), (time.Since(start) - restarted).Round(time.Millisecond))
			}
			w.finish(t)
			reqs := w.requests.Since(0)
			firstWatch := slices.IndexFunc(reqs, func(r request) bool { return r.Kind == "watch" || r.Kind == "watch-list" })
			if firstWatch < 0 || firstWatch != len(reqs)-1 {
				t.Errorf("requests of the informer: got %s, want none after its first watch (or watch-list), which kube-apiserver keeps open across etcd restarts: %v",
					summarize(reqs), reqs)
			}
		})
	}
}

// TestFaultWatchExpiredRelists cuts the informer's connection, writes, and
// compacts etcd past the resourceVersion the informer would resume its
// watch from. When the connection comes back, the resumed watch gets 410
// Gone; the informer must list again and agree with the server.
func TestFaultWatchExpiredRelists(t *testing.T) {
	c := startFaultCluster(t, noWatchCache...)
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	createNumberedPods(t, client, ns, "pod", 10)

	proxy := startProxy(t, apiServerAddr(c))
	requests := &requestLog{}
	cfg := proxiedConfig(c, proxy, requests)
	// JSON rather than the library's default protobuf, so that the request
	// log can see the 410 inside the watch stream.
	cfg.ContentType = "application/json"
	rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns)
	reg := informer.Watch(b, rec.Funcs())
	inf := startInformer(t, b)
	pingPods(t, client, rec, ns)
	resumeFrom := inf.Status().Informers[0].ResourceVersion

	proxy.Cut()
	cutAt := requests.Len()
	for i := range 5 {
		name := fmt.Sprintf("pod-%02d", i)
		patch := fmt.Sprintf(`{"metadata":{"labels":{"v":"%d"}}}`, i+1)
		if _, err := client.CoreV1().Pods(ns).Patch(t.Context(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("patching pod %s: %v", name, err)
		}
	}
	for i := 5; i < 8; i++ {
		if err := client.CoreV1().Pods(ns).Delete(t.Context(), fmt.Sprintf("pod-%02d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod-%02d: %v", i, err)
		}
	}
	createNumberedPods(t, client, ns, "late", 5)
	compactEtcd(t, c, currentRevision(t, client, ns))
	expectExpired(t, client, ns, resumeFrom)

	if err := proxy.Restore(); err != nil {
		t.Fatalf("restoring the proxy: %v", err)
	}
	awaitConvergence(t, "pods", rec, reg.Lister(), serverPods(t, client, ns))
	stats := checkEventStream(t, "pods", rec.Events())
	t.Logf("events: %s", stats)

	after := requests.Since(cutAt)
	t.Logf("requests after the cut: %s", summarize(after))
	checkResumedThenRelisted(t, after, resumeFrom)
	if !slices.ContainsFunc(after, func(r request) bool { return r.Gone }) {
		t.Errorf("watches after the cut: got no 410 in their streams, want one: %v", after)
	}
	if err := inf.Status().Informers[0].LastError; err != nil {
		t.Logf("last list/watch error of the informer: %v", err)
	}
}

// TestFaultDeletedWhileWatchDown deletes and creates pods while the
// informer's connection is cut. First without compaction: the watch
// resumes from its resourceVersion and the deletes arrive as they
// happened. Then with etcd compacted past that resourceVersion: the
// resumed watch gets 410 Gone, the informer lists again, and each pod
// deleted meanwhile is delivered as a delete with IsFinalStateUnknown.
func TestFaultDeletedWhileWatchDown(t *testing.T) {
	c := startFaultCluster(t, noWatchCache...)
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	createNumberedPods(t, client, ns, "pod", 10)

	proxy := startProxy(t, apiServerAddr(c))
	requests := &requestLog{}
	rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(proxiedConfig(c, proxy, requests)).WithNamespace(ns)
	reg := informer.Watch(b, rec.Funcs())
	inf := startInformer(t, b)

	// deleteWhileCut cuts the proxy, deletes the pods named, creates the
	// pods named, compacts etcd if asked, restores the proxy and waits
	// until the three views agree. It returns the events recorded since
	// the cut, the requests made since, and the resourceVersion the
	// informer's watch was at when cut.
	deleteWhileCut := func(t *testing.T, deleted, created []string, compact bool) (events []informertest.Event[*corev1.Pod], reqs []request, resumeFrom string) {
		t.Helper()
		pingPods(t, client, rec, ns)
		resumeFrom = inf.Status().Informers[0].ResourceVersion
		seen, cutAt := len(rec.Events()), requests.Len()
		proxy.Cut()
		for _, name := range deleted {
			if err := client.CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("deleting pod %s: %v", name, err)
			}
		}
		for _, name := range created {
			createPod(t, client, newPod(ns, name, nil))
		}
		if compact {
			compactEtcd(t, c, currentRevision(t, client, ns))
			expectExpired(t, client, ns, resumeFrom)
		}
		if err := proxy.Restore(); err != nil {
			t.Fatalf("restoring the proxy: %v", err)
		}
		awaitConvergence(t, "pods", rec, reg.Lister(), serverPods(t, client, ns))
		return rec.Events()[seen:], requests.Since(cutAt), resumeFrom
	}

	t.Run("watch resumes", func(t *testing.T) {
		deleted := []string{"pod-00", "pod-01"}
		events, reqs, _ := deleteWhileCut(t, deleted, []string{"new-00"}, false)
		t.Logf("events since the cut: %v", events)
		t.Logf("requests since the cut: %s", summarize(reqs))
		if got := relists(reqs); len(got) != 0 {
			t.Errorf("relists after a cut without compaction: got %v, want none (the watch resumes from its resourceVersion)", got)
		}
		checkDeletes(t, events, deleted, false)
	})

	t.Run("relist after 410", func(t *testing.T) {
		deleted := []string{"pod-02", "pod-03", "pod-04", "new-00"}
		events, reqs, resumeFrom := deleteWhileCut(t, deleted, []string{"new-01", "new-02"}, true)
		t.Logf("events since the cut: %v", events)
		t.Logf("requests since the cut: %s", summarize(reqs))
		checkResumedThenRelisted(t, reqs, resumeFrom)
		checkDeletes(t, events, deleted, true)
	})

	stats := checkEventStream(t, "pods", rec.Events())
	t.Logf("events: %s", stats)
}

// TestFaultRBACGrantedAfterStart starts an informer whose identity may not
// list pods: WaitForSync fails with a *SyncError that says forbidden. Then
// the identity is granted list and watch on pods, and the same informer,
// never restarted, syncs: WaitForSync returns nil and the handler sees the
// pods.
func TestFaultRBACGrantedAfterStart(t *testing.T) {
	const user = "fault-late-reader"
	c := startFaultCluster(t)
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	createNumberedPods(t, client, ns, "pod", 3)
	cfg, err := c.AddUser(t.Context(), user, nil)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", user, err)
	}

	rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns).WithSyncTimeout(failingSyncTimeout)
	reg := informer.Watch(b, rec.Funcs())
	inf := startUnsynced(t, b)

	err = inf.WaitForSync(t.Context())
	var syncErr *informer.SyncError
	if !errors.As(err, &syncErr) {
		t.Fatalf("WaitForSync without rights: got %v, want a *SyncError", err)
	}
	if !errors.Is(err, informer.ErrForbidden) || !apierrors.IsForbidden(err) {
		t.Errorf("WaitForSync without rights: got %v, want an error that is ErrForbidden and apierrors.IsForbidden", err)
	}
	if got := len(rec.Events()); got != 0 {
		t.Errorf("events before the grant: got %d, want 0", got)
	}

	granted := time.Now()
	if _, err := c.AddUser(t.Context(), user, listWatchPods); err != nil {
		t.Fatalf("AddUser(%s) granting list and watch on pods: %v", user, err)
	}
	// Each WaitForSync is bounded by the short sync timeout, and client-go
	// retries a failed list after a backoff that grows with each failure
	// (up to [30s, 60s)): the first call after the grant may time out
	// before the next retry. Call again until convergeBound.
	calls := 0
	for {
		calls++
		err = inf.WaitForSync(t.Context())
		if err == nil {
			break
		}
		if !errors.Is(err, informer.ErrSyncTimeout) || time.Since(granted) > convergeBound {
			t.Fatalf("WaitForSync %d after the grant (%v later): got %v, want nil", calls, time.Since(granted).Round(time.Millisecond), err)
		}
	}
	t.Logf("synced %v after the grant, at WaitForSync call %d after it", time.Since(granted).Round(time.Millisecond), calls)
	for i := range 3 {
		name := fmt.Sprintf("pod-%02d", i)
		if e := rec.WaitForEvent(t, informertest.Added, ns, name); !e.InitialList {
			t.Errorf("IsInitialList of the add of pod %s, listed once allowed: got false, want true", name)
		}
	}
	createPod(t, client, newPod(ns, "after-grant", nil))
	rec.WaitForEvent(t, informertest.Added, ns, "after-grant")
	awaitConvergence(t, "pods", rec, reg.Lister(), serverPods(t, client, ns))
	checkEventStream(t, "pods", rec.Events())
	logStatus(t, inf)
}

// TestFaultFailFastIgnoresErrorsFromBeforeTheWait checks that with
// WithFailFast, a WaitForSync called after the cause of a forbidden error
// was fixed does not fail at once on the error the informer saw before the
// call: it waits for the informer's next list and returns nil.
func TestFaultFailFastIgnoresErrorsFromBeforeTheWait(t *testing.T) {
	const user = "fault-failfast-reader"
	c := startFaultCluster(t)
	client, _ := directClients(t, c)
	ns := newNamespace(t, client)
	cfg, err := c.AddUser(t.Context(), user, nil)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", user, err)
	}
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(ns).WithFailFast().WithSyncTimeout(convergeBound)
	informer.Watch(b, informer.Funcs[*corev1.Pod]{})
	inf := startUnsynced(t, b)
	if err := inf.WaitForSync(t.Context()); !errors.Is(err, informer.ErrFailFast) || !errors.Is(err, informer.ErrForbidden) {
		t.Fatalf("WaitForSync without rights: got %v, want ErrFailFast and ErrForbidden", err)
	}

	// AddUser returns once the new rules are in effect.
	if _, err := c.AddUser(t.Context(), user, listWatchPods); err != nil {
		t.Fatalf("AddUser(%s) granting list and watch on pods: %v", user, err)
	}
	called := time.Now()
	err = inf.WaitForSync(t.Context())
	lastErrAt := inf.Status().Informers[0].LastErrorTime
	if err != nil {
		t.Errorf("WaitForSync once the grant was in effect: got %v after %v, want nil (the informer's next list succeeds); the error it ended on was seen at %s, %v before the call",
			err, time.Since(called).Round(time.Millisecond), lastErrAt.Format(time.TimeOnly+".000"), called.Sub(lastErrAt).Round(time.Millisecond))
	}
}

// TestFaultCRDInstalledAndDeletedWhileWatched watches a custom resource
// whose CRD does not exist yet, installs the CRD, creates widgets, then
// deletes the CRD: the handler sees the widgets come and go, the informer
// reports the resource missing again, and Stop returns nil.
func TestFaultCRDInstalledAndDeletedWhileWatched(t *testing.T) {
	const widgetCount = 5
	c := startFaultCluster(t)
	client, dyn := directClients(t, c)
	ns := newNamespace(t, client)

	rec := informertest.NewRecorder[*unstructured.Unstructured](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(fastConfig(c)).WithNamespace(ns).WithSyncTimeout(failingSyncTimeout)
	reg := informer.WatchResource(b, widgetGVR, rec.Funcs(), informer.Optional())
	inf := startUnsynced(t, b)
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Errorf("WaitForSync with only an optional informer whose CRD is missing: got %v, want nil", err)
	}
	awaitLastError(t, inf, time.Time{}, informer.ErrResourceNotFound)

	crd, err := dyn.Resource(crdGVR).Create(t.Context(), widgetCRD(), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the CRD: %v", err)
	}
	if err := waitEstablished(t.Context(), dyn, crd.GetName()); err != nil {
		t.Fatal(err)
	}
	widgets := dyn.Resource(widgetGVR).Namespace(ns)
	for i := range widgetCount {
		if _, err := widgets.Create(t.Context(), newWidget(ns, fmt.Sprintf("w-%d", i), "red"), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating widget w-%d: %v", i, err)
		}
	}
	for i := range widgetCount {
		rec.WaitForEvent(t, informertest.Added, ns, fmt.Sprintf("w-%d", i))
	}
	awaitConvergence(t, "widgets", rec, reg.Lister(), serverWidgets(t, dyn, ns))
	if st := inf.Status().Informers[0]; !st.Synced {
		t.Errorf("Status().Synced once the CRD exists: got false, want true")
	}

	deleted := time.Now()
	if err := dyn.Resource(crdGVR).Delete(t.Context(), crd.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the CRD: %v", err)
	}
	for i := range widgetCount {
		rec.WaitForEvent(t, informertest.Deleted, ns, fmt.Sprintf("w-%d", i))
	}
	awaitGone(t, dyn, crd.GetName())
	// The server no longer serves widgets: its view is empty.
	awaitConvergence(t, "widgets", rec, reg.Lister(), map[string]objView{})
	checkEventStream(t, "widgets", rec.Events())
	awaitLastError(t, inf, deleted, informer.ErrResourceNotFound)
	if err := inf.Healthy(); err != nil {
		t.Errorf("Healthy after the CRD was deleted: got %v, want nil", err)
	}
	logStatus(t, inf)

	start := time.Now()
	if err := inf.Stop(); err != nil {
		t.Errorf("Stop after the CRD was deleted: got %v, want nil", err)
	}
	t.Logf("Stop returned in %v", time.Since(start).Round(time.Millisecond))
}

// awaitLastError waits, within convergeBound, until the first informer of
// inf reports a list/watch error matching target, seen after since.
func awaitLastError(t *testing.T, inf *informer.Informer, since time.Time, target error) {
	t.Helper()
	var last informer.InformerStatus
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, convergeBound, true, func(context.Context) (bool, error) {
		last = inf.Status().Informers[0]
		return last.LastErrorTime.After(since) && errors.Is(last.LastError, target), nil
	})
	if err != nil {
		t.Fatalf("waiting for Status to report %v: %v; last error at %s: %v", target, err, last.LastErrorTime.Format(time.TimeOnly), last.LastError)
	}
	t.Logf("Status of %s reports: %v", last.Resource, last.LastError)
}

// awaitGone waits, within convergeBound, until the CRD name no longer exists.
func awaitGone(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	var lastErr error
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, convergeBound, true, func(ctx context.Context) (bool, error) {
		_, lastErr = dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(lastErr), nil
	})
	if err != nil {
		t.Fatalf("waiting for CRD %s to be gone: %v (last Get: %v)", name, err, lastErr)
	}
}

// TestFaultSecretsNeverLogged checks that the library's logs never carry
// what is inside an object: secrets are watched by a handler that panics
// on every event (the library recovers and logs the panic) and by an
// identity that may not list them (the library logs the forbidden error),
// with klog at verbosity 4, the highest the library uses; the secret's
// value must appear nowhere in the output, neither plain nor in base64. It
// uses the suite's shared cluster: it injects no fault into the server.
// At verbosity 8 and above client-go itself logs response bodies; that is
// outside the library.
func TestFaultSecretsNeverLogged(t *testing.T) {
	c := requireCluster(t)
	client := adminClient(t)
	ns := newNamespace(t, client)
	nobody, err := c.AddUser(t.Context(), "fault-no-secrets", nil)
	if err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	values := []string{"fault-first-value-" + strconv.FormatUint(rand.Uint64(), 36), "fault-second-value-" + strconv.FormatUint(rand.Uint64(), 36)}
	logs := captureKlog(t, 4)

	seen := informertest.NewRecorder[*corev1.Secret]()
	recorded := seen.Funcs()
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
	reg := informer.Watch(b, informer.Funcs[*corev1.Secret]{
		OnAdd: func(ctx context.Context, s *corev1.Secret) {
			recorded.OnAdd(ctx, s)
			panic("fault test: handler bug on add of " + s.Name)
		},
		OnUpdate: func(ctx context.Context, oldS, newS *corev1.Secret) {
			recorded.OnUpdate(ctx, oldS, newS)
			panic("fault test: handler bug on update of " + newS.Name)
		},
	})
	startInformer(t, b)

	forbidden := informer.NewBuilder().WithConfig(nobody).WithNamespace(ns).WithSyncTimeout(failingSyncTimeout)
	informer.Watch(forbidden, informer.Funcs[*corev1.Secret]{})
	forbiddenInf := startUnsynced(t, forbidden)

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "credentials"},
		Data:       map[string][]byte{"password": []byte(values[0])},
	}
	created, err := client.CoreV1().Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the secret: %v", err)
	}
	seen.WaitForEvent(t, informertest.Added, ns, "credentials")
	created.Data["password"] = []byte(values[1])
	if _, err := client.CoreV1().Secrets(ns).Update(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating the secret: %v", err)
	}
	seen.WaitForEvent(t, informertest.Updated, ns, "credentials")
	syncErr := forbiddenInf.WaitForSync(t.Context())
	if !errors.Is(syncErr, informer.ErrForbidden) {
		t.Errorf("WaitForSync of the identity without rights: got %v, want ErrForbidden", syncErr)
	}
	// The panic of the update is logged once its handler returned, which
	// the next Stats snapshot shows.
	awaitPanics(t, reg, 2)

	klog.Flush()
	out := logs.String()
	for _, want := range []string{"handler panicked", "forbidden"} {
		if !strings.Contains(out, want) {
			t.Errorf("captured klog output: got no %q, want the library's log line (is the capture working?)\n%s", want, out)
		}
	}
	for _, value := range values {
		for _, form := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
			if strings.Contains(out, form) {
				t.Errorf("captured klog output contains the secret's value %q:\n%s", form, out)
			}
		}
		if syncErr != nil && strings.Contains(syncErr.Error(), value) {
			t.Errorf("SyncError contains the secret's value: %v", syncErr)
		}
	}
	t.Logf("%d bytes of klog output checked", len(out))
}

// awaitPanics waits until the registration counted n recovered panics.
func awaitPanics[T informer.Object](t *testing.T, reg *informer.Registration[T], n int64) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, waitBound, true, func(context.Context) (bool, error) {
		return reg.Stats().Panics >= n, nil
	})
	if err != nil {
		t.Fatalf("recovered panics: got %d, want %d: %v", reg.Stats().Panics, n, err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureKlog sends klog's output to a buffer at the given verbosity until
// the test ends, then restores stderr and the previous verbosity.
func captureKlog(t *testing.T, verbosity int) *lockedBuffer {
	t.Helper()
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	previous := flags.Lookup("v").Value.String()
	if err := flags.Set("v", strconv.Itoa(verbosity)); err != nil {
		t.Fatalf("setting klog verbosity: %v", err)
	}
	buf := &lockedBuffer{}
	klog.LogToStderr(false)
	klog.SetOutput(buf)
	t.Cleanup(func() {
		klog.Flush()
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
		_ = flags.Set("v", previous)
	})
	return buf
}

// awaitReconnect waits until the handler gets an event for a write made
// after now: only a watch opened after the fault can deliver it. The churn
// provides the writes.
func awaitReconnect(t *testing.T, client kubernetes.Interface, rec *informertest.Recorder[*corev1.Pod], namespace string) {
	t.Helper()
	now := currentRevision(t, client, namespace)
	after, err := strconv.ParseUint(now, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", now, err)
	}
	awaitEvent(t, rec, fmt.Sprintf("an event newer than resourceVersion %d, proof that the informer watches again", after),
		func(e informertest.Event[*corev1.Pod]) bool { return revision(e.Object) > after })
}

// pingPods patches pod "ping" (creating it first if needed) and waits
// for the handler to see the change. Before a cut, it makes sure the
// informer's watch has delivered an event: client-go lists again, instead of
// resuming, a watch that ends within a second without any event.
func pingPods(t *testing.T, client kubernetes.Interface, rec *informertest.Recorder[*corev1.Pod], namespace string) {
	t.Helper()
	pods := client.CoreV1().Pods(namespace)
	pod, err := pods.Get(t.Context(), "ping", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		createPod(t, client, newPod(namespace, "ping", map[string]string{"n": "0"}))
		rec.WaitForEvent(t, informertest.Added, namespace, "ping")
		pod, err = pods.Get(t.Context(), "ping", metav1.GetOptions{})
	}
	if err != nil {
		t.Fatalf("getting pod ping: %v", err)
	}
	n, _ := strconv.Atoi(pod.Labels["n"])
	patch := fmt.Sprintf(`{"metadata":{"labels":{"n":"%d"}}}`, n+1)
	if _, err := pods.Patch(t.Context(), "ping", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching pod ping: %v", err)
	}
	rec.WaitForEvent(t, informertest.Updated, namespace, "ping")
}

// logStatus logs the informer's status: its resourceVersion and last
// list/watch error.
func logStatus(t *testing.T, inf *informer.Informer) {
	t.Helper()
	for _, st := range inf.Status().Informers {
		t.Logf("status of %s: synced %t, resourceVersion %s, %d cached, last error at %s: %v",
			st.Resource, st.Synced, st.ResourceVersion, st.CachedObjects, st.LastErrorTime.Format(time.TimeOnly), st.LastError)
	}
}
