// Command controller is a small, real controller built with the informer
// library: it copies every ConfigMap labelled cmcopy.example.com/source=true
// in its source namespace into every namespace labelled
// cmcopy.example.com/target=true, keeps the copies equal to their source,
// and deletes them when the source or the label goes (a finalizer on the
// source makes sure of it). It serves /healthz, /readyz and /metrics.
//
//	go run ./examples/controller --source-namespace cmcopy-sources   # against your cluster
//	make demo-controller DURATION=40s                                # against a local one, with a generator
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/informer-go/informer"
)

// options are the command-line flags.
type options struct {
	kubeconfig      string
	context         string
	sourceNamespace string
	addr            string
	duration        time.Duration
	demo            bool
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second Ctrl-C kills at once
	if opts.demo {
		os.Exit(runDemo(ctx, opts, os.Stdout))
	}
	cfg, err := informer.LoadConfig(opts.kubeconfig, opts.context)
	if err == nil {
		err = runController(ctx, cfg, opts, os.Stdout, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var opts options
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig `file` (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVar(&opts.context, "context", "", "kubeconfig context (default: the current one)")
	fs.StringVar(&opts.sourceNamespace, "source-namespace", "cmcopy-sources", "the `namespace` of the source ConfigMaps")
	fs.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "serve /healthz, /readyz and /metrics on this `address` (empty: do not serve)")
	fs.DurationVar(&opts.duration, "duration", 0, "stop after this long (0: until Ctrl-C); with -demo, how long the generator runs")
	fs.BoolVar(&opts.demo, "demo", false, "start a local cluster (bin/), run a generator and print a summary comparing the cluster with what it should be")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(fs.Output(), err)
		return options{}, err
	}
	return opts, nil
}

// runController runs the controller against cfg until ctx ends or
// opts.duration has passed, serving its probes and metrics on opts.addr.
// When started is not nil it gets the controller once its caches synced.
func runController(ctx context.Context, cfg *rest.Config, opts options, out io.Writer, started func(*running)) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	m, err := newMetrics()
	if err != nil {
		return err
	}
	b := informer.NewBuilder().WithConfig(cfg).WithHooks(m.hooks())
	c := register(b, kube, opts.sourceNamespace)
	inf, err := b.Build()
	if err != nil {
		return err
	}
	m.observe(inf)
	if opts.duration > 0 && !opts.demo {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.duration)
		defer cancel()
	}
	var serveErr chan error
	if opts.addr != "" {
		ln, err := net.Listen("tcp", opts.addr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/healthz", inf.HealthzHandler())
		mux.Handle("/readyz", inf.ReadyzHandler())
		mux.Handle("/metrics", m.handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		serveErr = make(chan error, 1)
		go func() { serveErr <- srv.Serve(ln) }()
		fmt.Fprintf(out, "controller: serving /healthz, /readyz and /metrics on http://%s\n", ln.Addr())
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
			if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(out, "controller: serving:", err)
			}
		}()
	}
	if err := inf.Start(ctx); err != nil {
		return err
	}
	if err := inf.WaitForSync(ctx); err != nil {
		return errors.Join(err, inf.Stop())
	}
	fmt.Fprintf(out, "controller: synced; copying ConfigMaps labelled %s=true from %s into namespaces labelled %s=true\n",
		sourceLabel, opts.sourceNamespace, targetLabel)
	if started != nil {
		started(&running{c: c, inf: inf})
	}
	<-ctx.Done()
	// Stop stops taking keys, lets running reconciles finish and waits for
	// every goroutine.
	return inf.Stop()
}

// running is a started controller, for the demo's summary.
type running struct {
	c   *controller
	inf *informer.Informer
}
