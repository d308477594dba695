package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Informer runs the shared informers of a [Builder] and calls the registered
// handlers. Build one with [Builder.Build].
//
// Lifecycle: [Informer.Start] starts the informers without blocking,
// [Informer.WaitForSync] waits until every cache has synced and every
// handler has seen the initial list, [Informer.Stop] stops everything and
// waits for it. [Informer.Run] does all three. An Informer runs once: it
// cannot be started again after Stop.
//
// All methods are safe for concurrent use.
type Informer struct {
	settings settings
	// lateConfig reports Builder calls made after Build (nil in tests that
	// make an Informer without a Builder).
	lateConfig func() error

	mu        sync.Mutex
	factories factories
	resources map[resourceKey]*resource
	order     []*resource
	started   bool
	stopped   bool
	runCtx    context.Context
	cancel    context.CancelCauseFunc
	contexts  *eventContexts

	stopOnce sync.Once
	stopErr  error

	errMu     sync.Mutex
	errSignal chan struct{} // closed and replaced at each list/watch error
}

// newInformer returns an Informer, not started, using clients and s.
func newInformer(clients clientSet, s settings) *Informer {
	return &Informer{
		settings:  s,
		factories: factories{clients: clients, settings: s},
		resources: map[resourceKey]*resource{},
		errSignal: make(chan struct{}),
	}
}

// attach creates the informer of reg's resource if needed and adds reg's
// handler to it. After Start, a new informer is started at once.
func (i *Informer) attach(reg registration) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return fmt.Errorf("informer: watch %s: %w", reg.resourceKey(), ErrStopped)
	}
	res, err := i.resourceFor(reg.resourceKey())
	if err != nil {
		return err
	}
	if err := reg.attach(res, i.contexts, i.settings.crashOnPanic); err != nil {
		return err
	}
	if i.started {
		i.startFactories()
	}
	return nil
}

// startFactories starts every informer not started yet. The caller holds i.mu.
func (i *Informer) startFactories() {
	for _, res := range i.order {
		res.started.Store(true)
	}
	i.factories.start(i.runCtx.Done())
}

// resourceFor returns the shared informer for key, creating it on first use.
// The caller holds i.mu.
func (i *Informer) resourceFor(key resourceKey) (*resource, error) {
	if res, ok := i.resources[key]; ok {
		return res, nil
	}
	inf, err := i.factories.informerFor(key)
	if err != nil {
		return nil, err
	}
	res := &resource{key: key, name: key.String(), informer: inf}
	if err := inf.SetTransform(countingTransform(&res.received, newTransform(i.settings))); err != nil {
		return nil, fmt.Errorf("informer: %s: setting transform: %w", res.name, err)
	}
	err = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		classified := classifyListWatchError(res.key.gvr.Resource, err)
		// Log a new kind of error once; retries of the same one are only
		// worth a line at high verbosity: Status and SyncError keep them.
		logger := klog.FromContext(ctx)
		if !res.setLastError(classified) {
			logger = logger.V(4)
		}
		logger.Info("informer: list/watch failed; retrying", "resource", res.name, "err", classified)
		i.notifyError()
	})
	if err != nil {
		return nil, fmt.Errorf("informer: %s: setting watch error handler: %w", res.name, err)
	}
	i.resources[key] = res
	i.order = append(i.order, res)
	return res, nil
}

// Start starts every informer and returns at once; it does not wait for the
// caches to sync (see [Informer.WaitForSync]). The informers run until
// [Informer.Stop] is called or ctx ends; only Stop waits for them to finish.
// Start returns [ErrAlreadyStarted] when called twice, [ErrStopped]
// after Stop, and an error wrapping [ErrAlreadyBuilt] when the [Builder] was
// configured after Build (see [Builder.Err]): the Informer would not run as
// the program asked.
func (i *Informer) Start(ctx context.Context) error {
	// Asked before taking i.mu: Build holds the builder's lock while it
	// takes i.mu.
	var lateConfigErr error
	if i.lateConfig != nil {
		lateConfigErr = i.lateConfig()
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.stopped:
		return ErrStopped
	case i.started:
		return ErrAlreadyStarted
	case lateConfigErr != nil:
		return lateConfigErr
	}
	i.runCtx, i.cancel = context.WithCancelCause(ctx)
	i.contexts = newEventContexts(i.runCtx)
	for _, res := range i.order {
		for _, reg := range res.registrations() {
			reg.setContexts(i.contexts)
		}
	}
	i.started = true
	i.startFactories()
	return nil
}

