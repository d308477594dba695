package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// ErrLeadershipLost is wrapped by the error [Informer.Run] returns, and by
// [Informer.Healthy] and [Informer.Ready], once a replica that led lost its
// Lease (see [Builder.WithLeaderElection]).
var ErrLeadershipLost = errors.New("informer: leadership lost")

// WithLeaderElection makes the replicas of a program that share the Lease
// namespace/name elect one leader, with client-go's leader election. Every
// replica starts its informers and syncs its caches, so that a new leader
// starts warm; only the leader runs handlers and reconcile loops. A replica
// campaigns once the caches it had at Start have synced. When it becomes
// leader, each handler receives the whole cache as adds (with
// [IsInitialList] true) and each reconcile loop every key, then the events
// that follow.
//
// When a leader notices that it lost the Lease (it could not renew it
// within the renew deadline, see [LeaseTimings]), no callback or reconcile
// starts any more, the Informer stops and [Informer.Run] returns an error
// wrapping [ErrLeadershipLost]: the program should exit and be restarted
// rather than go on as a follower with state it built as a leader. Even
// before the renewal loop notices, a leader starts no callback once its
// last successful renewal is older than the renew deadline, so a process
// paused past its lease handles nothing when it resumes.
//
// A leader that stops ([Informer.Stop], or the end of Run's context)
// stops handling, waits for running callbacks and reconciles, then releases
// the Lease, so that another replica takes over within about one retry
// period instead of a lease duration. The Lease is only released once every
// callback has returned: a callback that never returns keeps it until the
// process exits.
//
// The identity needs get, create and update on leases in namespace
// (coordination.k8s.io). [Informer.Status], [Informer.Leading] and the
// metrics module show the leadership. WithLeaderElection needs a typed
// client (any kubernetes.Interface, fakes included).
func (b *Builder) WithLeaderElection(namespace, name string, opts ...LeaseOption) *Builder {
	return b.update("WithLeaderElection", func() error {
		if err := validLeaseName("WithLeaderElection", namespace, name); err != nil {
			return err
		}
		config, err := newLeaseConfig("WithLeaderElection", opts)
		if err != nil {
			return err
		}
		b.settings.election = &electionConfig{namespace: namespace, name: name, lease: config}
		return nil
	})
}

// electionConfig is the configuration of WithLeaderElection.
type electionConfig struct {
	namespace, name string
	lease           leaseConfig
}

func (c *electionConfig) String() string { return c.namespace + "/" + c.name }

// LeadershipStatus is the state of the leader election of an [Informer]
// (see [Builder.WithLeaderElection]).
type LeadershipStatus struct {
	// Lease is the Lease's namespace/name, and Identity this replica's
	// identity in it.
	Lease, Identity string
	// Leading reports whether this replica leads now, and LeadingSince
	// since when.
	Leading      bool
	LeadingSince time.Time
	// Leader is the holder of the Lease as this replica last saw it
	// (empty before the first look, or when the Lease was released).
	Leader string
	// Lost is set, wrapping [ErrLeadershipLost], once this replica lost
	// the leadership it held.
	Lost error
	// LastError is the last error reading or writing the Lease, classified
	// as list/watch errors are (errors.Is [ErrForbidden], [ErrUnreachable],
	// ...) with a hint for the fix, and LastErrorTime when it was seen. A
	// replica whose identity has no rights on Leases never leads: it
	// retries every retry period, and LastError says why. Conflicts with
	// another replica's write are part of the election, not errors. Like
	// [InformerStatus.LastError], it stays after a later success.
	LastError     error
	LastErrorTime time.Time
}

