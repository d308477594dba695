package informer

import (
	"context"
	"encoding/json"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Ownership: the owners Lease, changed only by compare-and-swap, and the
// two moves of a range: handing it over and claiming it (see shard_group.go).

// handOver gives range rng to next: once no callback of the range runs
// here, next is written as its owner.
func (g *shardGroup) handOver(ctx context.Context, rng int, next string) {
	if err := g.deactivate(ctx, rng); err != nil {
		klog.FromContext(ctx).Error(err, "Range not handed over: handlers still running", "group", g.name(), "range", rng)
		return
	}
	me := g.identity()
	if err := g.updateOwners(ctx, func(owners []string) bool {
		if owners[rng] != me {
			return false
		}
		owners[rng] = next
		return true
	}); err != nil {
		// Still written as owner here: take it back up at the next pass.
		g.recordErr(g.leaseErr(err))
		klog.FromContext(ctx).Info("Could not hand a range over; retrying", "group", g.name(), "range", rng, "err", err)
		return
	}
	klog.FromContext(ctx).V(2).Info("Range handed over", "group", g.name(), "range", rng, "to", next)
	g.dropSources(rng)
}

// claim writes this replica as the owner of range rng, if its owner is
// still prev (free, or a member whose Lease expired). A member judged dead
// here is read once more from the server first: its Lease must not have
// been renewed since.
func (g *shardGroup) claim(ctx context.Context, rng int, prev string) bool {
	if prev != "" && !g.confirmedDead(ctx, prev) {
		return false
	}
	me := g.identity()
	err := g.updateOwners(ctx, func(owners []string) bool {
		if owners[rng] != prev {
			return false
		}
		owners[rng] = me
		return true
	})
	if err != nil {
		g.recordErr(g.leaseErr(err))
		klog.FromContext(ctx).Info("Could not claim a range; retrying", "group", g.name(), "range", rng, "err", err)
		return false
	}
	g.mu.Lock()
	claimed := g.owners[rng] == me
	g.mu.Unlock()
	if claimed {
		klog.FromContext(ctx).V(2).Info("Range claimed", "group", g.name(), "range", rng, "from", prev)
	}
	return claimed
}

// updateOwners applies change to the owners read fresh from the server and
// writes them with the read resourceVersion: a concurrent change makes it
// read and try again. change returns false to write nothing.
func (g *shardGroup) updateOwners(ctx context.Context, change func(owners []string) bool) error {
	name := g.config.group
	for range 5 {
		lease, err := g.leases.Get(ctx, name, metav1.GetOptions{})
		exists := err == nil
		if apierrors.IsNotFound(err) {
			lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
				Name:   name,
				Labels: map[string]string{shardGroupLabel: g.config.group, shardRoleLabel: shardRoleOwners},
			}}
		} else if err != nil {
			return err
		}
		owners, err := decodeOwners(lease, g.config.ranges)
		if err != nil {
			return err
		}
		if !change(owners) {
			g.setOwners(owners)
			return nil
		}
		encoded, err := json.Marshal(owners)
		if err != nil {
			return err
		}
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[shardOwnersAnnotation] = string(encoded)
		if exists {
			_, err = g.leases.Update(ctx, lease, metav1.UpdateOptions{})
		} else {
			_, err = g.leases.Create(ctx, lease, metav1.CreateOptions{})
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return err
		}
		g.setOwners(owners)
		return nil
	}
	return fmt.Errorf("informer: group %s: the owners Lease kept changing", g.name())
}

func (g *shardGroup) setOwners(owners []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.owners = owners
}

// decodeOwners reads the owners annotation of the owners Lease: n owners,
// "" for free ranges, all free when the annotation is missing (a new
// group). An annotation for another number of ranges is an error: the
// members must all use the same ShardRanges.
func decodeOwners(lease *coordinationv1.Lease, n int) ([]string, error) {
	owners := make([]string, n)
	encoded, ok := lease.Annotations[shardOwnersAnnotation]
	if !ok {
		return owners, nil
	}
	var decoded []string
	if err := json.Unmarshal([]byte(encoded), &decoded); err != nil {
		return owners, fmt.Errorf("informer: shard owners Lease %s: %w", lease.Name, err)
	}
	if len(decoded) != n {
		return owners, fmt.Errorf("informer: shard owners Lease %s has %d ranges, this replica %d: every member must use the same ShardRanges",
			lease.Name, len(decoded), n)
	}
	copy(owners, decoded)
	return owners, nil
}
