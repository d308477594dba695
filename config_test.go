package informer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://one.example:6443"}
- name: two
  cluster: {server: "https://two.example:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: first
  context: {cluster: one, user: u}
- name: second
  context: {cluster: two, user: u}
current-context: first
`

func writeKubeconfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isolateConfigEnv makes config resolution independent of the machine: no
// $KUBECONFIG, an empty home, not in a cluster.
func isolateConfigEnv(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	return home
}

func TestLoadConfigResolution(t *testing.T) {
	path := writeKubeconfig(t, testKubeconfig)
	tests := []struct {
		name     string
		setup    func(t *testing.T, home string)
		path     string
		context  string
		wantHost string
		wantErr  string
	}{
		{name: "explicit path, current context", path: path, wantHost: "https://one.example:6443"},
		{name: "explicit path and context", path: path, context: "second", wantHost: "https://two.example:6443"},
		{name: "KUBECONFIG", setup: func(t *testing.T, _ string) { t.Setenv("KUBECONFIG", path) }, wantHost: "https://one.example:6443"},
		{name: "home kubeconfig", setup: func(t *testing.T, home string) {
			if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(testKubeconfig), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantHost: "https://one.example:6443"},
		{name: "missing explicit file", path: "/nonexistent/kubeconfig", wantErr: "/nonexistent/kubeconfig"},
		{name: "unknown context", path: path, context: "third", wantErr: "third"},
		{name: "broken file", path: writeKubeconfig(t, "{not yaml"), wantErr: "kubeconfig"},
		{name: "nothing found", wantErr: ErrNoConfig.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateConfigEnv(t)
			if tt.setup != nil {
				tt.setup(t, home)
			}
			cfg, err := LoadConfig(tt.path, tt.context)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if cfg.Host != tt.wantHost {
				t.Errorf("host: got %q, want %q", cfg.Host, tt.wantHost)
			}
		})
	}
}

func TestNoConfigIsErrNoConfig(t *testing.T) {
	isolateConfigEnv(t)
	_, err := NewBuilder().Build()
	if !errors.Is(err, ErrNoConfig) {
		t.Errorf("Build without any config: got %v, want ErrNoConfig", err)
	}
}

func TestBuilderConfigDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       *rest.Config
		qps       float32
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{"defaults fill zero", &rest.Config{Host: "https://x"}, 0, 0, DefaultQPS, DefaultBurst},
		{"config values kept", &rest.Config{Host: "https://x", QPS: 7, Burst: 9}, 0, 0, 7, 9},
		{"WithRateLimits wins", &rest.Config{Host: "https://x", QPS: 7, Burst: 9}, 20, 30, 20, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder().WithConfig(tt.cfg)
			if tt.qps > 0 {
				b.WithRateLimits(tt.qps, tt.burst)
			}
			cfg, err := b.restConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QPS != tt.wantQPS || cfg.Burst != tt.wantBurst {
				t.Errorf("QPS/Burst: got %v/%d, want %v/%d", cfg.QPS, cfg.Burst, tt.wantQPS, tt.wantBurst)
			}
			if cfg == tt.cfg {
				t.Error("restConfig returned the caller's config, want a copy")
			}
		})
	}
}

func TestBuildCreatesClientsFromConfig(t *testing.T) {
	inf, err := NewBuilder().WithConfig(&rest.Config{Host: "https://127.0.0.1:1"}).Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer func() {
		if err := inf.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	c := inf.factories.clients
	if c.kube == nil || c.dyn == nil || c.meta == nil {
		t.Errorf("clients: got typed=%v dynamic=%v metadata=%v, want all three", c.kube != nil, c.dyn != nil, c.meta != nil)
	}
}
