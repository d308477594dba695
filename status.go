package informer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/tools/cache"
)

// Status is a snapshot of an [Informer], for logs, debugging pages and
// probes. Get one with [Informer.Status].
type Status struct {
	// Started and Stopped tell where the Informer is in its lifecycle.
	Started, Stopped bool
	// Informers lists the shared informers in the order they were created.
	Informers []InformerStatus
	// Leadership is the state of the leader election, nil without
	// [Builder.WithLeaderElection].
	Leadership *LeadershipStatus
	// Sharding is this replica's state in its shard group, nil without
	// [Builder.WithSharding].
	Sharding *ShardingStatus
}

// InformerStatus is the state of one shared informer and its handlers.
type InformerStatus struct {
	// Resource names the informer, as in [SyncError].
	Resource string
	// Required is false when every registration on it is [Optional].
	Required bool
	// Synced reports whether the cache has synced and every handler has
	// seen the initial list.
	Synced bool
	// Watching reports whether a watch is open now: the cache follows the
	// server. A quiet resource with an open watch is current.
	Watching bool
	// CurrentSince is, while Watching, since when the cache has been
	// current: the end of the list that preceded the open watch, or the
	// watch's opening when it followed an earlier one.
	CurrentSince time.Time
	// NoWatchSince is, while not Watching, when the last watch ended, or
	// when the informer was created if it never had one.
	NoWatchSince time.Time
	// Stale reports whether the cache synced and then had no open watch for
	// longer than the bound of [Builder.WithStalenessBound]; LastError
	// then says why, when the informer saw an error since NoWatchSince.
	Stale bool
	// ResourceVersion is the last resourceVersion the informer saw.
	ResourceVersion string
	// LastError is the last list/watch error, classified as in
	// [UnsyncedInformer], and LastErrorTime when it was seen. The error stays
	// after the informer recovered; compare its time with Synced.
	LastError     error
	LastErrorTime time.Time
	// CachedObjects is the number of objects in the cache.
	CachedObjects int
	// Handlers lists the registrations on this informer.
	Handlers []HandlerStatus
}

// HandlerStatus is the state of one registration.
type HandlerStatus struct {
	// Name is the registration's name (see [WithName]).
	Name string
	// Synced reports whether the handler has seen the initial list.
	Synced bool
	Stats
}

// Status returns a snapshot of every informer and handler. It reads local
// state only and is cheap enough for a status page; it lists the cache keys
// to count objects.
func (i *Informer) Status() Status {
	i.mu.Lock()
	st := Status{Started: i.started, Stopped: i.stopped}
	resources := append([]*resource(nil), i.order...)
	i.mu.Unlock()
	if i.election != nil {
		st.Leadership = i.election.status()
	}
	if i.shards != nil {
		st.Sharding = i.shards.status()
	}

	for _, res := range resources {
		when, lastErr := res.lastError()
		is := InformerStatus{
			Resource:        res.name,
			Required:        res.required(),
			Synced:          res.informer.HasSynced(),
			ResourceVersion: res.informer.LastSyncResourceVersion(),
			LastError:       lastErr,
			LastErrorTime:   when,
			CachedObjects:   len(res.informer.GetStore().ListKeys()),
		}
		current := res.currency.state()
		if current.watching {
			is.Watching, is.CurrentSince = true, current.since
		} else {
			is.NoWatchSince = current.since
			is.Stale = res.currency.staleFor(i.settings.clock.Now()) > 0
		}
		for _, reg := range res.registrations() {
			hs := HandlerStatus{Name: reg.displayName(), Synced: cache.IsDone(reg.syncedChecker()), Stats: reg.Stats()}
			is.Synced = is.Synced && hs.Synced
			is.Handlers = append(is.Handlers, hs)
		}
		st.Informers = append(st.Informers, is)
	}
	return st
}

// Ready returns nil when the Informer runs, every required informer has
// synced and delivered its initial list, and none is stale; otherwise an
// error saying why: a [*SyncError] with the per-informer reasons while
// syncing, then a [*StaleError] per informer that has had no open watch for
// longer than the bound of [Builder.WithStalenessBound] (joined when there
// are several), for example
//
//	pods: stale for 1m12s: forbidden: ... (the identity needs list and watch on pods)
//
// Use it for a readiness probe; see [Informer.ReadyzHandler].
func (i *Informer) Ready() error {
	if err := i.Healthy(); err != nil {
		return err
	}
	required := i.requiredResources()
	if err := newSyncError(required, errNotSyncedYet); err != nil {
		return err
	}
	now := i.settings.clock.Now()
	var stale []error
	for _, res := range required {
		gap := res.currency.staleFor(now)
		if gap == 0 {
			continue
		}
		noWatchSince := now.Add(-gap)
		staleErr := &StaleError{Resource: res.name, NoWatchSince: noWatchSince, For: gap}
		if when, err := res.lastError(); err != nil && !when.Before(noWatchSince) {
			staleErr.LastError = err
		}
		stale = append(stale, staleErr)
	}
	return errors.Join(stale...)
}

var errNotSyncedYet = errors.New("informer: not synced yet")

// Healthy returns nil while the Informer runs: started, not stopped and its
// context not ended. After a loss of leadership (see
// [Builder.WithLeaderElection]) it returns an error wrapping
// [ErrLeadershipLost], even once stopped. It does not fail while the API server is unreachable,
// since restarting the program would not help; use [Informer.Ready] or
// [Informer.Status] for that. See [Informer.HealthzHandler].
func (i *Informer) Healthy() error {
	if err := i.leaseLost(); err != nil {
		return err // the program should restart
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.stopped:
		return ErrStopped
	case !i.started:
		return ErrNotStarted
	case i.runCtx.Err() != nil:
		return fmt.Errorf("informer: context ended: %w", context.Cause(i.runCtx))
	}
	return nil
}

// HealthzHandler returns an HTTP handler for a liveness probe: 200 "ok"
// while [Informer.Healthy] returns nil, else 503 with the error.
func (i *Informer) HealthzHandler() http.Handler { return probeHandler(i.Healthy) }

// ReadyzHandler returns an HTTP handler for a readiness probe: 200 "ok"
// while [Informer.Ready] returns nil, else 503 with the reasons.
func (i *Informer) ReadyzHandler() http.Handler { return probeHandler(i.Ready) }

// LeadingHandler returns an HTTP handler for a readiness probe that
// selects the leader, for example so that a Service sends traffic to it
// only: 200 "ok" while [Informer.Leading] reports true, else 503. Without
// [Builder.WithLeaderElection] every replica is ready by it.
func (i *Informer) LeadingHandler() http.Handler {
	return probeHandler(func() error {
		if !i.Leading() {
			return errNotLeading
		}
		return nil
	})
}

var errNotLeading = errors.New("informer: not leading")

func probeHandler(check func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
}
