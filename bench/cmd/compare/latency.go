package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// latencySample is one update seen by a handler: when the write was sent
// and how long it took to reach the handler.
type latencySample struct {
	Stamp  int64   `json:"stamp"` // Unix nanoseconds, just before the PATCH was sent
	Millis float64 `json:"ms"`
}

// latencyRecorder keeps a sample for every update that carries a stamp.
type latencyRecorder struct {
	mu      sync.Mutex
	samples []latencySample
}

func (r *latencyRecorder) observe(obj metav1.Object) {
	now := time.Now().UnixNano()
	stamp, err := strconv.ParseInt(obj.GetAnnotations()[stampAnnotation], 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.samples = append(r.samples, latencySample{Stamp: stamp, Millis: float64(now-stamp) / 1e6})
	r.mu.Unlock()
}

func (r *latencyRecorder) all() []latencySample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]latencySample(nil), r.samples...)
}

// latencyResult is what a latency child reports.
type latencyResult struct {
	Samples []latencySample `json:"samples"`
	// Updates counts every update the handler got.
	Updates int64 `json:"updates"`
}

// runLatencyChild is the child side of the latency measurement: it syncs
// lib on the pods of latencyNamespace, says "ready" on stdout, reads from
// stdin the number of writes the parent sent, waits (at most 10 s) until
// the handler has seen that many updates, and prints the samples as JSON.
func runLatencyChild(ctx context.Context, lib string, cfg *rest.Config, podCount int, in io.Reader, out io.Writer) error {
	rec := &latencyRecorder{}
	h := newCounter(podCount, 0)
	h.observe = rec.observe
	s, err := newSubject(lib, &source{config: cfg}, h, subjectOptions{namespace: latencyNamespace})
	if err != nil {
		return err
	}
	defer s.stop()
	if err := startSynced(ctx, s, h); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the number of writes: %w", err)
	}
	sent, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.updates.Load() < sent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return json.NewEncoder(out).Encode(latencyResult{Samples: rec.all(), Updates: h.updates.Load()})
}

// latencyChild is a running latency child, seen from the parent.
type latencyChild struct {
	lib    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

func startLatencyChild(ctx context.Context, lib, kubeconfig string) (*latencyChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-child=latency", "-lib="+lib, "-kubeconfig="+kubeconfig, "-pods="+strconv.Itoa(latencyPods))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &latencyChild{lib: lib, cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout)}, nil
}

// ready waits for the child's "ready" line.
func (c *latencyChild) ready() error {
	line, err := c.stdout.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("latency child %s: got %q (%v), want ready", c.lib, line, err)
	}
	return nil
}

// finish tells the child how many writes were sent and reads its result.
func (c *latencyChild) finish(sent int64) (latencyResult, error) {
	var r latencyResult
	if _, err := fmt.Fprintln(c.stdin, sent); err != nil {
		return r, err
	}
	// The count is written and the child reads one line, not to EOF: a
	// failed Close loses nothing, and Wait closes the pipe anyway.
	_ = c.stdin.Close()
	decodeErr := json.NewDecoder(c.stdout).Decode(&r)
	if err := c.cmd.Wait(); err != nil {
		return r, fmt.Errorf("latency child %s: %w", c.lib, err)
	}
	return r, decodeErr
}

// stop ends a child that did not finish.
func (c *latencyChild) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// measureLatency runs one child process per library, each watching the
// pods of latencyNamespace, while this process patches an annotation with
// the send time into one of latencyPods pods, rate writes a second for
// duration. It returns, per library, the latencies in milliseconds from
// just before a PATCH was sent to the handler call, for the writes sent
// after a one-second warm-up.
//
// The libraries run at the same time, so they see the very same writes
// under the same machine load, but in processes of their own: client-go
// shares one HTTP/2 connection between clients of equal configs in a
// process, so raw client-go and controller-runtime in one process would
// share a connection with each other and with the writer, and ours (which
// has a transport of its own) would not.
func measureLatency(ctx context.Context, kubeconfig string, cfg *rest.Config, libs []string, rate int, duration time.Duration) (map[string][]float64, error) {
	writer, err := writeClient(cfg)
	if err != nil {
		return nil, err
	}
	var children []*latencyChild
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	for _, lib := range libs {
		c, err := startLatencyChild(ctx, lib, kubeconfig)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
	}
	for _, c := range children {
		if err := c.ready(); err != nil {
			return nil, err
		}
	}
	warmedUp := time.Now().Add(time.Second).UnixNano()
	sent, writeErr := writeAtRate(ctx, writer, latencyPods, rate, duration)
	results := map[string][]float64{}
	var errs []error
	for _, c := range children {
		r, err := c.finish(sent)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Updates < sent {
			logf("latency: %s saw %d of %d writes", c.lib, r.Updates, sent)
		}
		for _, sample := range r.Samples {
			if sample.Stamp >= warmedUp {
				results[c.lib] = append(results[c.lib], sample.Millis)
			}
		}
	}
	children = nil
	if err := errors.Join(append(errs, writeErr)...); err != nil {
		return nil, err
	}
	return results, nil
}
