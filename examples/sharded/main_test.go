package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/informer-go/informer/localcluster"
)

// replicaEnv makes the test binary run as a replica (see TestMain), so the
// end-to-end test needs no build of the program.
const replicaEnv = "SHARDED_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{name: "replica", args: []string{"-replica", "-kubeconfig", "k", "-namespace", "n", "-identity", "r1", "-events", "f"}, ok: true},
		{name: "demo", args: []string{"-demo", "-duration", "20s", "-pods", "50"}, ok: true},
		{name: "neither", args: nil},
		{name: "both", args: []string{"-replica", "-demo", "-identity", "r1", "-events", "f"}},
		{name: "replica without identity", args: []string{"-replica", "-events", "f"}},
		{name: "extra argument", args: []string{"-demo", "x"}},
		{name: "zero duration", args: []string{"-demo", "-duration", "0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := parseFlags(tc.args, &strings.Builder{})
			if (err == nil) != tc.ok {
				t.Fatalf("parseFlags(%q): got error %v, want ok %t", tc.args, err, tc.ok)
			}
			if tc.name == "demo" && (opts.duration != 20*time.Second || opts.pods != 50 || opts.rate != 50 || opts.demoOptions.work != time.Millisecond) {
				t.Errorf("parseFlags(%q): got %+v", tc.args, opts)
			}
		})
	}
}

// TestDemo runs a short demo (20 s, 120 pods) against a local cluster:
// the summary must show no double handling, nothing unhandled, and
// server-side filtering.
func TestDemo(t *testing.T) {
	binDir, err := localcluster.DefaultBinDir()
	if err == nil {
		err = localcluster.CheckBinaries(binDir, false)
	}
	if err != nil {
		t.Skipf("local cluster binaries: %v (make tools builds them)", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code := runDemo(t.Context(), demoOptions{
		duration: 20 * time.Second, pods: 120, rate: 20, work: time.Millisecond,
		replicaCommand: exe, replicaEnv: []string{replicaEnv + "=1"},
	}, &out)
	t.Logf("demo output:\n%s", out.String())
	summary := regexp.MustCompile(`(?m)^shards summary: replicas=4 objects=120 handled=120 double_handled=0 unhandled=0 max_takeover_s=[0-9.]+ cached_per_replica=\d+/\d+/\d+/\d+ server_side=true$`)
	if code != 0 || !summary.MatchString(out.String()) {
		t.Fatalf("demo: exit %d; want exit 0 and a summary with replicas=4 objects=120 handled=120 double_handled=0 unhandled=0 server_side=true", code)
	}
}
