package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer/localcluster"
)

// convergeBound is how long the demo waits, after the generator stopped,
// for the cluster to be what it should be.
const convergeBound = 90 * time.Second

// runDemo starts a local cluster (etcd, kube-apiserver and
// kube-controller-manager, which deletes namespaces), runs the controller
// against it while a generator changes namespaces, sources and copies for
// opts.duration (default 40 s), then prints the summary line and returns
// the exit code: 0 when the cluster converged (missing=0 extra=0).
func runDemo(ctx context.Context, opts options, out io.Writer) int {
	if opts.duration <= 0 {
		opts.duration = 40 * time.Second
	}
	logDir, err := os.MkdirTemp("", "cmcopy-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(logDir) }() // the cluster's log, of no use after a clean run
	logFile, err := os.Create(filepath.Join(logDir, "cluster.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() { _ = logFile.Close() }() // written by the servers, which have stopped
	fmt.Fprintln(out, "demo: starting etcd, kube-apiserver and kube-controller-manager ...")
	cluster, err := localcluster.Start(ctx, localcluster.Options{ControllerManager: true, Output: logFile})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: starting the local cluster:", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping the local cluster:", err)
		}
	}()
	code, err := demo(ctx, cluster, opts, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	return code
}

func demo(ctx context.Context, cluster *localcluster.Cluster, opts options, out io.Writer) (int, error) {
	// opts.duration is the generator's: the controller runs until the end.
	opts.demo = true
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return 1, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opts.sourceNamespace}}, metav1.CreateOptions{}); err != nil {
		return 1, err
	}
	ctrlCtx, stopController := context.WithCancel(ctx)
	defer stopController()
	started := make(chan *running, 1)
	ctrlErr := make(chan error, 1)
	go func() {
		ctrlErr <- runController(ctrlCtx, cluster.RESTConfig(), opts, out, func(r *running) { started <- r })
	}()
	var ctrl *running
	select {
	case ctrl = <-started:
	case err := <-ctrlErr:
		return 1, fmt.Errorf("controller: %w", err)
	}

	fmt.Fprintf(out, "demo: generator runs for %v\n", opts.duration)
	genCtx, stopGen := context.WithTimeout(ctx, opts.duration)
	gen := &generator{kube: kube, sourceNamespace: opts.sourceNamespace, rand: rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))}
	gen.run(genCtx)
	stopGen()
	fmt.Fprintf(out, "demo: generator stopped after %d changes (%d refused by the server); waiting for the cluster to converge\n", gen.changes, gen.failed)

	state, err := awaitConvergence(ctx, kube, opts.sourceNamespace)
	if err != nil {
		return 1, err
	}
	stats := ctrl.c.sources.Stats()
	if !state.converged() {
		for _, is := range ctrl.inf.Status().Informers {
			fmt.Fprintf(out, "demo: informer %s: synced=%v watching=%v stale=%v cached=%d last error=%v\n",
				is.Resource, is.Synced, is.Watching, is.Stale, is.CachedObjects, is.LastError)
			for _, h := range is.Handlers {
				fmt.Fprintf(out, "demo:   handler %s: %+v\n", h.Name, h.Stats)
			}
		}
		fmt.Fprintf(out, "demo: reconciler: %+v\n", stats)
	}
	stopController()
	if err := <-ctrlErr; err != nil {
		fmt.Fprintln(os.Stderr, "demo: controller:", err)
	}
	fmt.Fprintf(out, "controller summary: reconciles=%d errors=%d retries=%d wanted=%d actual=%d missing=%d extra=%d\n",
		stats.Reconciles, stats.Errors, stats.Retries, state.wanted, state.actual, state.missing, state.extra)
	if !state.converged() {
		fmt.Fprintf(out, "demo: not converged after %v: %s\n", convergeBound, strings.Join(state.examples, ", "))
		return 1, nil
	}
	return 0, nil
}

// awaitConvergence checks the cluster's state until it is what it should
// be or convergeBound passed, and returns the last state seen.
func awaitConvergence(ctx context.Context, kube kubernetes.Interface, sourceNamespace string) (convergence, error) {
	ctx, cancel := context.WithTimeout(ctx, convergeBound)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last convergence
	for {
		state, err := checkState(ctx, kube, sourceNamespace)
		if err == nil {
			last = state
			if state.converged() {
				return state, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, nil // the summary says what is missing or extra
		case <-tick.C:
		}
	}
}

// generator changes the cluster the way users would: target namespaces
// come and go and lose their label, sources are created, edited and
// deleted, and now and then someone deletes or edits a copy.
type generator struct {
	kube            kubernetes.Interface
	sourceNamespace string
	rand            *rand.Rand
	changes, failed int
	namespaces      int // target namespaces created so far
	sources         int // sources created so far
}

func (g *generator) run(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := g.step(ctx); err != nil && ctx.Err() == nil {
			g.failed++
		}
		g.changes++
	}
}

func (g *generator) step(ctx context.Context) error {
	core := g.kube.CoreV1()
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, g.rand.IntN(max(n, 1))) }
	switch op := g.rand.IntN(100); {
	case op < 8 && g.namespaces < 8:
		g.namespaces++
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("cmcopy-target-%d", g.namespaces), Labels: map[string]string{targetLabel: "true"},
		}}
		_, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		return err
	case op < 11:
		return core.Namespaces().Delete(ctx, pick("cmcopy-target-", g.namespaces+1), metav1.DeleteOptions{})
	case op < 16:
		ns, err := core.Namespaces().Get(ctx, pick("cmcopy-target-", g.namespaces+1), metav1.GetOptions{})
		if err != nil {
			return err
		}
		ns = ns.DeepCopy()
		if ns.Labels[targetLabel] == "true" {
			delete(ns.Labels, targetLabel)
		} else {
			ns.Labels = map[string]string{targetLabel: "true"}
		}
		_, err = core.Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
		return err
	case op < 40:
		g.sources++
		src := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("src-%d", g.sources), Labels: map[string]string{sourceLabel: "true"}},
			Data:       map[string]string{"value": fmt.Sprint(g.rand.IntN(1000))},
		}
		_, err := core.ConfigMaps(g.sourceNamespace).Create(ctx, src, metav1.CreateOptions{})
		return err
	case op < 70:
		src, err := core.ConfigMaps(g.sourceNamespace).Get(ctx, pick("src-", g.sources+1), metav1.GetOptions{})
		if err != nil {
			return err
		}
		src = src.DeepCopy()
		src.Data = map[string]string{"value": fmt.Sprint(g.rand.IntN(1000))}
		_, err = core.ConfigMaps(g.sourceNamespace).Update(ctx, src, metav1.UpdateOptions{})
		return err
	case op < 85:
		return core.ConfigMaps(g.sourceNamespace).Delete(ctx, pick("src-", g.sources+1), metav1.DeleteOptions{})
	default:
		// Someone deletes a copy the controller made.
		copies, err := core.ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: copyOfLabel})
		if err != nil || len(copies.Items) == 0 {
			return err
		}
		cp := copies.Items[g.rand.IntN(len(copies.Items))]
		err = core.ConfigMaps(cp.Namespace).Delete(ctx, cp.Name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.Join(err)
	}
}
