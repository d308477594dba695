package informer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/client-go/tools/cache"
)

// ErrRemoved is returned by [Registration.Err] and a removed registration's
// [Lister] after [Registration.Remove].
var ErrRemoved = errors.New("informer: registration removed")

// Remove stops this registration without stopping the others: its
// callbacks are no longer called, and Remove returns once a callback that
// was running has returned. When it was the last registration on its
// informer, the informer stops too: its watch is closed, its goroutines end
// and its cache is dropped, without delete events. A later [Watch] of the
// same resource starts a new informer with a new list.
//
// Remove waits at most until ctx ends; it then returns ctx's error, and the
// removal completes in the background. It must not be called from the
// registration's own callbacks (it would wait for itself). Removing twice
// returns nil; after [Informer.Stop], Remove only forgets the registration.
// Before [Informer.Start], the informer is then never started. A registration
// that was never attached (before [Builder.Build], or one that failed)
// cannot be removed: Remove returns an error. A [Sharded] registration's
// handlers are removed from every range, and the range informers of a
// resource no other sharded registration needs are stopped.
func (r *Registration[T]) Remove(ctx context.Context) error {
	r.mu.Lock()
	if st := r.sharded; st != nil {
		group, err := st.group, r.err
		if err == nil {
			r.err = ErrRemoved
		}
		r.mu.Unlock()
		switch {
		case errors.Is(err, ErrRemoved):
			return nil
		case err != nil:
			return fmt.Errorf("informer: remove %s: not attached: %w", r.key, err)
		}
		return group.remove(ctx, r)
	}
	res, handle, err := r.res, r.handle, r.err
	if res != nil {
		r.res, r.handle, r.err = nil, nil, ErrRemoved
	}
	r.mu.Unlock()
	switch {
	case errors.Is(err, ErrRemoved):
		return nil
	case res == nil && err != nil:
		return fmt.Errorf("informer: remove %s: not attached: %w", r.key, err)
	case res == nil:
		return fmt.Errorf("informer: remove %s: the builder is not built", r.key)
	}
	return res.owner.detach(ctx, res, r, handle)
}

// Remove stops the reconcile loop: its workers stop taking keys (running
// calls finish, queued keys are abandoned, see [Reconciler.Abandoned]),
// then its registration is removed as by [Registration.Remove].
func (rc *Reconciler[T]) Remove(ctx context.Context) error {
	rc.mu.Lock()
	owner := rc.owner
	rc.mu.Unlock()
	if owner != nil {
		if err := owner.removeRunner(ctx, rc); err != nil {
			return err
		}
	}
	return rc.reg.Remove(ctx)
}

// detach removes reg's handler from res and waits until it stopped; when
// no registration is left, it stops res's informer and forgets res.
func (i *Informer) detach(ctx context.Context, res *resource, reg registration, handle cache.ResourceEventHandlerRegistration) error {
	if handle != nil { // nil: never activated (see WithLeaderElection)
		if err := res.informer.RemoveEventHandler(handle); err != nil {
			return fmt.Errorf("informer: remove %s: %w", reg.displayName(), err)
		}
		if shutdown, ok := handle.(interface{ ShutdownChan() <-chan struct{} }); ok {
			if err := waitDone(ctx, shutdown.ShutdownChan()); err != nil {
				return err
			}
		}
	}
	last := res.removeHandler(reg)
	defer i.notifyRemoval() // a WaitForSync may be waiting for what was removed
	if !last {
		return nil // other registrations go on with the informer
	}
	i.mu.Lock()
	if i.resources[res.key] == res {
		delete(i.resources, res.key)
		i.order = slices.DeleteFunc(i.order, func(other *resource) bool { return other == res })
	}
	stop, done := res.stop, res.done
	i.mu.Unlock()
	res.currency.stop()
	if stop == nil {
		return nil // never started
	}
	stop()
	if err := waitDone(ctx, done); err != nil {
		return err
	}
	res.currency.wait()
	return nil
}

// removeRunner stops a reconcile loop's workers and forgets them.
func (i *Informer) removeRunner(ctx context.Context, r runner) error {
	i.mu.Lock()
	found := slices.Contains(i.runners, r)
	i.runners = slices.DeleteFunc(i.runners, func(other runner) bool { return other == r })
	started := i.started
	i.mu.Unlock()
	if !found || !started {
		return nil
	}
	r.shutDown()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.wait(ctx)
	}()
	return waitDone(ctx, done)
}

// waitDone waits until done is closed or ctx ends.
func waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("informer: remove: %w", context.Cause(ctx))
	}
}
