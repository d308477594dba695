package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rangeCounts and maxMembers span the property tests, fewer ranges than
// members included.
var rangeCounts = []int{1, 7, 32, 64}

const maxMembers = 12

// assignCase is one random starting point: live members and current owners,
// some of them dead members or free.
type assignCase struct {
	members []string
	n       int
	current []string
}

func (c assignCase) String() string {
	return fmt.Sprintf("members %v, n %d, current %v", c.members, c.n, c.current)
}

// randomCases calls check with reps random cases for every range count
// and member count, from a fixed seed.
func randomCases(t *testing.T, reps int, check func(t *testing.T, rng *rand.Rand, c assignCase)) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range rangeCounts {
		for k := 1; k <= maxMembers; k++ {
			t.Run(fmt.Sprintf("n=%d/members=%d", n, k), func(t *testing.T) {
				for range reps {
					check(t, rng, randomCase(rng, n, k))
				}
			})
		}
	}
}

func randomCase(rng *rand.Rand, n, k int) assignCase {
	members := make([]string, k)
	for j := range members {
		// Identities as replicas have them: a shared prefix, a random tail.
		members[j] = fmt.Sprintf("replica-%x", rng.Uint32())
	}
	current := make([]string, n)
	for i := range current {
		switch rng.IntN(4) {
		case 0: // free
		case 1:
			current[i] = fmt.Sprintf("gone-%d", rng.IntN(3))
		default:
			current[i] = members[rng.IntN(k)]
		}
	}
	return assignCase{members: members, n: n, current: current}
}

// checkBalanced fails unless every range has a live owner and the number of
// ranges per member is the member's capacity.
func checkBalanced(t *testing.T, c assignCase, owners []string) {
	t.Helper()
	if len(owners) != c.n {
		t.Fatalf("%v: got %d owners, want %d", c, len(owners), c.n)
	}
	count := map[string]int{}
	for i, owner := range owners {
		if !slices.Contains(c.members, owner) {
			t.Fatalf("%v: owner of range %d: got %q, want a live member", c, i, owner)
		}
		count[owner]++
	}
	sorted := slices.Sorted(slices.Values(c.members))
	for j, m := range slices.Compact(sorted) {
		want := c.n / len(sorted)
		if j < c.n%len(sorted) {
			want++
		}
		if count[m] != want {
			t.Fatalf("%v: ranges of %s: got %d, want %d (counts %v)", c, m, count[m], want, count)
		}
	}
}

func TestAssignBalanced(t *testing.T) {
	randomCases(t, 100, func(t *testing.T, _ *rand.Rand, c assignCase) {
		checkBalanced(t, c, Assign(c.members, c.n, c.current))
	})
}

func TestAssignDeterministic(t *testing.T) {
	randomCases(t, 100, func(t *testing.T, rng *rand.Rand, c assignCase) {
		want := Assign(c.members, c.n, c.current)
		shuffled := append(slices.Clone(c.members), c.members[rng.IntN(len(c.members))], "")
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got := Assign(shuffled, c.n, c.current); !slices.Equal(got, want) {
			t.Fatalf("%v: with members %v got %v, want %v", c, shuffled, got, want)
		}
	})
}

func TestAssignFixedPoint(t *testing.T) {
	randomCases(t, 100, func(t *testing.T, _ *rand.Rand, c assignCase) {
		target := Assign(c.members, c.n, c.current)
		if got := Assign(c.members, c.n, target); !slices.Equal(got, target) {
			t.Fatalf("%v: assigning the target %v again: got %v", c, target, got)
		}
	})
}

// TestAssignPartialProgress applies random subsets of the moves from the
// current owners to the target and checks that assigning again gives the
// same target: a handover half done does not change where it goes.
func TestAssignPartialProgress(t *testing.T) {
	randomCases(t, 50, func(t *testing.T, rng *rand.Rand, c assignCase) {
		target := Assign(c.members, c.n, c.current)
		for range 10 {
			partial := slices.Clone(c.current)
			for i := range partial {
				if rng.IntN(2) == 0 {
					partial[i] = target[i]
				}
			}
			if got := Assign(c.members, c.n, partial); !slices.Equal(got, target) {
				t.Fatalf("%v: from %v, part of the way to %v: got %v", c, partial, target, got)
			}
		}
	})
}

// moved counts the ranges whose owner differs.
func moved(from, to []string) int {
	count := 0
	for i := range from {
		if from[i] != to[i] {
			count++
		}
	}
	return count
}

