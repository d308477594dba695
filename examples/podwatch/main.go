// Command podwatch prints a line for every pod that is added, updated or
// deleted, and a summary when it ends. It is a short tour of the informer
// library: build, register typed callbacks, start, wait for the initial list,
// run until told to stop, stop.
//
//	go run ./examples/podwatch -n default -l app=web --duration 1m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/informer-go/informer"
)

// options are the command-line flags.
type options struct {
	kubeconfig  string
	context     string
	namespace   string
	selector    string
	duration    time.Duration
	syncTimeout time.Duration
	staleAfter  time.Duration

	// ready, if not nil, is called once the initial list has been printed.
	// main uses it to tell the user that podwatch is now watching; tests use
	// it to know when to change pods.
	ready func()
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag package has printed the problem and the usage
	}

	// Ctrl-C and SIGTERM end the watch cleanly, so that the summary is printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default behavior: if stopping hangs,
	// a second Ctrl-C kills the program.
	context.AfterFunc(ctx, stop)

	// On stderr, so that stdout holds only events and the summary.
	// examples/demo waits for this line before it starts changing pods.
	opts.ready = func() {
		fmt.Fprintln(os.Stderr, "podwatch: initial list done, watching for changes (Ctrl-C to stop)")
	}
	b := informer.NewBuilder().WithKubeconfig(opts.kubeconfig, opts.context)
	if err := run(ctx, b, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "podwatch: "+explain(ctx, err, opts))
		stop()
		os.Exit(1)
	}
}

// run watches pods with the cluster settings already in b, printing events
// to out, until ctx ends or opts.duration has passed after the initial list.
func run(ctx context.Context, b *informer.Builder, out io.Writer, opts options) error {
	p := &printer{out: out}
	b.WithNamespace(opts.namespace).
		WithLabelSelector(opts.selector).
		WithSyncTimeout(opts.syncTimeout).
		// A line when the cache stops following the server, one when it
		// follows it again: at 3 a.m. this is the line that explains why
		// no event came.
		WithStalenessBound(opts.staleAfter).
		WithStalenessHandler(p.onStaleness)

	reg := informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd:    p.onAdd,
		OnUpdate: p.onUpdate,
		OnDelete: p.onDelete,
	})

	// Build reports every configuration problem at once (a bad selector, no
	// kubeconfig) without contacting the server.
	inf, err := b.Build()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := inf.Start(ctx); err != nil {
		return err
	}
	// WaitForSync returns once OnAdd has been called for every pod of the
	// initial list, so all "[initial]" lines are printed by then. An
	// unreachable server or missing permission shows up here, as a
	// *SyncError, after at most the sync timeout.
	if err := inf.WaitForSync(ctx); err != nil {
		return errors.Join(err, inf.Stop())
	}
	syncedIn := time.Since(start)
	if opts.ready != nil {
		opts.ready()
	}

	waitUntil(ctx, opts.duration)

	// Stop waits until the last callback has returned, so the counters and
	// the cache no longer change when the summary reads them.
	stopErr := inf.Stop()
	pods, err := reg.Lister().List(nil)
	if err != nil {
		return errors.Join(stopErr, err)
	}
	p.summary(len(pods), syncedIn)
	return stopErr
}

// waitUntil blocks until ctx ends or, if d > 0, d has passed.
func waitUntil(ctx context.Context, d time.Duration) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	<-ctx.Done()
}

// explain turns an error from run into one line for the person at the
// terminal: what went wrong and, when it is about reaching the cluster,
// which configuration was used.
func explain(ctx context.Context, err error, opts options) string {
	var syncErr *informer.SyncError
	var msg string
	switch {
	case ctx.Err() != nil && errors.As(err, &syncErr):
		msg = "interrupted before the initial list of pods was complete"
	case errors.Is(err, informer.ErrNoConfig):
		msg = fmt.Sprintf("no cluster configuration found (tried %s); pass --kubeconfig PATH or set $KUBECONFIG", configSource(opts))
	case errors.As(err, &syncErr):
		// The message names the resource and the last list/watch error:
		// unreachable, unauthorized, forbidden...
		msg = fmt.Sprintf("cannot list pods from %s: %v", configSource(opts), err)
	default:
		// A kubeconfig that cannot be loaded or a bad flag value: the
		// library's message already names the file or the flag's value.
		msg = err.Error()
	}
	// errors.Join separates errors with newlines; keep to one line.
	return strings.ReplaceAll(msg, "\n", "; ")
}

// configSource says which cluster configuration podwatch used or looked
// for: the kubeconfig, the context and, when it can be resolved, the server.
func configSource(opts options) string {
	var s string
	switch env := os.Getenv("KUBECONFIG"); {
	case opts.kubeconfig != "":
		s = "kubeconfig " + opts.kubeconfig
	case env != "":
		s = "$KUBECONFIG=" + env
	default:
		s = "in-cluster config and ~/.kube/config"
	}
	if opts.context != "" {
		s += fmt.Sprintf(", context %q", opts.context)
	}
	// The Informer does not say which server it talks to; LoadConfig
	// resolves the configuration the same way the Builder did.
	if cfg, err := informer.LoadConfig(opts.kubeconfig, opts.context); err == nil {
		s = cfg.Host + " (" + s + ")"
	}
	return s
}

func parseFlags(args []string) (options, error) {
	var opts options
	fs := flag.NewFlagSet("podwatch", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: podwatch [flags]\n\nPrints a line for every pod added, updated or deleted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig `file` (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVar(&opts.context, "context", "", "kubeconfig context (default: the current context)")
	// The flag package has no shorthands: register both names on one variable.
	fs.StringVar(&opts.namespace, "namespace", "", "watch only this `namespace` (default: all namespaces)")
	fs.StringVar(&opts.namespace, "n", "", "shorthand for --namespace")
	fs.StringVar(&opts.selector, "selector", "", "label `selector`, as in kubectl -l (app=web,tier!=cache)")
	fs.StringVar(&opts.selector, "l", "", "shorthand for --selector")
	fs.DurationVar(&opts.duration, "duration", 0, "stop after this long once synced (0: until Ctrl-C)")
	fs.DurationVar(&opts.syncTimeout, "sync-timeout", time.Minute, "give up if the initial list takes longer")
	fs.DurationVar(&opts.staleAfter, "stale-after", informer.DefaultStalenessBound, "print STALE when the cache has had no open watch for this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(fs.Output(), err)
		fs.Usage()
		return options{}, err
	}
	return opts, nil
}
