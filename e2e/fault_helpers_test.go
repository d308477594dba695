package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// convergeBound bounds the wait for an informer to agree with the server
// after a fault. Past it the test fails and prints the differences. It is
// above client-go's largest reflector backoff, [30s, 60s).
const convergeBound = 90 * time.Second

// seedEnv names the environment variable that fixes the seed of the
// randomized fault and property tests, to replay a failure.
const seedEnv = "E2E_SEED"

// noWatchCache makes kube-apiserver serve watches straight from etcd, so
// that a watch resumed from a compacted resourceVersion gets 410 Gone. With
// the watch cache on, the server keeps enough history (it grows the cache
// to hold at least 75 s of events) that a short outage never expires a
// resourceVersion.
var noWatchCache = []string{"--watch-cache=false"}

// startFaultCluster starts a control plane of the test's own, so that the
// faults it injects do not disturb the suite's shared cluster.
func startFaultCluster(t *testing.T, apiServerFlags ...string) *localcluster.Cluster {
	t.Helper()
	requireCluster(t) // skips with the suite's message when binaries are missing
	start := time.Now()
	c := informertest.StartCluster(t, localcluster.Options{APIServerFlags: apiServerFlags})
	t.Logf("own cluster started in %v at %s (kube-apiserver flags %q)", time.Since(start).Round(time.Millisecond), c.APIServerURL(), apiServerFlags)
	return c
}

// fastConfig returns the admin configuration of c with client-side rate
// limits high enough not to slow a test down.
func fastConfig(c *localcluster.Cluster) *rest.Config {
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 2000, 2000
	return cfg
}

// directClients returns admin clients that talk to c directly, never
// through a fault proxy.
func directClients(t *testing.T, c *localcluster.Cluster) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	client, err := kubernetes.NewForConfig(fastConfig(c))
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	dyn, err := dynamic.NewForConfig(fastConfig(c))
	if err != nil {
		t.Fatalf("dynamic.NewForConfig: %v", err)
	}
	return client, dyn
}

// proxiedConfig returns the admin configuration of c pointed at proxy, with
// every request recorded in requests. TLS verification stays on: the
// server's certificate is for 127.0.0.1, whatever the port.
func proxiedConfig(c *localcluster.Cluster, proxy *tcpProxy, requests *requestLog) *rest.Config {
	cfg := fastConfig(c)
	cfg.Host = "https://" + proxy.Addr()
	if requests != nil {
		cfg.WrapTransport = requests.wrap
	}
	return cfg
}

// apiServerAddr returns "127.0.0.1:PORT" of c's kube-apiserver.
func apiServerAddr(c *localcluster.Cluster) string {
	return strings.TrimPrefix(c.APIServerURL(), "https://")
}

// testSeed returns the seed of a randomized test: $E2E_SEED when set, else
// a new one. It logs it, so that any failure can be replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv(seedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("$%s: %v", seedEnv, err)
		}
	}
	t.Logf("seed %d (replay with %s=%d go test -race -run '^%s$' ./e2e/)", seed, seedEnv, seed, t.Name())
	return seed
}

// objView is what the three views are compared on: an object's identity,
// its version and its labels.
type objView struct {
	UID             types.UID
	ResourceVersion string
	Labels          map[string]string
}

func viewOf(obj metav1.Object) objView {
	labels := obj.GetLabels()
	if len(labels) == 0 {
		labels = nil
	}
	return objView{UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(), Labels: labels}
}

// viewOfList returns the view of objs, by key.
func viewOfList[T metav1.Object](objs []T) map[string]objView {
	view := make(map[string]objView, len(objs))
	for _, obj := range objs {
		view[cache.MetaObjectToName(obj).String()] = viewOf(obj)
	}
	return view
}

// viewOfState returns the view of a [informertest.Recorder.State].
func viewOfState[T informer.Object](state map[string]T) map[string]objView {
	view := make(map[string]objView, len(state))
	for key, obj := range state {
		view[key] = viewOf(obj)
	}
	return view
}

