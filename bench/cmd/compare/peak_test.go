package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPeakSampler allocates a block, lets the sampler see it, frees it and
// collects it: the peak must still count the block, which the heap at the
// end no longer holds.
func TestPeakSampler(t *testing.T) {
	const block = 64 << 20
	sampler := startPeakSampler(time.Millisecond)
	func() {
		data := make([]byte, block)
		for i := range data {
			data[i] = byte(i) // touch it: a block the runtime has really handed out
		}
		seen := sampler.samples.Load()
		for sampler.samples.Load() < seen+2 {
			runtime.Gosched()
		}
		runtime.KeepAlive(data)
	}()
	runtime.GC()
	runtime.GC()
	peak := sampler.stop()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if peak < block {
		t.Errorf("got a peak of %d bytes, want at least the %d-byte block", peak, block)
	}
	if after.HeapAlloc >= block {
		t.Fatalf("the heap still holds %d bytes after the block was freed: the test cannot tell a peak from the last sample", after.HeapAlloc)
	}
}

func TestPeakRSS(t *testing.T) {
	rss, ok := peakRSS()
	if runtime.GOOS != "linux" {
		if ok {
			t.Errorf("got %d bytes on %s, want unknown", rss, runtime.GOOS)
		}
		return
	}
	if !ok || rss < 1<<20 {
		t.Errorf("got %d bytes (known %v), want at least 1 MiB", rss, ok)
	}
}

// TestWriteChart draws a chart from a fixed set of results: the SVG names
// the commit and the machine, and marks what was not measured.
func TestWriteChart(t *testing.T) {
	res := newResults()
	for i, c := range []comparison{
		{name: "heap_bytes_per_pod_10k", ours: 8173, raw: 13730, ctrl: 13744},
		{name: "heap_bytes_per_pod_no_sharing_10k", ours: 9617, raw: 13730, ctrl: 13744},
		{name: "heap_bytes_per_pod_metadata_vs_raw_metadata_10k", ours: 1713, raw: 5820, ctrl: 5827},
		{name: "heap_bytes_per_pod_unstructured_10k", ours: 24315, raw: 45565, ctrl: 45556},
		{name: "sync_seconds_10k", ours: 0.8, raw: 0.78, ctrl: 1.0},
		{name: "peak_heap_bytes_sync_10k", ours: 150e6, raw: 230e6, ctrl: 235e6},
	} {
		c.unit = strings.Repeat("B", i%2) // units do not matter to the chart
		res.add(c)
	}
	res.floor = 0.52
	info := chartInfo{commit: "abc1234+dirty", machine: "Test CPU, 2 cores, go-test", quick: true, at: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "docs", "bench.svg")
	if err := writeChart(path, res, info); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(data)
	for _, want := range []string{"<svg", "abc1234+dirty", "Test CPU, 2 cores, go-test", "LIST floor 0.52 s", "client CPU (not measured)", "RSS (not measured)", "9.6", "13.7"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart does not contain %q", want)
		}
	}
}

// TestGitCommit checks the commit named in a scratch repository: clean,
// dirty, and clean again when the only change is the ignored chart.
func TestGitCommit(t *testing.T) {
	if got := gitCommit(t.TempDir(), ""); got != "unknown commit" {
		t.Errorf("outside a repository: got %q, want %q", got, "unknown commit")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("bench/main.go", "package main\n")
	write("docs/bench.svg", "<svg/>\n")
	git("add", ".")
	git("commit", "-q", "-m", "first")
	head := git("rev-parse", "--short", "HEAD")
	bench, chart := filepath.Join(root, "bench"), filepath.Join(root, "docs", "bench.svg")

	write("docs/bench.svg", "<svg>redrawn</svg>\n")
	if got := gitCommit(bench, chart); got != head {
		t.Errorf("only the chart changed: got %q, want %q", got, head)
	}
	write("main.go", "package main // changed\n")
	write("untracked.txt", "x")
	git("add", "main.go")
	if got, want := gitCommit(bench, chart), head+"+dirty"; got != want {
		t.Errorf("a change outside bench/: got %q, want %q", got, want)
	}
}
