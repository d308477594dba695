package shard

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestFormatRanges(t *testing.T) {
	tests := []struct {
		name   string
		ranges []int
		want   string
	}{
		{name: "none", ranges: nil, want: ""},
		{name: "one", ranges: []int{7}, want: "7"},
		{name: "a pair stays a list", ranges: []int{5, 6}, want: "5,6"},
		{name: "runs, unsorted, with repeats", ranges: []int{12, 3, 0, 1, 2, 7, 2, 13, 14}, want: "0-3,7,12-14"},
		{name: "every range of the maximum count", ranges: allRanges(MaxRanges), want: "0-1023"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatRanges(tt.ranges); got != tt.want {
				t.Errorf("FormatRanges(%v): got %q, want %q", tt.ranges, got, tt.want)
			}
		})
	}
}

func allRanges(n int) []int {
	ranges := make([]int, n)
	for i := range ranges {
		ranges[i] = i
	}
	return ranges
}

func TestRangesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		n := 1 + rng.IntN(MaxRanges)
		var want []int
		for i := range n {
			if rng.IntN(3) > 0 {
				want = append(want, i)
			}
		}
		s := FormatRanges(want)
		got, err := ParseRanges(s)
		if err != nil {
			t.Fatalf("ParseRanges(%q): %v", s, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ParseRanges(FormatRanges(%v)): got %v", want, got)
		}
	}
}

func TestParseRanges(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		want    []int
		wantErr string
	}{
		{name: "empty set", s: "", want: nil},
		{name: "spans and singles", s: "0-2,5,9-10", want: []int{0, 1, 2, 5, 9, 10}},
		{name: "last index", s: "1023", want: []int{1023}},
		{name: "empty element", s: "1,,2", wantErr: "empty index"},
		{name: "trailing comma", s: "1,", wantErr: "empty index"},
		{name: "space", s: "1, 2", wantErr: "not a decimal"},
		{name: "sign", s: "+1", wantErr: "not a decimal"},
		{name: "negative", s: "-1", wantErr: "empty index"},
		{name: "leading zero", s: "01", wantErr: "leading zero"},
		{name: "not a number", s: "a", wantErr: "not a decimal"},
		{name: "too large", s: "1024", wantErr: "not below 1024"},
		{name: "huge", s: "99999999999999999999999", wantErr: "not below 1024"},
		{name: "descending span", s: "5-3", wantErr: "does not ascend"},
		{name: "span of one", s: "3-3", wantErr: "does not ascend"},
		{name: "open span", s: "3-", wantErr: "empty index"},
		{name: "two dashes", s: "1-2-3", wantErr: "not a decimal"},
		{name: "unsorted", s: "5,3", wantErr: "must ascend"},
		{name: "repeat", s: "3,3", wantErr: "must ascend"},
		{name: "overlapping spans", s: "0-4,4-6", wantErr: "must ascend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRanges(tt.s)
			if tt.wantErr == "" {
				if err != nil || !slices.Equal(got, tt.want) {
					t.Errorf("ParseRanges(%q): got %v, %v; want %v, nil", tt.s, got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidRangeSet) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRanges(%q): got %v, %v; want an ErrInvalidRangeSet containing %q", tt.s, got, err, tt.wantErr)
			}
		})
	}
}
