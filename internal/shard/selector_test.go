package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/sharding"
	"k8s.io/apimachinery/pkg/types"
)

// TestSelectorRoundTrip writes the selector of every single range of several
// counts, checks that Validate accepts it and that it parses back to the
// range's bounds.
func TestSelectorRoundTrip(t *testing.T) {
	for _, key := range []Key{ByUID, ByNamespace} {
		for _, n := range counts {
			t.Run(fmt.Sprintf("%s/n=%d", key, n), func(t *testing.T) {
				for i := range n {
					s := Selector(key, n, i).String()
					if err := Validate(s); err != nil {
						t.Fatalf("Validate(Selector(%d of %d)): got %v, want nil", i, n, err)
					}
					got, err := parseSelector(s)
					if err != nil {
						t.Fatalf("parsing %q: %v", s, err)
					}
					startHex, endHex := Bounds(i, n)
					want := []sharding.ShardRangeRequirement{{Key: string(key), Start: startHex, End: endHex}}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("requirements of %q (-want +got):\n%s", s, diff)
					}
				}
			})
		}
	}
}

func TestSelectorMergesAdjacentRanges(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		ranges []int
		want   string
	}{
		{
			name: "one range", n: 4, ranges: []int{1},
			want: "shardRange(object.metadata.uid, '0x4000000000000000', '0x8000000000000000')",
		},
		{
			name: "unsorted with repeats, two runs", n: 8, ranges: []int{5, 0, 2, 1, 2},
			want: "shardRange(object.metadata.uid, '0x0000000000000000', '0x6000000000000000') || " +
				"shardRange(object.metadata.uid, '0xa000000000000000', '0xc000000000000000')",
		},
		{
			name: "every range is one term", n: 7, ranges: []int{6, 5, 4, 3, 2, 1, 0},
			want: "shardRange(object.metadata.uid, '0x0000000000000000', '0x10000000000000000')",
		},
		{
			name: "every other range of the maximum count", n: MaxRanges, ranges: evenRanges(MaxRanges),
			want: Selector(ByUID, MaxRanges, evenRanges(MaxRanges)...).String(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Selector(ByUID, tt.n, tt.ranges...).String()
			if s != tt.want {
				t.Errorf("Selector(%v of %d): got %q, want %q", tt.ranges, tt.n, s, tt.want)
			}
			if err := Validate(s); err != nil {
				t.Errorf("Validate: got %v, want nil", err)
			}
		})
	}
}

func evenRanges(n int) []int {
	var ranges []int
	for i := 0; i < n; i += 2 {
		ranges = append(ranges, i)
	}
	return ranges
}

// TestSelectorMatchesRangeOf checks, for many random UIDs and namespaces,
// that the selector of a random set of ranges matches an object exactly
// when ObjectRange puts it in the set.
func TestSelectorMatchesRangeOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5866))
	for _, key := range []Key{ByUID, ByNamespace} {
		for _, n := range []int{1, 3, 7, 64, 1024} {
			t.Run(fmt.Sprintf("%s/n=%d", key, n), func(t *testing.T) {
				for range 20 {
					owned := map[int]bool{rng.IntN(n): true}
					var ranges []int
					for i := range n {
						if owned[i] || rng.IntN(3) == 0 {
							owned[i] = true
							ranges = append(ranges, i)
						}
					}
					sel := Selector(key, n, ranges...)
					for range 200 {
						pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
							Namespace: fmt.Sprintf("ns-%d", rng.IntN(1000)),
							UID:       types.UID(randomUID(rng)),
						}}
						got, err := sel.Matches(pod)
						if err != nil {
							t.Fatalf("Matches: %v", err)
						}
						if want := owned[ObjectRange(pod, key, n)]; got != want {
							t.Fatalf("Matches(uid %s, namespace %s) for ranges %v of %d: got %v, want %v",
								pod.UID, pod.Namespace, ranges, n, got, want)
						}
					}
				}
			})
		}
	}
}

// randomUID returns a random version-4-shaped UUID string.
func randomUID(rng *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
}

// TestSelectorBoundaryHashes checks the built requirements against RangeOf
// with the server's comparison at the hashes where off-by-one errors live.
func TestSelectorBoundaryHashes(t *testing.T) {
	for _, n := range []int{1, 3, 7, 64, 1000} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			hashes := []uint64{0, 1, math.MaxUint64 - 1, math.MaxUint64}
			for i := 1; i < n; i++ {
				hashes = append(hashes, start(i, n)-1, start(i, n), start(i, n)+1)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				reqs := Selector(ByUID, n, i).Requirements()
				for _, h := range hashes {
					got := inRange(h, reqs[0].Start, reqs[0].End)
					if want := RangeOf(h, n) == i; got != want {
						t.Errorf("hash %#x in range %d of %d [%s, %s): got %v, want %v",
							h, i, n, reqs[0].Start, reqs[0].End, got, want)
					}
				}
			}
		})
	}
}