// cacheView returns the view of everything in the informer's cache.
func cacheView[T informer.Object](t *testing.T, lister informer.Lister[T]) map[string]objView {
	t.Helper()
	objs, err := lister.List(nil)
	if err != nil {
		t.Fatalf("Lister().List: %v", err)
	}
	return viewOfList(objs)
}

// retryList calls list until it succeeds, within convergeBound: right after
// a restart the server may still refuse a request or two.
func retryList[T any](t *testing.T, what string, list func(ctx context.Context) (T, error)) T {
	t.Helper()
	var (
		result  T
		lastErr error
	)
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, convergeBound, true, func(ctx context.Context) (bool, error) {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		result, lastErr = list(callCtx)
		return lastErr == nil, nil
	})
	if err != nil {
		t.Fatalf("listing %s from the server: %v (last error: %v)", what, err, lastErr)
	}
	return result
}

// serverPods returns the view of a fresh LIST of the pods of namespace,
// straight from the server (a quorum read).
func serverPods(t *testing.T, client kubernetes.Interface, namespace string) map[string]objView {
	t.Helper()
	list := retryList(t, "pods", func(ctx context.Context) (*corev1.PodList, error) {
		return client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	})
	pods := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	return viewOfList(pods)
}

// serverWidgets returns the view of a fresh LIST of the widgets of
// namespace, straight from the server.
func serverWidgets(t *testing.T, dyn dynamic.Interface, namespace string) map[string]objView {
	t.Helper()
	list := retryList(t, "widgets", func(ctx context.Context) (*unstructured.UnstructuredList, error) {
		return dyn.Resource(widgetGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	})
	widgets := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		widgets[i] = &list.Items[i]
	}
	return viewOfList(widgets)
}

// awaitConvergence waits, within convergeBound, until the state rebuilt
// from rec's events equals want, a LIST taken from the server once the
// writes stopped, then checks that the informer's cache equals it too: no
// lost, no phantom and no stale object in either. The recorder must have a
// wait timeout of at least convergeBound.
func awaitConvergence[T informer.Object](t *testing.T, what string, rec *informertest.Recorder[T], lister informer.Lister[T], want map[string]objView) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), convergeBound)
	defer cancel()
	err := rec.WaitFor(ctx, func([]informertest.Event[T]) bool {
		return cmp.Equal(want, viewOfState(rec.State()))
	})
	rebuilt := viewOfState(rec.State())
	if err != nil {
		t.Errorf("%s: the state rebuilt from handler events did not converge to the server's LIST within %v: %v\ndiff (-server +handlers):\n%s",
			what, convergeBound, err, cmp.Diff(want, rebuilt))
	}
	if diff := cmp.Diff(want, cacheView(t, lister)); diff != "" {
		t.Errorf("%s: the informer's cache differs from the server's LIST (-server +cache):\n%s", what, diff)
	}
	if err == nil {
		t.Logf("%s: handlers, cache and server agree on %d objects, %v after the writes stopped",
			what, len(want), time.Since(start).Round(time.Millisecond))
	}
}

// awaitEventSince waits until rec has an event for obj's key at obj's
// resourceVersion or newer: the informer has seen the write that returned
// obj, whether through its watch or through a relist.
func awaitEventSince[T informer.Object](t *testing.T, rec *informertest.Recorder[T], obj metav1.Object) {
	t.Helper()
	key, rv := cache.MetaObjectToName(obj).String(), revision(obj)
	awaitEvent(t, rec, fmt.Sprintf("an event of %s at resourceVersion %d or newer", key, rv),
		func(e informertest.Event[T]) bool { return e.Key() == key && revision(e.Object) >= rv })
}

