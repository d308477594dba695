package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

const (
	// propertySequences is how many random histories TestPropertyRandomHistories runs.
	propertySequences = 3
	// propertyOpsPerResource is how many writes each history makes on
	// pods, and again on widgets, interleaved at random.
	propertyOpsPerResource = 500
	// propertyNames is the number of object names each history draws from:
	// few enough that names are deleted and created again (a new UID under
	// an old key), often while the informer's connection is cut.
	propertyNames = 25
	// propertyCuts is how many times each history cuts the informer's
	// connection. More would mostly measure client-go's reconnection
	// backoff, which grows with each reconnection of a reflector (0.8s,
	// doubling up to [30s, 60s), reset after two quiet minutes).
	propertyCuts = 3
	// propertySequenceBound bounds one history, writes and convergence.
	propertySequenceBound = 3 * time.Minute
)

// TestPropertyRandomHistories runs random histories of creates, updates and
// deletes on pods and on a custom resource against a real cluster, while
// the informer's connection is cut and restored at random points (a few
// times per history, sometimes with etcd compacted meanwhile so that the
// resumed watch gets 410 Gone and the informer lists again). After each
// history, for both resources, the state rebuilt from the handler's events,
// the informer's cache and a fresh LIST from the server must be equal, and
// the events must form a consistent history (see checkEventStream). Which
// path the informer took (resumed watch, 410, relist) is only logged here:
// cuts also make client-go relist for other reasons, and
// TestFaultWatchExpiredRelists asserts the 410 path.
//
// Each history has its own namespace, informer and proxy; they run in
// parallel. The seed is logged and E2E_SEED replays it: for a seed, each
// history makes the same writes and cuts at the same points. What is not
// replayed is timing: when the informer reconnects, and a compaction made
// by one history that another's resuming watch runs into.
func TestPropertyRandomHistories(t *testing.T) {
	c := startFaultCluster(t, noWatchCache...)
	client, dyn := directClients(t, c)
	crd, err := dyn.Resource(crdGVR).Create(t.Context(), widgetCRD(), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the CRD: %v", err)
	}
	if err := waitEstablished(t.Context(), dyn, crd.GetName()); err != nil {
		t.Fatal(err)
	}

	seed := testSeed(t)
	for i := range propertySequences {
		t.Run(fmt.Sprintf("history %d", i), func(t *testing.T) {
			// The histories run side by side: most of their time is spent
			// waiting for client-go's reconnection backoff, not working.
			t.Parallel()
			h := newHistory(client, dyn, seed, uint64(i))
			h.run(t, c)
		})
	}
}

// history is one random sequence of writes and connection cuts.
type history struct {
	rng       *rand.Rand
	client    kubernetes.Interface
	dyn       dynamic.Interface
	namespace string
	proxy     *tcpProxy
	requests  *requestLog

	pods         *informertest.Recorder[*corev1.Pod]
	widgets      *informertest.Recorder[*unstructured.Unstructured]
	podReg       *informer.Registration[*corev1.Pod]
	widgetReg    *informer.Registration[*unstructured.Unstructured]
	podsExist    map[string]bool
	widgetsExist map[string]bool
}

func newHistory(client kubernetes.Interface, dyn dynamic.Interface, seed, stream uint64) *history {
	return &history{
		rng:          rand.New(rand.NewPCG(seed, stream)),
		client:       client,
		dyn:          dyn,
		pods:         informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound)),
		widgets:      informertest.NewRecorder[*unstructured.Unstructured](informertest.WithWaitTimeout(convergeBound)),
		podsExist:    map[string]bool{},
		widgetsExist: map[string]bool{},
		requests:     &requestLog{},
	}
}

// cutWindow is a stretch of writes during which the proxy is cut.
type cutWindow struct {
	from, to int  // writes [from, to) happen while cut
	compact  bool // compact etcd before restoring
}

