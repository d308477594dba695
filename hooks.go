package informer

import (
	"time"

	"k8s.io/client-go/util/workqueue"
)

// Hooks receive what an [Informer] does as it happens, for metrics: the
// module github.com/informer-go/informer/metrics turns them into
// Prometheus metrics, and a program may set its own. Every field is
// optional. Hooks are called from the informers' and workers' goroutines,
// concurrently: they must be fast, must not block and must be safe for
// concurrent use. Names are those of [InformerStatus] (resource),
// [HandlerStatus] (handler, see [WithName]) and reconcile loops.
//
// State that can be read at any time (objects cached, synced, watching,
// stale, last error) is not pushed through hooks: read [Informer.Status].
type Hooks struct {
	// ObjectReceived is called for each object an informer receives from
	// the API server: list items and watch events alike.
	ObjectReceived func(resource string)
	// HandlerDone is called after each callback of a registration, with
	// the event ("add", "update" or "delete"), how long it took, and
	// whether it panicked.
	HandlerDone func(resource, handler, event string, took time.Duration, panicked bool)
	// WatchOpened is called each time an informer's watch opens: once at
	// start, then at every restart.
	WatchOpened func(resource string)
	// ReconcileDone is called after each call of a [ReconcileFunc], with
	// its result: "success", "requeue" ([Result.RequeueAfter]), "error" or
	// "panic".
	ReconcileDone func(reconciler, result string, took time.Duration)
	// KeyRetried is called when a failed key is put back with backoff, and
	// KeyDropped when one is given up after [MaxRetries].
	KeyRetried, KeyDropped func(reconciler string)
	// QueueMetrics, if set, receives client-go's workqueue metrics of each
	// reconcile loop's queue, named after the loop.
	QueueMetrics workqueue.MetricsProvider
}

// WithHooks sets the hooks every informer and reconcile loop of the
// [Informer] calls (see [Hooks]).
func (b *Builder) WithHooks(hooks Hooks) *Builder {
	return b.update("WithHooks", func() error {
		b.settings.hooks = hooks
		return nil
	})
}
