package main

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitBound = 30 * time.Second

// waitUntil polls cond until it holds, failing the test after waitBound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReconcileCopiesAndCleansUp(t *testing.T) {
	source := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "settings", Labels: map[string]string{sourceLabel: "true"}},
		Data:       map[string]string{"color": "blue"},
	}
	target := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{targetLabel: "true"}}}
	}
	// informertest's fake, not client-go's: client-go's hands a watch the objects of
	// its store themselves (not copies) when they changed between the LIST and
	// the WATCH, and the informer's default stripping then writes to them.
	kube := informertest.NewClientset(source, target("a"), target("b"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}})
	b := informer.NewBuilder().WithClients(kube, nil)
	register(b, kube, "src")
	inf, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := inf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	copyIn := func(ns string) (*corev1.ConfigMap, error) {
		return kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "settings", metav1.GetOptions{})
	}
	hasCopy := func(ns, color string) func() bool {
		return func() bool {
			cp, err := copyIn(ns)
			return err == nil && cp.Data["color"] == color && cp.Labels[copyOfLabel] == "settings"
		}
	}
	gone := func(ns string) func() bool {
		return func() bool { _, err := copyIn(ns); return apierrors.IsNotFound(err) }
	}
	waitUntil(t, "copies in a and b", func() bool { return hasCopy("a", "blue")() && hasCopy("b", "blue")() })
	if _, err := copyIn("other"); !apierrors.IsNotFound(err) {
		t.Errorf("copy in a namespace without the label: got %v, want not found", err)
	}
	src, err := kube.CoreV1().ConfigMaps("src").Get(t.Context(), "settings", metav1.GetOptions{})
	if err != nil || !hasFinalizer(src) {
		t.Errorf("source: got %v, %v; want our finalizer on it", src.Finalizers, err)
	}

	// The source changes: the copies follow.
	src = src.DeepCopy()
	src.Data["color"] = "red"
	if _, err := kube.CoreV1().ConfigMaps("src").Update(t.Context(), src, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "copies updated", func() bool { return hasCopy("a", "red")() && hasCopy("b", "red")() })

	// Someone deletes a copy: it comes back.
	if err := kube.CoreV1().ConfigMaps("a").Delete(t.Context(), "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "deleted copy restored", hasCopy("a", "red"))

	// b loses the label: its copy goes.
	nsB, err := kube.CoreV1().Namespaces().Get(t.Context(), "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsB = nsB.DeepCopy()
	delete(nsB.Labels, targetLabel)
	if _, err := kube.CoreV1().Namespaces().Update(t.Context(), nsB, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "copy in unlabelled b deleted", gone("b"))

	// The source is deleted: the fake does not run finalizers, so mark it
	// as being deleted the way the API server would, and check that the
	// copies go and the finalizer is removed.
	src, err = kube.CoreV1().ConfigMaps("src").Get(t.Context(), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src = src.DeepCopy()
	src.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	if _, err := kube.CoreV1().ConfigMaps("src").Update(t.Context(), src, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "copies of the deleted source gone", gone("a"))
	waitUntil(t, "finalizer removed", func() bool {
		src, err := kube.CoreV1().ConfigMaps("src").Get(context.Background(), "settings", metav1.GetOptions{})
		return err == nil && !hasFinalizer(src)
	})
}

func TestDemoConverges(t *testing.T) {
	if _, err := localcluster.DefaultBinDir(); err != nil {
		t.Skipf("local cluster binaries: %v (make test builds them)", err)
	}
	binDir, _ := localcluster.DefaultBinDir()
	if err := localcluster.CheckBinaries(binDir, true); errors.Is(err, localcluster.ErrBinariesMissing) {
		t.Skip("kube-apiserver/etcd/kube-controller-manager not built: `make test` builds them")
	}
	var out strings.Builder
	code := runDemo(t.Context(), options{sourceNamespace: "cmcopy-sources", duration: 5 * time.Second}, &out)
	summary := regexp.MustCompile(`(?m)^controller summary: reconciles=(\d+) errors=\d+ retries=\d+ wanted=(\d+) actual=(\d+) missing=0 extra=0$`)
	m := summary.FindStringSubmatch(out.String())
	if code != 0 || m == nil {
		t.Fatalf("demo: exit %d, output:\n%s\nwant exit 0 and a summary with missing=0 extra=0", code, out.String())
	}
	if m[1] == "0" || m[2] != m[3] {
		t.Errorf("summary %q: want reconciles and wanted = actual", m[0])
	}
}

// TestDemoConvergesAfterAPIServerKill runs the demo while kube-apiserver is
// killed and started again once the controller has made copies.
func TestDemoConvergesAfterAPIServerKill(t *testing.T) {
	binDir, err := localcluster.DefaultBinDir()
	if err == nil {
		err = localcluster.CheckBinaries(binDir, true)
	}
	if err != nil {
		t.Skipf("local cluster binaries: %v (make test builds them)", err)
	}
	cluster, err := localcluster.Start(t.Context(), localcluster.Options{ControllerManager: true, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	}()
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		err  error
	}
	out := &lockedBuilder{}
	done := make(chan result, 1)
	go func() {
		code, err := demo(t.Context(), cluster, options{sourceNamespace: "cmcopy-sources", duration: 15 * time.Second}, out)
		done <- result{code, err}
	}()
	// The kill comes once the controller made a copy (it is working), or
	// the test fails with what the demo said so far.
	deadline := time.Now().Add(2 * waitBound)
	for {
		copies, err := kube.CoreV1().ConfigMaps("").List(t.Context(), metav1.ListOptions{LabelSelector: copyOfLabel})
		if err == nil && len(copies.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no copy within %v; demo output:\n%s", 2*waitBound, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cluster.KillAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(convergeBound + time.Minute):
		t.Fatal("the demo did not end")
	}
	if r.err != nil || r.code != 0 || !regexp.MustCompile(`(?m)^controller summary: .* missing=0 extra=0$`).MatchString(out.String()) {
		t.Fatalf("demo after a kube-apiserver kill: exit %d, %v, output:\n%s\nwant exit 0 and missing=0 extra=0", r.code, r.err, out.String())
	}
}

// lockedBuilder is a strings.Builder written by the demo's goroutines and
// read by the test.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestParseFlags(t *testing.T) {
	opts, err := parseFlags([]string{"-source-namespace", "x", "-demo", "-duration", "3s", "-addr", ""})
	if err != nil || opts.sourceNamespace != "x" || !opts.demo || opts.duration != 3*time.Second || opts.addr != "" {
		t.Errorf("parseFlags: got %+v, %v", opts, err)
	}
	if _, err := parseFlags([]string{"extra"}); err == nil {
		t.Error("parseFlags with an argument: got nil error")
	}
}
