package informer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

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
	runners   []runner
	// workCtx is the context of reconcile calls: it ends when Stop gives
	// up waiting for them, not when Stop begins.
	workCtx    context.Context
	cancelWork context.CancelCauseFunc

	stopOnce sync.Once
	stopErr  error
	probes   sync.WaitGroup // probes of silent resources (see WaitForSync)

	errMu     sync.Mutex
	errSignal chan struct{} // closed and replaced at each list/watch error

	removalMu     sync.Mutex
	removalSignal chan struct{} // closed and replaced at each Remove

	// election is nil without WithLeaderElection, shards without
	// WithSharding. leaderActive is set, under mu, once the replica leads
	// and its handlers and runners were activated; leasesDone is closed
	// once the Leases are released after every callback returned.
	election     *election
	shards       *shardGroup
	leaderActive bool
	leasesDone   chan struct{}
}

// newInformer returns an Informer, not started, using clients and s.
func newInformer(clients clientSet, s settings) *Informer {
	return &Informer{
		settings:      s,
		factories:     factories{clients: clients, settings: s},
		resources:     map[resourceKey]*resource{},
		errSignal:     make(chan struct{}),
		removalSignal: make(chan struct{}),
	}
}

// attach creates the informer of reg's resource if needed and adds reg's
// handler to it. After Start, a new informer is started at once.
func (i *Informer) attach(reg registration) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return fmt.Errorf("informer: watch %s: %w", reg.resourceKey(i.settings.scope()), ErrStopped)
	}
	if reg.shardKey() != "" {
		sharded, ok := reg.(sharded)
		if i.shards == nil || !ok {
			return fmt.Errorf("informer: watch %s: Sharded needs Builder.WithSharding", reg.resourceKey(i.settings.scope()))
		}
		reg.bindShards(i.shards)
		i.shards.add(sharded)
		return nil
	}
	res, err := i.resourceFor(reg.resourceKey(i.settings.scope()))
	if err != nil {
		return err
	}
	if err := reg.attach(res, i.handlerEnv()); err != nil {
		return err
	}
	if i.started {
		i.startFactories()
	}
	return nil
}

// handlerEnv returns what registrations attached now need. The caller
// holds i.mu.
func (i *Informer) handlerEnv() handlerEnv {
	env := handlerEnv{contexts: i.contexts, crash: i.settings.crashOnPanic, hooks: i.settings.hooks}
	if i.election != nil {
		env.gate = i.election.admit
		env.deferred = !i.leaderActive
	}
	return env
}

// runner is the worker side of a reconcile loop (see [Reconciler]).
type runner interface {
	// start starts the workers: they wait for the cache while runCtx
	// lasts, and reconcile with workCtx. gate, when set, is asked before
	// each call: once it refuses, the workers stop taking keys.
	start(runCtx, workCtx context.Context, crashOnPanic bool, hooks Hooks, gate func() bool)
	shutDown()                // stop taking keys
	wait(ctx context.Context) // wait for the workers
	running() bool
	displayName() string
	setOwner(i *Informer) // the Informer that runs it, for Remove
}

// addRunner adds the workers of a reconcile loop registered after Build,
// and starts them if the Informer runs.
func (i *Informer) addRunner(r runner) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return
	}
	i.runners = append(i.runners, r)
	r.setOwner(i)
	if i.started && (i.election == nil || i.leaderActive) {
		r.start(i.runCtx, i.workCtx, i.settings.crashOnPanic, i.settings.hooks, i.handlerEnv().gate)
	}
}

// startFactories starts every informer not started yet. The caller holds i.mu.
func (i *Informer) startFactories() {
	for _, res := range i.order {
		if !res.started.Swap(true) {
			res.stop, res.done = i.factories.run(i.runCtx, res.informer)
		}
	}
}

// resourceFor returns the shared informer for key, creating it on first use.
// The caller holds i.mu.
func (i *Informer) resourceFor(key resourceKey) (*resource, error) {
	if res, ok := i.resources[key]; ok {
		return res, nil
	}
	name := key.String()
	if key.scope != i.settings.scope() {
		name += " [" + key.scope.String() + "]"
	}
	res := &resource{key: key, name: name, owner: i}
	res.currency = newCurrency(i.settings.clock, i.settings.stalenessBound, i.settings.hooks.WatchOpened, name,
		func(ctx context.Context, err error) { i.recordError(ctx, res, err) },
		func(change StalenessChange) { i.reportStaleness(res, change) })
	inf, err := i.factories.newInformer(key, res.currency)
	if err != nil {
		return nil, err
	}
	res.informer = inf
	transform := newTransform(i.settings)
	if received := i.settings.hooks.ObjectReceived; received != nil {
		next := transform
		transform = func(obj any) (any, error) {
			received(res.name)
			if next == nil {
				return obj, nil
			}
			return next(obj)
		}
	}
	if err := inf.SetTransform(countingTransform(&res.received, transform)); err != nil {
		return nil, fmt.Errorf("informer: %s: setting transform: %w", res.name, err)
	}
	err = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		i.recordError(ctx, res, err)
	})
	if err != nil {
		return nil, fmt.Errorf("informer: %s: setting watch error handler: %w", res.name, err)
	}
	i.resources[key] = res
	i.order = append(i.order, res)
	return res, nil
}