// awaitEvent waits, within rec's wait timeout, until rec has an event that
// match accepts; what describes it for the failure message.
func awaitEvent[T informer.Object](t *testing.T, rec *informertest.Recorder[T], what string, match func(informertest.Event[T]) bool) {
	t.Helper()
	checked := 0 // events before this index did not match
	err := rec.WaitFor(t.Context(), func(events []informertest.Event[T]) bool {
		if slices.ContainsFunc(events[checked:], match) {
			return true
		}
		checked = len(events)
		return false
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// streamStats counts the events of one recorder.
type streamStats struct {
	Adds, InitialAdds, Updates, Deletes, FinalStateUnknownDeletes int
	// Replacements counts updates whose new object has another UID than
	// the old one: the object was deleted and created again under the same
	// name while the informer was not watching, and a relist found it.
	Replacements int
}

func (s streamStats) String() string {
	return fmt.Sprintf("%d adds (%d from an initial list), %d updates (%d replacing the object by a new one of the same name), %d deletes (%d with final state unknown)",
		s.Adds, s.InitialAdds, s.Updates, s.Replacements, s.Deletes, s.FinalStateUnknownDeletes)
}

// checkEventStream checks that events, in the order one handler saw them,
// are a consistent history: an add only for an object the handler does not
// hold, an update or a delete only for one it holds, the old object of an
// update being the last state the handler was given, and resourceVersions
// of one key never going back (kube-apiserver's resourceVersions are etcd
// revisions, a global counter). It returns counts of the events.
func checkEventStream[T informer.Object](t *testing.T, what string, events []informertest.Event[T]) streamStats {
	t.Helper()
	const maxReported = 10
	var (
		stats    streamStats
		held     = map[string]T{}
		reported int
	)
	report := func(i int, e informertest.Event[T], format string, args ...any) {
		reported++
		if reported <= maxReported {
			t.Errorf("%s: event %d (%s): %s", what, i, e, fmt.Sprintf(format, args...))
		}
	}
	for i, e := range events {
		key := e.Key()
		last, holds := held[key]
		switch e.Kind {
		case informertest.Added:
			stats.Adds++
			if e.InitialList {
				stats.InitialAdds++
			}
			if holds {
				report(i, e, "got an add for an object the handler holds at resourceVersion %s, want an update", last.GetResourceVersion())
			}
			held[key] = e.Object
		case informertest.Updated:
			stats.Updates++
			if !holds {
				report(i, e, "got an update for an object the handler does not hold, want an add")
			} else if got, want := e.OldObject.GetResourceVersion(), last.GetResourceVersion(); got != want {
				report(i, e, "old object at resourceVersion %s, want %s, the last state handed to the handler", got, want)
			}
			if holds && revision(e.Object) < revision(last) {
				report(i, e, "resourceVersion went back from %s", last.GetResourceVersion())
			}
			if e.OldObject.GetUID() != e.Object.GetUID() {
				stats.Replacements++
			}
			held[key] = e.Object
		case informertest.Deleted:
			stats.Deletes++
			if e.FinalStateUnknown {
				stats.FinalStateUnknownDeletes++
			}
			if !holds {
				report(i, e, "got a delete for an object the handler does not hold")
			} else if revision(e.Object) < revision(last) {
				report(i, e, "resourceVersion went back from %s", last.GetResourceVersion())
			}
			delete(held, key)
		}
	}
	if reported > maxReported {
		t.Errorf("%s: %d more inconsistent events not shown", what, reported-maxReported)
	}
	return stats
}

// revision parses a resourceVersion, 0 if it is not a number.
func revision(obj metav1.Object) uint64 {
	rv, _ := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	return rv
}

// request is one request an informer made, as a [requestLog] saw it.
type request struct {
	At   time.Time
	Kind string // "list", "watch-list" (a watch that starts with the current state), "watch" or the method
	// ResourceVersion is the resourceVersion parameter of the request.
	ResourceVersion string
	// Status is the HTTP status of the response, 0 when none came.
	Status int
	// Gone reports a 410 in the body of a watch: the error event the
	// server sends when the watch's resourceVersion was compacted. Only
	// seen in JSON streams.
	Gone bool
}

// requestLog records the requests made through a transport it wraps, to
// tell a watch that resumed from one that relisted.
type requestLog struct {
	mu       sync.Mutex
	requests []request
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		r := request{At: time.Now(), Kind: req.Method, ResourceVersion: q.Get("resourceVersion")}
		switch {
		case req.Method != http.MethodGet:
		case q.Get("watch") == "true" && q.Get("sendInitialEvents") == "true":
			r.Kind = "watch-list"
		case q.Get("watch") == "true":
			r.Kind = "watch"
		default:
			r.Kind = "list"
		}
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			r.Status = resp.StatusCode
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		index := len(l.requests)
		l.requests = append(l.requests, r)
		if resp != nil && r.Kind == "watch" {
			resp.Body = &goneSniffer{ReadCloser: resp.Body, found: func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				l.requests[index].Gone = true
			}}
		}
		return resp, err
	})
}

