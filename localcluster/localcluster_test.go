package localcluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// klog starts its flush daemon when client-go is imported.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
	)
}

// requireBinaries skips the test when the binaries opts needs have not been
// built.
func requireBinaries(t *testing.T, opts Options) {
	t.Helper()
	dir, err := opts.binDir()
	if err == nil {
		err = CheckBinaries(dir, opts.ControllerManager)
	}
	if err != nil {
		if dir == "" {
			dir = "the informer checkout's bin/ (none found above the working directory)"
		}
		t.Skipf("kube-apiserver/etcd binaries not found in %s: run `make test` (it builds them with `make tools`)", dir)
	}
}

// startCluster starts a cluster for the test and stops it when the test
// ends. It skips the test when the binaries have not been built.
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	requireBinaries(t, opts)
	start := time.Now()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cluster started in %v at %s (dir %s)", time.Since(start).Round(time.Millisecond), c.APIServerURL(), c.Dir())
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("NewForConfig: %v", err)
	}
	return client
}

func createConfigMap(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Data:       map[string]string{"key": name},
	}
	if _, err := client.CoreV1().ConfigMaps("default").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ConfigMap %s: %v", name, err)
	}
}

func getConfigMap(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	got, err := client.CoreV1().ConfigMaps("default").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting ConfigMap %s: %v", name, err)
	}
	if got.Data["key"] != name {
		t.Fatalf("ConfigMap %s has data %v, want key=%s", name, got.Data, name)
	}
}

// TestCluster runs checks that leave the cluster running as it was against
// one shared cluster.
func TestCluster(t *testing.T) {
	c := startCluster(t, Options{})

	t.Run("ConfigMap", func(t *testing.T) {
		cfg := c.RESTConfig()
		if cfg.Insecure || len(cfg.CAData) == 0 {
			t.Fatalf("RESTConfig: Insecure=%v, %d bytes of CA data; want verification against the serving CA", cfg.Insecure, len(cfg.CAData))
		}
		cfg.Host = "https://mutated.invalid"
		cfg.CAData[0] = 0
		client := clientFor(t, c.RESTConfig())
		createConfigMap(t, client, "basic")
		getConfigMap(t, client, "basic")
	})

	t.Run("Kubeconfig", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
		if err != nil {
			t.Fatalf("loading %s: %v", c.KubeconfigPath(), err)
		}
		ns, err := clientFor(t, cfg).CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("getting namespace default through the kubeconfig: %v", err)
		}
		if ns.Name != "default" {
			t.Fatalf("got namespace %q", ns.Name)
		}
	})

	t.Run("Kubectl", func(t *testing.T) {
		kubectl := filepath.Join(c.BinDir(), kubectlBinary)
		if _, err := os.Stat(kubectl); err != nil {
			t.Skipf("kubectl not built: %v", err)
		}
		out, err := exec.CommandContext(t.Context(), kubectl, "--kubeconfig", c.KubeconfigPath(),
			"get", "namespace", "kube-system", "-o", "name").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "namespace/kube-system" {
			t.Fatalf("kubectl printed %q, want namespace/kube-system", got)
		}
	})

	t.Run("AddUser", func(t *testing.T) {
		podReader, err := c.AddUser(t.Context(), "pod-reader", []rbacv1.PolicyRule{{
			APIGroups: []string{""},
			Resources: []string{"pods"},
			Verbs:     []string{"list", "watch"},
		}})
		if err != nil {
			t.Fatalf("AddUser pod-reader: %v", err)
		}
		reader := clientFor(t, podReader)
		if _, err := reader.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{}); err != nil {
			t.Errorf("pod-reader listing pods: %v", err)
		}
		w, err := reader.CoreV1().Pods("").Watch(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Errorf("pod-reader watching pods: %v", err)
		} else {
			w.Stop()
		}
		_, err = reader.CoreV1().ConfigMaps("default").List(t.Context(), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("pod-reader listing configmaps: got %v, want Forbidden", err)
		}

		nobody, err := c.AddUser(t.Context(), "nobody", nil)
		if err != nil {
			t.Fatalf("AddUser nobody: %v", err)
		}
		_, err = clientFor(t, nobody).CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("nobody listing pods: got %v, want Forbidden", err)
		}

		// Adding a user again replaces its rules.
		cmReader, err := c.AddUser(t.Context(), "pod-reader", []rbacv1.PolicyRule{{
			APIGroups: []string{""},
			Resources: []string{"configmaps"},
			Verbs:     []string{"list"},
		}})
		if err != nil {
			t.Fatalf("AddUser pod-reader again: %v", err)
		}
		if _, err := clientFor(t, cmReader).CoreV1().ConfigMaps("default").List(t.Context(), metav1.ListOptions{}); err != nil {
			t.Errorf("pod-reader with new rules listing configmaps: %v", err)
		}
	})
}

