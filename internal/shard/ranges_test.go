package shard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/sharding"
)

// counts are the range counts the table-free tests run through: the
// extremes, primes (uneven splits) and powers of two.
var counts = []int{1, 2, 3, 7, 10, 32, 64, 100, 997, 1000, 1024}

func TestBounds(t *testing.T) {
	tests := []struct {
		name      string
		i, n      int
		wantStart string
		wantEnd   string
	}{
		{name: "whole space", i: 0, n: 1, wantStart: "0x0000000000000000", wantEnd: "0x10000000000000000"},
		{name: "lower half", i: 0, n: 2, wantStart: "0x0000000000000000", wantEnd: "0x8000000000000000"},
		{name: "upper half", i: 1, n: 2, wantStart: "0x8000000000000000", wantEnd: "0x10000000000000000"},
		// 2^64/3 = 0x5555555555555555.55..., rounded up.
		{name: "middle third", i: 1, n: 3, wantStart: "0x5555555555555556", wantEnd: "0xaaaaaaaaaaaaaaab"},
		{name: "second of 1024", i: 1, n: 1024, wantStart: "0x0040000000000000", wantEnd: "0x0080000000000000"},
		{name: "last of 1024", i: 1023, n: 1024, wantStart: "0xffc0000000000000", wantEnd: "0x10000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotStart, gotEnd := Bounds(tt.i, tt.n)
			if gotStart != tt.wantStart || gotEnd != tt.wantEnd {
				t.Errorf("Bounds(%d, %d): got [%s, %s), want [%s, %s)", tt.i, tt.n, gotStart, gotEnd, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

// TestRangesTile checks that the ranges of n cover the hash space without
// gap or overlap, in the server's spelling, with sizes differing by at most
// one.
func TestRangesTile(t *testing.T) {
	for _, n := range counts {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			var prevEnd string
			var minSize, maxSize uint64 = math.MaxUint64, 0
			for i := range n {
				startHex, endHex := Bounds(i, n)
				if i == 0 && startHex != "0x0000000000000000" {
					t.Errorf("start of range 0: got %s, want 0x0000000000000000", startHex)
				}
				if i > 0 && startHex != prevEnd {
					t.Errorf("start of range %d: got %s, want the end of range %d, %s", i, startHex, i-1, prevEnd)
				}
				if err := checkHexBound("start", startHex); err != nil || len(startHex) != 18 {
					t.Errorf("start of range %d: got %s (%v), want 0x and 16 hex digits", i, startHex, err)
				}
				if i == n-1 && endHex != hashTop {
					t.Errorf("end of the last range: got %s, want %s", endHex, hashTop)
				}
				if !sharding.HexLess(startHex, endHex) {
					t.Errorf("range %d: got [%s, %s), want start < end", i, startHex, endHex)
				}
				prevEnd = endHex
				size := sizeOf(t, startHex, endHex)
				minSize, maxSize = min(minSize, size), max(maxSize, size)
			}
			if maxSize-minSize > 1 {
				t.Errorf("range sizes: got from %d to %d, want a difference of at most 1", minSize, maxSize)
			}
		})
	}
}

// sizeOf returns end-start of a range given as hex bounds, 2^64 being read
// as 0 (wrapping arithmetic gives the right size then, except for n = 1).
func sizeOf(t *testing.T, startHex, endHex string) uint64 {
	t.Helper()
	startValue, err := strconv.ParseUint(strings.TrimPrefix(startHex, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("parsing %s: %v", startHex, err)
	}
	var endValue uint64
	if endHex != hashTop {
		if endValue, err = strconv.ParseUint(strings.TrimPrefix(endHex, "0x"), 16, 64); err != nil {
			t.Fatalf("parsing %s: %v", endHex, err)
		}
	}
	return endValue - startValue
}

// inRange is the server's test (sharding.Selector.Matches) of hash against
// a requirement's bounds.
func inRange(hash uint64, startHex, endHex string) bool {
	h := fmt.Sprintf("0x%016x", hash)
	return !sharding.HexLess(h, startHex) && sharding.HexLess(h, endHex)
}

// TestRangeOfBoundaries checks RangeOf at both edges of every range, and at
// 0 and MaxUint64, against the server's comparison with the bounds.
func TestRangeOfBoundaries(t *testing.T) {
	for _, n := range counts {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			if got := RangeOf(0, n); got != 0 {
				t.Errorf("RangeOf(0): got %d, want 0", got)
			}
			if got := RangeOf(math.MaxUint64, n); got != n-1 {
				t.Errorf("RangeOf(MaxUint64): got %d, want %d", got, n-1)
			}
			for i := range n {
				startHex, endHex := Bounds(i, n)
				first := start(i, n)
				last := first + sizeOf(t, startHex, endHex) - 1
				for _, h := range []uint64{first, last} {
					if got := RangeOf(h, n); got != i {
						t.Errorf("RangeOf(%#x): got %d, want %d", h, got, i)
					}
					if !inRange(h, startHex, endHex) {
						t.Errorf("hash %#x: got outside [%s, %s) by the server's comparison, want inside", h, startHex, endHex)
					}
				}
				if i > 0 && inRange(first-1, startHex, endHex) {
					t.Errorf("hash %#x: got inside [%s, %s), want outside", first-1, startHex, endHex)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	for _, value := range []string{"", "default", "kube-system", "0f8fad5b-d9cb-469f-a165-70867728950e", "é"} {
		want, err := strconv.ParseUint(sharding.HashField(value), 16, 64)
		if err != nil {
			t.Fatalf("parsing HashField(%q): %v", value, err)
		}
		if got := Hash(value); got != want {
			t.Errorf("Hash(%q): got %#x, want %#x (sharding.HashField)", value, got, want)
		}
	}
}

func TestObjectRange(t *testing.T) {
	const n = 64
	tests := []struct {
		name string
		obj  metav1.Object
		key  Key
		want int
	}{
		{name: "pod by uid", obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", UID: "u-1"}}, key: ByUID, want: RangeOf(Hash("u-1"), n)},
		{name: "pod by namespace", obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", UID: "u-1"}}, key: ByNamespace, want: RangeOf(Hash("a"), n)},
		{name: "node by namespace", obj: &corev1.Node{ObjectMeta: metav1.ObjectMeta{UID: "u-2"}}, key: ByNamespace, want: RangeOf(Hash(""), n)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ObjectRange(tt.obj, tt.key, n); got != tt.want {
				t.Errorf("ObjectRange: got %d, want %d", got, tt.want)
			}
			want, err := sharding.ResolveFieldValue(tt.obj.(runtime.Object), string(tt.key))
			if err != nil {
				t.Fatalf("sharding.ResolveFieldValue: %v", err)
			}
			if got := KeyValue(tt.obj, tt.key); got != want {
				t.Errorf("KeyValue: got %q, want %q (sharding.ResolveFieldValue)", got, want)
			}
		})
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		call func()
	}{
		{name: "Bounds with no range", call: func() { Bounds(0, 0) }},
		{name: "Bounds past the last range", call: func() { Bounds(2, 2) }},
		{name: "Bounds of a negative range", call: func() { Bounds(-1, 2) }},
		{name: "RangeOf with too many ranges", call: func() { RangeOf(1, MaxRanges+1) }},
		{name: "KeyValue with an unknown key", call: func() { KeyValue(&corev1.Pod{}, Key("object.metadata.name")) }},
		{name: "Selector without ranges", call: func() { Selector(ByUID, 4) }},
		{name: "Selector with an unknown key", call: func() { Selector(Key("uid"), 4, 0) }},
		{name: "Selector with a range out of bounds", call: func() { Selector(ByUID, 4, 4) }},
		{name: "Assign with no range", call: func() { Assign([]string{"a"}, 0, nil) }},
		{name: "Assign with too many owners", call: func() { Assign([]string{"a"}, 1, []string{"a", "a"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.HasPrefix(msg, "shard: ") {
					t.Errorf("panic: got %v, want a message starting with \"shard: \"", r)
				}
			}()
			tt.call()
		})
	}
}
