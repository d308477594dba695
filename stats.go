package informer

// Stats is a snapshot of a registration's counters.
type Stats struct {
	// Delivered counts callbacks that returned (or panicked).
	Delivered int64
	// Running reports whether a callback is running now. Callbacks of one
	// registration run one at a time, so there is never more than one.
	Running bool
	// Panics counts recovered panics.
	Panics int64
	// Backlog counts objects the informer received from the API server that
	// this registration has not started to process yet: queued in
	// client-go's FIFO or in the registration's own queue. A backlog that
	// keeps growing means a handler slower than the event rate. It is -1
	// (unknown) for a registration added after its informer started.
	Backlog int64
}

// Stats returns the registration's counters.
func (r *Registration[T]) Stats() Stats {
	// seen is read before received: an event counted in seen was counted
	// in received first, so the difference is never negative.
	seen := r.seen.Load()
	st := Stats{Delivered: r.delivered.Load(), Running: r.inCallback.Load(), Panics: r.panics.Load(), Backlog: -1}
	r.mu.Lock()
	res, late := r.res, r.late
	r.mu.Unlock()
	if res != nil && !late {
		st.Backlog = max(0, res.received.Load()-seen)
	}
	return st
}