func TestRestartAPIServer(t *testing.T) {
	c := startCluster(t, Options{})
	client := clientFor(t, c.RESTConfig())
	createConfigMap(t, client, "before-restart")

	if err := c.RestartAPIServer(t.Context()); err != nil {
		t.Fatalf("RestartAPIServer: %v", err)
	}
	getConfigMap(t, client, "before-restart")

	if err := c.KillAPIServer(); err != nil {
		t.Fatalf("KillAPIServer: %v", err)
	}
	if _, err := client.CoreV1().ConfigMaps("default").Get(t.Context(), "before-restart", metav1.GetOptions{}); err == nil {
		t.Fatal("getting a ConfigMap while kube-apiserver is down succeeded")
	}
	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatalf("StartAPIServer: %v", err)
	}
	if err := c.StartAPIServer(t.Context()); err == nil {
		t.Error("StartAPIServer while running: got nil error")
	}
	getConfigMap(t, client, "before-restart")
}

func TestRestartEtcd(t *testing.T) {
	c := startCluster(t, Options{})
	client := clientFor(t, c.RESTConfig())
	createConfigMap(t, client, "before-etcd-restart")

	if err := c.RestartEtcd(t.Context()); err != nil {
		t.Fatalf("RestartEtcd: %v", err)
	}
	getConfigMap(t, client, "before-etcd-restart")
	createConfigMap(t, client, "after-etcd-restart")
}

// TestStopTwice also checks that Options.Output receives every server's
// output, line by line with the server's name in front.
func TestStopTwice(t *testing.T) {
	var output bytes.Buffer
	c := startCluster(t, Options{Output: &output})
	if _, err := os.Stat(filepath.Join(c.Dir(), apiServerBinary+".log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log file written although Options.Output is set: %v", err)
	}
	pids := c.pids()
	if len(pids) != 2 {
		t.Fatalf("got processes %v, want etcd and kube-apiserver", pids)
	}
	dir := c.Dir()

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Stop() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Stop %d: %v", i, err)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("third Stop: %v", err)
	}
	for name, pid := range pids {
		// os.FindProcess does not fail on unix; Signal then reports a
		// process that is gone as ErrProcessDone.
		proc, err := os.FindProcess(pid)
		if err == nil {
			err = proc.Signal(syscall.Signal(0))
			_ = proc.Release()
		}
		if !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("%s (pid %d) still exists after Stop: signal 0 returned %v", name, pid, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there after Stop: %v", dir, err)
	}
	if err := c.RestartAPIServer(t.Context()); !errors.Is(err, errStopped) {
		t.Errorf("RestartAPIServer after Stop: got %v, want errStopped", err)
	}

	// Stop has waited for the processes, and so for their output.
	for _, prefix := range []string{"etcd: ", "kube-apiserver: "} {
		if !strings.Contains(output.String(), "\n"+prefix) {
			t.Errorf("Options.Output has no line starting with %q", prefix)
		}
	}
	for line := range strings.Lines(output.String()) {
		if !strings.HasPrefix(line, "etcd: ") && !strings.HasPrefix(line, "kube-apiserver: ") {
			t.Errorf("Options.Output line without a server prefix: %q", line)
			break
		}
	}
}

func TestMissingBinaries(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "no-such-bin")
	c, err := Start(t.Context(), Options{BinDir: bogus})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start with a bogus BinDir succeeded")
	}
	if !errors.Is(err, ErrBinariesMissing) {
		t.Errorf("error %q does not wrap ErrBinariesMissing", err)
	}
	for _, want := range []string{"make tools", filepath.Join(bogus, etcdBinary)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestStartFailureCleansUp makes kube-apiserver exit at once and checks that
// Start reports its log and leaves no process behind.
func TestStartFailureCleansUp(t *testing.T) {
	opts := Options{APIServerFlags: []string{"--no-such-flag"}}
	requireBinaries(t, opts)
	c, err := Start(t.Context(), opts)
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start with a bad kube-apiserver flag succeeded")
	}
	t.Logf("Start error: %v", err)
	m := regexp.MustCompile(`log: (\S+/kube-apiserver\.log)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %q does not name the kube-apiserver log", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(m[1])) })
	if log, err := os.ReadFile(m[1]); err != nil || !strings.Contains(string(log), "no-such-flag") {
		t.Errorf("log %s: err %v, contents %q; want a complaint about the flag", m[1], err, log)
	}
	if !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("error %q does not quote the log", err)
	}
	if kids := childPIDs(t); len(kids) > 0 {
		t.Errorf("child processes left after a failed Start: %v", kids)
	}
}

func TestControllerManager(t *testing.T) {
	c := startCluster(t, Options{ControllerManager: true})
	client := clientFor(t, c.RESTConfig())
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}}},
			},
		},
	}
	created, err := client.AppsV1().Deployments("default").Create(t.Context(), deploy, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Deployment: %v", err)
	}

	var pods int
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rss, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, rs := range rss.Items {
			if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == created.UID {
				list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, err
				}
				pods = len(list.Items)
				return pods == 2, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the Deployment's ReplicaSet and 2 Pods (have %d Pods): %v", pods, err)
	}
}

// pids returns the process id of each server that is running.
func (c *Cluster) pids() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, p := range []*process{c.etcd, c.apiserver, c.kcm} {
		if p != nil && p.running() {
			out[p.name] = p.pid()
		}
	}
	return out
}

// childPIDs lists the live child processes of the test binary, from /proc.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	self := os.Getpid()
	var kids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesized command: state, ppid, ...
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(self) {
			kids = append(kids, pid)
		}
	}
	return kids
}
