package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// The tests of this file check that an informer knows when its cache no
// longer follows the server: once it has had no open watch for longer than
// the bound of WithStalenessBound, the staleness handler says so, Ready
// fails with a *StaleError that carries the reason, and both recover when a
// watch opens again.

const (
	// staleBound is the staleness bound of the informers under test: short,
	// so that the tests are quick, and far above the time a reconnect takes.
	staleBound = 3 * time.Second
	// staleSlack is how late, past the bound, the staleness handler may
	// report a lost watch.
	staleSlack = 5 * time.Second
	// retryBound is how long after the server answers again the informer
	// may take to try again and see the error that Ready then reports:
	// client-go's backoff starts at 0.8s and doubles with a jitter of up
	// to 2x, so the retries of a short outage are at most 6.4s apart.
	retryBound = 10 * time.Second
	// staleReader names the identity of the forbidden tests.
	staleReader = "e2e-stale-pod-reader"
	// staleRole names the Role and RoleBinding that give it its rights.
	staleRole = "stale-pod-reader"
)

// TestStaleWhileForbidden takes away an informer's rights on pods and ends
// its open watch (the server checks rights only when a request starts).
// The informer then cannot watch again: the handler reports it stale,
// Ready fails with a *StaleError that says forbidden, Healthy stays nil.
// Pods are deleted and created meanwhile. Once the rights are back, the
// handler reports it current, Ready returns nil, and the handler's events
// rebuild the server's state, the pods deleted meanwhile arriving as
// deletes whose final state is unknown.
func TestStaleWhileForbidden(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the cluster to use, a function that routes an
		// informer's configuration, and one that ends the informer's open
		// watch and returns once the server can be reached again.
		setup func(t *testing.T) (c *localcluster.Cluster, route func(*rest.Config) *rest.Config, endWatch func(t *testing.T))
	}{
		{
			name: "watch ended by a kube-apiserver restart",
			setup: func(t *testing.T) (*localcluster.Cluster, func(*rest.Config) *rest.Config, func(*testing.T)) {
				c := startFaultCluster(t)
				direct := func(cfg *rest.Config) *rest.Config { return cfg }
				restart := func(t *testing.T) {
					if err := c.RestartAPIServer(t.Context()); err != nil {
						t.Fatalf("RestartAPIServer: %v", err)
					}
				}
				return c, direct, restart
			},
		},
		{
			name: "watch ended by a cut connection",
			setup: func(t *testing.T) (*localcluster.Cluster, func(*rest.Config) *rest.Config, func(*testing.T)) {
				c := requireCluster(t)
				proxy := startProxy(t, apiServerAddr(c))
				proxied := func(cfg *rest.Config) *rest.Config {
					cfg = rest.CopyConfig(cfg)
					cfg.Host = "https://" + proxy.Addr()
					return cfg
				}
				cutAndRestore := func(t *testing.T) {
					proxy.Cut()
					if err := proxy.Restore(); err != nil {
						t.Fatalf("restoring the proxy: %v", err)
					}
				}
				return c, proxied, cutAndRestore
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, route, endWatch := tc.setup(t)
			admin, _ := directClients(t, c)
			ns := newNamespace(t, admin)
			createNumberedPods(t, admin, ns, "pod", 5)
			reader := newPodReader(t, c, admin, ns)

			reports := newStalenessReports()
			rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
			b := informer.NewBuilder().WithConfig(route(reader.cfg)).WithNamespace(ns).
				WithStalenessBound(staleBound).WithStalenessHandler(reports.handler)
			reg := informer.Watch(b, rec.Funcs())
			inf := startInformer(t, b)
			pingPods(t, admin, rec, ns) // the watch is open and has delivered
			checkCurrent(t, inf, time.Time{})

			reader.revoke(t)
			seen := len(rec.Events())
			cut := time.Now()
			endWatch(t)
			reconnected := time.Now()
			t.Logf("watch ended; the server answers again %v later", reconnected.Sub(cut).Round(time.Millisecond))
			stale := expectStaleReport(t, inf, reports, cut)

			// The informer can see nothing of these.
			for _, name := range []string{"pod-00", "pod-01"} {
				if err := admin.CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
					t.Fatalf("deleting pod %s: %v", name, err)
				}
			}
			patch := []byte(`{"metadata":{"labels":{"v":"1"}}}`)
			if _, err := admin.CoreV1().Pods(ns).Patch(t.Context(), "pod-02", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatalf("patching pod pod-02: %v", err)
			}
			createNumberedPods(t, admin, ns, "late", 2)

			staleErr, failedAt := awaitStaleError(t, inf, informer.ErrForbidden)
			t.Logf("Ready %v after the watch ended: %v", failedAt.Sub(cut).Round(time.Millisecond), staleErr)
			// Stale after the bound, forbidden once the informer tried again.
			deadline := cut.Add(staleBound)
			if reconnected.After(deadline) {
				deadline = reconnected
			}
			if deadline = deadline.Add(retryBound); failedAt.After(deadline) {
				t.Errorf("Ready failed with ErrForbidden %v after the watch ended, want at most %v", failedAt.Sub(cut).Round(time.Millisecond), deadline.Sub(cut).Round(time.Millisecond))
			}
			if !apierrors.IsForbidden(staleErr) {
				t.Errorf("apierrors.IsForbidden(Ready()): got false, want true; err: %v", staleErr)
			}
			for _, want := range []string{"forbidden", "(the identity needs list and watch on pods)"} {
				if !strings.Contains(staleErr.Error(), want) {
					t.Errorf("Ready() message: got %q, want it to contain %q", staleErr.Error(), want)
				}
			}
			checkStale(t, inf, stale, informer.ErrForbidden)
			if got := len(rec.Events()); got != seen {
				t.Errorf("events while forbidden: got %v, want none", rec.Events()[seen:])
			}

			granted := time.Now()
			reader.grant(t)
			expectCurrentReport(t, inf, reports, stale, granted)
			awaitConvergence(t, "pods", rec, reg.Lister(), serverPods(t, admin, ns))
			events := rec.Events()[seen:]
			t.Logf("events since the watch ended: %v", events)
			checkDeletes(t, events, []string{"pod-00", "pod-01"}, true)
			checkEventStream(t, "pods", rec.Events())
			reports.expectNoneQueued(t)
			logStatus(t, inf)
		})
	}
}