// election runs client-go's leader election for an Informer and holds the
// gate that handlers and reconcile loops check before each call.
type election struct {
	config  *electionConfig
	elector *leaderelection.LeaderElector
	lock    resourcelock.Interface
	// renewed is when the last successful acquire or renewal began: the
	// others count the lease duration from a moment after it.
	renewed atomic.Pointer[time.Time]
	leading atomic.Bool
	signal  atomic.Pointer[chan struct{}] // closed and replaced at each renewal and at the end
	// since returns the time elapsed since t (time.Since; a fake in tests).
	since func(t time.Time) time.Duration

	mu           sync.Mutex
	leadingSince time.Time
	led          bool // this replica led at some point
	ended        bool // the elector stopped leading or campaigning
	lost         error
	lostCh       chan struct{} // closed when leadership is lost
	lastErr      error         // the last error reading or writing the Lease
	lastErrTime  time.Time
	cancel       context.CancelFunc
	done         chan struct{} // closed when the elector has returned
}

// newElection returns the election of config over kube's Leases. The
// callbacks run when this replica starts leading and when it loses the
// leadership it held.
func newElection(config *electionConfig, kube kubernetes.Interface, started func(), lost func(error)) (*election, error) {
	e := &election{config: config, since: time.Since, lostCh: make(chan struct{})}
	signal := make(chan struct{})
	e.signal.Store(&signal)
	lock := &renewalTrackingLock{
		Interface: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: config.namespace, Name: config.name},
			Client:     kube.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: config.lease.identity},
		},
		renewed: func(start time.Time) {
			e.renewed.Store(&start)
			e.wake()
		},
		failed: e.recordError,
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		Name:          config.String(),
		LeaseDuration: config.lease.leaseDuration,
		RenewDeadline: config.lease.renewDeadline,
		RetryPeriod:   config.lease.retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				// client-go calls this in a goroutine of its own, which
				// may run after the renewals failed: ended tells.
				e.mu.Lock()
				if e.ended || ctx.Err() != nil {
					e.mu.Unlock()
					return
				}
				e.leadingSince, e.led = time.Now(), true
				e.leading.Store(true)
				e.mu.Unlock()
				started()
			},
			OnStoppedLeading: func() {
				e.mu.Lock()
				e.ended = true
				if !e.leading.Swap(false) {
					e.mu.Unlock()
					return // never led, or stopping cleanly (closeGate)
				}
				err := fmt.Errorf("%w: lease %s not renewed within %v", ErrLeadershipLost, config, config.lease.renewDeadline)
				e.lost = err
				close(e.lostCh)
				e.mu.Unlock()
				e.wake()
				lost(err)
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("informer: WithLeaderElection: %w", err)
	}
	e.elector, e.lock = elector, lock
	return e, nil
}

// admit is the gate handlers and reconcile loops ask before each call: it
// returns true when this replica leads and its last renewal is younger
// than the renew deadline (two atomics and the clock), false once it does
// not lead. While it leads with an older renewal, it waits: the next
// successful renewal proves that no other replica took the Lease (the
// Lease is only ever taken by compare-and-swap), and a failed one ends the
// leadership. So an event is neither handled without the proof nor
// dropped while the leadership goes on.
func (e *election) admit() bool {
	for {
		signal := e.signal.Load() // before the checks: a wake after them is seen
		if !e.leading.Load() {
			return false
		}
		if e.allows() {
			return true
		}
		<-*signal
	}
}

// wake wakes the calls waiting in admit, to check again.
func (e *election) wake() {
	next := make(chan struct{})
	close(*e.signal.Swap(&next))
}

// allows reports, without waiting, whether this replica leads and its
// last renewal is younger than the renew deadline.
func (e *election) allows() bool {
	if !e.leading.Load() {
		return false
	}
	renewed := e.renewed.Load()
	return renewed != nil && e.since(*renewed) < e.config.lease.renewDeadline
}

// run campaigns once every checker is done (the caches at Start) unless
// warmCtx ended first, until ctx ends.
func (e *election) run(ctx, warmCtx context.Context, warm []cache.DoneChecker) {
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.cancel, e.done = cancel, make(chan struct{})
	e.mu.Unlock()
	go func() {
		defer close(e.done)
		if !cache.WaitFor(warmCtx, "", warm...) {
			return
		}
		klog.FromContext(ctx).Info("Campaigning for leadership", "lease", e.config.String(), "identity", e.config.lease.identity)
		e.elector.Run(ctx)
	}()
}

