package localcluster

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf, "etcd: ")
	for _, s := range []string{"one\ntw", "o\n", "three\nfo", "ur"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "etcd: one\netcd: two\netcd: three\netcd: four\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := newTailBuffer(16)
	_, _ = tb.Write([]byte("first line\nsecond\nthird\n"))
	if got, want := tb.lastLines(5), "second\nthird"; got != want {
		t.Errorf("lastLines(5) = %q, want %q (the cut first line dropped)", got, want)
	}
	if got, want := tb.lastLines(1), "third"; got != want {
		t.Errorf("lastLines(1) = %q, want %q", got, want)
	}
	if !tb.contains("cond\nthi") || tb.contains("first") {
		t.Errorf("contains: buffer %q", tb.buf)
	}
	if got := newTailBuffer(8).lastLines(3); got != "" {
		t.Errorf("empty buffer: lastLines = %q", got)
	}
	if got := strings.Count(tb.lastLines(100), "\n"); got != 1 {
		t.Errorf("lastLines(100) has %d newlines, want 1", got)
	}
}