// TestStaleWhileAPIServerDown kills kube-apiserver for longer than the
// bound: the handler reports the informer stale and Ready fails with a
// *StaleError that says the server is unreachable. Once kube-apiserver is
// back, the handler reports it current, Ready returns nil, and the cache
// and the handler's events agree with the server, including writes made
// right after the restart.
func TestStaleWhileAPIServerDown(t *testing.T) {
	c := startFaultCluster(t)
	admin, _ := directClients(t, c)
	ns := newNamespace(t, admin)
	createNumberedPods(t, admin, ns, "pod", 5)

	reports := newStalenessReports()
	rec := informertest.NewRecorder[*corev1.Pod](informertest.WithWaitTimeout(convergeBound))
	b := informer.NewBuilder().WithConfig(fastConfig(c)).WithNamespace(ns).
		WithStalenessBound(staleBound).WithStalenessHandler(reports.handler)
	reg := informer.Watch(b, rec.Funcs())
	inf := startInformer(t, b)
	pingPods(t, admin, rec, ns)
	checkCurrent(t, inf, time.Time{})

	killed := time.Now()
	if err := c.KillAPIServer(); err != nil {
		t.Fatalf("KillAPIServer: %v", err)
	}
	stale := expectStaleReport(t, inf, reports, killed)
	if !errors.Is(stale.LastError, informer.ErrUnreachable) {
		t.Errorf("StalenessChange.LastError while kube-apiserver is down: got %v, want ErrUnreachable", stale.LastError)
	}
	staleErr, failedAt := awaitStaleError(t, inf, informer.ErrUnreachable)
	t.Logf("Ready %v after the kill: %v", failedAt.Sub(killed).Round(time.Millisecond), staleErr)
	if want := "(check the server address and that the API server is running)"; !strings.Contains(staleErr.Error(), want) {
		t.Errorf("Ready() message: got %q, want it to contain %q", staleErr.Error(), want)
	}
	checkStale(t, inf, stale, informer.ErrUnreachable)

	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatalf("StartAPIServer: %v", err)
	}
	started := time.Now()
	t.Logf("kube-apiserver down for %v", started.Sub(killed).Round(time.Millisecond))
	// Writes the informer may or may not have reconnected for.
	if err := admin.CoreV1().Pods(ns).Delete(t.Context(), "pod-00", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod pod-00: %v", err)
	}
	createNumberedPods(t, admin, ns, "late", 2)

	expectCurrentReport(t, inf, reports, stale, killed)
	t.Logf("current again %v after kube-apiserver was back", time.Since(started).Round(time.Millisecond))
	awaitConvergence(t, "pods", rec, reg.Lister(), serverPods(t, admin, ns))
	checkEventStream(t, "pods", rec.Events())
	reports.expectNoneQueued(t)
	logStatus(t, inf)
}

