package shard

import (
	"errors"
	"strings"
	"testing"
)

const (
	zero = "'0x0000000000000000'"
	half = "'0x8000000000000000'"
	top  = "'0x10000000000000000'"
)

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		s    string
	}{
		{name: "one range", s: "shardRange(object.metadata.uid, " + zero + ", " + half + ")"},
		{name: "up to 2^64", s: "shardRange(object.metadata.namespace, " + half + ", " + top + ")"},
		{name: "two ranges", s: "shardRange(object.metadata.uid, " + zero + ", " + half + ") || shardRange(object.metadata.uid, " + half + ", " + top + ")"},
		{name: "no spaces", s: "shardRange(object.metadata.uid," + zero + "," + half + ")||shardRange(object.metadata.uid," + half + "," + top + ")"},
		{name: "spaces, tabs and newlines", s: " \tshardRange( object . metadata . uid ,\n" + zero + " , " + half + " )\r\n"},
		{name: "double quotes", s: `shardRange(object.metadata.uid, "0x0000000000000000", "0x8000000000000000")`},
		{name: "parentheses", s: "((shardRange(object.metadata.uid, " + zero + ", " + half + ")) || (shardRange(object.metadata.uid, " + half + ", " + top + ")))"},
		{name: "overlapping ranges", s: "shardRange(object.metadata.uid, " + zero + ", " + top + ") || shardRange(object.metadata.uid, " + zero + ", " + half + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.s); err != nil {
				t.Errorf("Validate(%q): got %v, want nil", tt.s, err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	uid := func(a, b string) string { return "shardRange(object.metadata.uid, " + a + ", " + b + ")" }
	tests := []struct {
		name    string
		s       string
		wantErr string
	}{
		{name: "empty", s: "", wantErr: "empty"},
		{name: "spaces only", s: " \n ", wantErr: "empty"},
		{name: "15 hex digits", s: uid("'0x000000000000000'", half), wantErr: "16-digit"},
		{name: "short zero", s: uid("'0x0'", half), wantErr: `did you mean "0x0000000000000000"`},
		{name: "upper-case hex", s: uid(zero, "'0x8000000000000ABC'"), wantErr: "invalid hex character"},
		{name: "17 digits other than 2^64", s: uid(zero, "'0x10000000000000001'"), wantErr: "must be \"0x10000000000000000\""},
		{name: "18 digits", s: uid(zero, "'0x100000000000000000'"), wantErr: "too long"},
		{name: "no 0x prefix", s: uid("'0000000000000000'", half), wantErr: "'0x' prefix"},
		{name: "0x alone", s: uid("'0x'", half), wantErr: "required after '0x'"},
		{name: "empty range", s: uid(half, half), wantErr: "must be less than"},
		{name: "reversed range", s: uid(half, zero), wantErr: "must be less than"},
		{name: "2^64 as start", s: uid(top, top), wantErr: "must be less than"},
		{name: "bound not a string", s: uid("0", half), wantErr: "string literal"},
		{name: "unterminated string", s: "shardRange(object.metadata.uid, '0x0000000000000000, " + half + ")", wantErr: ""},
		{name: "escape sequence", s: uid(`'0x000000000000000\x30'`, half), wantErr: "escape"},
		{name: "triple quotes", s: uid("'''0x0000000000000000'''", half), wantErr: "triple-quoted"},
		{name: "another function", s: "inRange(object.metadata.uid, " + zero + ", " + half + ")", wantErr: `unsupported function "inRange"`},
		{name: "and", s: uid(zero, half) + " && " + uid(half, top), wantErr: "after the last shardRange"},
		{name: "not", s: "!" + uid(zero, half), wantErr: "want shardRange()"},
		{name: "single bar", s: uid(zero, half) + " | " + uid(half, top), wantErr: "after the last shardRange"},
		{name: "dangling or", s: uid(zero, half) + " ||", wantErr: "missing shardRange()"},
		{name: "comment", s: uid(zero, half) + " // all", wantErr: "after the last shardRange"},
		{name: "unbalanced parenthesis", s: "(" + uid(zero, half), wantErr: "closing the parenthesis"},
		{name: "mixed keys", s: uid(zero, half) + " || shardRange(object.metadata.namespace, " + half + ", " + top + ")", wantErr: "same field"},
		{name: "unsupported field", s: "shardRange(object.metadata.name, " + zero + ", " + half + ")", wantErr: "unsupported field path"},
		{name: "field without object", s: "shardRange(metadata.uid, " + zero + ", " + half + ")", wantErr: "unsupported field path"},
		{name: "index instead of field", s: "shardRange(object.metadata['uid'], " + zero + ", " + half + ")", wantErr: "unsupported field path"},
		{name: "two arguments", s: "shardRange(object.metadata.uid, " + zero + ")", wantErr: "3 arguments"},
		{name: "four arguments", s: "shardRange(object.metadata.uid, " + zero + ", " + half + ", " + top + ")", wantErr: "exactly 3 arguments"},
		{name: "no call", s: "shardRange", wantErr: `missing "("`},
		{name: "nesting too deep", s: strings.Repeat("(", 40) + uid(zero, half) + strings.Repeat(")", 40), wantErr: "nested parentheses"},
		{name: "too long", s: strings.Repeat(uid(zero, half)+" || ", 1300) + uid(zero, half), wantErr: "more than the 100000"},
		{name: "not UTF-8", s: uid(zero, half) + "\xff", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.s)
			if err == nil {
				t.Fatalf("Validate(%q): got nil, want an error", tt.s)
			}
			if !errors.Is(err, ErrInvalidSelector) {
				t.Errorf("Validate(%q): got %v, want an error wrapping ErrInvalidSelector", tt.s, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate(%q): got %q, want it to contain %q", tt.s, err, tt.wantErr)
			}
		})
	}
}
