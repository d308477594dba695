package main

import (
	"context"
	"errors"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
)

// heapObjectsMetric is the heap memory of objects, live or not yet swept:
// the runtime/metrics name of runtime.MemStats.HeapAlloc, readable without
// stopping the world.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// peakSampler reads heapObjectsMetric every interval in a goroutine of its
// own and keeps the highest value.
type peakSampler struct {
	peak    atomic.Uint64
	samples atomic.Int64
	stopped chan struct{}
	done    chan struct{}
}

// startPeakSampler starts sampling now; stop ends it.
func startPeakSampler(interval time.Duration) *peakSampler {
	p := &peakSampler{stopped: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: heapObjectsMetric}}
	p.read(sample)
	go func() {
		defer close(p.done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-p.stopped:
				return
			case <-ticker.C:
				p.read(sample)
			}
		}
	}()
	return p
}

// read takes one sample into sample (reused: reading allocates nothing).
func (p *peakSampler) read(sample []metrics.Sample) {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	v := sample[0].Value.Uint64()
	for {
		old := p.peak.Load()
		if v <= old || p.peak.CompareAndSwap(old, v) {
			break
		}
	}
	p.samples.Add(1)
}

// stop takes a last sample, ends the sampling and returns the highest
// value seen.
func (p *peakSampler) stop() uint64 {
	close(p.stopped)
	<-p.done
	p.read([]metrics.Sample{{Name: heapObjectsMetric}})
	return p.peak.Load()
}

// peakResult is what a peak child reports.
type peakResult struct {
	// PeakHeapBytes is the highest heapObjectsMetric sampled every
	// millisecond from Start until the library reported the cache synced
	// and the handler had counted every pod.
	PeakHeapBytes float64 `json:"peakHeapBytes"`
	// BaselineHeapBytes is HeapAlloc before Start, after two GCs: the
	// clients and the library set up, nothing listed.
	BaselineHeapBytes float64 `json:"baselineHeapBytes"`
	// PeakRSSBytes is the process's peak resident set (VmHWM) at the end
	// of the sync; 0 when the OS does not say (see peakRSS).
	PeakRSSBytes float64 `json:"peakRSSBytes"`
	// Samples is the number of heap samples taken.
	Samples int64 `json:"samples"`
}

// peakInterval is the sampling interval of the peak measurement.
const peakInterval = time.Millisecond

// measurePeak syncs lib's informer on pods pods of a real server, as
// measureSync does, in a child process of its own, and returns the peak
// heap and resident set of the process during the sync. It is kept apart
// from measureSync so that the sampling goroutine does not touch the sync
// timings.
func measurePeak(ctx context.Context, lib string, cfg *rest.Config, pods int) (peakResult, error) {
	h := newCounter(pods, 0)
	s, err := newSubject(lib, &source{config: cfg}, h, subjectOptions{})
	if err != nil {
		return peakResult{}, err
	}
	defer s.stop()
	before := settledMemStats()
	sampler := startPeakSampler(peakInterval)
	err = startSynced(ctx, s, h)
	peak := sampler.stop()
	if err != nil {
		return peakResult{}, err
	}
	rss, ok := peakRSS()
	if !ok {
		rss = 0
	}
	if peak == 0 {
		return peakResult{}, errors.New("the runtime reported no heap size")
	}
	return peakResult{
		PeakHeapBytes:     float64(peak),
		BaselineHeapBytes: float64(before.HeapAlloc),
		PeakRSSBytes:      float64(rss),
		Samples:           sampler.samples.Load(),
	}, nil
}

// peakRuns bounds the runs per library of the peak measurement: its
// figures spread by about 5% from run to run, against differences of 20%
// and more between libraries, and each run is a sync of its own.
const peakRuns = 3

// runPeak measures the peak heap and resident set of a sync of clusterPods
// pods from the cluster of kubeconfig, min(o.runs, peakRuns) times per
// library of typedLibs, each in a child process, rotating the order of the
// libraries from run to run.
func runPeak(ctx context.Context, o options, p printer, kubeconfig string) error {
	heap, rss := map[string][]float64{}, map[string][]float64{}
	for round := range min(o.runs, peakRuns) {
		for k := range typedLibs {
			lib := typedLibs[(round+k)%len(typedLibs)]
			var r peakResult
			if err := child(ctx, &r, "-child=peak", "-lib="+lib, "-pods="+strconv.Itoa(clusterPods), "-kubeconfig="+kubeconfig); err != nil {
				return err
			}
			logf("peak run %d %s: heap %.1f MB (baseline %.1f MB, %d samples), RSS %.1f MB",
				round+1, lib, r.PeakHeapBytes/1e6, r.BaselineHeapBytes/1e6, r.Samples, r.PeakRSSBytes/1e6)
			heap[lib] = append(heap[lib], r.PeakHeapBytes)
			rss[lib] = append(rss[lib], r.PeakRSSBytes)
		}
	}
	for _, lib := range typedLibs {
		logSpread("peak_heap_bytes_sync_10k "+lib, heap[lib], "B")
	}
	p.compare(comparison{name: "peak_heap_bytes_sync_10k", unit: "B",
		ours: median(heap[libOurs]), raw: median(heap[libRaw]), ctrl: median(heap[libCtrl])})
	if _, ok := peakRSS(); !ok {
		logf("peak_rss_bytes_sync_10k: not measured, this OS does not report a peak resident set")
		return nil
	}
	p.compare(comparison{name: "peak_rss_bytes_sync_10k", unit: "B",
		ours: median(rss[libOurs]), raw: median(rss[libRaw]), ctrl: median(rss[libCtrl])})
	return nil
}