// planCuts draws propertyCuts windows over total writes, each 10 to 90
// writes long, not overlapping.
func (h *history) planCuts(total int) []cutWindow {
	var windows []cutWindow
	for len(windows) < propertyCuts {
		from := h.rng.IntN(total - 100)
		w := cutWindow{from: from, to: from + 10 + h.rng.IntN(80), compact: h.rng.IntN(2) == 0}
		if !slices.ContainsFunc(windows, func(o cutWindow) bool { return w.from <= o.to && o.from <= w.to }) {
			windows = append(windows, w)
		}
	}
	slices.SortFunc(windows, func(a, b cutWindow) int { return a.from - b.from })
	return windows
}

func (h *history) run(t *testing.T, cluster *localcluster.Cluster) {
	ctx, cancel := context.WithTimeout(t.Context(), propertySequenceBound)
	defer cancel()
	h.namespace = newNamespace(t, h.client)
	h.proxy = startProxy(t, apiServerAddr(cluster))

	b := informer.NewBuilder().WithConfig(proxiedConfig(cluster, h.proxy, h.requests)).WithNamespace(h.namespace)
	h.podReg = informer.Watch(b, h.pods.Funcs())
	h.widgetReg = informer.WatchResource(b, widgetGVR, h.widgets.Funcs())
	inf := startInformer(t, b)

	// Each resource gets exactly propertyOpsPerResource writes, interleaved.
	order := make([]bool, 0, 2*propertyOpsPerResource) // true: a pod
	for range propertyOpsPerResource {
		order = append(order, true, false)
	}
	h.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	windows := h.planCuts(len(order))
	t.Logf("cut windows (writes [from, to), compacted): %v", windows)

	start := time.Now()
	compactions := 0
	var ops opCounts
	for i, isPod := range order {
		for _, w := range windows {
			if i == w.from {
				// Only cut a watch that is up and has delivered events:
				// this also waits for the informer to be back from the
				// previous cut, which it may take seconds of client-go
				// backoff to be.
				h.ping(t)
				h.proxy.Cut()
			}
			if i == w.to {
				if w.compact {
					compactEtcd(t, cluster, currentRevision(t, h.client, h.namespace))
					compactions++
				}
				if err := h.proxy.Restore(); err != nil {
					t.Fatalf("restoring the proxy: %v", err)
				}
			}
		}
		if isPod {
			ops.add(h.podOp(ctx, t))
		} else {
			ops.add(h.widgetOp(ctx, t))
		}
	}
	if err := h.proxy.Restore(); err != nil { // a no-op: every window ends before the last write
		t.Fatalf("restoring the proxy: %v", err)
	}
	t.Logf("%d writes (%s) in %v, %d cuts, %d compactions", len(order), ops, time.Since(start).Round(time.Millisecond), len(windows), compactions)

	awaitConvergence(t, "pods", h.pods, h.podReg.Lister(), serverPods(t, h.client, h.namespace))
	awaitConvergence(t, "widgets", h.widgets, h.widgetReg.Lister(), serverWidgets(t, h.dyn, h.namespace))
	t.Logf("pod events: %s", checkEventStream(t, "pods", h.pods.Events()))
	t.Logf("widget events: %s", checkEventStream(t, "widgets", h.widgets.Events()))
	t.Logf("requests of the informer: %s", summarize(h.requests.Since(0)))
	logStatus(t, inf)
}