// goneMarker is how a 410 status starts in a JSON watch event.
var goneMarker = []byte(`"code":410`)

// goneSniffer passes a watch body through and calls found once it has
// seen goneMarker, even split across reads.
type goneSniffer struct {
	io.ReadCloser
	found func()
	tail  []byte
	seen  bool
}

func (s *goneSniffer) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if !s.seen && n > 0 {
		window := append(s.tail, p[:n]...)
		if bytes.Contains(window, goneMarker) {
			s.seen = true
			s.found()
		}
		s.tail = append([]byte(nil), window[max(len(window)-len(goneMarker)+1, 0):]...)
	}
	return n, err
}

// Len returns how many requests were made so far.
func (l *requestLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.requests)
}

// Since returns the requests made after the first n.
func (l *requestLog) Since(n int) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]request(nil), l.requests[min(n, len(l.requests)):]...)
}

// relists returns the requests of reqs that fetch the whole state: lists
// and watch-lists that got a response.
func relists(reqs []request) []request {
	var out []request
	for _, r := range reqs {
		if (r.Kind == "list" || r.Kind == "watch-list") && r.Status != 0 {
			out = append(out, r)
		}
	}
	return out
}

// summarize counts reqs by kind and outcome, for logs: "watch 200: 6,
// watch failed: 4, watch 200 then 410 in the stream: 1, watch-list 200: 1".
func summarize(reqs []request) string {
	counts := map[string]int{}
	var order []string
	for _, r := range reqs {
		outcome := "failed"
		if r.Status != 0 {
			outcome = strconv.Itoa(r.Status)
		}
		if r.Gone {
			outcome += " then 410 in the stream"
		}
		key := r.Kind + " " + outcome
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	parts := make([]string, len(order))
	for i, key := range order {
		parts[i] = fmt.Sprintf("%s: %d", key, counts[key])
	}
	return strings.Join(parts, ", ")
}

// checkResumedThenRelisted checks that reqs hold a watch resumed from
// resourceVersion that the server answered (the answer then being 410
// Gone, as a status or as the first event of the stream), followed by a
// relist: the path of a watch whose resourceVersion was compacted away.
func checkResumedThenRelisted(t *testing.T, reqs []request, resourceVersion string) {
	t.Helper()
	resumed := slices.IndexFunc(reqs, func(r request) bool {
		return r.Kind == "watch" && r.ResourceVersion == resourceVersion && r.Status != 0
	})
	if resumed < 0 {
		t.Errorf("requests after the cut: got no answered watch from resourceVersion %s, want one (the watch that gets 410): %v", resourceVersion, reqs)
		return
	}
	if got := relists(reqs[resumed+1:]); len(got) == 0 {
		t.Errorf("requests after the watch resumed from the compacted resourceVersion %s: got no list or watch-list, want a relist: %v", resourceVersion, reqs)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// compactEtcd compacts etcd's history up to revision, through etcd's JSON
// gateway, as kube-apiserver's own compactor would some minutes later: a
// watch or an exact LIST at an older resourceVersion then gets 410 Gone.
func compactEtcd(t *testing.T, c *localcluster.Cluster, revision string) {
	t.Helper()
	body := fmt.Sprintf(`{"revision": %q, "physical": true}`, revision)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.EtcdURL()+"/v3/kv/compaction", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("compacting etcd at revision %s: %v", revision, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("compacting etcd at revision %s: got %s %s, want 200 OK", revision, resp.Status, bytes.TrimSpace(answer))
	}
}

// currentRevision returns the resourceVersion of a fresh LIST of pods: the
// current etcd revision.
func currentRevision(t *testing.T, client kubernetes.Interface, namespace string) string {
	t.Helper()
	list, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	return list.ResourceVersion
}

// expectExpired checks that resourceVersion has been compacted away: an
// exact LIST at it must get 410 (Expired or Gone). This is what the
// informer's watch, resumed from there, runs into.
func expectExpired(t *testing.T, client kubernetes.Interface, namespace, resourceVersion string) {
	t.Helper()
	_, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{
		ResourceVersion:      resourceVersion,
		ResourceVersionMatch: metav1.ResourceVersionMatchExact,
	})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("LIST at the compacted resourceVersion %s: got error %v, want 410 Expired or Gone", resourceVersion, err)
	}
	t.Logf("LIST at resourceVersion %s after compaction: %v", resourceVersion, err)
}

// churn creates, updates and deletes pods in one namespace from a goroutine
// until stopped, tolerating errors while the server is down. Tests wait on
// its progress (successful writes) to pace faults.
type churn struct {
	client    kubernetes.Interface
	namespace string
	rng       *rand.Rand
	exists    map[string]bool // what the churn believes; only used to pick operations

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	ok      int
	failed  int
	lastErr error
	changed chan struct{} // closed and replaced after each operation
}

const (
	churnNames = 30
	// churnPause paces the churn between operations and churnErrorPause
	// after a failed one. They are pacing only, to keep the load
	// reasonable on two cores; nothing synchronizes on them.
	churnPause      = 5 * time.Millisecond
	churnErrorPause = 100 * time.Millisecond
	// churnCallTimeout bounds each request, which may hang while etcd is down.
	churnCallTimeout = 5 * time.Second
)

// startChurn starts a churn on namespace with its own random source. The
// test's cleanup stops it.
func startChurn(t *testing.T, client kubernetes.Interface, namespace string, seed uint64) *churn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &churn{
		client:    client,
		namespace: namespace,
		rng:       rand.New(rand.NewPCG(seed, 1)),
		exists:    map[string]bool{},
		cancel:    cancel,
		done:      make(chan struct{}),
		changed:   make(chan struct{}),
	}
	go c.run(ctx)
	t.Cleanup(c.stop)
	return c
}

