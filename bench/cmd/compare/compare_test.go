package main

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// klog starts its flush daemon when the package loads.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
	)
}

// The two line forms the program prints for every comparison.
var (
	rawLine  = regexp.MustCompile(`^[a-z0-9_]+: ours=[0-9.]+[a-zA-Z]* raw=[0-9.]+[a-zA-Z]* ratio=([0-9]+\.[0-9]{3}|n/a|inf)$`)
	ctrlLine = regexp.MustCompile(`^[a-z0-9_]+: ours=[0-9.]+[a-zA-Z]* ctrl=[0-9.]+[a-zA-Z]* ratio_ctrl=([0-9]+\.[0-9]{3}|n/a|inf)$`)
)

func TestComparisonLines(t *testing.T) {
	tests := []struct {
		name string
		c    comparison
		want [2]string
	}{
		{
			name: "nanoseconds",
			c:    comparison{name: "delivery_ns_per_event_10k", unit: "ns", ours: 1210.4, raw: 1100, ctrl: 1300},
			want: [2]string{
				"delivery_ns_per_event_10k: ours=1210ns raw=1100ns ratio=1.100",
				"delivery_ns_per_event_10k: ours=1210ns ctrl=1300ns ratio_ctrl=0.931",
			},
		},
		{
			name: "decimals without unit",
			c:    comparison{name: "allocs_per_event_10k", decimals: 2, ours: 9.06, raw: 9.2, ctrl: 9.52},
			want: [2]string{
				"allocs_per_event_10k: ours=9.06 raw=9.20 ratio=0.985",
				"allocs_per_event_10k: ours=9.06 ctrl=9.52 ratio_ctrl=0.952",
			},
		},
		{
			name: "zeros",
			c:    comparison{name: "noop_resync_calls", ours: 0, raw: 0, ctrl: 40000},
			want: [2]string{
				"noop_resync_calls: ours=0 raw=0 ratio=n/a",
				"noop_resync_calls: ours=0 ctrl=40000 ratio_ctrl=0.000",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.lines()
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !rawLine.MatchString(got[0]) {
				t.Errorf("line %q does not have the form <metric>: ours=<v> raw=<v> ratio=<r>", got[0])
			}
			if !ctrlLine.MatchString(got[1]) {
				t.Errorf("line %q does not have the form <metric>: ours=<v> ctrl=<v> ratio_ctrl=<r>", got[1])
			}
		})
	}
}

func TestMedianAndPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		median float64
		p99    float64
	}{
		{name: "odd", values: []float64{3, 1, 2}, median: 2, p99: 3},
		{name: "even", values: []float64{4, 1, 3, 2}, median: 2.5, p99: 4},
		{name: "hundred", values: hundred(), median: 50.5, p99: 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.values); got != tt.median {
				t.Errorf("median: got %v, want %v", got, tt.median)
			}
			if got := percentile(tt.values, 99); got != tt.p99 {
				t.Errorf("p99: got %v, want %v", got, tt.p99)
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median of nothing: got %v, want NaN", got)
	}
}

func hundred() []float64 {
	values := make([]float64, 100)
	for i := range values {
		values[i] = float64(100 - i)
	}
	return values
}

