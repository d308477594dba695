// Command compare measures this repository's informer library against raw
// client-go (a SharedIndexInformer from informers.NewSharedInformerFactory
// with ResourceEventHandlerFuncs) and controller-runtime's cache (cache.New,
// GetInformer, AddEventHandler), each with default options, the same inputs
// and the same handler: an atomic counter.
//
// Results go to stdout, two lines per metric:
//
//	<metric>: ours=<value><unit> raw=<value><unit> ratio=<ours/raw>
//	<metric>: ours=<value><unit> ctrl=<value><unit> ratio_ctrl=<ours/ctrl>
//
// except the floor of the sync measurement, one line
// "sync_seconds_10k_floor: floor=<value>s". Progress and details go to
// stderr, each line starting with "#".
//
// The measurements (BENCHMARKS.md says what each means):
//
//   - delivery_ns_per_event_<N>, allocs_per_event_<N>: N update events
//     through a fake watch, in this process; median of -runs runs.
//   - delivery_wire_ns_per_event_<N>, allocs_wire_per_event_<N>: N update
//     events as the API server sends them, protobuf watch events read by
//     each library's real client from a RoundTripper (wire.go), in this
//     process; median of -runs runs.
//     delivery_ns_per_event_no_sharing_<N>: the delivery through a fake
//     watch for ours built with WithStringSharing(false) (ours-noshare,
//     measured in the same rotation), against the same raw and ctrl
//     medians. The wire delivery also runs ours-noshare and ours-keep
//     (WithManagedFields) and logs them against ours on stderr.
//   - heap_bytes_per_pod_<N>, heap_bytes_per_pod_metadata_<N>,
//     heap_bytes_per_pod_metadata_vs_raw_metadata_<N>,
//     heap_bytes_per_pod_no_sharing_<N> (ours-noshare against the raw and
//     ctrl figures of heap_bytes_per_pod_<N>),
//     heap_bytes_per_pod_unstructured_<N> (each library caching
//     *unstructured.Unstructured: WatchResource, client-go's dynamic
//     informer, controller-runtime's cache given an unstructured Pod) and
//     heap_bytes_per_pod_unstructured_no_sharing_<N> (ours with
//     WithStringSharing(false) against the same raw and ctrl figures): heap kept
//     per pod after syncing N realistic pods from a fake LIST, each library
//     in a child process of its own.
//   - noop_resync_calls: handler calls for 10k unchanged pods, 1 s resync,
//     during 5 s.
//   - sync_seconds_10k, sync_over_floor_10k, sync_seconds_10k_floor,
//     sync_cpu_seconds_10k, heap_bytes_per_pod_real_10k: 10k pods in a real
//     kube-apiserver started with localcluster; each sync in a child
//     process; medians of -sync-runs.
//   - peak_heap_bytes_sync_10k, peak_rss_bytes_sync_10k: the highest heap
//     (sampled every millisecond) and resident set (VmHWM, Linux only) of a
//     child process during the sync of those 10k pods; medians of -runs
//     runs, at most 3.
//   - latency_p50_ms, latency_p99_ms: from a PATCH to the handler call at
//     -latency-rate writes a second for -latency-duration, the three
//     libraries at once, each in a child process; medians of -runs.
//
// At the end the headline figures are drawn into an SVG chart, by default
// docs/bench.svg at the top of the repository (-chart).
//
// Usage (from the bench/ module):
//
//	go run ./cmd/compare [-quick] [-profile-dir DIR] [-chart FILE]
//
// -quick (or QUICK=1 in the environment) measures 10k objects only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/informer-go/informer/localcluster"
	"k8s.io/client-go/kubernetes"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// options are the command-line flags.
type options struct {
	quick           bool
	runs            int
	syncRuns        int
	latencyDuration time.Duration
	latencyRate     int
	profileDir      string
	fakeOnly        bool
	chart           string

	// Child mode: the parent re-runs this program with -child set.
	child      string
	lib        string
	pods       int
	kubeconfig string
	profile    string
}

