package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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
