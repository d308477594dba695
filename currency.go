package informer

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// StalenessChange tells that an informer's cache became stale (it has had
// no open watch for longer than the bound of [Builder.WithStalenessBound])
// or current again (a watch is open again). See [Builder.WithStalenessHandler].
type StalenessChange struct {
	// Resource names the informer, as in [InformerStatus].
	Resource string
	// Stale is true when the cache became stale, false when it is current
	// again.
	Stale bool
	// NoWatchSince is when the informer lost its last watch.
	NoWatchSince time.Time
	// Duration is how long the informer has had no open watch: the bound
	// when it became stale, the whole gap when it is current again.
	Duration time.Duration
	// LastError is the last list/watch error seen since the watch was lost,
	// classified as in [InformerStatus]; nil when none was seen (a server
	// that accepts the connection and does not answer).
	LastError error
}

// currency tracks whether one informer's cache is current: whether a watch
// is open, since when, and since when it has had none. Its methods are
// called by the informer's ListWatch, from the reflector's goroutine, and
// read from anywhere.
type currency struct {
	clock   clock.WithDelayedExecution
	bound   time.Duration                // 0: staleness is off
	onError func(context.Context, error) // records a list/watch error
	// openHook is Hooks.WatchOpened, called with resource.
	openHook func(string)
	resource string
	onChange func(StalenessChange)

	mu          sync.Mutex
	watching    int       // watches open (the reflector keeps at most one)
	listedAt    time.Time // the last list that completed while no watch was open
	since       time.Time // while watching: current since; else: no watch since
	everCurrent bool      // a watch was open at least once
	stale       bool      // reported stale through onChange
	timer       clock.Timer
	generation  int // bumped at each change, so that an old timer does nothing
	stopped     bool
	timers      sync.WaitGroup // timer callbacks armed and not yet done
}

// currencyState is a snapshot of a currency.
type currencyState struct {
	watching    bool
	since       time.Time
	everCurrent bool
}

func newCurrency(clk clock.WithDelayedExecution, bound time.Duration, watchOpened func(string), resource string,
	onError func(context.Context, error), onChange func(StalenessChange)) *currency {
	return &currency{clock: clk, bound: bound, openHook: watchOpened, resource: resource,
		onError: onError, onChange: onChange, since: clk.Now()}
}

// listed records the end of a LIST.
func (c *currency) listed(ctx context.Context, err error) {
	if err != nil {
		c.onError(ctx, err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching == 0 {
		c.listedAt = c.clock.Now()
	}
}

// watchFailed records a WATCH that could not be opened.
func (c *currency) watchFailed(ctx context.Context, err error) {
	c.onError(ctx, err)
}

// watchOpened records a WATCH that opened and returns w, wrapped to record
// when it is stopped. The reflector stops every watch it is done with,
// whether the server ended it or the informer is stopping.
func (c *currency) watchOpened(w watch.Interface) watch.Interface {
	c.opened()
	return &observedWatch{Interface: w, closed: c.watchClosed}
}

// watchListOpened records a streaming list (a watch that first sends every
// object, then a bookmark marking the end of the initial events, then
// changes): the cache is current, and the watch counts as open, only from
// that bookmark on. Until then the cache still holds what it held before.
func (c *currency) watchListOpened(w watch.Interface) watch.Interface {
	return newInitialEventsWatch(w, c.opened, c.watchClosed)
}

// opened records that a watch is open and the cache current.
func (c *currency) opened() {
	if c.openHook != nil {
		c.openHook(c.resource)
	}
	c.mu.Lock()
	c.watching++
	var recovered *StalenessChange
	if c.watching == 1 {
		now := c.clock.Now()
		if c.stale {
			recovered = &StalenessChange{Stale: false, NoWatchSince: c.since, Duration: now.Sub(c.since)}
			c.stale = false
		}
		c.since = now
		if !c.listedAt.IsZero() {
			c.since = c.listedAt // the list that preceded this watch
		}
		c.listedAt = time.Time{}
		c.everCurrent = true
		c.generation++
		c.stopTimerLocked()
	}
	c.mu.Unlock()
	if recovered != nil {
		c.onChange(*recovered)
	}
}

// watchClosed records the end of a watch and arms the staleness timer.
func (c *currency) watchClosed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watching--
	if c.watching > 0 {
		return
	}
	c.since = c.clock.Now()
	c.generation++
	if c.bound <= 0 || c.stopped {
		return
	}
	generation := c.generation
	c.timers.Add(1)
	c.timer = c.clock.AfterFunc(c.bound, func() {
		defer c.timers.Done()
		c.becameStale(generation)
	})
}

// becameStale reports the cache stale, unless a watch opened since the
// timer was armed.
func (c *currency) becameStale(generation int) {
	c.mu.Lock()
	if c.generation != generation || c.stopped || c.watching > 0 {
		c.mu.Unlock()
		return
	}
	c.stale = true
	// The timer fired the bound after the watch was lost (and the clock must
	// not be read here: a fake one runs this callback under its lock).
	change := StalenessChange{Stale: true, NoWatchSince: c.since, Duration: c.bound}
	c.mu.Unlock()
	c.onChange(change)
}

// stopTimerLocked stops the armed timer, if any. The caller holds c.mu.
func (c *currency) stopTimerLocked() {
	if c.timer != nil && c.timer.Stop() {
		c.timers.Done() // its callback will never run
	}
	c.timer = nil
}

// stop ends the tracking: no timer is armed or fires after it returns,
// except a callback already running; wait waits for that one.
func (c *currency) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.stopTimerLocked()
}

