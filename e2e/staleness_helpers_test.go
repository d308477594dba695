package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/localcluster"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Helpers of staleness_test.go: the staleness handler's reports, the
// checks of Ready, Status and /readyz, and an identity whose rights on pods
// the test grants and revokes.

// stalenessReport is one call of a staleness handler and when it came.
type stalenessReport struct {
	informer.StalenessChange
	At time.Time
}

// stalenessReports receives the calls of a staleness handler, in order.
type stalenessReports chan stalenessReport

func newStalenessReports() stalenessReports { return make(stalenessReports, 16) }

// handler is the function for WithStalenessHandler. It blocks while the
// channel is full, until the informer stops.
func (r stalenessReports) handler(ctx context.Context, change informer.StalenessChange) {
	select {
	case r <- stalenessReport{StalenessChange: change, At: time.Now()}:
	case <-ctx.Done():
	}
}

// expect returns the next report, failing the test unless it comes within
// bound and says Stale as want.
func (r stalenessReports) expect(t *testing.T, stale bool, bound time.Duration) stalenessReport {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case report := <-r:
		if report.Stale != stale {
			t.Fatalf("staleness handler: got a report with Stale=%t (%+v), want Stale=%t", report.Stale, report.StalenessChange, stale)
		}
		if report.Resource != "pods" {
			t.Errorf("StalenessChange.Resource: got %q, want %q", report.Resource, "pods")
		}
		return report
	case <-timer.C:
		t.Fatalf("staleness handler: got no report within %v, want one with Stale=%t", bound, stale)
	case <-t.Context().Done():
		t.Fatalf("staleness handler: test context done before a report with Stale=%t", stale)
	}
	return stalenessReport{}
}

// expectNoneQueued fails the test if a report is waiting.
func (r stalenessReports) expectNoneQueued(t *testing.T) {
	t.Helper()
	select {
	case report := <-r:
		t.Errorf("staleness handler: got an unexpected report %+v at %s, want none", report.StalenessChange, report.At.Format(time.TimeOnly+".000"))
	default:
	}
}

// expectStaleReport waits for the handler to report inf stale after its
// watch ended at or after lost, then checks the report's times and that
// Ready fails at once.
func expectStaleReport(t *testing.T, inf *informer.Informer, reports stalenessReports, lost time.Time) stalenessReport {
	t.Helper()
	stale := reports.expect(t, true, convergeBound)
	t.Logf("reported stale %v after the watch ended: %+v", stale.At.Sub(stale.NoWatchSince).Round(time.Millisecond), stale.StalenessChange)
	if stale.NoWatchSince.Before(lost) {
		t.Errorf("StalenessChange.NoWatchSince: got %s, want at or after %s, when the watch was ended",
			stale.NoWatchSince.Format(time.TimeOnly+".000"), lost.Format(time.TimeOnly+".000"))
	}
	if got := stale.At.Sub(stale.NoWatchSince); got < staleBound {
		t.Errorf("stale reported %v after the watch ended, want at least the bound, %v", got, staleBound)
	}
	if got := stale.At.Sub(lost); got > staleBound+staleSlack {
		t.Errorf("stale reported %v after the watch was ended, want at most %v (the bound and %v)", got, staleBound+staleSlack, staleSlack)
	}
	if stale.Duration != staleBound {
		t.Errorf("StalenessChange.Duration: got %v, want the bound, %v", stale.Duration, staleBound)
	}
	var staleErr *informer.StaleError
	if err := inf.Ready(); !errors.As(err, &staleErr) {
		t.Errorf("Ready once reported stale: got %v, want a *StaleError", err)
	}
	return stale
}

// awaitStaleError waits, within convergeBound, until Ready fails with a
// *StaleError whose last error is reason (the informer may first report an
// older error), checks what it says, and returns it and when it was seen.
func awaitStaleError(t *testing.T, inf *informer.Informer, reason error) (*informer.StaleError, time.Time) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, convergeBound, true, func(context.Context) (bool, error) {
		last = inf.Ready()
		return errors.Is(last, reason), nil
	})
	if err != nil {
		t.Fatalf("waiting for Ready to fail with %v: %v; last Ready: %v", reason, err, last)
	}
	seen := time.Now()
	var staleErr *informer.StaleError
	if !errors.As(last, &staleErr) {
		t.Fatalf("Ready: got %T (%v), want a *StaleError", last, last)
	}
	if !errors.Is(last, informer.ErrStale) {
		t.Errorf("errors.Is(Ready(), ErrStale): got false, want true; err: %v", last)
	}
	if msg, want := last.Error(), "pods: stale for "; !strings.HasPrefix(msg, want) {
		t.Errorf("Ready() message: got %q, want it to start with %q", msg, want)
	}
	if staleErr.Resource != "pods" || staleErr.For <= staleBound {
		t.Errorf("StaleError: got Resource %q, For %v, want %q and more than the bound, %v", staleErr.Resource, staleErr.For, "pods", staleBound)
	}
	return staleErr, seen
}

// checkStale checks what inf says while stale since the report: Healthy
// nil, the probe failing, and Status.
func checkStale(t *testing.T, inf *informer.Informer, stale stalenessReport, reason error) {
	t.Helper()
	if err := inf.Healthy(); err != nil {
		t.Errorf("Healthy while stale: got %v, want nil", err)
	}
	checkReadyz(t, inf, http.StatusServiceUnavailable, "pods: stale for ")
	st := inf.Status().Informers[0]
	if st.Watching || !st.Stale || !st.NoWatchSince.Equal(stale.NoWatchSince) {
		t.Errorf("Status while stale: got Watching=%t, Stale=%t, NoWatchSince=%s, want false, true, %s (as reported)",
			st.Watching, st.Stale, st.NoWatchSince.Format(time.TimeOnly+".000"), stale.NoWatchSince.Format(time.TimeOnly+".000"))
	}
	if !errors.Is(st.LastError, reason) {
		t.Errorf("Status.LastError while stale: got %v, want %v", st.LastError, reason)
	}
}

