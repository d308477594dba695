package shard

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidRangeSet is wrapped by every error of [ParseRanges].
var ErrInvalidRangeSet = errors.New("invalid range set")

// FormatRanges writes a set of range indexes compactly, for a Lease
// annotation: ascending, runs of three or more as "first-last", others
// separated by commas, as in "0-3,7,12-14" or "5,6". Ranges may come in any
// order and repeat; no range gives "". [ParseRanges] reads it back.
func FormatRanges(ranges []int) string {
	sorted := slices.Clone(ranges)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var b strings.Builder
	for first := 0; first < len(sorted); {
		last := first
		for last+1 < len(sorted) && sorted[last+1] == sorted[last]+1 {
			last++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		switch last - first {
		case 0:
			b.WriteString(strconv.Itoa(sorted[first]))
		case 1:
			fmt.Fprintf(&b, "%d,%d", sorted[first], sorted[last])
		default:
			fmt.Fprintf(&b, "%d-%d", sorted[first], sorted[last])
		}
		first = last + 1
	}
	return b.String()
}

// ParseRanges reads a set written by [FormatRanges] and returns its indexes
// in ascending order; "" is the empty set. It accepts any comma-separated
// list of indexes and "first-last" spans (first < last) in strictly
// ascending, non-overlapping order, each index a decimal without sign or
// leading zero below [MaxRanges]. Anything else is an error wrapping
// [ErrInvalidRangeSet]: a Lease annotation that does not read back exactly
// is not trusted.
func ParseRanges(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var ranges []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isSpan := strings.Cut(part, "-")
		first, err := parseIndex(lo)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %q: %w", ErrInvalidRangeSet, s, part, err)
		}
		last := first
		if isSpan {
			if last, err = parseIndex(hi); err != nil {
				return nil, fmt.Errorf("%w %q: %q: %w", ErrInvalidRangeSet, s, part, err)
			}
			if last <= first {
				return nil, fmt.Errorf("%w %q: span %q does not ascend", ErrInvalidRangeSet, s, part)
			}
		}
		if len(ranges) > 0 && first <= ranges[len(ranges)-1] {
			return nil, fmt.Errorf("%w %q: %q is not above %d; the set must ascend without repeats",
				ErrInvalidRangeSet, s, part, ranges[len(ranges)-1])
		}
		for i := first; i <= last; i++ {
			ranges = append(ranges, i)
		}
	}
	return ranges, nil
}

// parseIndex parses one range index.
func parseIndex(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty index")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal index", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	i, err := strconv.Atoi(s)
	if err != nil || i >= MaxRanges {
		return 0, fmt.Errorf("%s is not below %d", s, MaxRanges)
	}
	return i, nil
}
