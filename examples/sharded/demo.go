package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer/localcluster"
)

// demoNamespace holds the demo's pods and the shard group's Leases.
const demoNamespace = "sharded-demo"

// Bounds of the demo's waits.
const (
	settleBound    = 60 * time.Second // until the first replicas own ranges
	stopBound      = 30 * time.Second // for a replica to exit after SIGTERM
	quiescentBound = 30 * time.Second // for the last updates to be handled
)

// demoOptions are the inputs of the demo driver.
type demoOptions struct {
	duration time.Duration
	pods     int
	rate     int // pod updates per second
	work     time.Duration
	// replicaCommand is the program run as a replica with -replica flags
	// (the demo's own executable), replicaEnv extra environment for it.
	replicaCommand string
	replicaEnv     []string
	// logDir keeps the event logs there; empty: a temporary directory,
	// removed after a run that found nothing wrong.
	logDir string
}

// runDemo starts a local cluster with the ShardedListAndWatch gate on, runs
// the scenario (demo) against it, prints the summary line and returns the
// exit code: 0 when no object was handled twice or left unhandled.
func runDemo(ctx context.Context, opts demoOptions, out io.Writer) int {
	logDir, keep := opts.logDir, opts.logDir != ""
	if logDir == "" {
		dir, err := os.MkdirTemp("", "sharded-demo-")
		if err != nil {
			fmt.Fprintln(out, "demo:", err)
			return 1
		}
		logDir = dir
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	code := 1
	defer func() {
		if code == 0 && !keep {
			_ = os.RemoveAll(logDir)
		} else {
			fmt.Fprintf(out, "demo: logs kept in %s\n", logDir)
		}
	}()
	clusterLog, err := os.Create(filepath.Join(logDir, "cluster.log"))
	if err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	defer func() { _ = clusterLog.Close() }() // written by the servers, which have stopped
	fmt.Fprintln(out, "demo: starting etcd and kube-apiserver with ShardedListAndWatch=true ...")
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		FeatureGates: map[string]bool{"ShardedListAndWatch": true},
		Output:       clusterLog,
	})
	if err != nil {
		fmt.Fprintln(out, "demo: starting the local cluster:", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(out, "demo: stopping the local cluster:", err)
		}
	}()
	s, err := demo(ctx, cluster, opts, logDir, out)
	if s.replicas == 0 {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	for _, d := range s.doubles {
		fmt.Fprintln(out, "demo: double handled:", d)
	}
	for _, u := range s.unhandledExamples {
		fmt.Fprintln(out, "demo: unhandled:", u)
	}
	for i, id := range s.replicaIDs {
		fmt.Fprintf(out, "demo: %s ran %d callbacks, cached %d pods, live heap %d bytes at its last status\n",
			id, s.callbacksPerReplica[i], s.cachedPerReplica[i], s.heapPerReplica[i])
	}
	if s.takeover != "" {
		fmt.Fprintln(out, "demo: longest takeover:", s.takeover)
	}
	fmt.Fprintln(out, s.line())
	if err != nil {
		// A replica that stopped cleanly must exit with status 0.
		fmt.Fprintln(out, "demo: replicas exited with errors:", err)
	}
	if s.ok() && err == nil {
		code = 0
	}
	return code
}

