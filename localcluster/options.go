package localcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Module paths that mark the root of an informer checkout.
const (
	rootModule  = "github.com/informer-go/informer"
	toolsModule = rootModule + "/tools"
)

// BinDirEnv is the environment variable that, when set, names the directory
// holding the binaries if Options.BinDir is empty.
const BinDirEnv = "INFORMER_BIN_DIR"

// Names of the binaries in the bin directory.
const (
	etcdBinary              = "etcd"
	apiServerBinary         = "kube-apiserver"
	controllerManagerBinary = "kube-controller-manager"
	kubectlBinary           = "kubectl"
)

const defaultStartTimeout = 60 * time.Second

// ErrBinariesMissing is wrapped by the error Start returns when a binary it
// needs is not in the bin directory. `make tools` builds them.
var ErrBinariesMissing = errors.New("localcluster: binaries missing")

// Options configures Start. The zero value runs etcd and kube-apiserver from
// the default bin directory, with logs written to files in the cluster's
// temporary directory.
type Options struct {
	// BinDir is the directory holding etcd, kube-apiserver and
	// kube-controller-manager. When empty it is $INFORMER_BIN_DIR, else the
	// bin/ folder of the informer checkout that encloses the working
	// directory (see DefaultBinDir).
	BinDir string

	// ControllerManager also runs kube-controller-manager, so that
	// Deployments create ReplicaSets and Pods. There is no kubelet or
	// scheduler: Pods stay Pending.
	ControllerManager bool

	// Output receives the output of every server process, each line
	// prefixed with the process name. When nil, each process writes to its
	// own file in the cluster's temporary directory (etcd.log,
	// kube-apiserver.log, kube-controller-manager.log); the paths appear in
	// startup errors.
	Output io.Writer

	// APIServerFlags are extra kube-apiserver flags, appended after the
	// ones localcluster sets (for a flag given twice, the last one wins,
	// except for list flags, which accumulate). A --feature-gates flag
	// here is merged with FeatureGates into one flag.
	APIServerFlags []string

	// FeatureGates turns kube-apiserver feature gates on (true) or off
	// (false), for example {"ShardedListAndWatch": true}. They are passed as
	// one --feature-gates flag, names in sorted order, together with the
	// gates of any --feature-gates flags in APIServerFlags (which are taken
	// out of the appended flags); for a gate named in both, FeatureGates
	// wins. The server refuses to start on an unknown gate, or on a
	// graduated one set against its locked value. Nil or empty: the
	// server's defaults. Gate names may not contain ',' or '='; Start
	// returns an error for one that does.
	FeatureGates map[string]bool

	// StartTimeout bounds Start, and each restart of a server. Zero means
	// 60 seconds.
	StartTimeout time.Duration
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return defaultStartTimeout
}

// binDir returns the directory Start looks for binaries in.
func (o Options) binDir() (string, error) {
	if o.BinDir != "" {
		return filepath.Abs(o.BinDir)
	}
	return DefaultBinDir()
}

// DefaultBinDir returns the directory Start uses when Options.BinDir is empty:
// $INFORMER_BIN_DIR if set, else the bin/ folder of the informer checkout
// found by walking up from the working directory to the go.mod of module
// github.com/informer-go/informer (or to a directory with the tools/go.mod of
// that checkout). The error wraps ErrBinariesMissing when there is neither.
func DefaultBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("localcluster: finding the bin directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if modulePath(filepath.Join(dir, "go.mod")) == rootModule ||
			modulePath(filepath.Join(dir, "tools", "go.mod")) == toolsModule {
			return filepath.Join(dir, "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("%w: no informer checkout above %s and $%s is not set: set Options.BinDir, or run make tools in a checkout and work inside it",
		ErrBinariesMissing, wd, BinDirEnv)
}

// modulePath returns the module path declared by the go.mod file at path, or
// "" if there is none.
func modulePath(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		rest, _, _ = strings.Cut(rest, "//")
		return strings.Trim(strings.TrimSpace(rest), `"`)
	}
	return ""
}

// CheckBinaries reports whether dir holds the binaries Start needs: etcd and
// kube-apiserver, and kube-controller-manager too if controllerManager is
// set. The error wraps ErrBinariesMissing and names the first missing path.
func CheckBinaries(dir string, controllerManager bool) error {
	names := []string{etcdBinary, apiServerBinary}
	if controllerManager {
		names = append(names, controllerManagerBinary)
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%w: %s not found or not executable: run make tools", ErrBinariesMissing, path)
		}
	}
	return nil
}
