package main

import (
	"fmt"
	"math/bits"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/sharding"
	"k8s.io/apimachinery/pkg/types"
)

// base is the time 0 of the hand-made logs; ms(n) is n milliseconds later.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) int64 { return base.Add(time.Duration(n) * time.Millisecond).UnixNano() }

// call is a callback record of replica on the pod with uid, handling
// resourceVersion rv from start to end (milliseconds after base).
func call(replica, uid, rv string, start, end int, initial bool) record {
	event := kindUpdate
	if initial {
		event = kindAdd
	}
	return record{Replica: replica, Event: event, Object: "ns/" + uid, UID: uid, ResourceVersion: rv, Start: ms(start), End: ms(end), Initial: initial}
}

func status(replica string, cached int, serverSide bool) record {
	return record{Replica: replica, Event: kindStatus, Time: ms(0), Ranges: 32, Owned: []int{1}, ServerSide: &serverSide, Cached: cached}
}

func TestSummarize(t *testing.T) {
	pods := []serverPod{{key: "ns/p1", uid: "p1", resourceVersion: "12"}, {key: "ns/p2", uid: "p2", resourceVersion: "22"}}
	tests := []struct {
		name                       string
		in                         summaryInput
		handled, double, unhandled int
		cached                     string
		serverSide                 bool
		explains                   string // in the first double-handling example
	}{
		{
			name: "clean handover",
			in: summaryInput{replicas: []string{"a", "b"}, server: pods, logs: map[string][]record{
				"a": {status("a", 2, true), call("a", "p1", "10", 0, 1, true), call("a", "p2", "20", 2, 3, true), call("a", "p1", "11", 10, 11, false)},
				"b": {status("b", 2, true), call("b", "p1", "11", 20, 21, true), call("b", "p1", "12", 30, 31, false), call("b", "p2", "22", 40, 41, false)},
			}},
			handled: 2, cached: "2/2", serverSide: true,
		},
		{
			name: "overlapping callbacks",
			in: summaryInput{replicas: []string{"a", "b"}, server: pods, logs: map[string][]record{
				"a": {call("a", "p1", "12", 0, 10, false), call("a", "p2", "22", 0, 1, true)},
				"b": {call("b", "p1", "12", 5, 6, true)},
			}},
			handled: 2, double: 1, cached: "?/?", explains: "ns/p1: overlap",
		},
		{
			name: "interleaved: a handles an update after b did",
			in: summaryInput{replicas: []string{"a", "b"}, server: pods, logs: map[string][]record{
				"a": {call("a", "p1", "10", 0, 1, true), call("a", "p1", "12", 20, 21, false), call("a", "p2", "22", 0, 1, true)},
				"b": {call("b", "p1", "11", 10, 11, true)},
			}},
			handled: 2, double: 1, cached: "?/?", explains: "ns/p1: interleave",
		},
		{
			name: "range back at a after b handed it over: not double",
			in: summaryInput{replicas: []string{"a", "b"}, server: pods, logs: map[string][]record{
				"a": {call("a", "p1", "10", 0, 1, true), call("a", "p1", "12", 20, 21, true), call("a", "p2", "22", 0, 1, true)},
				"b": {call("b", "p1", "11", 10, 11, true)},
			}},
			handled: 2, cached: "?/?",
		},
		{
			name: "last update unhandled, one pod never handled",
			in: summaryInput{replicas: []string{"a"}, server: pods, logs: map[string][]record{
				"a": {status("a", 1, false), call("a", "p1", "11", 0, 1, true)},
			}},
			handled: 1, unhandled: 2, cached: "1",
		},
		{
			name: "server side only when every replica says so",
			in: summaryInput{replicas: []string{"a", "b"}, server: pods, logs: map[string][]record{
				"a": {status("a", 7, true), call("a", "p1", "12", 0, 1, true)},
				"b": {status("b", 9, false), call("b", "p2", "22", 5, 6, true)},
			}},
			handled: 2, cached: "7/9",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.in)
			if s.handled != tc.handled || s.doubleHandled != tc.double || s.unhandled != tc.unhandled {
				t.Errorf("handled, double, unhandled: got %d, %d, %d, want %d, %d, %d (doubles %q, unhandled %q)",
					s.handled, s.doubleHandled, s.unhandled, tc.handled, tc.double, tc.unhandled, s.doubles, s.unhandledExamples)
			}
			if s.replicas != len(tc.in.replicas) || s.objects != len(pods) {
				t.Errorf("replicas, objects: got %d, %d, want %d, %d", s.replicas, s.objects, len(tc.in.replicas), len(pods))
			}
			if !strings.Contains(s.line(), " cached_per_replica="+tc.cached+" ") || s.serverSide != tc.serverSide {
				t.Errorf("line %q: want cached_per_replica=%s server_side=%t", s.line(), tc.cached, tc.serverSide)
			}
			if tc.explains != "" && (len(s.doubles) == 0 || !strings.HasPrefix(s.doubles[0], tc.explains)) {
				t.Errorf("double-handling examples: got %q, want one starting %q", s.doubles, tc.explains)
			}
			if s.ok() != (tc.double == 0 && tc.unhandled == 0) {
				t.Errorf("ok: got %t with double %d, unhandled %d", s.ok(), s.doubleHandled, s.unhandled)
			}
		})
	}
}

