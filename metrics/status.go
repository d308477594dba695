package metrics

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/informer-go/informer"
)

// statusCollector reports the gauges of the observed Informer, read from
// [informer.Informer.Status] at scrape time: no goroutine keeps them up to
// date, and a scrape never sees a value older than itself.
type statusCollector struct {
	observed atomic.Pointer[informer.Informer]

	cachedObjects      *prometheus.Desc
	synced             *prometheus.Desc
	watching           *prometheus.Desc
	staleSeconds       *prometheus.Desc
	lastError          *prometheus.Desc
	lastErrorTimestamp *prometheus.Desc
	leading            *prometheus.Desc
	rangesOwned        *prometheus.Desc
	shardMembers       *prometheus.Desc
	shardServerSide    *prometheus.Desc
	now                func() time.Time // time.Now; a test sets a fixed time
}

func newStatusCollector() *statusCollector {
	resource := []string{"resource"}
	return &statusCollector{
		cachedObjects: prometheus.NewDesc("informer_cached_objects",
			"Objects in the informer's cache.", resource, nil),
		synced: prometheus.NewDesc("informer_synced",
			"1 when the cache has synced and every handler has seen the initial list, else 0.", resource, nil),
		watching: prometheus.NewDesc("informer_watching",
			"1 while a watch is open (the cache follows the server), else 0.", resource, nil),
		staleSeconds: prometheus.NewDesc("informer_stale_seconds",
			"While the cache is stale (see informer.Builder.WithStalenessBound), seconds since the last watch ended; else 0.", resource, nil),
		lastError: prometheus.NewDesc("informer_last_error",
			"1 for the reason of the last list/watch error (forbidden, unauthorized, not_found, unreachable, untrusted, other); no series before the first error.",
			[]string{"resource", "reason"}, nil),
		lastErrorTimestamp: prometheus.NewDesc("informer_last_error_timestamp_seconds",
			"Unix time of the last list/watch error; no series before the first error.", resource, nil),
		leading: prometheus.NewDesc("informer_leader_election_leading",
			"1 while this replica leads (runs handlers and reconcile loops), else 0; only with informer.Builder.WithLeaderElection.",
			[]string{"lease", "identity"}, nil),
		rangesOwned: prometheus.NewDesc("informer_shard_ranges_owned",
			"Hash ranges whose handlers run on this replica; only with informer.Builder.WithSharding.",
			[]string{"group", "identity"}, nil),
		shardMembers: prometheus.NewDesc("informer_shard_members",
			"Live members of the shard group as this replica sees them; only with informer.Builder.WithSharding.",
			[]string{"group"}, nil),
		shardServerSide: prometheus.NewDesc("informer_shard_server_side",
			"1 when the API server filters the sharded resource by range, 0 when this replica filters on arrival; only with informer.Builder.WithSharding.",
			[]string{"group", "resource"}, nil),
		now: time.Now,
	}
}

// Describe implements [prometheus.Collector].
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cachedObjects, c.synced, c.watching, c.staleSeconds, c.lastError, c.lastErrorTimestamp, c.leading,
		c.rangesOwned, c.shardMembers, c.shardServerSide} {
		ch <- d
	}
}

// Collect implements [prometheus.Collector].
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	inf := c.observed.Load()
	if inf == nil {
		return
	}
	now := c.now()
	status := inf.Status()
	if l := status.Leadership; l != nil {
		ch <- prometheus.MustNewConstMetric(c.leading, prometheus.GaugeValue, boolValue(l.Leading), l.Lease, l.Identity)
	}
	if sh := status.Sharding; sh != nil {
		ch <- prometheus.MustNewConstMetric(c.rangesOwned, prometheus.GaugeValue, float64(len(sh.Owned)), sh.Group, sh.Identity)
		ch <- prometheus.MustNewConstMetric(c.shardMembers, prometheus.GaugeValue, float64(len(sh.Members)), sh.Group)
		for resource, serverSide := range sh.ServerSide {
			ch <- prometheus.MustNewConstMetric(c.shardServerSide, prometheus.GaugeValue, boolValue(serverSide), sh.Group, resource)
		}
	}
	seen := map[string]bool{}
	for _, st := range status.Informers {
		if seen[st.Resource] { // never a duplicate series, which would fail the whole scrape
			continue
		}
		seen[st.Resource] = true
		gauge := func(desc *prometheus.Desc, value float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, append([]string{st.Resource}, labels...)...)
		}
		gauge(c.cachedObjects, float64(st.CachedObjects))
		gauge(c.synced, boolValue(st.Synced))
		gauge(c.watching, boolValue(st.Watching))
		stale := 0.0
		if st.Stale {
			stale = max(now.Sub(st.NoWatchSince).Seconds(), 0)
		}
		gauge(c.staleSeconds, stale)
		if st.LastError != nil {
			gauge(c.lastError, 1, reason(st.LastError))
			gauge(c.lastErrorTimestamp, float64(st.LastErrorTime.UnixNano())/1e9)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reasons maps the classification sentinels to the values of the reason
// label, in the order they are tried.
var reasons = []struct {
	sentinel error
	label    string
}{
	{informer.ErrForbidden, "forbidden"},
	{informer.ErrUnauthorized, "unauthorized"},
	{informer.ErrResourceNotFound, "not_found"},
	{informer.ErrUnreachable, "unreachable"},
	{informer.ErrUntrustedServer, "untrusted"},
}

// reason returns the reason label of a list/watch error.
func reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.sentinel) {
			return r.label
		}
	}
	return "other"
}
