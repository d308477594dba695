// Package metrics exports the metrics of an [informer.Informer] to
// Prometheus. It is a module of its own, github.com/informer-go/informer/metrics,
// so that programs that do not use Prometheus do not depend on it.
//
// [New] registers the metrics on a registerer; [Metrics.Hooks] feeds the
// counters and histograms as the Informer works, through
// [informer.Builder.WithHooks]; [Metrics.Observe] makes the gauges report
// an Informer's [informer.Informer.Status], read at each scrape:
//
//	m, err := metrics.New(reg)
//	b := informer.NewBuilder().WithHooks(m.Hooks())
//	// ... informer.Watch(b, ...), informer.Reconcile(b, ...)
//	inf, err := b.Build()
//	m.Observe(inf)
//
// One [Metrics] serves one Informer. Observe replaces the Informer an
// earlier call gave, so the gauges never have two series for one resource;
// a second New on the same registerer returns an error. For several
// Informers in one program, give each its own Metrics on a registerer that
// adds a label telling them apart (prometheus.WrapRegistererWith).
//
// # Metrics
//
// Labels hold names chosen by the program, never object names: resource is
// the informer's resource as in [informer.InformerStatus] ("pods"),
// handler a registration's name ([informer.WithName], else "pods#1"),
// reconciler and name a reconcile loop's name, lease the Lease's
// namespace/name and identity this replica's identity in it
// ([informer.LeadershipStatus]).
//
//	name                                                   type       labels                    meaning
//	informer_objects_received_total                        counter    resource                  objects received from the API server, list items and watch events alike
//	informer_watch_opens_total                             counter    resource                  watches opened: the first one, then every restart
//	informer_handler_calls_total                           counter    resource, handler, event  callbacks called; event is add, update or delete
//	informer_handler_panics_total                          counter    resource, handler         callbacks that panicked
//	informer_handler_duration_seconds                      histogram  resource, handler, event  how long callbacks took
//	informer_reconcile_total                               counter    reconciler, result        reconcile calls; result is success, requeue, error or panic
//	informer_reconcile_duration_seconds                    histogram  reconciler                how long reconcile calls took
//	informer_reconcile_retries_total                       counter    reconciler                keys put back with backoff after an error or a panic
//	informer_reconcile_dropped_keys_total                  counter    reconciler                keys given up after informer.MaxRetries
//	informer_workqueue_depth                               gauge      name                      keys waiting in the loop's workqueue
//	informer_workqueue_adds_total                          counter    name                      keys added to the workqueue
//	informer_workqueue_queue_duration_seconds              histogram  name                      how long a key waited before a worker took it
//	informer_workqueue_work_duration_seconds               histogram  name                      how long a worker took with a key
//	informer_workqueue_unfinished_work_seconds             gauge      name                      seconds of work in progress; growing means a stuck worker
//	informer_workqueue_longest_running_processor_seconds   gauge      name                      how long the longest running worker has been at its key
//	informer_workqueue_retries_total                       counter    name                      keys put back with rate limiting
//	informer_cached_objects                                gauge      resource                  objects in the cache
//	informer_synced                                        gauge      resource                  1 once the cache synced and every handler saw the initial list, else 0
//	informer_watching                                      gauge      resource                  1 while a watch is open (the cache follows the server), else 0
//	informer_stale_seconds                                 gauge      resource                  while stale (informer.Builder.WithStalenessBound), seconds since the last watch ended; else 0
//	informer_last_error                                    gauge      resource, reason          1 for the reason of the last list/watch error; no series before the first error
//	informer_last_error_timestamp_seconds                  gauge      resource                  Unix time of the last list/watch error; no series before the first error
//	informer_leader_election_leading                       gauge      lease, identity           1 while this replica leads, else 0; only with informer.Builder.WithLeaderElection
//	informer_shard_ranges_owned                            gauge      group, identity           hash ranges whose handlers run here; only with informer.Builder.WithSharding
//	informer_shard_members                                 gauge      group                     live members of the group as this replica sees them
//	informer_shard_server_side                             gauge      group, resource           1 when the API server filters by range, 0 when this replica filters
//
// The reason label is forbidden, unauthorized, not_found, unreachable,
// untrusted ([informer.ErrForbidden], [informer.ErrUnauthorized],
// [informer.ErrResourceNotFound], [informer.ErrUnreachable],
// [informer.ErrUntrustedServer]) or other. The last error stays after the
// informer recovered, as in [informer.InformerStatus]: compare its
// timestamp with informer_synced and informer_watching.
//
// The workqueue metrics are client-go's (see
// k8s.io/client-go/util/workqueue.MetricsProvider), named as Kubernetes and
// controller-runtime name theirs, under the informer_ prefix.
//
// The last seven gauges are read from [informer.Informer.Status] when
// Prometheus scrapes, by a collector: no goroutine runs between scrapes,
// and a scrape lists the cache keys of each informer to count them.
package metrics
