package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// rootModule is the module path of the informer checkout; the demo builds
// examples/podwatch from the directory whose go.mod declares it.
const rootModule = "github.com/informer-go/informer"

// readyMarker is the start of the line podwatch writes to stderr once its
// initial list is complete. The demo starts changing pods only then, so
// that every change shows up as a live event rather than in the initial list.
const readyMarker = "podwatch: initial list done"

// repoRoot returns the directory at or above dir whose go.mod declares
// rootModule.
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if modulePath(filepath.Join(d, "go.mod")) == rootModule {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no checkout of %s at or above %s: run the demo from inside it (make demo)", rootModule, dir)
		}
	}
}

// modulePath returns the module path declared in the go.mod file at path,
// or "" if there is none.
func modulePath(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// buildPodwatch builds examples/podwatch of the checkout at root into dir
// and returns the binary's path. It is built rather than run with `go run`
// so that the demo signals podwatch itself, not a go command in between.
func buildPodwatch(ctx context.Context, root, dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(root, "examples", "podwatch", "main.go")); err != nil {
		return "", fmt.Errorf("examples/podwatch is missing from %s: %w", root, err)
	}
	bin := filepath.Join(dir, "podwatch")
	if runtime.GOOS == "windows" {
		bin += ".exe" // go build -o adds none, and Windows runs nothing without it
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/podwatch")
	cmd.Dir = root
	// Interrupted rather than killed when the demo gives up, so that the go
	// command stops the compiler and linker it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/podwatch: %w\n%s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// podwatchArgs returns podwatch's command line for the target cluster, the
// demo's namespace and, if positive, how long it should watch.
func podwatchArgs(t *target, remaining time.Duration) []string {
	var args []string
	if t.kubeconfig != "" {
		args = append(args, "--kubeconfig", t.kubeconfig)
	}
	if t.context != "" {
		args = append(args, "--context", t.context)
	}
	args = append(args, "-n", demoNamespace)
	if remaining > 0 {
		args = append(args, "--duration", remaining.Round(time.Millisecond).String())
	}
	return args
}

// watcher is a running podwatch process.
type watcher struct {
	cmd   *exec.Cmd
	ready <-chan struct{} // closed when podwatch says its initial list is done
	done  chan struct{}   // closed when podwatch has exited
	err   error           // how it exited; read after done is closed
}

// startWatcher runs podwatch with args, its stdout and stderr going to the
// demo's.
func startWatcher(bin string, args []string) (*watcher, error) {
	ready := newMarkerWriter(os.Stderr, readyMarker)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = ready
	// Its own process group, so that Ctrl-C at the terminal reaches only the
	// demo, which then stops the generator first and interrupts podwatch
	// once. (podwatch exits at once on a second SIGINT, without its
	// summary.)
	setProcessAttrs(cmd)
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting podwatch: %w", err)
	}
	w := &watcher{cmd: cmd, ready: ready.found, done: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

// stop sends SIGINT, so that podwatch prints its summary, and waits up to
// grace for it to exit, then kills it. It returns how podwatch exited; an
// exit status other than 0 is an error.
func (w *watcher) stop(grace time.Duration) error {
	select {
	case <-w.done:
		return w.exitErr()
	default:
	}
	// If this fails, podwatch has exited in the meantime, or (on Windows)
	// the demo has no console to send Ctrl-Break through; the kill below
	// still ends it.
	_ = interrupt(w.cmd.Process)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-w.done:
		return w.exitErr()
	case <-timer.C:
	}
	_ = w.cmd.Process.Kill()
	<-w.done
	return fmt.Errorf("podwatch did not stop within %v of SIGINT and was killed", grace)
}

// isReady reports whether podwatch has said that its initial list is done.
func (w *watcher) isReady() bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

// wait waits up to d for podwatch to exit by itself.
func (w *watcher) wait(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-w.done:
	case <-timer.C:
	}
}

func (w *watcher) exitErr() error {
	if w.err != nil {
		return fmt.Errorf("podwatch: %w", w.err)
	}
	return nil
}

// markerWriter passes everything through to w and closes found the first
// time the output contains marker.
type markerWriter struct {
	w      io.Writer
	marker []byte

	mu    sync.Mutex
	tail  []byte // the end of the output so far, for a marker split across writes
	found chan struct{}
}

func newMarkerWriter(w io.Writer, marker string) *markerWriter {
	return &markerWriter{w: w, marker: []byte(marker), found: make(chan struct{})}
}

func (m *markerWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	m.scan(p)
	m.mu.Unlock()
	return m.w.Write(p)
}

// scan looks for the marker in the tail of the earlier output followed by
// p. The caller holds m.mu.
func (m *markerWriter) scan(p []byte) {
	select {
	case <-m.found:
		return
	default:
	}
	buf := append(m.tail, p...)
	if bytes.Contains(buf, m.marker) {
		close(m.found)
		m.tail = nil
		return
	}
	if keep := len(m.marker) - 1; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	m.tail = append([]byte(nil), buf...)
}
