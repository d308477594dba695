package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/informer-go/informer"
)

func TestStalenessLinesAndStaleTime(t *testing.T) {
	var out strings.Builder
	p := &printer{out: &out}
	lost := time.Now().Add(-time.Minute)
	forbidden := errors.New(`forbidden: user "watcher" cannot list pods (the identity needs list and watch on pods)`)

	p.onStaleness(context.Background(), informer.StalenessChange{
		Resource: "pods", Stale: true, NoWatchSince: lost, Duration: 30 * time.Second, LastError: forbidden,
	})
	if got := p.staleTime(lost.Add(40 * time.Second)); got != 40*time.Second {
		t.Errorf("stale time while stale: got %v, want 40s (counted from the lost watch)", got)
	}
	p.onStaleness(context.Background(), informer.StalenessChange{
		Resource: "pods", Stale: false, NoWatchSince: lost, Duration: 45 * time.Second,
	})
	if got := p.staleTime(time.Now().Add(time.Hour)); got != 45*time.Second {
		t.Errorf("stale time after recovery: got %v, want 45s whatever the time", got)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} STALE  pods: no open watch for 30s, events are not seen: forbidden: .*needs list and watch on pods\)$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} CURRENT pods: watching again after 45s without a watch$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("got lines %q, want %d", lines, len(want))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: got %q, want it to match %s", i, lines[i], re)
		}
	}

	out.Reset()
	p.summary(2, time.Second)
	if got := out.String(); !strings.Contains(got, " stale=45.0s ") {
		t.Errorf("summary: got %q, want stale=45.0s", got)
	}
}