// flagError is a bad flag value found after parsing, which the flag
// package has not reported.
type flagError struct{ error }

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	quickEnv, _ := strconv.ParseBool(os.Getenv("QUICK"))
	fs.BoolVar(&o.quick, "quick", quickEnv, "measure the small sizes only (default from $QUICK)")
	fs.IntVar(&o.runs, "runs", 5, "runs of each in-process timing measurement (delivery, latency); medians are reported")
	fs.IntVar(&o.syncRuns, "sync-runs", 7, "runs of each sync and floor measurement; medians are reported")
	fs.DurationVar(&o.latencyDuration, "latency-duration", 0, "length of each latency run (default 15s, 10s with -quick)")
	fs.IntVar(&o.latencyRate, "latency-rate", 200, "writes a second during the latency runs")
	fs.StringVar(&o.profileDir, "profile-dir", "", "also write profiles into this directory: CPU and allocations of delivery (fake and wire), heap after sync, CPU of sync (from extra, unmeasured runs)")
	fs.BoolVar(&o.fakeOnly, "fake-only", false, "skip the measurements that need a real cluster")
	fs.StringVar(&o.chart, "chart", "", "write the chart of the headline figures to this SVG file (default docs/bench.svg at the top of the repository; \"none\" for no chart)")
	fs.StringVar(&o.child, "child", "", "internal: run one measurement (heap, sync, peak, floor or latency) and print it as JSON; seed creates -pods pods in the cluster of -kubeconfig")
	fs.StringVar(&o.lib, "lib", "", "internal: the library of a child")
	fs.IntVar(&o.pods, "pods", 0, "internal: the pod count of a child")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "internal: the kubeconfig of a child")
	fs.StringVar(&o.profile, "profile", "", "internal: the profile file of a child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.latencyDuration == 0 {
		o.latencyDuration = 15 * time.Second
		if o.quick {
			o.latencyDuration = 10 * time.Second
		}
	}
	if o.runs < 1 || o.syncRuns < 1 || o.latencyRate < 1 {
		return o, flagError{errors.New("-runs, -sync-runs and -latency-rate must be positive")}
	}
	return o, nil
}

