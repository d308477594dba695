package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakePodwatchEnv); mode != "" {
		os.Exit(fakePodwatch(mode))
	}
	goleak.VerifyTestMain(m)
}

// fakePodwatchEnv, when set, makes the test binary stand in for podwatch
// (see fakePodwatch).
const fakePodwatchEnv = "DEMO_TEST_FAKE_PODWATCH"

// fakePodwatch says on stderr that its initial list is done, as podwatch
// does, waits for SIGINT, then acts as mode says: "exit" exits 0, "fail"
// exits 3, "hang" never exits.
func fakePodwatch(mode string) int {
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	fmt.Fprintln(os.Stderr, readyMarker)
	<-interrupted
	switch mode {
	case "exit":
		return 0
	case "fail":
		return 3
	}
	time.Sleep(time.Hour) // only a kill ends it
	return 1
}

// TestWatcherStop checks how the demo stops podwatch, with the test binary
// standing in for it: SIGINT once, then a kill after the grace period.
func TestWatcherStop(t *testing.T) {
	const bound = 20 * time.Second // reaching it is a failure
	tests := []struct {
		mode    string
		grace   time.Duration
		wantErr string // "" for none
	}{
		{"exit", bound, ""},
		{"fail", bound, "podwatch: exit status 3"},
		{"hang", 200 * time.Millisecond, "podwatch did not stop within 200ms of SIGINT and was killed"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv(fakePodwatchEnv, tt.mode)
			w, err := startWatcher(os.Args[0], nil)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-w.ready:
			case <-w.done:
				t.Fatalf("exited before saying it was ready: %v", w.exitErr())
			case <-time.After(bound):
				_ = w.cmd.Process.Kill()
				t.Fatalf("did not say it was ready within %v", bound)
			}
			if !w.isReady() {
				t.Error("isReady = false after ready was closed")
			}

			err = w.stop(tt.grace)
			if tt.wantErr == "" && err != nil {
				t.Errorf("stop: %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("stop: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+rootModule+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A nested module, as examples or tools could have, is not the root.
	nested := filepath.Join(root, "tools")
	deep := filepath.Join(nested, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module "+rootModule+"/tools\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, deep} {
		got, err := repoRoot(dir)
		if err != nil || got != root {
			t.Errorf("repoRoot(%s) = %q, %v; want %q", dir, got, err, root)
		}
	}
	if _, err := repoRoot(t.TempDir()); err == nil || !strings.Contains(err.Error(), "make demo") {
		t.Errorf("repoRoot outside a checkout: %v, want an error pointing at make demo", err)
	}
}

func TestPodwatchArgs(t *testing.T) {
	tests := []struct {
		name      string
		target    target
		remaining time.Duration
		want      []string
	}{
		{
			name:      "local cluster, duration",
			target:    target{kubeconfig: "/tmp/lc/kubeconfig"},
			remaining: 26874321 * time.Microsecond,
			want:      []string{"--kubeconfig", "/tmp/lc/kubeconfig", "-n", demoNamespace, "--duration", "26.874s"},
		},
		{
			name:   "own cluster, context only, until Ctrl-C",
			target: target{context: "kind-dev"},
			want:   []string{"--context", "kind-dev", "-n", demoNamespace},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, podwatchArgs(&tt.target, tt.remaining)); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkerWriter(t *testing.T) {
	var out strings.Builder
	m := newMarkerWriter(&out, readyMarker)
	writes := []string{"podwatch: con", "nected\npodwatch: initial li", "st done, watching\n", "12:00:00.000 ADD ...\n"}
	for i, w := range writes {
		if _, err := m.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-m.found:
			if i < 2 {
				t.Fatalf("marker found after write %d, before it was complete", i)
			}
		default:
			if i >= 2 {
				t.Fatalf("marker not found after write %d", i)
			}
		}
	}
	if got, want := out.String(), strings.Join(writes, ""); got != want {
		t.Errorf("passed through %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	opts, err := parseFlags([]string{"-duration", "30s", "-context", "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.duration != 30*time.Second || !opts.ownCluster() {
		t.Errorf("got %+v, want 30s on the user's cluster", opts)
	}
	if opts, _ := parseFlags(nil); opts.ownCluster() || opts.duration != 0 {
		t.Errorf("defaults %+v, want a local cluster until Ctrl-C", opts)
	}
}
