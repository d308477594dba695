package shard

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
)

// Assign returns the owner of each of the n ranges: owners[i] is the
// identity of the member that owns range i. Every member of a group calls it
// with the same live members and the same current owners and gets the same
// answer, whatever the order of members (which may repeat). current[i] is the
// present owner of range i or "" when it is free; an owner that is not among
// members counts as free, and current may be shorter than n (missing ranges
// are free). With no member every range is "".
//
// The rules, in order:
//
//  1. Capacities: with k distinct members, each may own floor(n/k) ranges,
//     and the first n mod k members in sorted identity order one more, so
//     that the capacities add up to n and differ by at most one.
//  2. A member keeps its current ranges up to its capacity; when it holds
//     more, it keeps those with the highest rendezvous score of (member,
//     range) and sheds the others.
//  3. The shed and free ranges go, in ascending range order, each to the
//     member with room left that has the highest score for it.
//
// What follows, and what the tests check: every range has one owner and
// every member exactly its capacity; Assign(members, n, Assign(members, n,
// c)) is Assign(members, n, c) (a fixed point); applying any subset of the
// moves from c to that target and assigning again gives the same target, so
// a handover in progress converges rather than changing its mind; from an
// assigned state, a member leaving moves only its own ranges, and a member
// joining moves only the ranges it receives (its capacity, at most
// ceil(n/(k+1))), because the sorted-order rule of 1 never lowers an
// existing member's capacity on a leave nor raises one on a join.
//
// Assign panics unless 1 <= n <= [MaxRanges], or if current has more than n
// entries.
func Assign(members []string, n int, current []string) []string {
	checkCount(n)
	if len(current) > n {
		panic(fmt.Sprintf("shard: %d current owners for %d ranges", len(current), n))
	}
	owners := make([]string, n)
	live := slices.Clone(members)
	slices.Sort(live)
	live = slices.Compact(live)
	if len(live) > 0 && live[0] == "" {
		live = live[1:] // "" means free, never a member
	}
	if len(live) == 0 {
		return owners
	}

	// Rule 1: capacities, in the order of live.
	capacity := make([]int, len(live))
	index := make(map[string]int, len(live))
	for j, m := range live {
		index[m] = j
		capacity[j] = n / len(live)
		if j < n%len(live) {
			capacity[j]++
		}
	}

	// Rule 2: each member keeps its best-scored current ranges.
	held := make([][]int, len(live))
	for i, owner := range current {
		if j, ok := index[owner]; ok {
			held[j] = append(held[j], i)
		}
	}
	load := make([]int, len(live))
	for j, ranges := range held {
		m := live[j]
		slices.SortFunc(ranges, func(a, b int) int { return compareScore(m, a, m, b) })
		kept := ranges[:min(len(ranges), capacity[j])]
		for _, i := range kept {
			owners[i] = m
		}
		load[j] = len(kept)
	}

	// Rule 3: the rest, in ascending order, to the best member with room.
	// live is sorted, so keeping the first of equal scores breaks ties by
	// identity, as compareScore does.
	for i := range owners {
		if owners[i] != "" {
			continue
		}
		best, bestScore := -1, uint64(0)
		for j, m := range live {
			if load[j] == capacity[j] {
				continue
			}
			if s := score(m, i); best < 0 || s > bestScore {
				best, bestScore = j, s
			}
		}
		owners[i] = live[best]
		load[best]++
	}
	return owners
}

// compareScore orders (member, range) pairs by descending score, ties broken
// by identity then range so that the order is total.
func compareScore(m1 string, i1 int, m2 string, i2 int) int {
	s1, s2 := score(m1, i1), score(m2, i2)
	switch {
	case s1 > s2:
		return -1
	case s1 < s2:
		return 1
	case m1 != m2:
		if m1 < m2 {
			return -1
		}
		return 1
	default:
		return i1 - i2
	}
}

// score is the rendezvous (highest random weight) score of member for range
// i: FNV-1a 64 of the identity, a zero byte and the index, then a 64-bit
// finalizer (MurmurHash3's fmix64), since FNV alone barely mixes a change in
// the last bytes into the high bits that decide comparisons.
func score(member string, i int) uint64 {
	const prime = 1099511628211
	x := uint64(14695981039346656037) // FNV-1a 64 offset basis
	for j := 0; j < len(member); j++ {
		x = (x ^ uint64(member[j])) * prime
	}
	x *= prime // the zero byte: x ^ 0 == x
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(i))
	for _, c := range buf {
		x = (x ^ uint64(c)) * prime
	}
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Epoch returns a short, stable name of a member set: eight hex digits
// digesting the sorted, distinct identities, the same for every member that
// sees the same set and whatever the order. It is for logs and status, to
// tell at a glance whether two members computed their owners from the same
// view; two sets may share an epoch (one chance in 2^32).
func Epoch(members []string) string {
	live := slices.Clone(members)
	slices.Sort(live)
	live = slices.Compact(live)
	h := fnv.New64a()
	for _, m := range live {
		if m == "" {
			continue
		}
		_, _ = h.Write([]byte(m))
		_, _ = h.Write([]byte{0})
	}
	sum := h.Sum64()
	return fmt.Sprintf("%08x", uint32(sum>>32)^uint32(sum))
}
