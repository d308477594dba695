package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/localcluster"
)

// demoNamespace is where the generator works and podwatch watches.
const demoNamespace = "informer-demo"

// managedByLabel marks the namespace as the demo's own, for whoever finds it
// in their cluster.
const managedByLabel = "app.kubernetes.io/managed-by"

// target is the cluster the demo runs against: a local one it started, or
// the user's own.
type target struct {
	client     kubernetes.Interface
	kubeconfig string        // --kubeconfig for podwatch; "" for the default
	context    string        // --context for podwatch; "" for the current one
	readyIn    time.Duration // how long starting (or reaching) the cluster took

	local     *localcluster.Cluster // nil for the user's own cluster
	logFile   *os.File              // the local servers' output
	nsCreated bool                  // the demo created demoNamespace and must delete it
}

// localBinDir returns the directory with the binaries of the local cluster.
// The error wraps localcluster.ErrBinariesMissing when they have not been
// built.
func localBinDir() (string, error) {
	binDir, err := localcluster.DefaultBinDir()
	if err != nil {
		return "", err
	}
	return binDir, localcluster.CheckBinaries(binDir, true)
}

// startLocal starts etcd, kube-apiserver and kube-controller-manager from
// binDir, with their output going to cluster.log in logDir; root is the
// checkout, for shorter messages.
func startLocal(ctx context.Context, root, binDir, logDir string) (*target, error) {
	shown := binDir
	if rel, err := filepath.Rel(root, binDir); err == nil && filepath.IsLocal(rel) {
		shown = rel + "/"
	}
	progressf("starting etcd, kube-apiserver and kube-controller-manager from %s ...", shown)
	start := time.Now()
	// The servers' output goes to a file, not the terminal, where it would
	// drown podwatch's lines; a failed start quotes its last lines. The file
	// is in the demo's directory rather than the cluster's (the default)
	// because localcluster keeps its directory, for the logs, when Start is
	// interrupted, and the demo would leave it behind.
	logPath := filepath.Join(logDir, "cluster.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir, ControllerManager: true, Output: logFile})
	if err != nil {
		return nil, errors.Join(err, logFile.Close())
	}
	t := &target{local: c, logFile: logFile, kubeconfig: c.KubeconfigPath(), readyIn: time.Since(start)}
	if t.client, err = kubernetes.NewForConfig(c.RESTConfig()); err != nil {
		return nil, errors.Join(err, t.close(ctx))
	}
	progressf("cluster ready in %.1fs, kubeconfig: %s", t.readyIn.Seconds(), c.KubeconfigPath())
	if kubectl := filepath.Join(c.BinDir(), "kubectl"); isExecutable(kubectl) {
		progressf("  (look around from another terminal: %s --kubeconfig %s get pods -n %s; server logs: %s)",
			kubectl, c.KubeconfigPath(), demoNamespace, logPath)
	}
	progressf("no scheduler and no kubelet run here: pods stay Pending, which is all a watcher needs")
	return t, nil
}

// loadConfig resolves the user's cluster from kubeconfig and kubeContext as
// kubectl would (and as podwatch will).
func loadConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	cfg, err := informer.LoadConfig(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 20, 40
	return cfg, nil
}

// connect says what the demo is about to do in the user's cluster, gives
// them a few seconds to change their mind, and checks that the cluster
// answers.
func connect(ctx context.Context, cfg *rest.Config, kubeconfig, kubeContext string) (*target, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	progressf("using YOUR cluster %s (%s) instead of a local one.", cfg.Host, describeConfig(kubeconfig, kubeContext))
	progressf("the demo will create namespace %s, create, relabel and delete pods and a Deployment in it,", demoNamespace)
	progressf("and delete the namespace at the end. Nothing outside it is changed. Ctrl-C within 5s to cancel.")
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-time.After(5 * time.Second):
	}
	// A cheap request first, so that an unreachable cluster or bad
	// credentials fail here with a clear message.
	start := time.Now()
	version, err := client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reaching %s: %w", cfg.Host, err)
	}
	t := &target{client: client, kubeconfig: kubeconfig, context: kubeContext, readyIn: time.Since(start)}
	progressf("connected to Kubernetes %s", version.GitVersion)
	return t, nil
}

func describeConfig(kubeconfig, kubeContext string) string {
	s := "kubeconfig " + kubeconfig
	if kubeconfig == "" {
		s = "default kubeconfig"
		if env := os.Getenv("KUBECONFIG"); env != "" {
			s = "$KUBECONFIG=" + env
		}
	}
	if kubeContext != "" {
		s += ", context " + kubeContext
	}
	return s
}

// createNamespace creates demoNamespace. On the user's cluster it refuses to
// use a namespace of that name that already exists, since deleting it at the
// end could delete someone's work, and waits for the namespace's default
// service account, without which pods are rejected.
func (t *target) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   demoNamespace,
		Labels: map[string]string{managedByLabel: "informer-demo"},
	}}
	_, err := t.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s already exists (left over from an earlier run, or someone else's?): "+
			"the demo only works in a namespace it creates and deletes itself; "+
			"remove it with kubectl delete namespace %s and try again", demoNamespace, demoNamespace)
	}
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", demoNamespace, err)
	}
	t.nsCreated = true
	if t.local != nil {
		// localcluster disables the ServiceAccount admission plugin.
		return nil
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := t.client.CoreV1().ServiceAccounts(demoNamespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the default service account of namespace %s: %w", demoNamespace, err)
	}
	return nil
}

// close stops the local cluster, or deletes the namespace the demo created
// in the user's cluster and waits (bounded) until it is gone.
func (t *target) close(ctx context.Context) error {
	if t.local != nil {
		progressf("stopping the cluster ...")
		return errors.Join(t.local.Stop(), t.logFile.Close())
	}
	if !t.nsCreated {
		return nil
	}
	progressf("deleting namespace %s (its pods and Deployment go with it) ...", demoNamespace)
	namespaces := t.client.CoreV1().Namespaces()
	err := namespaces.Delete(ctx, demoNamespace, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w (delete it with kubectl delete namespace %s)", demoNamespace, err, demoNamespace)
	}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := namespaces.Get(ctx, demoNamespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		// Not a failure of the demo: Kubernetes finishes on its own.
		progressf("namespace %s is still terminating; Kubernetes will finish removing it", demoNamespace)
	}
	return nil
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode().Perm()&0o111 != 0
}