// ping writes to object "ping" of each resource and waits until the
// handler has an event at least as new as the write.
func (h *history) ping(t *testing.T) {
	t.Helper()
	pod, err := h.client.CoreV1().Pods(h.namespace).Patch(t.Context(), "ping", types.MergePatchType, labelPatch(h.randomLabels()), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		pod, err = h.client.CoreV1().Pods(h.namespace).Create(t.Context(), newPod(h.namespace, "ping", nil), metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("writing pod ping: %v", err)
	}
	awaitEventSince(t, h.pods, pod)

	widgets := h.dyn.Resource(widgetGVR).Namespace(h.namespace)
	widget, err := widgets.Patch(t.Context(), "ping", types.MergePatchType, labelPatch(h.randomLabels()), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		widget, err = widgets.Create(t.Context(), newWidget(h.namespace, "ping", "none"), metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("writing widget ping: %v", err)
	}
	awaitEventSince(t, h.widgets, widget)
}

// opCounts counts the writes of a history by kind.
type opCounts struct{ creates, updates, deletes int }

func (o *opCounts) add(kind string) {
	switch kind {
	case "create":
		o.creates++
	case "update":
		o.updates++
	case "delete":
		o.deletes++
	}
}

func (o opCounts) String() string {
	return fmt.Sprintf("%d creates, %d updates, %d deletes", o.creates, o.updates, o.deletes)
}

// pick draws a name and what to do with it: create when it does not
// exist, else update (two times in three) or delete.
func (h *history) pick(exists map[string]bool) (name, kind string) {
	name = fmt.Sprintf("obj-%02d", h.rng.IntN(propertyNames))
	switch {
	case !exists[name]:
		return name, "create"
	case h.rng.IntN(3) < 2:
		return name, "update"
	default:
		return name, "delete"
	}
}

// randomLabels returns one to three labels with random values; a label
// missing from one update to the next is removed by the merge patch.
func (h *history) randomLabels() map[string]any {
	labels := map[string]any{"v": strconv.Itoa(h.rng.IntN(1000))}
	for _, key := range []string{"color", "size"} {
		if h.rng.IntN(2) == 0 {
			labels[key] = strconv.Itoa(h.rng.IntN(10))
		} else {
			labels[key] = nil // merge patch: remove
		}
	}
	return labels
}

// podOp makes one random write on pods through the direct client.
func (h *history) podOp(ctx context.Context, t *testing.T) string {
	t.Helper()
	name, kind := h.pick(h.podsExist)
	pods := h.client.CoreV1().Pods(h.namespace)
	var err error
	switch kind {
	case "create":
		_, err = pods.Create(ctx, newPod(h.namespace, name, map[string]string{"v": "0"}), metav1.CreateOptions{})
		h.podsExist[name] = true
	case "update":
		_, err = pods.Patch(ctx, name, types.MergePatchType, labelPatch(h.randomLabels()), metav1.PatchOptions{})
	case "delete":
		err = pods.Delete(ctx, name, metav1.DeleteOptions{})
		delete(h.podsExist, name)
	}
	if err != nil {
		t.Fatalf("%s pod %s: %v", kind, name, err)
	}
	return kind
}

// widgetOp makes one random write on widgets through the direct client.
func (h *history) widgetOp(ctx context.Context, t *testing.T) string {
	t.Helper()
	name, kind := h.pick(h.widgetsExist)
	widgets := h.dyn.Resource(widgetGVR).Namespace(h.namespace)
	var err error
	switch kind {
	case "create":
		_, err = widgets.Create(ctx, newWidget(h.namespace, name, "red"), metav1.CreateOptions{})
		h.widgetsExist[name] = true
	case "update":
		// Labels and the spec both change.
		patch := fmt.Sprintf(`{"metadata":{"labels":%s},"spec":{"color":"c%d"}}`, labelsJSON(h.randomLabels()), h.rng.IntN(100))
		_, err = widgets.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	case "delete":
		err = widgets.Delete(ctx, name, metav1.DeleteOptions{})
		delete(h.widgetsExist, name)
	}
	if err != nil {
		t.Fatalf("%s widget %s: %v", kind, name, err)
	}
	return kind
}

// labelPatch returns a merge patch that sets (or, for nil, removes) labels.
func labelPatch(labels map[string]any) []byte {
	return []byte(`{"metadata":{"labels":` + labelsJSON(labels) + `}}`)
}

// labelsJSON encodes labels in a fixed key order, so that a seed always
// produces the same bytes.
func labelsJSON(labels map[string]any) string {
	keys := slices.Sorted(maps.Keys(labels))
	out := "{"
	for i, k := range keys {
		if i > 0 {
			out += ","
		}
		if v, ok := labels[k].(string); ok {
			out += strconv.Quote(k) + ":" + strconv.Quote(v)
		} else {
			out += strconv.Quote(k) + ":null"
		}
	}
	return out + "}"
}