// demo runs the scenario against cluster and returns its summary, with an
// error when a replica exited with one (other than the one killed); the
// summary is empty when the scenario could not run to its end. The
// schedule is scaled to opts.duration, counted from the moment the first
// three replicas own ranges: SIGKILL replica-3 at 25 %, start replica-4 at
// 40 %, SIGTERM replica-1 at 60 % (and wait for it), stop the writer at
// 85 %, wait until the last updates were handled (bounded), SIGTERM the
// rest.
func demo(ctx context.Context, cluster *localcluster.Cluster, opts demoOptions, logDir string, out io.Writer) (summary, error) {
	begin := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "demo: %5.1fs "+format+"\n", append([]any{time.Since(begin).Seconds()}, args...)...)
	}
	cfg := cluster.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 1000 // the writer's pace is its own, not client-go's default 5 a second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return summary{}, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}, metav1.CreateOptions{}); err != nil {
		return summary{}, err
	}
	if err := createPods(ctx, kube, opts.pods); err != nil {
		return summary{}, err
	}
	say("created %d pods in namespace %s", opts.pods, demoNamespace)

	w := &writer{kube: kube, pods: opts.pods, rate: opts.rate, writes: map[string][]time.Time{}}
	writerCtx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.run(writerCtx)
	}()
	say("writer updates %d pods a second, round robin", opts.rate)

	g := &group{opts: opts, logDir: logDir, kubeconfig: cluster.KubeconfigPath(), say: say}
	defer g.killAll()
	for i := 1; i <= 3; i++ {
		if err := g.start(fmt.Sprintf("replica-%d", i)); err != nil {
			return summary{}, err
		}
	}
	if err := g.awaitOwners(ctx, []string{"replica-1", "replica-2", "replica-3"}); err != nil {
		return summary{}, err
	}
	t0 := time.Now()
	at := func(fraction float64) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(t0.Add(time.Duration(fraction * float64(opts.duration))))):
			return nil
		}
	}
	if err := at(0.25); err != nil {
		return summary{}, err
	}
	if err := g.signal("replica-3", syscall.SIGKILL); err != nil {
		return summary{}, err
	}
	if err := at(0.40); err != nil {
		return summary{}, err
	}
	if err := g.start("replica-4"); err != nil {
		return summary{}, err
	}
	if err := at(0.60); err != nil {
		return summary{}, err
	}
	if err := g.signal("replica-1", syscall.SIGTERM); err != nil {
		return summary{}, err
	}
	if err := g.wait("replica-1"); err != nil {
		return summary{}, err
	}
	if err := at(0.85); err != nil {
		return summary{}, err
	}
	stopWriter()
	<-writerDone
	say("writer stopped: %d updates, %d failed", w.updates.Load(), w.failed.Load())
	if err := g.awaitHandled(ctx, kube); err != nil {
		say("%v", err) // the summary counts what is unhandled
	}
	for _, id := range []string{"replica-2", "replica-4"} {
		if err := g.signal(id, syscall.SIGTERM); err != nil {
			return summary{}, err
		}
	}
	for _, id := range []string{"replica-2", "replica-4"} {
		if err := g.wait(id); err != nil {
			return summary{}, err
		}
	}

	server, err := listPods(ctx, kube)
	if err != nil {
		return summary{}, err
	}
	in := summaryInput{replicas: g.order, logs: map[string][]record{}, server: server, writes: w.writes}
	for _, id := range g.order {
		records, err := readLog(g.eventsPath(id))
		if err != nil {
			return summary{}, err
		}
		in.logs[id] = records
	}
	return summarize(in), g.exitErrors()
}