// wait waits for a timer callback that was running when stop was called.
func (c *currency) wait() { c.timers.Wait() }

func (c *currency) state() currencyState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return currencyState{watching: c.watching > 0, since: c.since, everCurrent: c.everCurrent}
}

// staleFor reports how long the informer has had no open watch, when that
// is longer than the bound and it had one before; else 0.
func (c *currency) staleFor(now time.Time) time.Duration {
	st := c.state()
	if c.bound <= 0 || st.watching || !st.everCurrent {
		return 0
	}
	if gap := now.Sub(st.since); gap > c.bound {
		return gap
	}
	return 0
}

// observedWatch tells its currency when it is stopped.
type observedWatch struct {
	watch.Interface
	once   sync.Once
	closed func()
}

func (w *observedWatch) Stop() {
	w.Interface.Stop()
	w.once.Do(w.closed)
}

// logStalenessChange logs a change at the default verbosity: once when an
// informer becomes stale, once when it is current again.
func logStalenessChange(ctx context.Context, change StalenessChange) {
	logger := klog.FromContext(ctx)
	if change.Stale {
		logger.Info("Cache stale: no open watch", "resource", change.Resource,
			"noWatchFor", change.Duration.Round(time.Second), "err", change.LastError)
		return
	}
	logger.Info("Cache current again: watch open", "resource", change.Resource,
		"staleFor", change.Duration.Round(time.Second))
}

// initialEventsWatch passes a streaming list's events on, and tells its
// currency the watch is open when the bookmark that ends the initial events
// goes by. Every event takes one goroutine hop (well under a microsecond,
// against about 12 µs to decode a pod): handing the reflector the inner
// channel after the bookmark cannot be done without a race, since the
// reflector may already be waiting on this one.
type initialEventsWatch struct {
	inner watch.Interface
	out   chan watch.Event

	mu      sync.Mutex
	opened  bool
	stopped bool
	stop    chan struct{}
	onOpen  func()
	onClose func()
}

func newInitialEventsWatch(inner watch.Interface, onOpen, onClose func()) *initialEventsWatch {
	w := &initialEventsWatch{inner: inner, out: make(chan watch.Event), stop: make(chan struct{}), onOpen: onOpen, onClose: onClose}
	go w.forward()
	return w
}

func (w *initialEventsWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *initialEventsWatch) Stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	close(w.stop)
	opened := w.opened
	w.mu.Unlock()
	w.inner.Stop()
	if opened {
		w.onClose()
	}
}

// forward passes events on until the end of the stream or Stop, then
// closes the result channel.
func (w *initialEventsWatch) forward() {
	defer close(w.out)
	for {
		var event watch.Event
		select {
		case <-w.stop:
			return
		case e, ok := <-w.inner.ResultChan():
			if !ok {
				return
			}
			event = e
		}
		select {
		case w.out <- event:
		case <-w.stop:
			return
		}
		// After the reflector took the bookmark: it now replaces the cache
		// with the initial events.
		if isInitialEventsEnd(event) {
			w.mu.Lock()
			if w.stopped {
				w.mu.Unlock()
				return
			}
			first := !w.opened
			w.opened = true
			w.mu.Unlock()
			if first {
				w.onOpen()
			}
		}
	}
}

// isInitialEventsEnd reports whether event is the bookmark that ends a
// streaming list's initial events.
func isInitialEventsEnd(event watch.Event) bool {
	if event.Type != watch.Bookmark {
		return false
	}
	obj, err := meta.Accessor(event.Object)
	return err == nil && obj.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true"
}
