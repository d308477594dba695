package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// WaitForSync blocks until every cache has synced and every handler has been
// called for every object of the initial list, or until the sync timeout of
// [Builder.WithSyncTimeout] runs out, ctx ends or the Informer is stopped.
// On failure it returns a [*SyncError] naming each unsynced informer and the
// last list/watch error it saw. It returns [ErrNotStarted] before Start.
// It waits on channels, not by polling.
//
// When the sync timeout ran out and an informer saw no error at all, one
// small LIST per such informer, all at once and for at most 2 s more, tells
// an unreachable or silent server from a slow one. There is no such probe
// when ctx ended or the Informer was stopped: WaitForSync then returns at
// once.
func (i *Informer) WaitForSync(ctx context.Context) error {
	i.mu.Lock()
	if !i.started {
		i.mu.Unlock()
		if i.stopped {
			return ErrStopped
		}
		return ErrNotStarted
	}
	runCtx := i.runCtx
	i.mu.Unlock()
	// A Remove during the wait ends a round of it, and the next round waits
	// for what is left. The signal is taken before the resources are, so
	// that no Remove falls between the two.
	removed := i.removalSignalChan()
	required := i.requiredResources()

	callerCtx := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, i.settings.syncTimeout,
		fmt.Errorf("%w after %v (%w)", ErrSyncTimeout, i.settings.syncTimeout, context.DeadlineExceeded))
	defer cancel()
	ctx, abandon := context.WithCancelCause(ctx)
	defer abandon(nil)
	stopWaiting := context.AfterFunc(runCtx, func() { abandon(context.Cause(runCtx)) })
	defer stopWaiting()

	var failFast sync.WaitGroup
	if i.settings.failFast {
		since := time.Now()
		failFast.Go(func() { i.abandonOnLastingErrors(ctx, required, since, abandon) })
	}
	synced := false
	for {
		var checkers []cache.DoneChecker
		for _, res := range required {
			checkers = append(checkers, res.informer.HasSyncedChecker())
			for _, reg := range res.registrations() {
				checkers = append(checkers, reg.syncedChecker())
			}
		}
		roundCtx, endRound := context.WithCancel(ctx)
		go func(removed <-chan struct{}) {
			select {
			case <-removed:
				endRound()
			case <-roundCtx.Done():
			}
		}(removed)
		synced = cache.WaitFor(roundCtx, "", checkers...)
		endRound()
		if synced || ctx.Err() != nil {
			break
		}
		removed = i.removalSignalChan()
		required = i.requiredResources()
	}
	cause := context.Cause(ctx)
	abandon(nil)
	failFast.Wait()
	if synced {
		return nil
	}
	i.probeSilentResources(callerCtx, required)
	return newSyncError(required, cause)
}

// requiredResources returns the resources that must sync: all but those
// whose registrations are all [Optional].
func (i *Informer) requiredResources() []*resource {
	i.mu.Lock()
	defer i.mu.Unlock()
	required := make([]*resource, 0, len(i.order))
	for _, res := range i.order {
		if res.required() {
			required = append(required, res)
		}
	}
	return required
}

// probeTimeout bounds the probe of silent resources, all of them at once.
const probeTimeout = 2 * time.Second

// errProbeTimeout is the cause of a probe that ran out of time: the server
// took the connection but did not answer.
var errProbeTimeout = fmt.Errorf("the server did not answer within %v", probeTimeout)