// createPods creates n pods, several at a time.
func createPods(ctx context.Context, kube kubernetes.Interface, n int) error {
	const workers = 8
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: podName(i), Labels: map[string]string{"app": "sharded-demo"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}}},
				}
				if _, err := kube.CoreV1().Pods(demoNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errs[w] = fmt.Errorf("creating pod %s: %w", pod.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func podName(i int) string { return fmt.Sprintf("pod-%03d", i) }

// listPods is the server's final LIST of the demo's pods.
func listPods(ctx context.Context, kube kubernetes.Interface) ([]serverPod, error) {
	list, err := kube.CoreV1().Pods(demoNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pods := make([]serverPod, 0, len(list.Items))
	for _, p := range list.Items {
		pods = append(pods, serverPod{key: p.Namespace + "/" + p.Name, uid: string(p.UID), resourceVersion: p.ResourceVersion})
	}
	return pods, nil
}

// writer updates the pods round robin, rate a second in all, by setting a
// label to a counter, and records when each update returned.
type writer struct {
	kube            kubernetes.Interface
	pods, rate      int
	updates, failed atomic.Int64

	mu     sync.Mutex
	writes map[string][]time.Time // per pod uid, in order
}

func (w *writer) run(ctx context.Context) {
	// Two workers, so that one slow request does not halve the rate.
	const workers = 2
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			tick := time.NewTicker(time.Duration(workers) * time.Second / time.Duration(max(w.rate, 1)))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				n := next.Add(1)
				patch := fmt.Appendf(nil, `{"metadata":{"labels":{"counter":"%d"}}}`, n)
				pod, err := w.kube.CoreV1().Pods(demoNamespace).Patch(ctx, podName(int(n%int64(w.pods))), types.MergePatchType, patch, metav1.PatchOptions{})
				switch {
				case err == nil:
					w.updates.Add(1)
					w.mu.Lock()
					w.writes[string(pod.UID)] = append(w.writes[string(pod.UID)], time.Now())
					w.mu.Unlock()
				case ctx.Err() == nil:
					w.failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// group runs the replicas as child processes.
type group struct {
	opts       demoOptions
	logDir     string
	kubeconfig string
	say        func(format string, args ...any)

	order    []string // identities, in the order started
	replicas map[string]*replicaProcess
}

type replicaProcess struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process exited
	err      error         // Wait's error
	signaled bool          // killed on purpose with SIGKILL
}

func (g *group) eventsPath(id string) string { return filepath.Join(g.logDir, id+".events.jsonl") }

func (g *group) start(id string) error {
	logFile, err := os.Create(filepath.Join(g.logDir, id+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(g.opts.replicaCommand, "-replica",
		"-kubeconfig", g.kubeconfig, "-namespace", demoNamespace, "-identity", id,
		"-events", g.eventsPath(id), "-work", g.opts.work.String())
	cmd.Env = append(os.Environ(), g.opts.replicaEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", id, err)
	}
	p := &replicaProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		_ = logFile.Close() // the child has exited
	}()
	if g.replicas == nil {
		g.replicas = map[string]*replicaProcess{}
	}
	g.replicas[id] = p
	g.order = append(g.order, id)
	g.say("started %s (pid %d)", id, cmd.Process.Pid)
	return nil
}

func (g *group) signal(id string, sig syscall.Signal) error {
	p := g.replicas[id]
	if sig == syscall.SIGKILL {
		p.signaled = true
	}
	g.say("%s to %s", signalName[sig], id)
	return p.cmd.Process.Signal(sig)
}

var signalName = map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}

func (g *group) wait(id string) error {
	p := g.replicas[id]
	start := time.Now()
	select {
	case <-p.done:
		g.say("%s exited %v after the signal: %v", id, time.Since(start).Round(time.Millisecond), exitDesc(p.err))
		return nil
	case <-time.After(stopBound):
		return fmt.Errorf("%s did not exit within %v", id, stopBound)
	}
}

func exitDesc(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// exitErrors returns an error for each replica that exited with an error,
// except the one killed on purpose.
func (g *group) exitErrors() error {
	var errs []error
	for _, id := range g.order {
		p := g.replicas[id]
		<-p.done
		if p.err != nil && !p.signaled {
			errs = append(errs, fmt.Errorf("%s: %w (see %s)", id, p.err, filepath.Join(g.logDir, id+".log")))
		}
	}
	return errors.Join(errs...)
}

// killAll kills the replicas still running, when the demo ends early.
func (g *group) killAll() {
	for _, p := range g.replicas {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// awaitOwners waits until each of ids reported owning some ranges.
func (g *group) awaitOwners(ctx context.Context, ids []string) error {
	tails := map[string]*logTail{}
	owning := map[string]bool{}
	for _, id := range ids {
		tails[id] = &logTail{path: g.eventsPath(id)}
	}
	deadline := time.Now().Add(settleBound)
	for {
		for id, t := range tails {
			records, err := t.read()
			if err != nil {
				return err
			}
			for _, r := range records {
				if r.Event == kindStatus {
					owning[id] = len(r.Owned) > 0
				}
			}
		}
		all := true
		for _, id := range ids {
			all = all && owning[id]
		}
		if all {
			g.say("%d replicas own ranges; the schedule starts", len(ids))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the replicas did not all own ranges within %v (owning: %v)", settleBound, owning)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// awaitHandled waits until the last resourceVersion of every pod on the
// server appears in some replica's event log.
func (g *group) awaitHandled(ctx context.Context, kube kubernetes.Interface) error {
	tails := map[string]*logTail{}
	for _, id := range g.order {
		tails[id] = &logTail{path: g.eventsPath(id)}
	}
	handled := map[string]bool{} // uid + "/" + resourceVersion
	deadline := time.Now().Add(quiescentBound)
	for {
		for _, t := range tails {
			records, err := t.read()
			if err != nil {
				return err
			}
			for _, r := range records {
				if r.isCallback() {
					handled[r.UID+"/"+r.ResourceVersion] = true
				}
			}
		}
		server, err := listPods(ctx, kube)
		if err != nil {
			return err
		}
		behind := 0
		for _, p := range server {
			if !handled[p.uid+"/"+p.resourceVersion] {
				behind++
			}
		}
		if behind == 0 {
			g.say("every pod's last update was handled")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pods' last update not handled within %v", behind, quiescentBound)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