// uidsInRange returns count uids of range rng of n.
func uidsInRange(t *testing.T, rng, n, count int) []string {
	t.Helper()
	var uids []string
	for i := 0; len(uids) < count; i++ {
		if i > 100000 {
			t.Fatalf("no %d uids in range %d of %d", count, rng, n)
		}
		uid := fmt.Sprintf("uid-%d", i)
		if rangeOf(uid, n) == rng {
			uids = append(uids, uid)
		}
	}
	return uids
}

func TestLongestTakeover(t *testing.T) {
	in3, in5 := uidsInRange(t, 3, 32, 2), uidsInRange(t, 5, 32, 1)
	calls := map[string][]record{
		// Range 3: a handles two pods, b takes over, with its adds, 400 ms
		// after a's last callback ended.
		in3[0]: {call("a", in3[0], "1", 0, 1, true), call("a", in3[0], "2", 100, 101, false), call("b", in3[0], "2", 501, 502, true)},
		in3[1]: {call("a", in3[1], "1", 2, 3, true), call("b", in3[1], "1", 503, 504, true)},
		// Range 5: c takes over 5 s after a's last callback.
		in5[0]: {call("a", in5[0], "1", 9000, 9001, false), call("c", in5[0], "1", 14001, 14002, true)},
	}
	at := func(msAfterBase ...int) []time.Time {
		var times []time.Time
		for _, n := range msAfterBase {
			times = append(times, base.Add(time.Duration(n)*time.Millisecond))
		}
		return times
	}
	tests := []struct {
		name       string
		writes     map[string][]time.Time
		want       time.Duration
		wantInDesc string
	}{
		{
			name:   "updates in both gaps: from the first update after the last callback",
			writes: map[string][]time.Time{in3[1]: at(50, 201, 300), in5[0]: at(8000, 9500, 12000)},
			want:   4501 * time.Millisecond, wantInDesc: "range 5: a's last callback ended 00:00:09.001, an update was written 00:00:09.500, c's first callback began 00:00:14.001",
		},
		{
			name:   "no update in range 5's gap: it does not count",
			writes: map[string][]time.Time{in3[0]: at(150), in5[0]: at(8000, 15000)},
			want:   351 * time.Millisecond, wantInDesc: "range 3",
		},
		{name: "no updates at all", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, desc := longestTakeover(calls, tc.writes, 32)
			if got != tc.want || !strings.Contains(desc, tc.wantInDesc) {
				t.Errorf("got %v (%s), want %v (%s...)", got, desc, tc.want, tc.wantInDesc)
			}
		})
	}
}

// TestRangeOfMatchesServerSelector checks rangeOf against the server's own
// selector grammar: the pod lies in the shardRange of the range rangeOf
// names, and in no other.
func TestRangeOfMatchesServerSelector(t *testing.T) {
	const n = 32
	bound := func(i int) string {
		if i == n {
			return "0x10000000000000000"
		}
		quo, rem := bits.Div64(uint64(i), 0, n) // ceil(i·2^64/n)
		if rem != 0 {
			quo++
		}
		return fmt.Sprintf("0x%016x", quo)
	}
	for i := range 200 {
		uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919, i)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}}
		want := rangeOf(uid, n)
		for rng := range n {
			sel := sharding.NewSelector(sharding.ShardRangeRequirement{Key: "object.metadata.uid", Start: bound(rng), End: bound(rng + 1)})
			match, err := sel.Matches(pod)
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if match != (rng == want) {
				t.Fatalf("uid %s: selector of range %d matches %t; rangeOf says %d", uid, rng, match, want)
			}
		}
	}
}