// recordError classifies and records a list/watch error of res, seen by
// its ListWatch or by client-go's watch error handler (which sees some of
// the same errors again). A new kind of error is logged once; retries of
// the same one only at high verbosity: Status and SyncError keep them.
// Errors of a request cut short because the informer is stopping are not
// errors of the resource.
func (i *Informer) recordError(ctx context.Context, res *resource, err error) {
	if ctx.Err() != nil {
		return
	}
	classified := classifyListWatchError(res.key.gvr.Resource, err)
	logger := klog.FromContext(ctx)
	if !res.setLastError(classified) {
		logger = logger.V(4)
	}
	logger.Info("List/watch failed, retrying", "resource", res.name, "err", classified)
	i.notifyError()
}

// reportStaleness completes a change of res's currency, logs it and hands
// it to the handler of [Builder.WithStalenessHandler].
func (i *Informer) reportStaleness(res *resource, change StalenessChange) {
	change.Resource = res.name
	if when, err := res.lastError(); err != nil && !when.Before(change.NoWatchSince) {
		change.LastError = err
	}
	i.mu.Lock()
	ctx := i.runCtx
	i.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	logStalenessChange(ctx, change)
	if handler := i.settings.stalenessHandler; handler != nil {
		handler(ctx, change)
	}
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
	i.workCtx, i.cancelWork = context.WithCancelCause(context.WithoutCancel(ctx))
	i.contexts = newEventContexts(i.runCtx)
	for _, res := range i.order {
		for _, reg := range res.registrations() {
			reg.setContexts(i.contexts)
		}
	}
	i.started = true
	if i.shards != nil {
		i.startFactories()
		i.shards.start(i.runCtx)
		i.releaseAfterDrain(i.shards.closeGates, i.shards.leave)
		// Runners of unsharded loops start as without sharding.
		for _, r := range i.runners {
			r.start(i.runCtx, i.workCtx, i.settings.crashOnPanic, i.settings.hooks, nil)
		}
		return nil
	}
	if i.election != nil {
		// The runners start with the leadership (see startLeading).
		i.startFactories()
		i.startElection()
		return nil
	}
	// Runners first: their queues must take the events of the initial list.
	for _, r := range i.runners {
		r.start(i.runCtx, i.workCtx, i.settings.crashOnPanic, i.settings.hooks, nil)
	}
	i.startFactories()
	return nil
}

