// Command demo shows an informer at work against a real API server. It is
// what `make demo` runs:
//
//  1. it starts a throwaway control plane (etcd, kube-apiserver and
//     kube-controller-manager from bin/, see package localcluster), or uses
//     your cluster with -kubeconfig;
//  2. it builds and runs examples/podwatch, which watches the pods of
//     namespace informer-demo and prints a line per event;
//  3. meanwhile it creates, relabels and deletes pods there, and scales a
//     Deployment up and down so that its ReplicaSet adds and removes pods;
//  4. on Ctrl-C or after -duration it stops the generator, interrupts
//     podwatch (which prints its summary), stops the cluster, and prints
//     what it did.
//
// Usage:
//
//	go run ./examples/demo [-duration 30s] [-kubeconfig PATH [-context NAME]]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/informer-go/informer/localcluster"
)

const (
	// stepInterval is the pace of the generator: one change per step, a
	// few events per second, slow enough to read.
	stepInterval = 500 * time.Millisecond
	// seedPods are created before podwatch starts, so that its initial
	// list has something in it ("[initial]" lines).
	seedPods = 2
	// minWatch is the least time podwatch gets when startup has used up
	// most of -duration.
	minWatch = 5 * time.Second
	// readyTimeout bounds the wait for podwatch to say that its initial
	// list is done (it takes milliseconds here). After it the generator
	// starts anyway: the demo should not depend on the wording of a line.
	readyTimeout = 10 * time.Second
	// finishGrace is how long podwatch gets to end by itself when -duration
	// is over (its clock started a little later than the demo's).
	finishGrace = 5 * time.Second
	// stopGrace is how long podwatch gets to exit after SIGINT.
	stopGrace = 15 * time.Second
	// cleanupTimeout bounds the cleanup after the demo, which runs even
	// when it was interrupted.
	cleanupTimeout = 2 * time.Minute
)

// options are the command-line flags.
type options struct {
	duration   time.Duration
	kubeconfig string
	context    string
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag package has printed the problem and the usage
	}
	os.Exit(run(opts))
}

func parseFlags(args []string) (options, error) {
	var opts options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: demo [flags]\n\n"+
			"Starts a local kube-apiserver, runs examples/podwatch against it and makes pod events for it to print.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&opts.duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "use the cluster of this kubeconfig `file` instead of starting a local one\n(the demo creates and deletes namespace "+demoNamespace+" there)")
	fs.StringVar(&opts.context, "context", "", "kubeconfig context of your cluster (implies using your cluster)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(fs.Output(), err)
		fs.Usage()
		return options{}, err
	}
	if opts.duration < 0 {
		err := fmt.Errorf("-duration must not be negative, got %v", opts.duration)
		fmt.Fprintln(fs.Output(), err)
		return options{}, err
	}
	return opts, nil
}

// ownCluster reports whether the demo uses the user's cluster.
func (o options) ownCluster() bool {
	return o.kubeconfig != "" || o.context != ""
}

// run runs the demo and returns the exit code.
func run(opts options) int {
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the default behaviour comes back: if stopping
	// hangs, a second Ctrl-C kills the demo, and the parent-death signal
	// takes the servers and podwatch with it.
	context.AfterFunc(ctx, stop)
	// With SIGPIPE caught, a write to a closed stdout or stderr fails
	// instead of killing the demo, so it still stops what it started when
	// Ctrl-C has also ended the reader of its output (make demo | tee log).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	r := &report{}
	err := demo(ctx, opts, start, r)
	total := time.Since(start)

	if r.generator != nil {
		fmt.Fprintf(os.Stderr, "demo: summary: generator %v; %s in %v, cleaned up in %v; total %v\n",
			r.generator.Stats(), r.clusterVerb(), r.clusterReady.Round(10*time.Millisecond),
			r.clusterStop.Round(10*time.Millisecond), total.Round(100*time.Millisecond))
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, localcluster.ErrBinariesMissing):
		progressf("%v", err)
		progressf("(make tools builds etcd, kube-apiserver and kube-controller-manager from source into bin/, a few minutes the first time; make demo runs it first)")
		progressf("or run the demo against your own cluster: go run ./examples/demo -kubeconfig ~/.kube/config")
		return 1
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Ctrl-C before the demo got going: everything started has been
		// stopped again, which is a clean stop.
		progressf("interrupted; stopped cleanly")
		return 0
	default:
		progressf("failed: %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 1
	}
}

// report is what the final summary line says.
type report struct {
	generator    *Generator
	local        bool
	clusterReady time.Duration
	clusterStop  time.Duration // stopping the local cluster, or deleting the namespace
}

func (r *report) clusterVerb() string {
	if r.local {
		return "local cluster started"
	}
	return "your cluster reached"
}

