package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// stepTimeout bounds each wait of a measurement: for a sync, for the
// handler to see every event.
const stepTimeout = 2 * time.Minute

// startSynced starts s and waits until the library reports it synced and h
// saw wantAdds adds.
func startSynced(ctx context.Context, s *subject, h *counter) error {
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("%s: start: %w", s.lib, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := s.wait(waitCtx); err != nil {
		return fmt.Errorf("%s: wait for sync: %w", s.lib, err)
	}
	if err := wait(h.addsDone, stepTimeout, s.lib+" initial adds"); err != nil {
		return err
	}
	return nil
}

// deliveryResult is one run of the delivery measurement.
type deliveryResult struct {
	nsPerEvent     float64
	allocsPerEvent float64
	// cpuNsPerEvent is the CPU time of the whole process (every thread,
	// the garbage collector's included) over the span, per event (reported
	// for the wire measurement). On a loaded machine it tells the work
	// done from the time waited for a core.
	cpuNsPerEvent float64
}

// measureDelivery pushes events update events through lib's informer and
// times them from the first push until the handler has counted the last.
// The informer first syncs a list of min(events, 1000) realistic pods; the
// events are updates of those pods, each a distinct object with a new
// resourceVersion, built before the clock starts. Allocations are counted
// over the same span (runtime.MemStats.Mallocs). prof names profiles of
// the span to write; timings of a run that writes profiles are skewed.
func measureDelivery(ctx context.Context, lib string, events int, prof deliveryProfiles) (deliveryResult, error) {
	podCount := min(events, 1000)
	updates := make([]*corev1.Pod, events)
	base := realisticPodList(benchNamespace, podCount)
	for i := range updates {
		pod := base.Items[i%podCount].DeepCopy()
		pod.ResourceVersion = strconv.Itoa(1_000_000 + i)
		updates[i] = pod
	}
	src := newFakeSource(fakeLists{typed: func() *corev1.PodList { return realisticPodList(benchNamespace, podCount) }}, events)
	h := newCounter(podCount, events)
	s, err := newSubject(lib, src, h, subjectOptions{})
	if err != nil {
		return deliveryResult{}, err
	}
	defer s.stop()
	if err := startSynced(ctx, s, h); err != nil {
		return deliveryResult{}, err
	}

	return timeDelivery(lib, events, h, prof, func() {
		for _, pod := range updates {
			src.watcher.Modify(pod)
		}
	})
}

// timeDelivery measures the delivery of events updates that send starts,
// until h has counted the last: wall time, allocations and the process's
// CPU per event, with the profiles of prof written around the span.
func timeDelivery(lib string, events int, h *counter, prof deliveryProfiles, send func()) (deliveryResult, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if prof.cpu != "" && prof.cpuRate > 0 {
		// Sampling starts here; StartCPUProfile then warns on stderr that
		// the rate is already set, and keeps it.
		runtime.SetCPUProfileRate(prof.cpuRate)
	}
	stopProfile, err := startCPUProfile(prof.cpu)
	if err != nil {
		return deliveryResult{}, err
	}
	if err := writeAllocsProfile(prof.allocsBefore); err != nil {
		return deliveryResult{}, err
	}
	cpuBefore := processCPU()
	start := time.Now()
	send()
	err = wait(h.updatesDone, stepTimeout, lib+" updates")
	elapsed := time.Since(start)
	cpu := processCPU() - cpuBefore
	err = errors.Join(err, stopProfile())
	runtime.ReadMemStats(&after)
	if err != nil {
		return deliveryResult{}, err
	}
	if err := writeAllocsProfile(prof.allocsAfter); err != nil {
		return deliveryResult{}, err
	}
	if got := h.updates.Load(); got != int64(events) {
		return deliveryResult{}, fmt.Errorf("%s: got %d updates, want %d", lib, got, events)
	}
	return deliveryResult{
		nsPerEvent:     float64(elapsed.Nanoseconds()) / float64(events),
		allocsPerEvent: float64(after.Mallocs-before.Mallocs) / float64(events),
		cpuNsPerEvent:  float64(cpu.Nanoseconds()) / float64(events),
	}, nil
}

// deliveryProfiles names the profiles a delivery run writes; "" = none.
// The allocations of the run are those of allocsAfter with allocsBefore
// as base (go tool pprof -base); the memory profile rate must have been
// raised for them to be more than a handful of samples.
type deliveryProfiles struct {
	cpu, allocsBefore, allocsAfter string
	cpuRate                        int // CPU samples a second; 0 = the default 100
}

// writeAllocsProfile writes the allocation profile (every allocation
// sampled since the program started) to path; with path "" it does nothing.
func writeAllocsProfile(path string) error {
	if path == "" {
		return nil
	}
	runtime.GC() // the profile is as of the last GC
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// Close is checked: a failed Close of a written file can mean a
	// truncated profile.
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}

// startCPUProfile starts a CPU profile into path and returns the function
// that ends it and closes the file; with path "" it does nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// writeHeapProfile writes the heap profile (live objects as of the last GC)
// to path; with path "" it does nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
}

