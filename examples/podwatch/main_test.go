package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
)

func TestMain(m *testing.M) {
	// run must leave no goroutine behind once it returns.
	goleak.VerifyTestMain(m)
}

// waitBound bounds every wait in these tests; reaching it is a failure, not
// a way to synchronize.
const waitBound = 20 * time.Second

// The tests use informertest's fake clientset rather than client-go's: the
// changes they make right after the initial list must reach the informer
// even if its WATCH has not started yet, which client-go's fake does not
// guarantee.

func TestRunPrintsEvents(t *testing.T) {
	kube := informertest.NewClientset(
		newPod("default", "web-1", "web", "nginx:1", corev1.PodPending),
		newPod("kube-system", "dns-1", "dns", "coredns:1", corev1.PodRunning),
	)
	out := newLineRecorder()
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	done := make(chan error, 1)
	go func() {
		opts := options{syncTimeout: waitBound, ready: func() { close(ready) }}
		done <- run(ctx, informer.NewBuilder().WithClients(kube, nil), out, opts)
	}()

	// run calls ready after WaitForSync, which returns only once OnAdd was
	// called for every pod of the initial list: both lines are out by then.
	waitClosed(t, ready, "ready")
	initial := out.all()
	slices.Sort(initial) // the initial list comes in no particular order
	wantInitial := []string{
		"ADD    default/web-1  phase=Pending  [initial]",
		"ADD    kube-system/dns-1  phase=Running  [initial]",
	}
	if !slices.Equal(initial, wantInitial) {
		t.Errorf("initial list: got %q, want %q", initial, wantInitial)
	}

	// After the initial list, events come one at a time, in order.
	pods := kube.CoreV1().Pods("default")
	changed := newPod("default", "web-1", "cache", "nginx:2", corev1.PodRunning)
	if _, err := pods.Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	wantLine(t, out, "UPDATE default/web-1  phase=Running  labels.tier: web -> cache, "+
		"spec.containers[0].image: nginx:1 -> nginx:2, status.phase: Pending -> Running")

	if _, err := pods.Create(ctx, newPod("default", "web-2", "web", "nginx:2", corev1.PodPending), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	wantLine(t, out, "ADD    default/web-2  phase=Pending")

	if err := kube.CoreV1().Pods("kube-system").Delete(ctx, "dns-1", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantLine(t, out, "DELETE kube-system/dns-1  phase=Running")

	// Ctrl-C, as far as run can tell.
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Fatalf("run: got error %v, want nil", err)
	}
	wantSummary(t, out.next(t), "summary: add=3 update=1 delete=1 cached=2 stale=0.0s")
}

func TestRunFilters(t *testing.T) {
	tests := []struct {
		name     string
		opts     options
		wantAdds []string
	}{
		{
			name: "namespace",
			opts: options{namespace: "kube-system"},
			wantAdds: []string{
				"ADD    kube-system/dns-1  phase=Running  [initial]",
			},
		},
		{
			name: "label selector",
			opts: options{selector: "tier=web"},
			wantAdds: []string{
				"ADD    default/web-1  phase=Pending  [initial]",
				"ADD    other/web-9  phase=Pending  [initial]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := informertest.NewClientset(
				newPod("default", "web-1", "web", "nginx:1", corev1.PodPending),
				newPod("other", "web-9", "web", "nginx:1", corev1.PodPending),
				newPod("kube-system", "dns-1", "dns", "coredns:1", corev1.PodRunning),
			)
			out := newLineRecorder()
			opts := tt.opts
			opts.syncTimeout = waitBound
			// Any duration ends run right after the initial list: the test
			// does not wait on it, run does.
			opts.duration = time.Nanosecond

			if err := run(t.Context(), informer.NewBuilder().WithClients(kube, nil), out, opts); err != nil {
				t.Fatalf("run: %v", err)
			}
			lines := out.all()
			if len(lines) == 0 {
				t.Fatal("got no output, want adds and a summary")
			}
			adds, summary := lines[:len(lines)-1], lines[len(lines)-1]
			slices.Sort(adds)
			if !slices.Equal(adds, tt.wantAdds) {
				t.Errorf("got %q, want %q", adds, tt.wantAdds)
			}
			n := len(tt.wantAdds)
			wantSummary(t, summary, fmt.Sprintf("summary: add=%d update=0 delete=0 cached=%d stale=0.0s", n, n))
		})
	}
}

