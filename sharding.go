package informer

import (
	"errors"
	"fmt"
	"time"

	"github.com/informer-go/informer/internal/shard"
)

// DefaultShardRanges is the number of ranges [Builder.WithSharding] splits
// the hash space into when ShardRanges is not given: with up to ten
// replicas, each owns three or four, and a join or leave moves a few.
const DefaultShardRanges = 32

// ErrMembershipLost is wrapped by the error [Informer.Run] returns, and by
// [Informer.Healthy], once a sharded replica could not renew its Lease
// within the renew deadline (see [Builder.WithSharding]): others may own
// its ranges by now.
var ErrMembershipLost = errors.New("informer: shard group membership lost")

// ShardKey says which field of an object decides its shard: see
// [ShardByUID] and [ShardByNamespace].
type ShardKey string

const (
	// ShardByUID spreads objects evenly, whatever their namespace.
	ShardByUID ShardKey = ShardKey(shard.ByUID)
	// ShardByNamespace keeps every object of a namespace in one shard, so
	// one replica sees a namespace whole.
	ShardByNamespace ShardKey = ShardKey(shard.ByNamespace)
)

// Sharded marks a registration as sharded (see [Builder.WithSharding]):
// its objects are split by key across the live replicas of the group, and
// this replica caches and handles only the ranges it owns. A UID or a
// namespace never changes, so an object never moves between ranges; it
// moves between replicas only when its range does.
func Sharded(key ShardKey) WatchOption {
	return func(o *watchOptions) {
		if key != ShardByUID && key != ShardByNamespace {
			o.fail(fmt.Errorf("informer: Sharded: unknown key %q: use ShardByUID or ShardByNamespace", string(key)))
			return
		}
		o.shardKey = key
	}
}

// ShardingOption configures [Builder.WithSharding]: [ShardRanges], or a
// [LeaseOption] through [ShardLease].
type ShardingOption func(*shardingConfig)

// ShardRanges sets the number of ranges the 64-bit hash space is split
// into, between 1 and 1024; every replica of a group must use the same.
// More ranges balance better and move less at a time, but each owned range
// is a LIST and a WATCH of its own. The default is [DefaultShardRanges].
func ShardRanges(n int) ShardingOption {
	return func(c *shardingConfig) { c.ranges = n }
}

// ShardLease sets the identity and timings of the replica's membership
// Lease (see [LeaseIdentity] and [LeaseTimings]).
func ShardLease(opts ...LeaseOption) ShardingOption {
	return func(c *shardingConfig) { c.leaseOpts = append(c.leaseOpts, opts...) }
}

// shardingConfig is the configuration of WithSharding.
type shardingConfig struct {
	namespace, group string
	ranges           int
	leaseOpts        []LeaseOption
	lease            leaseConfig
}

// WithSharding makes this replica a member of the shard group named group,
// whose membership Leases live in namespace, and splits the objects of
// every [Sharded] registration across the group's live members.
//
// How it works, in short (SCALING.md has the whole protocol): each replica
// holds a Lease of its own and renews it; every replica computes alike
// which member should own each of the fixed hash ranges; a Lease named
// group records which member owns each range now, and changes to it are
// compare-and-swap updates. A range's new owner starts its informer for
// the range (a LIST and WATCH with a shardSelector, so the API server sends
// only that range when its ShardedListAndWatch gate is on) and warms its
// cache, but calls no handler for the range until the previous owner has
// stopped its handlers for it, waited for running callbacks, and handed the
// range over, or until the previous owner's Lease has expired. So no two
// live replicas run handlers for one object at the same time.
//
// Ranges arrive after Start, as the group settles: [Informer.WaitForSync]
// waits for the range informers that exist when it is called, not for
// ranges to come; [Status].Sharding shows what this replica owns.
//
// When a range arrives, the handlers receive its cached objects as adds
// with [IsInitialList] true, then its events. When a range leaves, its
// handlers stop and its cache is dropped without deletes. Events of a
// range are delivered to the handlers of only the replica that owns it;
// callbacks of one registration still run one at a time.
//
// A replica whose last successful renewal is older than the renew
// deadline starts no callback any more, even if a later renewal succeeds
// (others may have taken its ranges meanwhile); it stops, and
// [Informer.Run] returns an error wrapping [ErrMembershipLost]. A replica that stops cleanly hands its
// ranges back before it returns.
//
// The identity needs get, list, watch, create, update and delete on leases
// in namespace. Handlers of the same registration never see an object of
// a range this replica does not own, even when the server ignores the
// shardSelector (the gate is off): each object is checked on arrival.
// [Reconcile] loops with Sharded reconcile the keys of owned ranges only,
// and a range is handed over once no reconcile of it runs here.
// WithSharding needs a typed client, and excludes WithLeaderElection.
func (b *Builder) WithSharding(namespace, group string, opts ...ShardingOption) *Builder {
	return b.update("WithSharding", func() error {
		if err := validLeaseName("WithSharding", namespace, group); err != nil {
			return err
		}
		config := &shardingConfig{namespace: namespace, group: group, ranges: DefaultShardRanges}
		for _, opt := range opts {
			if opt != nil {
				opt(config)
			}
		}
		if config.ranges < 1 || config.ranges > shard.MaxRanges {
			return fmt.Errorf("informer: WithSharding: %d ranges: want 1 to %d", config.ranges, shard.MaxRanges)
		}
		lease, err := newLeaseConfig("WithSharding", config.leaseOpts)
		if err != nil {
			return err
		}
		config.lease = lease
		b.settings.sharding = config
		return nil
	})
}

// ShardingStatus is the state of this replica in its shard group (see
// [Builder.WithSharding]).
type ShardingStatus struct {
	// Group is the group's namespace/name, Identity this replica's.
	Group, Identity string
	// Ranges is the number of hash ranges; Owned lists those whose
	// handlers run here, Warming those whose caches are filling before
	// they are handed over.
	Ranges         int
	Owned, Warming []int
	// Members lists the live members this replica sees, sorted; Epoch is a
	// digest of that list, equal on every replica that sees the same.
	Members []string
	Epoch   string
	// ServerSide maps each sharded resource to whether the API server
	// filters it by range (a LIST echoed the shardSelector); false means
	// each range's informer receives every object and filters on the
	// client.
	ServerSide map[string]bool
	// Lost is set, wrapping [ErrMembershipLost], once the replica could
	// not renew its Lease in time.
	Lost error
	// LastError is the last error reading or writing the group's Leases or
	// probing the server (classified: an identity without rights on leases
	// gets [ErrForbidden] and the rights it needs), and LastErrorTime when
	// it was seen; it stays after the group recovered.
	LastError     error
	LastErrorTime time.Time
}