// TestStaleNeverForQuietOpenWatch checks that an informer on a namespace
// where nothing changes, whose watch stays open, stays current and Ready
// for several times its bound: quiet is not stale. The time is measured by
// a second informer, whose connection is cut, with a bound three times as
// long: its handler reports it stale only once that time has passed.
func TestStaleNeverForQuietOpenWatch(t *testing.T) {
	const quietBound = time.Second
	c := requireCluster(t)
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	createNumberedPods(t, admin, ns, "pod", 3)

	quietReports := newStalenessReports()
	qb := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns).
		WithStalenessBound(quietBound).WithStalenessHandler(quietReports.handler)
	informer.Watch(qb, informer.Funcs[*corev1.Pod]{})
	quiet := startInformer(t, qb)
	awaitWatching(t, quiet)

	proxy := startProxy(t, apiServerAddr(c))
	cutReports := newStalenessReports()
	cb := informer.NewBuilder().WithConfig(proxiedConfig(c, proxy, nil)).WithNamespace(ns).
		WithStalenessBound(3 * quietBound).WithStalenessHandler(cutReports.handler)
	informer.Watch(cb, informer.Funcs[*corev1.Pod]{})
	cutInf := startInformer(t, cb)
	awaitWatching(t, cutInf)

	currentSince := quiet.Status().Informers[0].CurrentSince
	cut := time.Now()
	proxy.Cut()
	stale := cutReports.expect(t, true, convergeBound)
	if open := stale.At.Sub(currentSince); open < 2*quietBound {
		t.Fatalf("the quiet informer's watch was open %v when the cut one was reported stale, want at least %v", open, 2*quietBound)
	}
	quietReports.expectNoneQueued(t)
	if err := quiet.Ready(); err != nil {
		t.Errorf("Ready of the quiet informer, its watch open for %v: got %v, want nil", time.Since(currentSince).Round(time.Millisecond), err)
	}
	st := quiet.Status().Informers[0]
	if !st.Watching || st.Stale || !st.CurrentSince.Equal(currentSince) {
		t.Errorf("Status of the quiet informer: got Watching=%t, Stale=%t, CurrentSince=%s, want Watching=true, Stale=false, CurrentSince=%s (unchanged)",
			st.Watching, st.Stale, st.CurrentSince.Format(time.TimeOnly+".000"), currentSince.Format(time.TimeOnly+".000"))
	}
	// The clock must have been a real one: the cut informer is stale.
	if err := cutInf.Ready(); !errors.Is(err, informer.ErrStale) {
		t.Errorf("Ready of the cut informer %v after the cut: got %v, want a *StaleError", time.Since(cut).Round(time.Millisecond), err)
	}

	if err := proxy.Restore(); err != nil {
		t.Fatalf("restoring the proxy: %v", err)
	}
	cutReports.expect(t, false, convergeBound)
	if err := cutInf.Ready(); err != nil {
		t.Errorf("Ready of the reconnected informer: got %v, want nil", err)
	}
}