// closeGate stops every call from starting; a clean stop calls it before
// it waits for running calls, then releases the Lease with stop.
func (e *election) closeGate() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ended = true
	e.leading.Store(false)
	e.wake()
}

// stop ends the election and waits for it, then releases the Lease if
// this replica led and did not lose it, so that another takes over at once.
// The gate must be closed and every call returned. (client-go's
// ReleaseOnCancel is not used: it also releases after a failed renewal,
// while callbacks may still run, and another replica must then wait for
// the lease to expire.)
func (e *election) stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel == nil {
		return // never started
	}
	cancel()
	<-done
	e.mu.Lock()
	release := e.led && e.lost == nil
	e.mu.Unlock()
	if release {
		e.release()
	}
}

// release gives the Lease up as client-go does: no holder, a lease
// duration of one second; the update fails if the Lease changed since it
// was read, so a Lease another replica took is left alone.
func (e *election) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.config.lease.renewDeadline)
	defer cancel()
	logger := klog.FromContext(ctx)
	record, _, err := e.lock.Get(ctx)
	if err != nil {
		logger.Error(err, "Could not release the Lease", "lease", e.config.String())
		return
	}
	if record.HolderIdentity != e.config.lease.identity {
		return
	}
	now := metav1.NewTime(time.Now())
	err = e.lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions:    record.LeaderTransitions,
		LeaseDurationSeconds: 1,
		RenewTime:            now,
		AcquireTime:          now,
	})
	if err != nil {
		logger.Error(err, "Could not release the Lease", "lease", e.config.String())
		return
	}
	logger.Info("Released the Lease", "lease", e.config.String(), "identity", e.config.lease.identity)
}

// recordError keeps err, an error of a Lease request, for Status.
func (e *election) recordError(err error) {
	err = classifyLeaseError(e.config, err)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastErr, e.lastErrTime = err, time.Now()
}

// lostSignal is closed once leadership is lost.
func (e *election) lostSignal() <-chan struct{} { return e.lostCh }

func (e *election) lostErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lost
}

func (e *election) status() *LeadershipStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := &LeadershipStatus{
		Lease:    e.config.String(),
		Identity: e.config.lease.identity,
		Leading:  e.leading.Load(),
		Leader:   e.elector.GetLeader(),
		Lost:     e.lost,

		LastError:     e.lastErr,
		LastErrorTime: e.lastErrTime,
	}
	if st.Leading {
		st.LeadingSince = e.leadingSince
	}
	return st
}

// renewalTrackingLock is a resourcelock.Interface that reports when each
// successful acquire or renewal of this replica's leadership began, and the
// errors of its requests (client-go's elector only logs them).
type renewalTrackingLock struct {
	resourcelock.Interface
	renewed func(start time.Time)
	failed  func(err error)
}

func (l *renewalTrackingLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	record, raw, err := l.Interface.Get(ctx)
	// Not found: the elector creates it. A request cut short by the end of
	// the election is no error either.
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		l.failed(err)
	}
	return record, raw, err
}

func (l *renewalTrackingLock) Create(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	start := time.Now()
	err := l.Interface.Create(ctx, record)
	if apierrors.IsAlreadyExists(err) {
		return err // another replica created it first
	}
	l.track(ctx, start, record, err)
	return err
}

func (l *renewalTrackingLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	start := time.Now()
	err := l.Interface.Update(ctx, record)
	l.track(ctx, start, record, err)
	return err
}

// track reports a successful write that keeps this replica the holder (a
// release writes another holder), or the error of a failed one; a conflict
// (another replica wrote first) is no error, nor a request cut short by the
// end of the election.
func (l *renewalTrackingLock) track(ctx context.Context, start time.Time, record resourcelock.LeaderElectionRecord, err error) {
	switch {
	case err == nil && record.HolderIdentity == l.Identity():
		l.renewed(start)
	case err != nil && !apierrors.IsConflict(err) && ctx.Err() == nil:
		l.failed(err)
	}
}
