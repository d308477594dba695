package shard

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/sharding"
)

// Selector returns the selector that matches the objects whose key hashes
// into any of the given ranges of n. Ranges may come in any order and
// repeat; adjacent ones are merged into one shardRange() term, so the
// selector of ranges 0, 1, 2 and 5 of 8 has two terms. Its String() is what
// ListOptions.ShardSelector takes and what [Validate] accepts.
//
// Selector panics if key is not [ByUID] or [ByNamespace], if n or a range is
// out of bounds, or if no range is given: sharding.NewSelector() with no
// requirement matches everything, never what a member that owns nothing
// wants, so such a member must not list at all.
func Selector(key Key, n int, ranges ...int) sharding.Selector {
	if !key.valid() {
		panic(fmt.Sprintf("shard: unsupported key %q", string(key)))
	}
	checkCount(n)
	if len(ranges) == 0 {
		panic("shard: Selector needs at least one range; a member that owns none must not list")
	}
	sorted := slices.Clone(ranges)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, i := range sorted {
		checkRange(i, n)
	}
	var reqs []sharding.ShardRangeRequirement
	for first := 0; first < len(sorted); {
		last := first
		for last+1 < len(sorted) && sorted[last+1] == sorted[last]+1 {
			last++
		}
		reqs = append(reqs, sharding.ShardRangeRequirement{
			Key:   string(key),
			Start: hexBound(sorted[first], n),
			End:   hexBound(sorted[last]+1, n),
		})
		first = last + 1
	}
	return sharding.NewSelector(reqs...)
}
