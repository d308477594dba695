// Command sharded is a shard group of pod counters built with the informer
// library, and a demo that runs it through a failure, a join and a clean
// leave on a local cluster.
//
//	sharded -replica -kubeconfig K -namespace N -identity ID -events FILE   one replica
//	sharded -demo -duration 60s                                            the whole scenario
//	make demo-shards DURATION=60s                                          the same, built from the repository root
//
// A replica handles the pods of the hash ranges it owns in the group
// "pod-counter" and appends one JSON line per callback to its event log;
// the demo runs replicas as child processes and prints a summary computed
// from their logs and from the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	replica bool
	replicaOptions
	events string

	demo bool
	demoOptions
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program: it parses args and runs a replica or the demo, and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.demo {
		context.AfterFunc(ctx, stop) // a second Ctrl-C kills at once
		if opts.replicaCommand == "" {
			exe, err := os.Executable()
			if err != nil {
				fmt.Fprintln(stderr, "sharded:", err)
				return 1
			}
			opts.replicaCommand = exe
		}
		return runDemo(ctx, opts.demoOptions, stdout)
	}
	if err := replicaMain(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "sharded: replica %s: %v\n", opts.identity, err)
		return 1
	}
	return 0
}

// replicaMain runs one replica until ctx ends, appending to its event log.
func replicaMain(ctx context.Context, opts options) error {
	f, err := os.OpenFile(opts.events, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	runErr := runReplica(ctx, opts.replicaOptions, &eventLog{w: f})
	return errors.Join(runErr, f.Close())
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("sharded", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&opts.replica, "replica", false, "run one replica of the shard group")
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig `file` (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVar(&opts.namespace, "namespace", demoNamespace, "the `namespace` of the pods and of the group's Leases")
	fs.StringVar(&opts.identity, "identity", "", "this replica's identity, unique in the group")
	fs.StringVar(&opts.events, "events", "", "append the event log to this `file`")
	fs.DurationVar(&opts.replicaOptions.work, "work", time.Millisecond, "how long each callback takes")
	fs.BoolVar(&opts.demo, "demo", false, "start a local cluster (bin/), run the scenario and print the summary")
	fs.DurationVar(&opts.duration, "duration", 60*time.Second, "with -demo, how long the scenario runs")
	fs.IntVar(&opts.pods, "pods", 600, "with -demo, how many pods")
	fs.IntVar(&opts.rate, "rate", 50, "with -demo, pod updates per second")
	fs.StringVar(&opts.logDir, "logdir", "", "with -demo, keep the logs in this `directory` (default: a temporary one, removed after a clean run)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case opts.replica == opts.demo:
		err = errors.New("give one of -replica and -demo")
	case opts.replica && (opts.identity == "" || opts.events == ""):
		err = errors.New("-replica needs -identity and -events")
	case opts.demo && (opts.duration <= 0 || opts.pods <= 0 || opts.rate <= 0):
		err = errors.New("-duration, -pods and -rate must be positive")
	}
	if err != nil {
		fmt.Fprintln(stderr, "sharded:", err)
		return options{}, err
	}
	opts.demoOptions.work = opts.replicaOptions.work
	return opts, nil
}
