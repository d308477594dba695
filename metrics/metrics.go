package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/informer-go/informer"
)

// Metrics holds the Prometheus metrics of one [informer.Informer]: the
// counters and histograms its [Metrics.Hooks] feed, and the gauges read
// from the Informer given to [Metrics.Observe]. Make one with [New]. Its
// methods are safe for concurrent use.
type Metrics struct {
	objectsReceived  *prometheus.CounterVec
	handlerCalls     *prometheus.CounterVec
	handlerPanics    *prometheus.CounterVec
	handlerDuration  *prometheus.HistogramVec
	watchOpens       *prometheus.CounterVec
	reconciles       *prometheus.CounterVec
	reconcileTime    *prometheus.HistogramVec
	reconcileRetries *prometheus.CounterVec
	reconcileDropped *prometheus.CounterVec
	queue            *queueMetrics
	status           *statusCollector
}

// Bucket bounds, in seconds. Handlers are meant to be fast (10µs to 2.6s);
// reconciles call the API server (1ms to 65s); the workqueue buckets are
// those of Kubernetes and controller-runtime (10ns to 1000s).
var (
	handlerBuckets   = prometheus.ExponentialBuckets(1e-5, 4, 10)
	reconcileBuckets = prometheus.ExponentialBuckets(1e-3, 4, 9)
	queueBuckets     = prometheus.ExponentialBuckets(1e-8, 10, 12)
)

// New creates the metrics listed in the package documentation and registers
// them on reg; pass prometheus.DefaultRegisterer to use the global registry.
// It returns an error, registering nothing, when reg refuses one of them,
// for example because a [Metrics] is already registered there (the error
// then wraps a prometheus.AlreadyRegisteredError). For several Informers in
// one program, give each its own Metrics on a registerer that adds a label
// telling them apart: prometheus.WrapRegistererWith(prometheus.Labels{"informer": "tenants"}, reg).
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: New: nil registerer")
	}
	m := &Metrics{
		objectsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_objects_received_total",
			Help: "Objects received from the API server, list items and watch events alike.",
		}, []string{"resource"}),
		handlerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_handler_calls_total",
			Help: "Callbacks of a registration, by event (add, update, delete).",
		}, []string{"resource", "handler", "event"}),
		handlerPanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_handler_panics_total",
			Help: "Callbacks of a registration that panicked.",
		}, []string{"resource", "handler"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "informer_handler_duration_seconds",
			Help:    "How long the callbacks of a registration took, by event.",
			Buckets: handlerBuckets,
		}, []string{"resource", "handler", "event"}),
		watchOpens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_watch_opens_total",
			Help: "Watches opened: the first one, then every restart.",
		}, []string{"resource"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_reconcile_total",
			Help: "Calls of a reconcile function, by result (success, requeue, error, panic).",
		}, []string{"reconciler", "result"}),
		reconcileTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "informer_reconcile_duration_seconds",
			Help:    "How long the calls of a reconcile function took.",
			Buckets: reconcileBuckets,
		}, []string{"reconciler"}),
		reconcileRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_reconcile_retries_total",
			Help: "Keys put back with backoff after a failed reconcile.",
		}, []string{"reconciler"}),
		reconcileDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "informer_reconcile_dropped_keys_total",
			Help: "Keys given up after the last retry (informer.MaxRetries).",
		}, []string{"reconciler"}),
		queue:  newQueueMetrics(),
		status: newStatusCollector(),
	}
	collectors := []prometheus.Collector{
		m.objectsReceived, m.handlerCalls, m.handlerPanics, m.handlerDuration, m.watchOpens,
		m.reconciles, m.reconcileTime, m.reconcileRetries, m.reconcileDropped,
	}
	collectors = append(collectors, m.queue.collectors()...)
	collectors = append(collectors, m.status)
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Hooks returns the hooks that feed the counters and histograms, for
// [informer.Builder.WithHooks]. Each call returns hooks feeding the same
// metrics.
func (m *Metrics) Hooks() informer.Hooks {
	return informer.Hooks{
		ObjectReceived: func(resource string) {
			m.objectsReceived.WithLabelValues(resource).Inc()
		},
		HandlerDone: func(resource, handler, event string, took time.Duration, panicked bool) {
			m.handlerCalls.WithLabelValues(resource, handler, event).Inc()
			m.handlerDuration.WithLabelValues(resource, handler, event).Observe(took.Seconds())
			if panicked {
				m.handlerPanics.WithLabelValues(resource, handler).Inc()
			}
		},
		WatchOpened: func(resource string) {
			m.watchOpens.WithLabelValues(resource).Inc()
		},
		ReconcileDone: func(reconciler, result string, took time.Duration) {
			m.reconciles.WithLabelValues(reconciler, result).Inc()
			m.reconcileTime.WithLabelValues(reconciler).Observe(took.Seconds())
		},
		KeyRetried: func(reconciler string) {
			m.reconcileRetries.WithLabelValues(reconciler).Inc()
		},
		KeyDropped: func(reconciler string) {
			m.reconcileDropped.WithLabelValues(reconciler).Inc()
		},
		QueueMetrics: m.queue,
	}
}

// Observe makes the gauges report inf: from then on each scrape reads
// [informer.Informer.Status]. One Informer is observed at a time: a later
// call replaces the earlier one (the last one wins), and Observe(nil) stops
// reporting the gauges. Observe it before or after Start; before Start the
// gauges report the informers as not synced and not watching.
func (m *Metrics) Observe(inf *informer.Informer) {
	m.status.observed.Store(inf)
}