// Run starts the informers, waits for the caches to sync, blocks until ctx
// ends, then stops. It returns the sync error, if any (after stopping), else
// the error of Stop. Cancelling ctx is the normal way to end Run and is not
// an error. With [Builder.WithLeaderElection], Run also returns, after
// stopping, when this replica loses the leadership it held: the error wraps
// [ErrLeadershipLost].
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
	select {
	case <-ctx.Done():
	case <-i.lostSignal():
	}
	stopErr := i.Stop()
	if err := i.leaseLost(); err != nil {
		return errors.Join(err, stopErr)
	}
	return stopErr
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
		if i.election != nil {
			i.election.closeGate() // no callback starts from now on
		}
		if i.shards != nil {
			i.shards.closeGates()
		}
		started := i.started
		resources := append([]*resource(nil), i.order...)
		for _, res := range resources {
			res.currency.stop() // before the watches end, so that none arms a timer
		}
		runners := append([]runner(nil), i.runners...)
		if started {
			// Reconcile loops stop taking keys before anything else ends.
			for _, r := range runners {
				r.shutDown()
			}
			i.cancel(ErrStopped)
		}
		i.mu.Unlock()
		if !started {
			return
		}

		done := make(chan struct{})
		go func() {
			defer close(done)
			i.factories.shutdown()
			for _, r := range runners {
				r.wait(i.workCtx)
			}
			i.probes.Wait()
			for _, res := range resources {
				res.currency.wait()
			}
			if i.leasesDone != nil {
				<-i.leasesDone // the Leases released, over the connections closed next
			}
			if closeConnections := i.factories.clients.closeConnections; closeConnections != nil {
				closeConnections()
			}
		}()
		timer := time.NewTimer(i.settings.stopTimeout)
		defer timer.Stop()
		select {
		case <-done:
			i.cancelWork(ErrStopped)
		case <-timer.C:
			i.cancelWork(ErrStopped) // reconcile calls still running see their context end
			stopErr := &StopError{Timeout: i.settings.stopTimeout, Resources: resourceNames(resources)}
			for _, r := range runners {
				if r.running() {
					stopErr.Handlers = append(stopErr.Handlers, r.displayName())
				}
			}
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

// startElection starts the leader election; the caller holds i.mu, in
// Start. The replica campaigns once the caches created so far have synced.
// When runCtx ends (Stop, or the end of Start's context), the gate closes,
// and once every callback and reconcile has returned the election ends and
// the Lease is released.
func (i *Informer) startElection() {
	warm := make([]cache.DoneChecker, 0, len(i.order))
	for _, res := range i.order {
		warm = append(warm, res.informer.HasSyncedChecker())
	}
	e := i.election
	e.run(context.WithoutCancel(i.runCtx), i.runCtx, warm)
	i.releaseAfterDrain(e.closeGate, e.stop)
}

// releaseAfterDrain calls closeGates once runCtx ends (Stop, or the end of
// Start's context), then release once every callback and reconcile has
// returned; leasesDone is closed after. The caller holds i.mu, in Start.
func (i *Informer) releaseAfterDrain(closeGates, release func()) {
	runCtx, workCtx := i.runCtx, i.workCtx
	i.leasesDone = make(chan struct{})
	go func() {
		defer close(i.leasesDone)
		<-runCtx.Done()
		closeGates()
		i.mu.Lock()
		i.leaderActive = false
		resources := append([]*resource(nil), i.order...)
		runners := append([]runner(nil), i.runners...)
		i.mu.Unlock()
		for _, res := range resources {
			if res.started.Load() {
				<-res.done
			}
		}
		for _, r := range runners {
			r.wait(workCtx)
		}
		release()
	}()
}

// startLeading activates the handlers and starts the reconcile loops, once
// this replica leads.
func (i *Informer) startLeading() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped || i.runCtx.Err() != nil {
		return
	}
	klog.FromContext(i.runCtx).Info("Started leading; handlers and reconcile loops start",
		"lease", i.election.config.String(), "identity", i.election.config.lease.identity)
	i.leaderActive = true
	for _, res := range i.order {
		for _, reg := range res.registrations() {
			if err := reg.activate(); err != nil {
				reg.fail(err)
				klog.FromContext(i.runCtx).Error(err, "Handler not started", "handler", reg.displayName())
			}
		}
	}
	for _, r := range i.runners {
		r.start(i.runCtx, i.workCtx, i.settings.crashOnPanic, i.settings.hooks, i.election.admit)
	}
}

// loseLeadership stops the Informer once the leadership it held is lost:
// the gate is already closed.
func (i *Informer) loseLeadership(err error) {
	i.mu.Lock()
	ctx, cancel := i.runCtx, i.cancel
	i.mu.Unlock()
	klog.FromContext(ctx).Error(err, "Lost leadership; stopping", "lease", i.election.config.String(),
		"identity", i.election.config.lease.identity)
	cancel(err)
}

// Leading reports whether this replica runs handlers and reconcile loops
// now: with [Builder.WithLeaderElection], whether it leads; without, it is
// true.
func (i *Informer) Leading() bool {
	return i.election == nil || i.election.allows()
}

// lostSignal is closed once a leadership or a shard membership held is
// lost; it is never closed without either.
func (i *Informer) lostSignal() <-chan struct{} {
	switch {
	case i.election != nil:
		return i.election.lostSignal()
	case i.shards != nil:
		return i.shards.lostCh
	}
	return nil
}

// leaseLost returns the error of a lost leadership or shard membership,
// nil if none.
func (i *Informer) leaseLost() error {
	switch {
	case i.election != nil:
		return i.election.lostErr()
	case i.shards != nil:
		return i.shards.lostErr()
	}
	return nil
}

// rangeSource returns the informer of a shard range's key, created and
// started if needed.
func (i *Informer) rangeSource(key resourceKey) (*resource, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped || i.runCtx.Err() != nil {
		return nil, ErrStopped
	}
	res, err := i.resourceFor(key)
	if err != nil {
		return nil, err
	}
	i.startFactories()
	return res, nil
}

// dropSource stops a shard range's informer that has no handler left and
// forgets it; its cache goes without deletes.
func (i *Informer) dropSource(res *resource) {
	i.mu.Lock()
	if res.handlerCount() > 0 || i.resources[res.key] != res {
		i.mu.Unlock()
		return
	}
	delete(i.resources, res.key)
	i.order = slices.DeleteFunc(i.order, func(other *resource) bool { return other == res })
	stop, done := res.stop, res.done
	i.mu.Unlock()
	res.currency.stop()
	if stop != nil {
		stop()
		<-done
	}
	res.currency.wait()
}