// demo does the work of run; r collects what the summary needs. Whatever it
// started is stopped before it returns, even when ctx is cancelled.
func demo(ctx context.Context, opts options, start time.Time, r *report) (err error) {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := repoRoot(wd)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "informer-demo-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()

	// The checks that need no cluster come first, so that a missing binary
	// or a kubeconfig typo fails at once.
	var binDir string
	var cfg *rest.Config
	if opts.ownCluster() {
		cfg, err = loadConfig(opts.kubeconfig, opts.context)
	} else {
		binDir, err = localBinDir()
	}
	if err != nil {
		return err
	}

	// Build podwatch while the cluster starts: linking it takes seconds.
	progressf("building examples/podwatch in the background ...")
	type built struct {
		bin string
		err error
	}
	buildDone := make(chan built, 1)
	buildCtx, cancelBuild := context.WithCancel(ctx)
	defer cancelBuild()
	go func() {
		bin, err := buildPodwatch(buildCtx, root, tmp)
		buildDone <- built{bin, err}
	}()

	var t *target
	if opts.ownCluster() {
		t, err = connect(ctx, cfg, opts.kubeconfig, opts.context)
	} else {
		t, err = startLocal(ctx, root, binDir, tmp)
	}
	if err != nil {
		cancelBuild()
		<-buildDone // the go command must be gone before tmp is removed
		return err
	}
	r.local, r.clusterReady = t.local != nil, t.readyIn
	defer func() {
		// ctx may be cancelled already: cleanup gets its own time.
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		stopStart := time.Now()
		err = errors.Join(err, t.close(cleanupCtx))
		r.clusterStop = time.Since(stopStart)
	}()
	b := <-buildDone
	if b.err != nil {
		return b.err
	}
	bin := b.bin

	if err := t.createNamespace(ctx); err != nil {
		return err
	}
	gen := NewGenerator(t.client, demoNamespace, os.Stderr)
	r.generator = gen
	if err := gen.Seed(ctx, seedPods); err != nil {
		return err
	}

	var deadline time.Time
	var remaining time.Duration
	if opts.duration > 0 {
		deadline = start.Add(opts.duration)
		if remaining = time.Until(deadline); remaining < minWatch {
			remaining = minWatch
			deadline = time.Now().Add(remaining)
		}
	}
	args := podwatchArgs(t, remaining)
	progressf("running podwatch %s", strings.Join(args, " "))
	progressf("podwatch prints a line per pod event; the generator: lines are the changes the demo makes")
	w, err := startWatcher(bin, args)
	if err != nil {
		return err
	}

	runErr := generate(ctx, opts, deadline, w, gen)
	if ctx.Err() != nil {
		progressf("interrupted; stopping podwatch")
	}
	stopErr := w.stop(stopGrace)
	if ctx.Err() != nil && !w.isReady() {
		// Interrupted during its initial list, podwatch exits with 1 after
		// saying so; that is part of the clean stop.
		stopErr = nil
	}
	return errors.Join(runErr, stopErr)
}

// generate waits for podwatch's initial list, then runs the generator until
// ctx ends, the deadline (if not zero) passes, podwatch exits, or the
// generator gives up. When the deadline passes it gives podwatch a moment to
// end by itself, as its --duration tells it to.
func generate(ctx context.Context, opts options, deadline time.Time, w *watcher, gen *Generator) error {
	readyTimer := time.NewTimer(readyTimeout)
	defer readyTimer.Stop()
	select {
	case <-w.ready:
	case <-w.done:
		return fmt.Errorf("podwatch exited before its initial list was done (%v)", w.exitErr())
	case <-ctx.Done():
		return nil
	case <-readyTimer.C:
		progressf("podwatch has not said %q within %v; starting the changes anyway", readyMarker, readyTimeout)
	}

	runCtx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	genCtx, stopGen := context.WithCancel(runCtx)
	defer stopGen()
	ticker := time.NewTicker(stepInterval)
	defer ticker.Stop()
	genDone := make(chan error, 1)
	go func() { genDone <- gen.Run(genCtx, ticker.C) }()

	var watchErr error
	select {
	case <-runCtx.Done():
	case <-w.done:
		if watchErr = w.exitErr(); watchErr == nil {
			progressf("podwatch ended")
		}
	case err := <-genDone:
		genDone <- err // Run has returned; hand its result to the receive below
	}
	stopGen()
	err := errors.Join(watchErr, <-genDone)

	if ctx.Err() == nil && !deadline.IsZero() && time.Now().After(deadline) {
		progressf("%v are up; the generator has stopped, podwatch is finishing", opts.duration)
		w.wait(finishGrace)
	}
	return err
}

// progressf prints a line about what the demo is doing to stderr, where it
// does not mix with podwatch's event lines on stdout when they are
// redirected.
func progressf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}