// probeSilentResources finds out why informers that saw no list/watch error
// have not synced. client-go's streaming list (watch-list) retries
// connection errors without reporting them, so an unreachable server would
// otherwise look like a slow one. One LIST of a single object per resource,
// through the metadata client, tells. The probes run concurrently, for at
// most probeTimeout in all; they are skipped once ctx (the caller's) has
// ended or the Informer was stopped, and end when Stop is called. Only
// clients the builder created are probed.
func (i *Informer) probeSilentResources(ctx context.Context, resources []*resource) {
	meta := i.factories.clients.meta
	if meta == nil || i.factories.clients.closeConnections == nil {
		return
	}
	var silent []*resource
	for _, res := range resources {
		if _, err := res.lastError(); err == nil && !res.informer.HasSynced() {
			silent = append(silent, res)
		}
	}
	// Registered under i.mu so that Stop, which sets stopped under it, waits
	// for every probe before it closes the connections: no probe dials after.
	i.mu.Lock()
	if len(silent) == 0 || i.stopped || ctx.Err() != nil || i.runCtx.Err() != nil {
		i.mu.Unlock()
		return
	}
	i.probes.Add(1)
	runCtx := i.runCtx
	i.mu.Unlock()
	defer i.probes.Done()

	ctx, cancel := context.WithTimeoutCause(ctx, probeTimeout, errProbeTimeout)
	defer cancel()
	stopProbing := context.AfterFunc(runCtx, cancel)
	defer stopProbing()
	var wg sync.WaitGroup
	for _, res := range silent {
		wg.Go(func() {
			_, err := meta.Resource(res.key.gvr).Namespace(res.key.scope.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
			switch {
			case err == nil:
			case errors.Is(context.Cause(ctx), errProbeTimeout):
				res.setLastError(classifyListWatchError(res.key.gvr.Resource, fmt.Errorf("%w: %w", ErrUnreachable, errProbeTimeout)))
			case ctx.Err() == nil:
				res.setLastError(classifyListWatchError(res.key.gvr.Resource, err))
			}
		})
	}
	wg.Wait()
}

// abandonOnLastingErrors cancels a wait for sync, with [ErrFailFast], once
// every unsynced resource has had, since the wait began, an error that
// retrying is unlikely to fix. Errors from before the wait do not count: the
// caller may have fixed their cause (granted rights, installed a CRD) before
// waiting again. It returns when ctx ends.
func (i *Informer) abandonOnLastingErrors(ctx context.Context, resources []*resource, since time.Time, abandon context.CancelCauseFunc) {
	for {
		next := i.errorSignal()
		if lastingErrors(resources, since) {
			abandon(ErrFailFast)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-next:
		}
	}
}

// lastingErrors reports whether at least one resource has not synced and
// each one that has not had a forbidden, unauthorized or not-found error
// since the given time.
func lastingErrors(resources []*resource, since time.Time) bool {
	unsynced := 0
	for _, res := range resources {
		if res.informer.HasSynced() {
			continue
		}
		unsynced++
		when, err := res.lastError()
		if when.Before(since) {
			return false
		}
		if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrResourceNotFound) {
			return false
		}
	}
	return unsynced > 0
}

// errorSignal returns a channel closed at the next list/watch error.
func (i *Informer) errorSignal() <-chan struct{} {
	i.errMu.Lock()
	defer i.errMu.Unlock()
	return i.errSignal
}

// removalSignalChan returns a channel closed at the next Remove.
func (i *Informer) removalSignalChan() <-chan struct{} {
	i.removalMu.Lock()
	defer i.removalMu.Unlock()
	return i.removalSignal
}

// notifyRemoval wakes a WaitForSync, so that it stops waiting for what was
// removed.
func (i *Informer) notifyRemoval() {
	i.removalMu.Lock()
	defer i.removalMu.Unlock()
	close(i.removalSignal)
	i.removalSignal = make(chan struct{})
}

// notifyError wakes everyone waiting on errorSignal.
func (i *Informer) notifyError() {
	i.errMu.Lock()
	defer i.errMu.Unlock()
	close(i.errSignal)
	i.errSignal = make(chan struct{})
}

// newSyncError describes the resources that have not synced, or returns
// nil when all have.
func newSyncError(resources []*resource, cause error) error {
	syncErr := &SyncError{Cause: cause}
	for _, res := range resources {
		cacheSynced, handlersSynced := res.synced()
		if cacheSynced && handlersSynced {
			continue
		}
		when, lastErr := res.lastError()
		if cacheSynced {
			lastErr, when = nil, time.Time{}
		}
		syncErr.Unsynced = append(syncErr.Unsynced, UnsyncedInformer{
			Resource: res.name, LastError: lastErr, LastErrorTime: when, CacheSynced: cacheSynced,
		})
	}
	if len(syncErr.Unsynced) == 0 {
		return nil
	}
	return syncErr
}
