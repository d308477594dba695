package informer

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/cache"
)

// resource is one shared informer with what the library tracks about it.
type resource struct {
	key      resourceKey
	name     string
	owner    *Informer
	informer cache.SharedIndexInformer
	currency *currency

	// received counts objects that entered the informer's queue from the
	// API server (list items and watch events), counted by the transform,
	// which client-go calls once for each of them.
	received atomic.Int64
	// started is set when the informer is started; stop stops it alone
	// (see Registration.Remove) and done is closed once it has stopped.
	started atomic.Bool
	stop    func()
	done    <-chan struct{}

	mu          sync.Mutex
	handlers    []registration
	lastErr     error
	lastErrTime time.Time
}

func (r *resource) addHandler(reg registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers = append(r.handlers, reg)
}

// removeHandler forgets reg and reports whether no registration is left.
func (r *resource) removeHandler(reg registration) (last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers = slices.DeleteFunc(r.handlers, func(other registration) bool { return other == reg })
	return len(r.handlers) == 0
}

func (r *resource) handlerCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.handlers)
}

func (r *resource) registrations() []registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]registration(nil), r.handlers...)
}

// required reports whether the resource must sync: true unless every
// registration on it is [Optional].
func (r *resource) required() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, reg := range r.handlers {
		if !reg.optional() {
			return true
		}
	}
	return len(r.handlers) == 0
}

// synced reports whether the cache has synced and whether every handler has
// seen the initial list.
func (r *resource) synced() (cacheSynced, handlersSynced bool) {
	handlersSynced = true
	for _, reg := range r.registrations() {
		handlersSynced = handlersSynced && cache.IsDone(reg.syncedChecker())
	}
	return r.informer.HasSynced(), handlersSynced
}

// setLastError records err and reports whether its message differs from
// the previous error's.
func (r *resource) setLastError(err error) (changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed = r.lastErr == nil || r.lastErr.Error() != err.Error()
	r.lastErr, r.lastErrTime = err, time.Now()
	return changed
}

func (r *resource) lastError() (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErrTime, r.lastErr
}
