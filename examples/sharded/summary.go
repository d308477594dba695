package main

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/informer-go/informer"
)

// serverPod is a pod as the server's final LIST shows it.
type serverPod struct {
	key, uid, resourceVersion string
}

// summaryInput is what the summary is computed from: the event logs of
// every replica that ran (the killed one's too), the server's final LIST,
// and when the writer ran.
type summaryInput struct {
	// replicas lists the identities in the order they were started; logs
	// holds each one's records.
	replicas []string
	logs     map[string][]record
	server   []serverPod
	// writes holds, per pod uid, when the writer's updates of it returned,
	// in order: takeover gaps count from the first update no one handled.
	writes map[string][]time.Time
}

// summary holds the figures of the summary line and, for the figures that
// should be zero, examples of what made them not zero.
type summary struct {
	replicas, objects, handled, doubleHandled, unhandled int
	replicaIDs                                           []string
	maxTakeover                                          time.Duration
	takeover                                             string // the longest gap: range, replicas, times
	cachedPerReplica                                     []int  // -1: the replica reported no status
	serverSide                                           bool
	callbacksPerReplica                                  []int
	heapPerReplica                                       []uint64 // last live heap reported, 0 if none
	doubles, unhandledExamples                           []string
}

// line is the summary line, in the form the README documents.
func (s summary) line() string {
	cached := make([]string, len(s.cachedPerReplica))
	for i, n := range s.cachedPerReplica {
		cached[i] = strconv.Itoa(n)
		if n < 0 {
			cached[i] = "?"
		}
	}
	return fmt.Sprintf("shards summary: replicas=%d objects=%d handled=%d double_handled=%d unhandled=%d max_takeover_s=%.2f cached_per_replica=%s server_side=%t",
		s.replicas, s.objects, s.handled, s.doubleHandled, s.unhandled, s.maxTakeover.Seconds(), strings.Join(cached, "/"), s.serverSide)
}

// ok reports whether no object was handled twice and none left unhandled.
func (s summary) ok() bool { return s.doubleHandled == 0 && s.unhandled == 0 }

// maxExamples bounds the examples kept for each kind of finding.
const maxExamples = 10