// TestResultComparisons checks the names and figures of the delivery and
// heap results, and that every one prints in the two-line form: the
// shared-strings lines reuse the raw and ctrl figures of the default ones.
func TestResultComparisons(t *testing.T) {
	// Distinct runs per library, so that a swapped library shows.
	nanos, allocs, heap := map[string][]float64{}, map[string][]float64{}, map[string]float64{}
	for i, lib := range heapLibs {
		v := float64(1000 * (i + 1))
		nanos[lib] = []float64{v + 1, v, v + 2}
		allocs[lib] = []float64{float64(i) + 9.5}
		heap[lib] = v
	}
	type figures struct {
		name            string
		ours, raw, ctrl float64
	}
	tests := []struct {
		name string
		got  []comparison
		want []figures
	}{
		{
			name: "delivery",
			got:  deliveryComparisons(10_000, nanos, allocs),
			want: []figures{
				{"delivery_ns_per_event_10k", median(nanos[libOurs]), median(nanos[libRaw]), median(nanos[libCtrl])},
				{"allocs_per_event_10k", allocs[libOurs][0], allocs[libRaw][0], allocs[libCtrl][0]},
				{"delivery_ns_per_event_no_sharing_10k", median(nanos[libOursNoShare]), median(nanos[libRaw]), median(nanos[libCtrl])},
			},
		},
		{
			name: "heap",
			got:  heapComparisons(50_000, heap),
			want: []figures{
				{"heap_bytes_per_pod_50k", heap[libOurs], heap[libRaw], heap[libCtrl]},
				{"heap_bytes_per_pod_metadata_50k", heap[libOursMeta], heap[libRaw], heap[libCtrlMeta]},
				{"heap_bytes_per_pod_metadata_vs_raw_metadata_50k", heap[libOursMeta], heap[libRawMeta], heap[libCtrlMeta]},
				{"heap_bytes_per_pod_no_sharing_50k", heap[libOursNoShare], heap[libRaw], heap[libCtrl]},
				{"heap_bytes_per_pod_unstructured_50k", heap[libOursUnstructured], heap[libRawUnstructured], heap[libCtrlUnstructured]},
				{"heap_bytes_per_pod_unstructured_no_sharing_50k", heap[libOursUnstructuredNoShare], heap[libRawUnstructured], heap[libCtrlUnstructured]},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) != len(tt.want) {
				t.Fatalf("got %d comparisons, want %d", len(tt.got), len(tt.want))
			}
			for i, c := range tt.got {
				w := tt.want[i]
				if got := (figures{c.name, c.ours, c.raw, c.ctrl}); got != w {
					t.Errorf("comparison %d: got %+v, want %+v", i, got, w)
				}
				lines := c.lines()
				if !rawLine.MatchString(lines[0]) || !ctrlLine.MatchString(lines[1]) {
					t.Errorf("comparison %d: lines %q are not in the two-line form", i, lines)
				}
			}
		})
	}
}

// TestDeliveryWiring runs a small delivery through each library on the fake
// source: every event must reach the handler exactly once.
func TestDeliveryWiring(t *testing.T) {
	for _, lib := range deliveryLibs {
		t.Run(lib, func(t *testing.T) {
			r, err := measureDelivery(t.Context(), lib, 300, deliveryProfiles{})
			if err != nil {
				t.Fatal(err)
			}
			if r.nsPerEvent <= 0 || r.allocsPerEvent <= 0 {
				t.Errorf("got %+v, want positive figures", r)
			}
		})
	}
}