func main() {
	// controller-runtime complains on stderr, with a stack trace, when no
	// logger is set.
	crlog.SetLogger(logr.Discard())
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		// The flag package has printed its own errors; ours are printed here.
		if fe := (flagError{}); errors.As(err, &fe) {
			fmt.Fprintln(os.Stderr, "compare:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.child != "" {
		err = runChild(ctx, o)
	} else {
		err = run(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		stop()
		os.Exit(1)
	}
}

// runChild runs one measurement in this process and prints its result as
// JSON on stdout.
func runChild(ctx context.Context, o options) error {
	var result any
	var err error
	switch o.child {
	case "heap":
		result, err = measureHeap(ctx, o.lib, o.pods, o.profile)
	case "latency":
		cfg, err := restConfigFrom(o.kubeconfig)
		if err != nil {
			return err
		}
		// The result is written by runLatencyChild itself: stdout also
		// carries the "ready" line.
		return runLatencyChild(ctx, o.lib, cfg, o.pods, os.Stdin, os.Stdout)
	case "sync", "peak", "floor", "seed":
		cfg, cfgErr := restConfigFrom(o.kubeconfig)
		if cfgErr != nil {
			return cfgErr
		}
		switch o.child {
		case "sync":
			result, err = measureSync(ctx, o.lib, cfg, o.pods, o.profile)
		case "peak":
			result, err = measurePeak(ctx, o.lib, cfg, o.pods)
		case "floor":
			result, err = measureFloor(ctx, cfg)
		default:
			var writer kubernetes.Interface
			if writer, err = writeClient(cfg); err == nil {
				err = seedPods(ctx, writer, benchNamespace, o.pods, 32)
			}
			result = struct{}{}
		}
	default:
		return fmt.Errorf("unknown child measurement %q", o.child)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}

// child runs this program as a child measuring what args say and decodes
// its JSON result into result.
func child(ctx context.Context, result any, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("child %s: %w", strings.Join(args, " "), err)
	}
	return json.Unmarshal(out, result)
}

// printer writes result lines and keeps them for the chart.
type printer struct {
	out     io.Writer
	results *results
}

func (p printer) compare(c comparison) {
	p.results.add(c)
	for _, line := range c.lines() {
		fmt.Fprintln(p.out, line)
	}
}

// floor writes the floor of the sync measurement, which has no library.
func (p printer) floor(seconds float64) {
	p.results.floor = seconds
	fmt.Fprintf(p.out, "sync_seconds_10k_floor: floor=%.3fs\n", seconds)
}

// run runs every measurement and prints the results as they come.
func run(ctx context.Context, o options, out io.Writer) error {
	p := printer{out: out, results: newResults()}
	sizes := []int{10_000, 50_000}
	if o.quick {
		sizes = sizes[:1]
	}
	logMachine(o)
	// The commit is read now: the chart names the code that was measured.
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	chartPath := o.chart
	if chartPath == "" {
		chartPath = filepath.Join(repositoryRoot(wd), "docs", "bench.svg")
	}
	info := newChartInfo(wd, chartPath, o.quick)
	logf("commit %s; machine %s", info.commit, info.machine)
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	for _, size := range sizes {
		if err := runDelivery(ctx, o, p, size); err != nil {
			return err
		}
		if err := runWireDelivery(ctx, o, p, size); err != nil {
			return err
		}
	}
	if o.profileDir != "" {
		if err := profileDelivery(ctx, o, sizes); err != nil {
			return err
		}
	}
	for _, size := range sizes {
		if err := runHeap(ctx, o, p, size); err != nil {
			return err
		}
	}
	if err := runNoOpResync(ctx, p); err != nil {
		return err
	}
	if !o.fakeOnly {
		if err := runCluster(ctx, o, p); err != nil {
			return err
		}
	}
	logf("load average at the end: %s", loadAverage())
	if chartPath != "none" {
		if err := writeChart(chartPath, p.results, info); err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
		logf("chart written to %s", chartPath)
	}
	return nil
}

// runDelivery measures delivery at size events, o.runs times per library
// of deliveryLibs, rotating the order of the libraries from run to run.
func runDelivery(ctx context.Context, o options, p printer, size int) error {
	nanos, allocs := map[string][]float64{}, map[string][]float64{}
	for round := range o.runs {
		for k := range deliveryLibs {
			lib := deliveryLibs[(round+k)%len(deliveryLibs)]
			r, err := measureDelivery(ctx, lib, size, deliveryProfiles{})
			if err != nil {
				return fmt.Errorf("delivery %s %d: %w", lib, size, err)
			}
			logf("delivery %d run %d %s: %.0f ns/event %.2f allocs/event", size, round+1, lib, r.nsPerEvent, r.allocsPerEvent)
			nanos[lib] = append(nanos[lib], r.nsPerEvent)
			allocs[lib] = append(allocs[lib], r.allocsPerEvent)
		}
	}
	for _, lib := range deliveryLibs {
		logSpread("delivery_ns_per_event"+sizeSuffix(size)+" "+lib, nanos[lib], "ns")
	}
	for _, lib := range []string{libOursNoShare, libOursKeep} {
		logf("allocs_per_event%s %s: median %.2f", sizeSuffix(size), lib, median(allocs[lib]))
	}
	logf("delivery_ns_per_event%s ours-keep/raw (no stripping, sharing on): %.3f", sizeSuffix(size), median(nanos[libOursKeep])/median(nanos[libRaw]))
	for _, c := range deliveryComparisons(size, nanos, allocs) {
		p.compare(c)
	}
	return nil
}

// deliveryComparisons are the delivery results at size events, from the
// runs of each library: ours against raw and ctrl in time and allocations,
// then ours-noshare against the same raw and ctrl runs in time.
func deliveryComparisons(size int, nanos, allocs map[string][]float64) []comparison {
	suffix := sizeSuffix(size)
	return []comparison{
		{name: "delivery_ns_per_event" + suffix, unit: "ns",
			ours: median(nanos[libOurs]), raw: median(nanos[libRaw]), ctrl: median(nanos[libCtrl])},
		{name: "allocs_per_event" + suffix, decimals: 2,
			ours: median(allocs[libOurs]), raw: median(allocs[libRaw]), ctrl: median(allocs[libCtrl])},
		{name: "delivery_ns_per_event_no_sharing" + suffix, unit: "ns",
			ours: median(nanos[libOursNoShare]), raw: median(nanos[libRaw]), ctrl: median(nanos[libCtrl])},
	}
}

// profileDelivery runs delivery again per library and size, unmeasured,
// writing profiles (see profileRuns).
func profileDelivery(ctx context.Context, o options, sizes []int) error {
	for _, size := range sizes {
		err := profileRuns(o.profileDir, "delivery", size, deliveryLibs, func(lib string, prof deliveryProfiles) error {
			_, err := measureDelivery(ctx, lib, size, prof)
			return err
		})
		if err != nil {
			return err
		}
	}
	logf("delivery profiles written to %s", o.profileDir)
	return nil
}

// profileRuns runs measure again per library of libs, unmeasured, into
// dir: profileRepeats times writing CPU profiles sampled at 1 kHz (one run
// is too short for the default 100 Hz; go tool pprof merges the files),
// named cpu<i>-<what>-<lib>-<size>.pprof, then once writing allocation
// profiles (allocs-... with allocs-before-... as base) with the memory
// profile rate raised to one sample per 4 KiB.
func profileRuns(dir, what string, size int, libs []string, measure func(lib string, prof deliveryProfiles) error) error {
	const profileRepeats = 5
	for _, lib := range libs {
		name := func(kind string) string {
			return filepath.Join(dir, fmt.Sprintf("%s-%s-%s-%d.pprof", kind, what, lib, size))
		}
		for i := range profileRepeats {
			if err := measure(lib, deliveryProfiles{cpu: name(fmt.Sprintf("cpu%d", i+1)), cpuRate: 1000}); err != nil {
				return err
			}
		}
		rate := runtime.MemProfileRate
		runtime.MemProfileRate = 4096
		err := measure(lib, deliveryProfiles{allocsBefore: name("allocs-before"), allocsAfter: name("allocs")})
		runtime.MemProfileRate = rate
		if err != nil {
			return err
		}
	}
	return nil
}

// runHeap measures the heap per pod of every library of heapLibs (typed,
// metadata only, typed without string sharing, unstructured), each in a child
// process.
func runHeap(ctx context.Context, o options, p printer, size int) error {
	heap := map[string]float64{}
	for _, lib := range heapLibs {
		var r heapResult
		args := []string{"-child=heap", "-lib=" + lib, "-pods=" + strconv.Itoa(size)}
		if o.profileDir != "" {
			args = append(args, "-profile="+filepath.Join(o.profileDir, fmt.Sprintf("heap-%s-%d.pprof", lib, size)))
		}
		if err := child(ctx, &r, args...); err != nil {
			return err
		}
		logf("heap %d %s: %.0f B/pod HeapAlloc, %.0f B/pod HeapInuse", size, lib, r.HeapAllocPerPod, r.HeapInusePerPod)
		heap[lib] = r.HeapAllocPerPod
	}
	for _, c := range heapComparisons(size, heap) {
		p.compare(c)
	}
	return nil
}

// heapComparisons are the heap results at size pods, from the bytes per
// pod of each library. The no-sharing line compares ours-noshare with the
// very raw and ctrl figures of the typed line.
func heapComparisons(size int, heap map[string]float64) []comparison {
	suffix := sizeSuffix(size)
	return []comparison{
		{name: "heap_bytes_per_pod" + suffix, unit: "B",
			ours: heap[libOurs], raw: heap[libRaw], ctrl: heap[libCtrl]},
		{name: "heap_bytes_per_pod_metadata" + suffix, unit: "B",
			ours: heap[libOursMeta], raw: heap[libRaw], ctrl: heap[libCtrlMeta]},
		{name: "heap_bytes_per_pod_metadata_vs_raw_metadata" + suffix, unit: "B",
			ours: heap[libOursMeta], raw: heap[libRawMeta], ctrl: heap[libCtrlMeta]},
		{name: "heap_bytes_per_pod_no_sharing" + suffix, unit: "B",
			ours: heap[libOursNoShare], raw: heap[libRaw], ctrl: heap[libCtrl]},
		{name: "heap_bytes_per_pod_unstructured" + suffix, unit: "B",
			ours: heap[libOursUnstructured], raw: heap[libRawUnstructured], ctrl: heap[libCtrlUnstructured]},
		{name: "heap_bytes_per_pod_unstructured_no_sharing" + suffix, unit: "B",
			ours: heap[libOursUnstructuredNoShare], raw: heap[libRawUnstructured], ctrl: heap[libCtrlUnstructured]},
	}
}

// runNoOpResync counts no-op handler calls with a 1 s resync.
func runNoOpResync(ctx context.Context, p printer) error {
	const pods, resync, window = 10_000, time.Second, 5 * time.Second
	calls, err := measureNoOpResync(ctx, typedLibs, pods, resync, window)
	if err != nil {
		return fmt.Errorf("no-op resync: %w", err)
	}
	p.compare(comparison{name: "noop_resync_calls", ours: calls[libOurs], raw: calls[libRaw], ctrl: calls[libCtrl]})
	return nil
}

// clusterPods is the number of pods of the sync measurement.
const clusterPods = 10_000

// latencyPods is the number of pods the latency writes go to.
const latencyPods = 100

// runCluster starts a real cluster and runs the sync and latency
// measurements against it.
func runCluster(ctx context.Context, o options, p printer) error {
	started := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			logf("stopping the cluster: %v", err)
		}
	}()
	cfg := cluster.RESTConfig()
	logf("cluster up in %v at %s", time.Since(started).Round(time.Millisecond), cluster.APIServerURL())
	writer, err := writeClient(cfg)
	if err != nil {
		return err
	}
	started = time.Now()
	if err := seedPods(ctx, writer, benchNamespace, clusterPods, 32); err != nil {
		return err
	}
	logf("seeding took %v; load average %s", time.Since(started).Round(time.Millisecond), loadAverage())

	// One unmeasured round first: the first reads after seeding are slower.
	for _, lib := range typedLibs {
		var r syncResult
		if err := child(ctx, &r, "-child=sync", "-lib="+lib, "-pods="+strconv.Itoa(clusterPods), "-kubeconfig="+cluster.KubeconfigPath()); err != nil {
			return err
		}
		logf("sync warm-up %s: %.3f s (not counted)", lib, r.Seconds)
	}
	if o.syncRuns < 7 {
		logf("sync medians over %d runs: the sync targets are judged on medians of at least 7", o.syncRuns)
	}
	seconds, heap := map[string][]float64{}, map[string][]float64{}
	clientCPU, machineCPU := map[string][]float64{}, map[string][]float64{}
	var floor []float64
	for round := range o.syncRuns {
		for k := range typedLibs {
			lib := typedLibs[(round+k)%len(typedLibs)]
			var r syncResult
			if err := child(ctx, &r, "-child=sync", "-lib="+lib, "-pods="+strconv.Itoa(clusterPods), "-kubeconfig="+cluster.KubeconfigPath()); err != nil {
				return err
			}
			logf("sync run %d %s: %.3f s (last add handled at %.3f s, library wait returned at %.3f s), %.0f B/pod, CPU: client %.3f s, all cores %.3f s busy",
				round+1, lib, r.Seconds, r.HandledSeconds, r.WaitSeconds, r.HeapAllocPerPod, r.ClientCPUSeconds, r.MachineBusySeconds)
			seconds[lib] = append(seconds[lib], r.Seconds)
			clientCPU[lib] = append(clientCPU[lib], r.ClientCPUSeconds)
			machineCPU[lib] = append(machineCPU[lib], r.MachineBusySeconds)
			heap[lib] = append(heap[lib], r.HeapAllocPerPod)
		}
		var f floorResult
		if err := child(ctx, &f, "-child=floor", "-kubeconfig="+cluster.KubeconfigPath()); err != nil {
			return err
		}
		logf("floor run %d: %.3f s for %d bytes", round+1, f.Seconds, f.Bytes)
		floor = append(floor, f.Seconds)
	}
	if o.profileDir != "" {
		// One more, unmeasured, sync per library with a CPU profile.
		for _, lib := range typedLibs {
			var r syncResult
			if err := child(ctx, &r, "-child=sync", "-lib="+lib, "-pods="+strconv.Itoa(clusterPods), "-kubeconfig="+cluster.KubeconfigPath(),
				"-profile="+filepath.Join(o.profileDir, fmt.Sprintf("cpu-sync-%s.pprof", lib))); err != nil {
				return err
			}
		}
	}
	for _, lib := range typedLibs {
		logSpread("sync_seconds_10k "+lib, seconds[lib], "s")
		logf("sync_seconds_10k %s CPU: client median %.3f s, all cores busy median %.3f s (of %.3f s available on %d cores)",
			lib, median(clientCPU[lib]), median(machineCPU[lib]), median(seconds[lib])*float64(runtime.NumCPU()), runtime.NumCPU())
	}
	logSpread("sync_seconds_10k floor", floor, "s")
	ours, raw, ctrl, floorSeconds := median(seconds[libOurs]), median(seconds[libRaw]), median(seconds[libCtrl]), median(floor)
	p.compare(comparison{name: "sync_seconds_10k", unit: "s", decimals: 3, ours: ours, raw: raw, ctrl: ctrl})
	p.floor(floorSeconds)
	p.compare(comparison{name: "sync_over_floor_10k", unit: "x", decimals: 2,
		ours: ours / floorSeconds, raw: raw / floorSeconds, ctrl: ctrl / floorSeconds})
	p.compare(comparison{name: "heap_bytes_per_pod_real_10k", unit: "B",
		ours: median(heap[libOurs]), raw: median(heap[libRaw]), ctrl: median(heap[libCtrl])})
	p.compare(comparison{name: "sync_cpu_seconds_10k", unit: "s", decimals: 3,
		ours: median(clientCPU[libOurs]), raw: median(clientCPU[libRaw]), ctrl: median(clientCPU[libCtrl])})

	if err := runPeak(ctx, o, p, cluster.KubeconfigPath()); err != nil {
		return err
	}

	if err := seedLatencyPods(ctx, writer, latencyPods); err != nil {
		return err
	}
	p50s, p99s := map[string][]float64{}, map[string][]float64{}
	for round := range o.runs {
		logf("latency run %d: %d writes/s for %v; load average %s", round+1, o.latencyRate, o.latencyDuration, loadAverage())
		latencies, err := measureLatency(ctx, cluster.KubeconfigPath(), cfg, typedLibs, o.latencyRate, o.latencyDuration)
		if err != nil {
			return err
		}
		for _, lib := range typedLibs {
			p50, p99 := percentile(latencies[lib], 50), percentile(latencies[lib], 99)
			logf("latency run %d %s: %d samples, p50 %.2f ms, p99 %.2f ms, max %.2f ms", round+1, lib, len(latencies[lib]), p50, p99, percentile(latencies[lib], 100))
			p50s[lib] = append(p50s[lib], p50)
			p99s[lib] = append(p99s[lib], p99)
		}
	}
	for _, lib := range typedLibs {
		logSpread("latency_p99_ms "+lib, p99s[lib], "ms")
	}
	p.compare(comparison{name: "latency_p50_ms", unit: "ms", decimals: 2,
		ours: median(p50s[libOurs]), raw: median(p50s[libRaw]), ctrl: median(p50s[libCtrl])})
	p.compare(comparison{name: "latency_p99_ms", unit: "ms", decimals: 2,
		ours: median(p99s[libOurs]), raw: median(p99s[libRaw]), ctrl: median(p99s[libCtrl])})
	return nil
}

// logSpread logs the median, minimum and maximum of the runs of a timing.
func logSpread(what string, values []float64, unit string) {
	logf("%s: median %.4g%s, min %.4g%s, max %.4g%s over %d runs", what,
		median(values), unit, percentile(values, 0), unit, percentile(values, 100), unit, len(values))
}

// sizeSuffix names a size in a metric: 10000 -> "_10k".
func sizeSuffix(size int) string {
	if size%1000 == 0 {
		return "_" + strconv.Itoa(size/1000) + "k"
	}
	return "_" + strconv.Itoa(size)
}

// logMachine writes what the figures depend on to stderr.
func logMachine(o options) {
	logf("go %s %s/%s, GOMAXPROCS %d, NumCPU %d", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	logf("quick=%v runs=%d sync-runs=%d latency=%v at %d/s", o.quick, o.runs, o.syncRuns, o.latencyDuration, o.latencyRate)
	logf("load average at the start: %s", loadAverage())
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