// stop ends the churn and waits until its last request has returned. Every
// write it made is on the server when stop returns.
func (c *churn) stop() {
	c.cancel()
	<-c.done
}

// counts returns the successful and failed operations so far.
func (c *churn) counts() (ok, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok, c.failed
}

// waitFor blocks until cond holds for the counts of successful and failed
// operations, failing the test if it does not within convergeBound.
func (c *churn) waitFor(t *testing.T, what string, cond func(ok, failed int) bool) {
	t.Helper()
	timer := time.NewTimer(convergeBound)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ok, failed, lastErr, changed := c.ok, c.failed, c.lastErr, c.changed
		c.mu.Unlock()
		if cond(ok, failed) {
			return
		}
		select {
		case <-changed:
		case <-c.done:
			t.Fatalf("churn: waiting for %s: the churn stopped (%d ok, %d failed)", what, ok, failed)
		case <-timer.C:
			t.Fatalf("churn: waiting for %s: not within %v (%d ok, %d failed, last error: %v)", what, convergeBound, ok, failed, lastErr)
		case <-t.Context().Done():
			t.Fatalf("churn: waiting for %s: test context done", what)
		}
	}
}

// waitWrites waits until n more writes have succeeded.
func (c *churn) waitWrites(t *testing.T, n int) {
	t.Helper()
	base, _ := c.counts()
	c.waitFor(t, fmt.Sprintf("%d successful writes", n), func(ok, _ int) bool { return ok >= base+n })
}

// waitFailures waits until n more writes have failed: the churn has noticed
// that the server is down.
func (c *churn) waitFailures(t *testing.T, n int) {
	t.Helper()
	_, base := c.counts()
	c.waitFor(t, fmt.Sprintf("%d failed writes", n), func(_, failed int) bool { return failed >= base+n })
}