// heapResult is what a heap child reports.
type heapResult struct {
	HeapAllocPerPod float64 `json:"heapAllocPerPod"`
	HeapInusePerPod float64 `json:"heapInusePerPod"`
}

// measureHeap syncs lib's informer on pods realistic pods, decoded as its
// client decodes a LIST (protobuf for the typed and metadata clients, JSON
// into unstructured objects for the dynamic one), and returns the heap that
// stays per pod: the growth of HeapAlloc (and HeapInuse) between a baseline
// taken after setting up the fake clients and the library, before Start,
// and the state after sync, each read after two GCs. It runs in a child process
// of its own, so that no other cache is on the heap.
func measureHeap(ctx context.Context, lib string, pods int, profilePath string) (heapResult, error) {
	src := newFakeSource(fakeLists{
		typed:    func() *corev1.PodList { return decodedPodList(benchNamespace, pods) },
		metadata: func() *metav1.List { return decodedMetadataList(benchNamespace, pods) },
		dynamic:  func() (*unstructured.UnstructuredList, error) { return decodedUnstructuredList(benchNamespace, pods) },
	}, 1)
	h := newCounter(pods, 0)
	s, err := newSubject(lib, src, h, subjectOptions{})
	if err != nil {
		return heapResult{}, err
	}
	defer s.stop()
	before := settledMemStats()
	if err := startSynced(ctx, s, h); err != nil {
		return heapResult{}, err
	}
	after := settledMemStats()
	if err := writeHeapProfile(profilePath); err != nil {
		return heapResult{}, err
	}
	return heapResult{
		HeapAllocPerPod: (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(pods),
		HeapInusePerPod: (float64(after.HeapInuse) - float64(before.HeapInuse)) / float64(pods),
	}, nil
}

// settledMemStats runs the GC twice (the second pass frees what the
// first one's finalizers released) and reads the memory statistics.
func settledMemStats() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats
}

// measureNoOpResync syncs each of libs on its own fake source of pods
// unchanged pods, with a resync period of resync, and counts the handler
// calls each one gets during window after its sync. Nothing changes, so
// every call is a no-op update. The libraries run side by side.
func measureNoOpResync(ctx context.Context, libs []string, pods int, resync, window time.Duration) (map[string]float64, error) {
	var (
		mu     sync.Mutex
		counts = map[string]float64{}
		errs   []error
		wg     sync.WaitGroup
	)
	for _, lib := range libs {
		wg.Go(func() {
			src := newFakeSource(fakeLists{typed: func() *corev1.PodList { return realisticPodList(benchNamespace, pods) }}, 1)
			h := newCounter(pods, 0)
			s, err := newSubject(lib, src, h, subjectOptions{resync: resync})
			if err == nil {
				defer s.stop()
				err = startSynced(ctx, s, h)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			calls := h.updates.Load()
			select {
			case <-ctx.Done():
			case <-time.After(window):
			}
			calls = h.updates.Load() - calls
			mu.Lock()
			counts[lib] = float64(calls)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return counts, ctx.Err()
}
