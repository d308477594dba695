// Package informer watches Kubernetes objects with shared informers, correct
// by default.
//
// A program that must react to changes in pods, deployments or custom
// resources should not poll the API server. An informer lists once, then
// watches, keeps a local cache, and calls handlers only when something
// changed. client-go has all the parts; this package wires them once:
//
//	config -> clients -> factories -> informers -> handlers -> start -> synced -> events -> stop
//
// # The model
//
// A [Builder] resolves the cluster config in controller-runtime's order (see
// [LoadConfig]), or takes injected clients for tests. [Watch] registers typed
// callbacks ([Funcs]) for a built-in type such as *corev1.Pod,
// [WatchResource] for any resource through the dynamic client, and
// [WatchMetadata] for metadata only. Registrations of one resource through
// one kind of cache (typed, unstructured or metadata) and one scope (the
// builder's, or their own with [InScope]) share one informer and one
// cache: one LIST and one WATCH. The same resource watched as typed and as
// metadata is two informers, two caches, two LISTs and two WATCHes.
// [Builder.Build] reports every configuration error at once and returns an
// [Informer].
//
// # Lifecycle
//
// [Informer.Start] starts the informers and does not block.
// [Informer.WaitForSync] waits, without polling, until every cache has synced
// and every handler has seen the initial list, bounded by
// [Builder.WithSyncTimeout]; when it fails, its [*SyncError] says per
// informer why (forbidden, resource not found, unreachable, still listing).
// [Informer.Stop] cancels the context handed to handlers and waits for every
// goroutine, bounded by [Builder.WithStopTimeout]. [Informer.Run] does all
// of this and blocks until its context ends.
//
// # Diagnostics
//
// [Informer.Status] reports per informer whether it synced, the last
// resourceVersion, the last list/watch error (classified: [ErrForbidden],
// [ErrUnauthorized], [ErrResourceNotFound], [ErrUnreachable],
// [ErrUntrustedServer]) and the cache size, and per registration the
// callbacks delivered, panics and the backlog of events not yet handled.
// [Informer.ReadyzHandler] and [Informer.HealthzHandler] serve probes.
// [Optional] registrations do not hold back readiness; [Builder.WithFailFast]
// ends a sync that cannot succeed without waiting for the timeout.
// [Builder.WithHooks] reports events, callbacks, watch restarts and
// reconcile results as they happen, for metrics; the module
// github.com/informer-go/informer/metrics turns them into Prometheus
// metrics without adding Prometheus to this module.
//
// # Current or stale
//
// A synced cache follows the server only while its informer has a watch
// open. When the watch ends (the API server restarted, a permission was
// revoked, a CRD deleted, the network cut) the informer relists and
// watches again, usually within a second; until then the cache keeps the
// last state it knew. [InformerStatus] says whether a watch is open, since
// when the cache has been current, and since when it has had no watch. An
// informer that synced and then had no open watch for longer than
// [Builder.WithStalenessBound] (default [DefaultStalenessBound]) is stale:
// [Informer.Ready] fails with a [*StaleError] naming it, how long and the
// last error, a line is logged, and [Builder.WithStalenessHandler] is told;
// once a watch is open again, all three say so once. A quiet resource with
// an open watch is current however long nothing changes. Staleness is seen
// by the library's own ListWatch, so it covers every kind of informer and
// fake clients too; it cannot see a watch that stays open while the server
// stops sending events (a server that does so is not detected).
//
// # What handlers see
//
// Deletes arrive with client-go's DeletedFinalStateUnknown tombstones already
// unwrapped: OnDelete always gets a T, and [IsFinalStateUnknown] tells when
// its state may be stale. Updates where nothing changed (periodic resync,
// same resourceVersion) are skipped unless [DeliverNoOpUpdates] is given.
// [IsInitialList] tells adds of the initial list from later creations. By
// default managedFields and the last-applied annotation are stripped before
// objects are cached, for typed objects before they are even decoded (see
// [Builder.WithManagedFields]), and cached objects share the strings that
// repeat between them (see [Builder.WithStringSharing]).
//
// # Reconcile loops
//
// [Reconcile] (and [ReconcileResource], [ReconcileMetadata]) registers a
// level-triggered loop beside plain callbacks, on the same shared
// informer: events become keys in client-go's rate-limiting workqueue, and
// a [ReconcileFunc] is called per key, reading the object from the cache
// ([Request.Get]; a deleted object is not found, [Request.LastKnown] has its
// last state). Events for a queued key collapse into one call, a key is
// never processed by two workers at once, an error or a panic retries it
// with backoff ([RateLimiter], [MaxRetries]), and [Result] can ask for a
// call later. Workers start once the cache has synced; [Informer.Stop]
// stops taking keys and waits for running calls within the stop timeout.
//
// # Leader election
//
// [Builder.WithLeaderElection] makes the replicas of a program elect one
// leader on a coordination.k8s.io Lease, with client-go's leader election
// ([LeaseIdentity], [LeaseTimings]). Every replica syncs its caches, so
// that [Lister] reads work on all of them and a new leader starts warm;
// only the leader runs handlers and reconcile loops. A new leader's handlers get the whole
// cache as adds ([IsInitialList] true), then the events that follow. A
// leader starts no callback once its last renewal is older than the renew
// deadline, before another replica can take the Lease; a callback that is
// already running is not interrupted. A leader that loses the Lease stops,
// and [Informer.Run] returns an error wrapping [ErrLeadershipLost]; one
// that stops cleanly releases the Lease once its callbacks returned, so
// that another takes over within about a retry period.
// [Informer.Leading], [Informer.LeadingHandler] (a readiness probe that
// selects the leader) and [Status].Leadership ([LeadershipStatus]) show the
// state, including the last error reading or writing the Lease (an
// identity without get, create and update on leases never leads, and
// says so there).
//
// # Sharding
//
// [Builder.WithSharding] makes this replica a member of a shard group on
// coordination.k8s.io Leases, and [Sharded] registrations split their
// objects across the group's live members by a hash of the UID
// ([ShardByUID]) or the namespace ([ShardByNamespace]). A replica caches
// and handles only the hash ranges it owns; a range moves to a new owner
// only after the old one stopped its handlers for it and their callbacks
// returned, or after the old owner's Lease expired, so no two live
// replicas run callbacks for one object at once. With the API server's
// ShardedListAndWatch gate, each range is listed and watched with a
// shardSelector and the server sends only that range; without it, the
// replica filters on arrival ([ShardingStatus].ServerSide says which).
// Handlers receive an arriving range's objects as adds ([IsInitialList]
// true); a leaving range's cache is dropped without deletes. SCALING.md
// in the repository has the protocol, its guarantees and its limits.
// Sharded reconcile loops reconcile the keys of owned ranges only.
//
// # Predicates
//
// [WithPredicates] filters the events a registration delivers: built-in
// predicates such as [GenerationChanged], [LabelSelector] and
// [InNamespaces], which read only metadata and so work on every kind of
// registration, typed ones of your own ([AddFunc], [UpdateFunc],
// [DeleteFunc]), checked against the registration's type by
// [Builder.Build], and [And], [Or] and [Not] to combine them. Built-in
// predicates never drop a delete, nor an update that changed
// deletionTimestamp or finalizers, in any combination: a controller that
// puts finalizers on objects always sees their deletion start. The doc of
// [Predicate] has the table of what each one decides. A filtered event runs
// no callback but counts as handled in the backlog.
//
// [EnqueueOwners] and [EnqueueMapped] feed a loop from another resource:
// they return callbacks for an ordinary registration on it, so a Pod event
// can reconcile its ReplicaSet. [Registration.Remove] and
// [Reconciler.Remove] stop one registration without the others; the last
// one on an informer stops that informer and drops its cache.
//
// # Concurrency contract
//
// For one registration, callbacks run one at a time, in the order the
// informer saw the events; for one object, events are in order. Different
// registrations run concurrently and a slow one never delays another (each
// has its own unbounded queue). Objects passed to callbacks and returned by
// a [Lister] are shared with the cache: never modify them; DeepCopy first. A
// panic in a callback is recovered, logged and counted in
// [Registration.Stats], unless [Builder.WithCrashOnPanic] is set. Methods of
// [Builder], [Informer], [Registration] and [Lister] are safe for concurrent
// use.
package informer
