package informer

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/informer-go/informer/internal/intern"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

// BenchmarkReceivedPod measures, per realistic pod received as protobuf
// (as a watch event carries it), what client-go pays to decode it and what
// this library adds or saves, each phase timed on its own for the same pod:
//
//   - decode_ns: client-go's protobuf decoder, as raw client-go decodes it;
//   - lean_decode_ns: the typed informers' decoder, which strips
//     managedFields and the last-applied annotation from the bytes first;
//   - share_ns: sharing the repeated strings of the decoded pod (the table
//     warmed by the pods before it, as an informer's is);
//   - transform_ns: the whole default transform after the lean decoder
//     (stripping, nothing left to strip, and sharing);
//   - share/decode: share_ns over decode_ns, the figure of issue 12 (at
//     most 0.10).
//
// Phases are timed with the thread's CPU clock (the goroutine locked to
// its thread), so that time spent waiting for a CPU on a loaded machine is
// not counted; the collector's assists, paid by the allocating goroutine,
// are. ns/op includes building and encoding each pod, outside the phases;
// read the metrics. Run with -benchtime=20000x or more, so that the table
// is warm and fields judged.
func BenchmarkReceivedPod(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	plain := protobufInfo(b).Serializer
	lean := leanDecoder(b)
	table := intern.NewTable()
	transform := newTransform(settings{shareStrings: true})
	var decode, leanDecode, share, whole time.Duration
	pods := 0
	for b.Loop() {
		data := encodeProtobuf(b, realisticPod("bench", pods))
		leanData, wholeData := bytes.Clone(data), bytes.Clone(data)
		pods++

		start := threadCPUTime()
		if _, err := kruntime.Decode(plain, data); err != nil {
			b.Fatal(err)
		}
		decoded := threadCPUTime()
		obj, err := kruntime.Decode(lean, leanData)
		if err != nil {
			b.Fatal(err)
		}
		leanDecoded := threadCPUTime()
		table.Share(obj)
		shared := threadCPUTime()
		obj, err = kruntime.Decode(lean, wholeData)
		if err != nil {
			b.Fatal(err)
		}
		transformStart := threadCPUTime()
		if _, err := transform(obj); err != nil {
			b.Fatal(err)
		}
		transformed := threadCPUTime()

		decode += decoded - start
		leanDecode += leanDecoded - decoded
		share += shared - leanDecoded
		whole += transformed - transformStart
	}
	perPod := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(pods) }
	b.ReportMetric(perPod(decode), "decode_ns")
	b.ReportMetric(perPod(leanDecode), "lean_decode_ns")
	b.ReportMetric(perPod(share), "share_ns")
	b.ReportMetric(perPod(whole), "transform_ns")
	b.ReportMetric(float64(share)/float64(decode), "share/decode")
}

// BenchmarkRetainedHeapPerPod measures the heap that podCount realistic
// pods keep once decoded from protobuf and cached, per pod: as raw
// client-go keeps them (client-go's decoder, no transform), and as a typed
// informer of this library keeps them by default (the lean decoder and the
// default transform), and with the options that change it. The ratios to
// raw are the figures of issue 12 (default at most 0.60). Run with
// -benchtime=1x: each iteration measures every variant once.
func BenchmarkRetainedHeapPerPod(b *testing.B) {
	const podCount = 2000
	encoded := make([][]byte, podCount)
	for i := range encoded {
		encoded[i] = encodeProtobuf(b, realisticPod("bench", i))
	}
	variants := []struct {
		name      string
		decoder   kruntime.Decoder
		transform cache.TransformFunc
	}{
		{name: "raw", decoder: protobufInfo(b).Serializer},
		{name: "default", decoder: leanDecoder(b), transform: newTransform(settings{shareStrings: true})},
		{name: "no_sharing", decoder: leanDecoder(b), transform: newTransform(settings{})},
		{name: "managed_fields_kept", decoder: protobufInfo(b).Serializer, transform: newTransform(settings{keepManagedFields: true})},
	}
	for b.Loop() {
		var raw float64
		for _, v := range variants {
			cached := make([]any, podCount)
			before := heapInUse()
			for i, data := range encoded {
				obj, err := kruntime.Decode(v.decoder, bytes.Clone(data))
				if err != nil {
					b.Fatal(err)
				}
				cached[i] = obj
				if v.transform != nil {
					if cached[i], err = v.transform(obj); err != nil {
						b.Fatal(err)
					}
				}
			}
			perPod := float64(heapInUse()-before) / podCount
			runtime.KeepAlive(cached)
			b.ReportMetric(perPod, "heap_B/pod_"+v.name)
			if v.name == "raw" {
				raw = perPod
			} else {
				b.ReportMetric(perPod/raw, v.name+"/raw")
			}
		}
	}
}

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() int64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.HeapAlloc)
}

// BenchmarkSharePod measures sharing alone, on realistic pods freshly
// decoded by the typed informers' decoder, the table warm: ns/op is the
// cost per pod.
func BenchmarkSharePod(b *testing.B) {
	const podCount = 4096
	lean := leanDecoder(b)
	encoded := make([][]byte, podCount)
	for i := range encoded {
		encoded[i] = encodeProtobuf(b, realisticPod("bench", i))
	}
	pods := make([]kruntime.Object, podCount)
	decodeAll := func() {
		for i := range pods {
			obj, err := kruntime.Decode(lean, bytes.Clone(encoded[i]))
			if err != nil {
				b.Fatal(err)
			}
			pods[i] = obj
		}
	}
	decodeAll()
	table := intern.NewTable()
	for _, p := range pods {
		table.Share(p)
	}
	i := podCount
	for b.Loop() {
		if i == podCount {
			b.StopTimer()
			decodeAll()
			i = 0
			b.StartTimer()
		}
		table.Share(pods[i])
		i++
	}
}
