package informer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
)

// silentServer accepts connections and never answers the informers' lists
// and watches. Probes of silent resources (a LIST with limit=1) are counted
// and held until answerProbes (if set) returns true for the number pending,
// or until the request ends.
type silentServer struct {
	*httptest.Server
	answerProbes func(pending int) bool

	conns        atomic.Int64 // connections accepted
	probes       atomic.Int64 // probe requests received
	listed       chan string  // the path of each list or watch
	probePending chan struct{}

	mu      sync.Mutex
	pending int
	release chan struct{}
}

func newSilentServer(t *testing.T, answerProbes func(pending int) bool) *silentServer {
	s := &silentServer{
		answerProbes: answerProbes,
		listed:       make(chan string, 100),
		probePending: make(chan struct{}, 100),
		release:      make(chan struct{}),
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *silentServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("limit") != "1" {
		s.listed <- r.URL.Path
		<-r.Context().Done()
		return
	}
	s.probes.Add(1)
	s.mu.Lock()
	s.pending++
	if s.answerProbes != nil && s.answerProbes(s.pending) {
		close(s.release)
	}
	s.mu.Unlock()
	s.probePending <- struct{}{}
	select {
	case <-s.release:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"probe forbidden"}`))
	case <-r.Context().Done():
	}
}

// watchThreeResources registers pods, configmaps and secrets.
func watchThreeResources(b *Builder) {
	Watch(b, Funcs[*corev1.Pod]{})
	Watch(b, Funcs[*corev1.ConfigMap]{})
	Watch(b, Funcs[*corev1.Secret]{})
}

func waitForLists(t *testing.T, s *silentServer, count int) {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < count {
		select {
		case path := <-s.listed:
			seen[path] = true
		case <-time.After(waitBound):
			t.Fatalf("the informers listed %v within %v, want %d resources", seen, waitBound, count)
		}
	}
}

func TestSilentResourcesAreProbedAtOnce(t *testing.T) {
	const resources = 3
	srv := newSilentServer(t, func(pending int) bool { return pending == resources })
	b := NewBuilder().WithConfig(&rest.Config{Host: srv.URL}).WithSyncTimeout(300 * time.Millisecond)
	watchThreeResources(b)
	inf := buildAndStart(t, b)

	err := inf.WaitForSync(t.Context())
	var syncErr *SyncError
	if !errors.As(err, &syncErr) || len(syncErr.Unsynced) != resources {
		t.Fatalf("WaitForSync: got %v, want a SyncError naming %d informers", err, resources)
	}
	// The server answers the probes only once all of them wait at once: a
	// probe of one resource after another would time out instead.
	for _, u := range syncErr.Unsynced {
		if !errors.Is(u.LastError, ErrForbidden) {
			t.Errorf("%s: got %v, want the probe's forbidden", u.Resource, u.LastError)
		}
	}
}

func TestSilentResourcesAreNotProbedAfterTheCallerGaveUp(t *testing.T) {
	srv := newSilentServer(t, nil)
	b := NewBuilder().WithConfig(&rest.Config{Host: srv.URL})
	watchThreeResources(b)
	inf := buildAndStart(t, b)

	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- inf.WaitForSync(ctx) }()
	waitForLists(t, srv, 3)
	cancel() // Ctrl-C
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitForSync: got %v, want context.Canceled", err)
	}
	if got := srv.probes.Load(); got != 0 {
		t.Errorf("probes after the caller's context ended: got %d, want 0", got)
	}
}

func TestStopEndsProbesAndNoConnectionOpensAfterIt(t *testing.T) {
	srv := newSilentServer(t, nil) // probes are never answered
	b := NewBuilder().WithConfig(&rest.Config{Host: srv.URL}).WithSyncTimeout(200 * time.Millisecond)
	watchThreeResources(b)
	inf := buildAndStart(t, b)

	result := make(chan error, 1)
	go func() { result <- inf.WaitForSync(t.Context()) }()
	select {
	case <-srv.probePending:
	case <-time.After(waitBound):
		t.Fatalf("no probe within %v", waitBound)
	}
	if err := inf.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	conns, probes := srv.conns.Load(), srv.probes.Load()
	// The wait ended with the sync timeout; the probes Stop cut short
	// record nothing.
	var syncErr *SyncError
	if err := <-result; !errors.As(err, &syncErr) {
		t.Fatalf("WaitForSync: got %v, want a SyncError", err)
	}
	for _, u := range syncErr.Unsynced {
		if u.LastError != nil {
			t.Errorf("%s: got %v, want no error from a probe cut short by Stop", u.Resource, u.LastError)
		}
	}
	if got := srv.conns.Load(); got != conns {
		t.Errorf("connections opened after Stop returned: %d", got-conns)
	}
	if got := srv.probes.Load(); got != probes {
		t.Errorf("probes sent after Stop returned: %d", got-probes)
	}
}
