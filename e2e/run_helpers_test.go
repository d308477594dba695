package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/informer-go/informer"
)

// backgroundRun is an Informer's Run in a goroutine of its own, as a
// replica runs it: cancel ends it, done is closed once Run returned, with
// its error and the time it returned.
type backgroundRun struct {
	name     string
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run returned
	runErr   error         // Run's error, once done is closed
	returned time.Time     // when Run returned, once done is closed
}

// runInBackground starts inf.Run; the test's cleanup ends it and waits.
func runInBackground(t *testing.T, name string, inf *informer.Informer) *backgroundRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &backgroundRun{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.runErr = inf.Run(ctx)
		r.returned = time.Now()
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait returns Run's error, failing the test if Run does not return within
// waitBound.
func (r *backgroundRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.runErr
	case <-time.After(waitBound):
		t.Fatalf("Run of %s did not return within %v", r.name, waitBound)
		return nil
	}
}