// WaitForSync blocks until every cache has synced and every handler has been
// called for every object of the initial list, or until the sync timeout of
// [Builder.WithSyncTimeout] runs out, ctx ends or the Informer is stopped.
// On failure it returns a [*SyncError] naming each unsynced informer and the
// last list/watch error it saw. It returns [ErrNotStarted] before Start.
// It waits on channels, not by polling.
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
	required := i.requiredResources()

	ctx, cancel := context.WithTimeoutCause(ctx, i.settings.syncTimeout,
		fmt.Errorf("%w after %v (%w)", ErrSyncTimeout, i.settings.syncTimeout, context.DeadlineExceeded))
	defer cancel()
	ctx, abandon := context.WithCancelCause(ctx)
	defer abandon(nil)
	stopWaiting := context.AfterFunc(runCtx, func() { abandon(context.Cause(runCtx)) })
	defer stopWaiting()

	var checkers []cache.DoneChecker
	for _, res := range required {
		checkers = append(checkers, res.informer.HasSyncedChecker())
		for _, reg := range res.registrations() {
			checkers = append(checkers, reg.syncedChecker())
		}
	}
	var failFast sync.WaitGroup
	if i.settings.failFast {
		since := time.Now()
		failFast.Go(func() { i.abandonOnLastingErrors(ctx, required, since, abandon) })
	}
	synced := cache.WaitFor(ctx, "", checkers...)
	cause := context.Cause(ctx)
	abandon(nil)
	failFast.Wait()
	if synced {
		return nil
	}
	i.probeSilentResources(required)
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

// probeTimeout bounds the request that probeSilentResources makes.
const probeTimeout = 3 * time.Second

// probeSilentResources finds out why an informer that saw no list/watch
// error has not synced. client-go's streaming list (watch-list) retries
// connection errors without reporting them, so an unreachable server would
// otherwise look like a slow one. One LIST of a single object through the
// metadata client tells. Only clients the builder created are probed.
func (i *Informer) probeSilentResources(resources []*resource) {
	meta := i.factories.clients.meta
	if meta == nil || i.factories.clients.closeConnections == nil {
		return
	}
	for _, res := range resources {
		if err, _ := res.lastError(); err != nil || res.informer.HasSynced() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		_, err := meta.Resource(res.key.gvr).Namespace(i.settings.namespace).List(ctx, metav1.ListOptions{Limit: 1})
		cancel()
		if err != nil {
			res.setLastError(classifyListWatchError(res.key.gvr.Resource, err))
		}
	}
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
		err, when := res.lastError()
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
		lastErr, when := res.lastError()
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

// Run starts the informers, waits for the caches to sync, blocks until ctx
// ends, then stops. It returns the sync error, if any (after stopping), else
// the error of Stop. Cancelling ctx is the normal way to end Run and is not
// an error.
func (i *Informer) Run(ctx context.Context) error {
	if err := i.Start(ctx); err != nil {
		return err
	}
	if err := i.WaitForSync(ctx); err != nil {
		stopErr := i.Stop()
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return stopErr
		}
		return errors.Join(err, stopErr)
	}
	<-ctx.Done()
	return i.Stop()
}

// resourceNames returns the names of resources.
func resourceNames(resources []*resource) []string {
	names := make([]string, 0, len(resources))
	for _, res := range resources {
		names = append(names, res.name)
	}
	return names
}

// Stop stops every informer, cancels the context handed to handlers (its
// cause is [ErrStopped]) and waits until every goroutine the library started
// has ended and every running handler has returned, at most for the stop
// timeout of [Builder.WithStopTimeout]; past it, Stop returns a [*StopError]
// naming the handlers still running. Stop is idempotent: later calls return
// the first call's result. Stop before Start is valid and makes Start fail.
func (i *Informer) Stop() error {
	i.stopOnce.Do(func() {
		i.mu.Lock()
		i.stopped = true
		started := i.started
		if started {
			i.cancel(ErrStopped)
		}
		resources := append([]*resource(nil), i.order...)
		i.mu.Unlock()
		if !started {
			return
		}

		done := make(chan struct{})
		go func() {
			defer close(done)
			i.factories.shutdown()
			if closeConnections := i.factories.clients.closeConnections; closeConnections != nil {
				closeConnections()
			}
		}()
		timer := time.NewTimer(i.settings.stopTimeout)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			stopErr := &StopError{Timeout: i.settings.stopTimeout, Resources: resourceNames(resources)}
			for _, res := range resources {
				for _, reg := range res.registrations() {
					if reg.running() {
						stopErr.Handlers = append(stopErr.Handlers, reg.displayName())
					}
				}
			}
			i.stopErr = stopErr
		}
	})
	return i.stopErr
}
