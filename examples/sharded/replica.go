package main

import (
	"context"
	"errors"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/informer-go/informer"
)

// shardGroup is the name of the demo's shard group (its Leases are named
// after it, in the pods' namespace).
const shardGroup = "pod-counter"

// Lease timings of the replicas: short, so that a killed replica's ranges
// are taken over within seconds (client-go's defaults are 15 s / 10 s / 2 s).
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

// statusEvery is how often a replica writes its Status().Sharding.
const statusEvery = time.Second

// replicaOptions are the inputs of one replica.
type replicaOptions struct {
	kubeconfig string
	namespace  string
	identity   string
	// work is how long each callback takes (a sleep), so that two
	// replicas handling one object at once would show as overlapping
	// intervals.
	work time.Duration
}

// runReplica is one member of the shard group: it handles the pods of the
// ranges it owns, writing one record per callback to log, and its sharding
// status every second, until ctx ends. It returns Run's error: nil after a
// clean stop, which hands the replica's ranges to the others.
func runReplica(ctx context.Context, opts replicaOptions, log *eventLog) error {
	b := informer.NewBuilder().
		WithKubeconfig(opts.kubeconfig, "").
		WithNamespace(opts.namespace).
		WithSharding(opts.namespace, shardGroup, informer.ShardLease(
			informer.LeaseIdentity(opts.identity),
			informer.LeaseTimings(leaseDuration, renewDeadline, retryPeriod)))
	handle := func(ctx context.Context, event string, p *corev1.Pod) {
		start := time.Now()
		if opts.work > 0 {
			time.Sleep(opts.work)
		}
		log.write(record{
			Replica: opts.identity, Event: event,
			Object: p.Namespace + "/" + p.Name, UID: string(p.UID), ResourceVersion: p.ResourceVersion,
			Start: start.UnixNano(), End: time.Now().UnixNano(),
			Initial: informer.IsInitialList(ctx),
		})
	}
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd:    func(ctx context.Context, p *corev1.Pod) { handle(ctx, kindAdd, p) },
		OnUpdate: func(ctx context.Context, _, p *corev1.Pod) { handle(ctx, kindUpdate, p) },
		OnDelete: func(ctx context.Context, p *corev1.Pod) { handle(ctx, kindDelete, p) },
	}, informer.Sharded(informer.ShardByUID))
	inf, err := b.Build()
	if err != nil {
		return err
	}
	log.write(record{Replica: opts.identity, Event: kindStarted, Time: time.Now().UnixNano()})

	// The status reports stop when ctx ends, so that the last one shows
	// the replica at work, not handing its ranges back.
	reportsDone := make(chan struct{})
	go func() {
		defer close(reportsDone)
		tick := time.NewTicker(statusEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				log.write(statusRecord(opts.identity, inf.Status()))
			}
		}
	}()
	runErr := inf.Run(ctx)
	<-reportsDone
	stopped := record{Replica: opts.identity, Event: kindStopped, Time: time.Now().UnixNano()}
	if runErr != nil {
		stopped.Error = runErr.Error()
	}
	log.write(stopped)
	return errors.Join(runErr, log.failed())
}

// statusRecord makes a status record of st: the owned and warming ranges,
// whether the server filters pods by range, and the pods cached by all of
// the replica's informers.
func statusRecord(identity string, st informer.Status) record {
	r := record{Replica: identity, Event: kindStatus, Time: time.Now().UnixNano()}
	if sh := st.Sharding; sh != nil {
		r.Ranges, r.Owned, r.Warming = sh.Ranges, sh.Owned, sh.Warming
		if serverSide, ok := sh.ServerSide["pods"]; ok {
			r.ServerSide = &serverSide
		}
	}
	for _, is := range st.Informers {
		r.Cached += is.CachedObjects
	}
	r.HeapBytes = liveHeap()
	return r
}

// liveHeap returns the bytes of live heap objects right after a garbage
// collection: the replica's memory for what it holds. (A collection a
// second costs a few milliseconds at this size.)
func liveHeap() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}