// expectCurrentReport waits for the handler to report inf current again
// after stale, with a watch opened after since, and checks that Ready and
// Status say so.
func expectCurrentReport(t *testing.T, inf *informer.Informer, reports stalenessReports, stale stalenessReport, since time.Time) {
	t.Helper()
	current := reports.expect(t, false, convergeBound)
	t.Logf("reported current again: %+v", current.StalenessChange)
	if !current.NoWatchSince.Equal(stale.NoWatchSince) {
		t.Errorf("StalenessChange.NoWatchSince when current again: got %s, want %s, as when it became stale",
			current.NoWatchSince.Format(time.TimeOnly+".000"), stale.NoWatchSince.Format(time.TimeOnly+".000"))
	}
	if gap := current.At.Sub(current.NoWatchSince); current.Duration < staleBound || current.Duration > gap {
		t.Errorf("StalenessChange.Duration when current again: got %v, want the whole gap, between the bound (%v) and %v", current.Duration, staleBound, gap)
	}
	checkCurrent(t, inf, since)
}

// checkCurrent checks that inf is Ready and watching, current since after
// since.
func checkCurrent(t *testing.T, inf *informer.Informer, since time.Time) {
	t.Helper()
	if err := inf.Ready(); err != nil {
		t.Errorf("Ready with a watch open: got %v, want nil", err)
	}
	checkReadyz(t, inf, http.StatusOK, "ok")
	st := inf.Status().Informers[0]
	if !st.Watching || st.Stale || st.CurrentSince.Before(since) {
		t.Errorf("Status with a watch open: got Watching=%t, Stale=%t, CurrentSince=%s, want true, false, after %s",
			st.Watching, st.Stale, st.CurrentSince.Format(time.TimeOnly+".000"), since.Format(time.TimeOnly+".000"))
	}
}

// checkReadyz checks the answer of inf's readiness probe.
func checkReadyz(t *testing.T, inf *informer.Informer, wantCode int, wantPrefix string) {
	t.Helper()
	resp := httptest.NewRecorder()
	inf.ReadyzHandler().ServeHTTP(resp, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if body := resp.Body.String(); resp.Code != wantCode || !strings.HasPrefix(body, wantPrefix) {
		t.Errorf("readyz: got %d %q, want %d and a body starting with %q", resp.Code, body, wantCode, wantPrefix)
	}
}

// awaitWatching waits, within waitBound, until inf's informer has a watch
// open.
func awaitWatching(t *testing.T, inf *informer.Informer) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, waitBound, true, func(context.Context) (bool, error) {
		return inf.Status().Informers[0].Watching, nil
	})
	if err != nil {
		t.Fatalf("waiting for a watch to open: %v", err)
	}
}

// podReader is an identity whose only rights are list and watch on pods in
// one namespace, given by a Role and a RoleBinding there that the test
// takes away and gives back.
type podReader struct {
	cfg       *rest.Config         // the identity's configuration
	self      kubernetes.Interface // a client of the identity, to check its rights
	admin     kubernetes.Interface
	namespace string
}

// newPodReader creates the identity, with AddUser and no rights of its
// own, and the Role, and grants it.
func newPodReader(t *testing.T, c *localcluster.Cluster, admin kubernetes.Interface, namespace string) *podReader {
	t.Helper()
	cfg, err := c.AddUser(t.Context(), staleReader, nil)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", staleReader, err)
	}
	self, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: staleRole, Namespace: namespace}, Rules: listWatchPods}
	if _, err := admin.RbacV1().Roles(namespace).Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Role %s: %v", staleRole, err)
	}
	r := &podReader{cfg: cfg, self: self, admin: admin, namespace: namespace}
	r.grant(t)
	return r
}

// grant creates the RoleBinding and waits until the rights are in effect.
func (r *podReader) grant(t *testing.T) {
	t.Helper()
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: staleRole, Namespace: r.namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: staleRole},
		// AddUser's identities are ServiceAccounts in namespace default.
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: staleReader, Namespace: metav1.NamespaceDefault}},
	}
	if _, err := r.admin.RbacV1().RoleBindings(r.namespace).Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating RoleBinding %s: %v", staleRole, err)
	}
	r.awaitAllowed(t, true)
}

// revoke deletes the RoleBinding and waits until the rights are gone.
func (r *podReader) revoke(t *testing.T) {
	t.Helper()
	if err := r.admin.RbacV1().RoleBindings(r.namespace).Delete(t.Context(), staleRole, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting RoleBinding %s: %v", staleRole, err)
	}
	r.awaitAllowed(t, false)
}

// awaitAllowed waits, within waitBound, until the server says whether the
// identity may watch pods as want: RBAC changes take effect once the
// server's informers see them.
func (r *podReader) awaitAllowed(t *testing.T, want bool) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, waitBound, true, func(ctx context.Context) (bool, error) {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: r.namespace, Verb: "watch", Resource: "pods"},
		}}
		got, err := r.self.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = got.Status.Reason
		return got.Status.Allowed == want, nil
	})
	if err != nil {
		t.Fatalf("waiting until watching pods in %s is allowed=%t for %s: %v (last review: %q)", r.namespace, want, staleReader, err, last)
	}
}
