package informertest

import (
	"sync"

	"k8s.io/apimachinery/pkg/watch"
)

// watcher is a watch.Interface with an unbounded queue: sending never blocks
// and never drops, however long the reader is away. One goroutine moves
// queued events to the result channel; Stop ends it and waits for it.
type watcher struct {
	filter filter
	result chan watch.Event
	ready  chan struct{} // holds a token while the queue may be non-empty
	stop   chan struct{}
	done   chan struct{}

	stopOnce sync.Once
	onStop   func(*watcher)

	mu    sync.Mutex
	queue []watch.Event
}

// newWatcher starts a watcher; onStop is called once, from the first Stop.
func newWatcher(f filter, onStop func(*watcher)) *watcher {
	w := &watcher{
		filter: f,
		result: make(chan watch.Event),
		ready:  make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		onStop: onStop,
	}
	go w.run()
	return w
}

// send queues e for the reader. It never blocks.
func (w *watcher) send(e watch.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// next removes and returns the oldest queued event.
func (w *watcher) next() (watch.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return watch.Event{}, false
	}
	e := w.queue[0]
	w.queue[0] = watch.Event{}
	w.queue = w.queue[1:]
	return e, true
}

func (w *watcher) run() {
	defer close(w.done)
	defer close(w.result)
	for {
		e, ok := w.next()
		if !ok {
			select {
			case <-w.ready:
				continue
			case <-w.stop:
				return
			}
		}
		select {
		case w.result <- e:
		case <-w.stop:
			return
		}
	}
}

// ResultChan returns the channel of events; it is closed after Stop.
func (w *watcher) ResultChan() <-chan watch.Event {
	return w.result
}

// Stop ends the watch and waits until its goroutine has returned. It is
// idempotent and safe for concurrent use.
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		close(w.stop)
		w.onStop(w)
	})
	<-w.done
}
