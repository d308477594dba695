package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/metrics"
)

// exampleMetrics are the library's metrics and the Go runtime's, on a
// registry of the controller's own (not Prometheus' global one).
type exampleMetrics struct {
	registry *prometheus.Registry
	informer *metrics.Metrics
}

func newMetrics() (*exampleMetrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	return &exampleMetrics{registry: reg, informer: m}, nil
}

func (e *exampleMetrics) hooks() informer.Hooks          { return e.informer.Hooks() }
func (e *exampleMetrics) observe(inf *informer.Informer) { e.informer.Observe(inf) }
func (e *exampleMetrics) handler() http.Handler {
	return promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{})
}
