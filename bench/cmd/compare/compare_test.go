package main

import (
	"math"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
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

// TestDeliveryWiring runs a small delivery through each library on the fake
// source: every event must reach the handler exactly once.
func TestDeliveryWiring(t *testing.T) {
	for _, lib := range typedLibs {
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

// TestHeapWiring syncs a few pods per library, typed and metadata only, and
// checks that the heap measurement sees them.
func TestHeapWiring(t *testing.T) {
	for _, lib := range []string{libOurs, libRaw, libCtrl, libOursMeta, libRawMeta, libCtrlMeta} {
		t.Run(lib, func(t *testing.T) {
			r, err := measureHeap(t.Context(), lib, 200, "")
			if err != nil {
				t.Fatal(err)
			}
			if r.HeapAllocPerPod <= 0 {
				t.Errorf("got %v bytes per pod, want more than 0", r.HeapAllocPerPod)
			}
		})
	}
}