// TestAssignLeaveMovesOnlyTheLeaversRanges starts from an assigned state and
// removes one member: exactly its ranges move.
func TestAssignLeaveMovesOnlyTheLeaversRanges(t *testing.T) {
	randomCases(t, 100, func(t *testing.T, rng *rand.Rand, c assignCase) {
		if len(c.members) < 2 {
			return
		}
		before := Assign(c.members, c.n, c.current)
		leaver := c.members[rng.IntN(len(c.members))]
		rest := slices.DeleteFunc(slices.Clone(c.members), func(m string) bool { return m == leaver })
		after := Assign(rest, c.n, before)
		checkBalanced(t, assignCase{members: rest, n: c.n}, after)
		owned := 0
		for i := range before {
			if before[i] == leaver {
				owned++
			} else if after[i] != before[i] {
				t.Fatalf("%v: %s left; range %d moved from %s to %s, want only %s's ranges to move",
					c, leaver, i, before[i], after[i], leaver)
			}
		}
		if got := moved(before, after); got != owned {
			t.Fatalf("%v: %s left: got %d ranges moved, want %d", c, leaver, got, owned)
		}
	})
}

// TestAssignJoinMovesOnlyTheJoinersRanges starts from an assigned state and
// adds one member: only the ranges it receives move, at most ceil(n/(k+1)).
func TestAssignJoinMovesOnlyTheJoinersRanges(t *testing.T) {
	randomCases(t, 100, func(t *testing.T, rng *rand.Rand, c assignCase) {
		before := Assign(c.members, c.n, c.current)
		joiner := fmt.Sprintf("replica-new-%x", rng.Uint32())
		all := append(slices.Clone(c.members), joiner)
		after := Assign(all, c.n, before)
		checkBalanced(t, assignCase{members: all, n: c.n}, after)
		for i := range before {
			if after[i] != before[i] && after[i] != joiner {
				t.Fatalf("%v: %s joined; range %d moved from %s to %s, want moves to %s only",
					c, joiner, i, before[i], after[i], joiner)
			}
		}
		bound := (c.n + len(all) - 1) / len(all)
		if got := moved(before, after); got > bound {
			t.Fatalf("%v: %s joined: got %d ranges moved, want at most %d", c, joiner, got, bound)
		}
	})
}

// TestAssignGolden pins the exact answer for a few inputs: every member of
// a group must compute the same owners, so a change here is a change of
// protocol between versions, to be made on purpose.
func TestAssignGolden(t *testing.T) {
	tests := []struct {
		name    string
		members []string
		n       int
		current []string
		want    []string
	}{
		{name: "no member", members: nil, n: 3, want: []string{"", "", ""}},
		{name: "empty identity only", members: []string{""}, n: 2, want: []string{"", ""}},
		{name: "one member", members: []string{"a"}, n: 3, current: []string{"", "x"}, want: []string{"a", "a", "a"}},
		{name: "fewer ranges than members", members: []string{"c", "b", "a"}, n: 2, want: []string{"a", "b"}},
		{name: "three members from scratch", members: []string{"a", "b", "c"}, n: 8, want: []string{"c", "c", "b", "b", "b", "a", "a", "a"}},
		{name: "a keeps what it has", members: []string{"a", "b"}, n: 4, current: []string{"a", "a", "", ""}, want: []string{"a", "a", "b", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assign(tt.members, tt.n, tt.current)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Assign(%v, %d, %v) (-want +got):\n%s", tt.members, tt.n, tt.current, diff)
			}
		})
	}
}

func TestEpoch(t *testing.T) {
	base := Epoch([]string{"a", "b", "c"})
	tests := []struct {
		name    string
		members []string
		same    bool
	}{
		{name: "another order", members: []string{"c", "a", "b"}, same: true},
		{name: "repeats and the empty identity", members: []string{"b", "a", "c", "a", ""}, same: true},
		{name: "one fewer", members: []string{"a", "b"}, same: false},
		{name: "one more", members: []string{"a", "b", "c", "d"}, same: false},
		{name: "joined differently", members: []string{"ab", "c"}, same: false},
	}
	if len(base) != 8 {
		t.Errorf("Epoch: got %q, want 8 hex digits", base)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Epoch(tt.members) == base; got != tt.same {
				t.Errorf("Epoch(%v) == Epoch([a b c]) (%s): got %v, want %v", tt.members, base, got, tt.same)
			}
		})
	}
}