// summarize computes the summary; README.md says how each figure is
// computed.
func summarize(in summaryInput) summary {
	s := summary{replicas: len(in.replicas), replicaIDs: in.replicas, objects: len(in.server)}
	ranges := informer.DefaultShardRanges
	byUID := map[string][]record{}
	var sawServerSide, allServerSide = false, true
	for _, id := range in.replicas {
		cached, callbacks, heap := -1, 0, uint64(0)
		for _, r := range in.logs[id] {
			switch {
			case r.isCallback():
				callbacks++
				byUID[r.UID] = append(byUID[r.UID], r)
			case r.Event == kindStatus:
				cached, heap = r.Cached, r.HeapBytes
				if r.Ranges > 0 {
					ranges = r.Ranges
				}
				if r.ServerSide != nil {
					sawServerSide = true
					allServerSide = allServerSide && *r.ServerSide
				}
			}
		}
		s.cachedPerReplica = append(s.cachedPerReplica, cached)
		s.callbacksPerReplica = append(s.callbacksPerReplica, callbacks)
		s.heapPerReplica = append(s.heapPerReplica, heap)
	}
	s.serverSide = sawServerSide && allServerSide

	for _, calls := range byUID {
		sort.SliceStable(calls, func(i, j int) bool { return calls[i].Start < calls[j].Start })
	}
	for _, pod := range in.server {
		calls := byUID[pod.uid]
		if len(calls) > 0 {
			s.handled++
		}
		if !handledAt(calls, pod.resourceVersion) {
			s.unhandled++
			if len(s.unhandledExamples) < maxExamples {
				s.unhandledExamples = append(s.unhandledExamples, fmt.Sprintf("%s (uid %s): server resourceVersion %s, last handled %s",
					pod.key, pod.uid, pod.resourceVersion, lastHandled(calls)))
			}
		}
	}
	// Every object of the logs, on the server or not, for double handling.
	uids := make([]string, 0, len(byUID))
	for uid := range byUID {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	for _, uid := range uids {
		if why := doubleHandling(byUID[uid]); why != "" {
			s.doubleHandled++
			if len(s.doubles) < maxExamples {
				s.doubles = append(s.doubles, why)
			}
		}
	}
	s.maxTakeover, s.takeover = longestTakeover(byUID, in.writes, ranges)
	return s
}

func handledAt(calls []record, resourceVersion string) bool {
	for _, c := range calls {
		if c.ResourceVersion == resourceVersion {
			return true
		}
	}
	return false
}

func lastHandled(calls []record) string {
	if len(calls) == 0 {
		return "never"
	}
	last := calls[0]
	for _, c := range calls {
		if c.End > last.End {
			last = c
		}
	}
	return fmt.Sprintf("at %s by %s", last.ResourceVersion, last.Replica)
}

// doubleHandling returns why one object's callbacks, sorted by start, show
// two replicas handling it at once, or "" when they do not:
//
//   - overlap: callbacks of two replicas whose [start, end] intervals
//     overlap;
//   - interleave: replica X handled it, then replica Y, then X again with a
//     callback that is not an initial-list add. A range that arrives at a
//     replica starts with initial-list adds of all its objects, so a
//     callback that is not one means X owned the range all along, and owned
//     it while Y handled the object.
func doubleHandling(calls []record) string {
	// lastByReplica is, per replica, its callback with the latest end so far.
	lastByReplica := map[string]record{}
	prevIndex := map[string]int{} // the index of each replica's previous callback
	for i, c := range calls {
		for id, other := range lastByReplica {
			if id != c.Replica && other.End > c.Start {
				return fmt.Sprintf("%s: overlap: %s %s %s..%s and %s %s %s..%s",
					c.Object, other.Replica, other.Event, fmtTime(other.Start), fmtTime(other.End),
					c.Replica, c.Event, fmtTime(c.Start), fmtTime(c.End))
			}
		}
		if p, ok := prevIndex[c.Replica]; ok && !c.Initial {
			for _, between := range calls[p+1 : i] {
				if between.Replica != c.Replica {
					prev := calls[p]
					return fmt.Sprintf("%s: interleave: %s %s at %s (rv %s), %s %s at %s (rv %s), %s %s at %s (rv %s, not an initial add)",
						c.Object, prev.Replica, prev.Event, fmtTime(prev.Start), prev.ResourceVersion,
						between.Replica, between.Event, fmtTime(between.Start), between.ResourceVersion,
						c.Replica, c.Event, fmtTime(c.Start), c.ResourceVersion)
				}
			}
		}
		prevIndex[c.Replica] = i
		if last, ok := lastByReplica[c.Replica]; !ok || c.End > last.End {
			lastByReplica[c.Replica] = c
		}
	}
	return ""
}

// longestTakeover returns the longest time a range had an update waiting
// while no replica handled it at a change of owner, and a description of
// it. Per range, the callbacks of all replicas are sorted by start;
// wherever one callback's replica differs from the previous one's, the
// range changed hands, and the gap runs from the first update of the range
// written after the previous callback ended (or from that end, if later)
// to the start of the next callback. A change of owner with no update
// written in between counts nothing: the range had nothing to handle.
func longestTakeover(byUID map[string][]record, writes map[string][]time.Time, ranges int) (time.Duration, string) {
	callsByRange := make([][]record, ranges)
	for uid, calls := range byUID {
		rng := rangeOf(uid, ranges)
		callsByRange[rng] = append(callsByRange[rng], calls...)
	}
	writesByRange := make([][]int64, ranges)
	for uid, times := range writes {
		rng := rangeOf(uid, ranges)
		for _, w := range times {
			writesByRange[rng] = append(writesByRange[rng], w.UnixNano())
		}
	}
	var longest time.Duration
	var desc string
	for rng, calls := range callsByRange {
		sort.SliceStable(calls, func(i, j int) bool { return calls[i].Start < calls[j].Start })
		written := writesByRange[rng]
		slices.Sort(written)
		for i := 1; i < len(calls); i++ {
			prev, next := calls[i-1], calls[i]
			if prev.Replica == next.Replica {
				continue
			}
			// The first update of the range written after prev ended.
			w, _ := slices.BinarySearch(written, prev.End)
			if w == len(written) || written[w] >= next.Start {
				continue
			}
			gap := time.Duration(next.Start - written[w])
			if gap > longest {
				longest = gap
				desc = fmt.Sprintf("range %d: %s's last callback ended %s, an update was written %s, %s's first callback began %s",
					rng, prev.Replica, fmtTime(prev.End), fmtTime(written[w]), next.Replica, fmtTime(next.Start))
			}
		}
	}
	return longest, desc
}

// rangeOf returns the range of n that holds the object with this uid, as
// the library computes it (SCALING.md): the FNV-1a 64 hash of the uid, and
// n equal ranges of the 64-bit hash space, so floor(hash·n / 2^64).
func rangeOf(uid string, n int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid)) // a hash.Hash never fails to write
	hi, _ := bits.Mul64(h.Sum64(), uint64(n))
	return int(hi)
}

func fmtTime(unixNano int64) string {
	return time.Unix(0, unixNano).Format("15:04:05.000")
}