func TestRunReportsSyncError(t *testing.T) {
	kube := informertest.NewClientset()
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New(`User "dev" cannot list pods`))
	})
	// The list keeps failing, so only the sync timeout ends the wait.
	opts := options{syncTimeout: 200 * time.Millisecond}

	err := run(t.Context(), informer.NewBuilder().WithClients(kube, nil), newLineRecorder(), opts)

	var syncErr *informer.SyncError
	if !errors.As(err, &syncErr) {
		t.Fatalf("got error %v, want a *informer.SyncError", err)
	}
	if !errors.Is(err, informer.ErrForbidden) {
		t.Errorf("got error %v, want one wrapping informer.ErrForbidden", err)
	}
	msg := explain(t.Context(), err, opts)
	for _, want := range []string{"cannot list pods", "forbidden", `User "dev" cannot list pods`} {
		if !strings.Contains(msg, want) {
			t.Errorf("got message %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("got message %q, want a single line", msg)
	}
}

func TestRunReportsBadSelector(t *testing.T) {
	const selector = "tier in (web"
	// A duration, so that run returns even if it wrongly accepts the selector.
	opts := options{selector: selector, syncTimeout: waitBound, duration: time.Nanosecond}
	err := run(t.Context(), informer.NewBuilder().WithClients(informertest.NewClientset(), nil), newLineRecorder(), opts)
	if err == nil || !strings.Contains(err.Error(), strconv.Quote(selector)) {
		t.Errorf("got error %v, want one naming the selector %q", err, selector)
	}
}

func TestRunReportsNoConfig(t *testing.T) {
	// No $KUBECONFIG, an empty home and not in a pod: nothing to find.
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	opts := options{syncTimeout: waitBound}

	err := run(t.Context(), informer.NewBuilder().WithKubeconfig("", ""), newLineRecorder(), opts)

	if !errors.Is(err, informer.ErrNoConfig) {
		t.Fatalf("got error %v, want one wrapping informer.ErrNoConfig", err)
	}
	// The line the README shows.
	want := "no cluster configuration found (tried in-cluster config and ~/.kube/config); pass --kubeconfig PATH or set $KUBECONFIG"
	if got := explain(t.Context(), err, opts); got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
}

// TestRunInterruptedDuringInitialList is Ctrl-C while the initial list is
// under way: run stops and returns the *SyncError, which explain does not
// present as a problem with the cluster.
func TestRunInterruptedDuringInitialList(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kube := informertest.NewClientset()
	kube.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		cancel() // the list never succeeds; the interruption ends the wait
		return true, nil, apierrors.NewServiceUnavailable("not yet")
	})
	opts := options{syncTimeout: waitBound, ready: func() { t.Error("ready called, want the wait interrupted") }}

	err := run(ctx, informer.NewBuilder().WithClients(kube, nil), newLineRecorder(), opts)

	var syncErr *informer.SyncError
	if !errors.As(err, &syncErr) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want a *informer.SyncError caused by context.Canceled", err)
	}
	want := "interrupted before the initial list of pods was complete"
	if got := explain(ctx, err, opts); got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	defaults := options{syncTimeout: time.Minute, staleAfter: informer.DefaultStalenessBound}
	tests := []struct {
		name string
		args []string
		want options
	}{
		{"defaults", nil, defaults},
		{
			name: "long names",
			args: []string{"--kubeconfig", "kc.yaml", "--context", "dev", "--namespace", "web", "--selector", "tier=web", "--duration", "1m", "--sync-timeout", "5s", "--stale-after", "2m"},
			want: options{kubeconfig: "kc.yaml", context: "dev", namespace: "web", selector: "tier=web", duration: time.Minute, syncTimeout: 5 * time.Second, staleAfter: 2 * time.Minute},
		},
		{
			name: "shorthands",
			args: []string{"-n", "web", "-l", "tier=web"},
			want: options{namespace: "web", selector: "tier=web", syncTimeout: time.Minute, staleAfter: informer.DefaultStalenessBound},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args)
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			// options has no func set here, so DeepEqual compares every field.
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseFlags(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
	// A namespace given without -n is a mistake, not something to ignore.
	if _, err := parseFlags([]string{"default"}); err == nil || !strings.Contains(err.Error(), `unexpected argument "default"`) {
		t.Errorf("parseFlags with an argument: got error %v, want one naming the argument", err)
	}
}

func newPod(namespace, name, tier, image string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"tier": tier}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: image}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

// lineRecorder is the io.Writer run prints to. It hands over complete lines,
// without their timestamps, so a test can wait for the next line instead of
// sleeping.
type lineRecorder struct {
	mu      sync.Mutex
	partial string
	lines   chan string
}

func newLineRecorder() *lineRecorder {
	return &lineRecorder{lines: make(chan string, 1000)}
}

// timestamp matches the start of event lines: "15:04:05.000 ".
var timestamp = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d `)

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	text := r.partial + string(p)
	for {
		line, rest, found := strings.Cut(text, "\n")
		if !found {
			break
		}
		r.lines <- timestamp.ReplaceAllString(line, "")
		text = rest
	}
	r.partial = text
	return len(p), nil
}

// next returns the next line, failing the test if none comes in time.
func (r *lineRecorder) next(t *testing.T) string {
	t.Helper()
	select {
	case line := <-r.lines:
		return line
	case <-time.After(waitBound):
		t.Fatalf("no output line within %v", waitBound)
		return ""
	}
}

// all returns the lines written so far.
func (r *lineRecorder) all() []string {
	var lines []string
	for {
		select {
		case line := <-r.lines:
			lines = append(lines, line)
		default:
			return lines
		}
	}
}

func wantLine(t *testing.T, r *lineRecorder, want string) {
	t.Helper()
	if got := r.next(t); got != want {
		t.Errorf("got line %q, want %q", got, want)
	}
}

// summaryTime matches the only part of the summary that varies.
var summaryTime = regexp.MustCompile(` synced_in=\d+\.\d{3}s$`)

func wantSummary(t *testing.T, got, want string) {
	t.Helper()
	if !summaryTime.MatchString(got) {
		t.Errorf("got summary %q, want it to end with synced_in=<seconds>s", got)
	}
	if got := summaryTime.ReplaceAllString(got, ""); got != want {
		t.Errorf("got summary %q, want %q", got, want)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitBound):
		t.Fatalf("%s did not happen within %v", what, waitBound)
	}
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitBound):
		t.Fatalf("run did not return within %v", waitBound)
		return nil
	}
}