// TestNoOpResyncWiring checks that resync reaches raw client-go's handler
// and not ours, so that noop_resync_calls measures what it claims.
func TestNoOpResyncWiring(t *testing.T) {
	if testing.Short() {
		t.Skip("takes two seconds")
	}
	const pods = 50
	calls, err := measureNoOpResync(t.Context(), []string{libOurs, libRaw}, pods, time.Second, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := calls[libOurs]; got != 0 {
		t.Errorf("ours: got %v no-op calls, want 0", got)
	}
	if got := calls[libRaw]; got < pods {
		t.Errorf("raw: got %v no-op calls, want at least %d (one resync)", got, pods)
	}
}

// TestHeapWiring syncs a few pods per library of the heap measurement and
// checks that the measurement sees them, and that ours-noshare keeps more
// than ours (sharing saves about 10% at this size), which tells that its option is
// set.
func TestHeapWiring(t *testing.T) {
	heap := map[string]float64{}
	for _, lib := range heapLibs {
		t.Run(lib, func(t *testing.T) {
			r, err := measureHeap(t.Context(), lib, 200, "")
			if err != nil {
				t.Fatal(err)
			}
			if r.HeapAllocPerPod <= 0 {
				t.Errorf("got %v bytes per pod, want more than 0", r.HeapAllocPerPod)
			}
			heap[lib] = r.HeapAllocPerPod
		})
	}
	if t.Failed() {
		return
	}
	for noShare, plain := range map[string]string{libOursNoShare: libOurs, libOursUnstructuredNoShare: libOursUnstructured} {
		if heap[noShare] <= heap[plain] {
			t.Errorf("%s keeps %.0f bytes per pod, %s %.0f: want more without string sharing", noShare, heap[noShare], plain, heap[plain])
		}
	}
}

// TestUnstructuredWiring syncs a few pods through each library's
// unstructured informer on the fake source, then pushes updates into the
// watch: every add and every update must reach the handler.
func TestUnstructuredWiring(t *testing.T) {
	const pods, updates = 20, 50
	for _, lib := range []string{libOursUnstructured, libRawUnstructured, libCtrlUnstructured, libOursUnstructuredNoShare} {
		t.Run(lib, func(t *testing.T) {
			list := func() (*unstructured.UnstructuredList, error) { return decodedUnstructuredList(benchNamespace, pods) }
			src := newFakeSource(fakeLists{dynamic: list}, updates)
			h := newCounter(pods, updates)
			s, err := newSubject(lib, src, h, subjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.stop()
			if err := startSynced(t.Context(), s, h); err != nil {
				t.Fatal(err)
			}
			base, err := list()
			if err != nil {
				t.Fatal(err)
			}
			for i := range updates {
				pod := base.Items[i%pods].DeepCopy()
				pod.SetResourceVersion(strconv.Itoa(1_000_000 + i))
				src.watcher.Modify(pod)
			}
			if err := wait(h.updatesDone, stepTimeout, lib+" updates"); err != nil {
				t.Fatal(err)
			}
			if got := h.updates.Load(); got != updates {
				t.Errorf("got %d updates, want %d", got, updates)
			}
		})
	}
}

// TestDecodedUnstructuredList checks that the dynamic fake's LIST holds
// what the dynamic client decodes: pods of kind v1 Pod, each with strings of
// its own.
func TestDecodedUnstructuredList(t *testing.T) {
	list, err := decodedUnstructuredList(benchNamespace, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetResourceVersion(); got != "1" {
		t.Errorf("list resourceVersion: got %q, want %q", got, "1")
	}
	if len(list.Items) != 3 {
		t.Fatalf("got %d items, want 3", len(list.Items))
	}
	want := corev1.SchemeGroupVersion.WithKind("Pod")
	for i := range list.Items {
		if got := list.Items[i].GroupVersionKind(); got != want {
			t.Errorf("item %d: got kind %v, want %v", i, got, want)
		}
	}
	a, b := list.Items[0].GetNamespace(), list.Items[1].GetNamespace()
	if a != benchNamespace || unsafe.StringData(a) == unsafe.StringData(b) {
		t.Errorf("namespaces %q and %q: want %q, decoded apart", a, b, benchNamespace)
	}
}

// TestParseFlags checks the defaults that depend on -quick and that a bad
// value is a flagError, which main reports (the flag package reports the
// others itself).
func TestParseFlags(t *testing.T) {
	t.Setenv("QUICK", "")
	full, err := parseFlags(nil)
	if err != nil || full.quick || full.latencyDuration != 15*time.Second || full.runs != 5 || full.syncRuns != 7 {
		t.Errorf("no flags: got %+v, %v; want full sizes, 15s latency runs, 5 runs, 7 sync runs", full, err)
	}
	quick, err := parseFlags([]string{"-quick"})
	if err != nil || !quick.quick || quick.latencyDuration != 10*time.Second {
		t.Errorf("-quick: got %+v, %v; want quick with 10s latency runs", quick, err)
	}
	t.Setenv("QUICK", "1")
	if env, err := parseFlags(nil); err != nil || !env.quick {
		t.Errorf("QUICK=1: got quick=%v, %v; want quick", env.quick, err)
	}
	var fe flagError
	if _, err := parseFlags([]string{"-runs", "0"}); !errors.As(err, &fe) {
		t.Errorf("-runs 0: got %v, want a flagError", err)
	}
	if _, err := parseFlags([]string{"-nosuch"}); err == nil || errors.As(err, &fe) {
		t.Errorf("-nosuch: got %v, want the flag package's error", err)
	}
}