func (c *churn) run(ctx context.Context) {
	defer close(c.done)
	pods := c.client.CoreV1().Pods(c.namespace)
	for generation := 0; ctx.Err() == nil; generation++ {
		name := fmt.Sprintf("churn-%02d", c.rng.IntN(churnNames))
		callCtx, cancel := context.WithTimeout(ctx, churnCallTimeout)
		var err error
		switch roll := c.rng.IntN(10); {
		case !c.exists[name]:
			pod := newPod(c.namespace, name, map[string]string{"gen": strconv.Itoa(generation)})
			_, err = pods.Create(callCtx, pod, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				c.exists[name] = true
			}
		case roll < 7:
			patch := fmt.Sprintf(`{"metadata":{"labels":{"gen":"%d"}}}`, generation)
			_, err = pods.Patch(callCtx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			if apierrors.IsNotFound(err) {
				c.exists[name] = false
			}
		default:
			err = pods.Delete(callCtx, name, metav1.DeleteOptions{})
			if err == nil || apierrors.IsNotFound(err) {
				c.exists[name] = false
			}
		}
		cancel()
		if ctx.Err() != nil {
			return // the outcome of the last call does not matter
		}
		c.mu.Lock()
		if err == nil {
			c.ok++
		} else {
			c.failed++
			c.lastErr = err
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		pause := churnPause
		if err != nil {
			pause = churnErrorPause
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause): // pacing only, see churnPause
		}
	}
}

// createNumberedPods creates count pods named prefix-NN in namespace.
func createNumberedPods(t *testing.T, client kubernetes.Interface, namespace, prefix string, count int) {
	t.Helper()
	for i := range count {
		createPod(t, client, newPod(namespace, fmt.Sprintf("%s-%02d", prefix, i), map[string]string{"v": "0"}))
	}
}

// churnedPods is the fixture of the churn tests: pods in a namespace of
// their own, an informer on them whose requests are logged, and a churn
// goroutine writing to them.
type churnedPods struct {
	client   kubernetes.Interface
	ns       string
	requests *requestLog
	rec      *informertest.Recorder[*corev1.Pod]
	reg      *informer.Registration[*corev1.Pod]
	inf      *informer.Informer
	churn    *churn
}

// watchChurnedPods creates 10 pods in a new namespace of c, starts and syncs
// an informer on them, then starts the churn.
func watchChurnedPods(t *testing.T, c *localcluster.Cluster) *churnedPods {
	t.Helper()
	client, _ := directClients(t, c)
	w := &churnedPods{client: client, ns: newNamespace(t, client), requests: &requestLog{}}
	createNumberedPods(t, client, w.ns, "early", 10)
	cfg := fastConfig(c)
	cfg.WrapTransport = w.requests.wrap
	w.rec = informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(cfg).WithNamespace(w.ns)
	w.reg = informer.Watch(b, w.rec.Funcs())
	w.inf = startInformer(t, b)
	w.churn = startChurn(t, client, w.ns, testSeed(t))
	return w
}

// finish lets the churn write a little more, stops it, and checks that the
// server, the cache and the handler-rebuilt state agree and that the event
// history is consistent.
func (w *churnedPods) finish(t *testing.T) {
	t.Helper()
	w.churn.waitWrites(t, 20)
	w.churn.stop()
	ok, failed := w.churn.counts()
	t.Logf("churn: %d writes succeeded, %d failed", ok, failed)

	awaitConvergence(t, "pods", w.rec, w.reg.Lister(), serverPods(t, w.client, w.ns))
	stats := checkEventStream(t, "pods", w.rec.Events())
	t.Logf("events: %s", stats)
	t.Logf("requests of the informer: %s", summarize(w.requests.Since(0)))
	logStatus(t, w.inf)
}

// checkDeletes checks that each pod of names got exactly one delete, with
// IsFinalStateUnknown as want.
func checkDeletes(t *testing.T, events []informertest.Event[*corev1.Pod], names []string, finalStateUnknown bool) {
	t.Helper()
	for _, name := range names {
		var deletes []informertest.Event[*corev1.Pod]
		for _, e := range events {
			if e.Kind == informertest.Deleted && e.Object.Name == name {
				deletes = append(deletes, e)
			}
		}
		if len(deletes) != 1 {
			t.Errorf("deletes of pod %s: got %d (%v), want 1", name, len(deletes), deletes)
			continue
		}
		if got := deletes[0].FinalStateUnknown; got != finalStateUnknown {
			t.Errorf("IsFinalStateUnknown of the delete of pod %s: got %t, want %t", name, got, finalStateUnknown)
		}
	}
}
