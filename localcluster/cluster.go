package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// startAttempts is how many times Start tries with fresh ports when a server
// finds one of its ports taken.
const startAttempts = 3

// Cluster is a running control plane started by Start. Its methods are safe
// for concurrent use; the operations that start or stop servers run one at a
// time.
type Cluster struct {
	// Set before Start returns, then read-only.
	opts           Options
	binDir         string
	dir            string
	etcdClientPort int
	etcdPeerPort   int
	apiPort        int
	kcmPort        int
	adminToken     string
	tokenFile      string
	saKey          string
	saPub          string
	caData         []byte // CA certificates of kube-apiserver's serving certificate
	caFile         string // caData, as a file
	kubeconfigPath string
	output         io.Writer // shared by all processes; nil for log files
	etcdHTTP       *http.Client

	stopped  chan struct{} // closed when Stop begins
	stopOnce sync.Once

	mu        sync.Mutex // serializes starting and stopping servers
	isStopped bool
	stopErr   error
	etcd      *process
	apiserver *process
	kcm       *process
	apiHTTP   *http.Client
	kcmHTTP   *http.Client
}

// Start starts etcd and kube-apiserver (and kube-controller-manager if
// opts.ControllerManager is set) on free loopback ports, each as a child
// process, and returns once the API server's /readyz is OK. ctx bounds the
// startup only; the servers run until Stop. If Start fails, whatever it
// started is stopped again; the error names the log of the server that
// failed. When a binary is missing the error wraps ErrBinariesMissing.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	// First: on Windows the binaries check would fail too (no exec bits)
	// and send the user to build what cannot run there.
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	if err := checkFeatureGates(opts.FeatureGates); err != nil {
		return nil, err
	}
	binDir, err := opts.binDir()
	if err != nil {
		return nil, err
	}
	if err := CheckBinaries(binDir, opts.ControllerManager); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.startTimeout(),
		fmt.Errorf("start timeout (%v) exceeded", opts.startTimeout()))
	defer cancel()
	var output io.Writer
	if opts.Output != nil {
		output = &lockedWriter{w: opts.Output}
	}
	for attempt := 1; ; attempt++ {
		c := &Cluster{
			opts:     opts,
			binDir:   binDir,
			output:   output,
			stopped:  make(chan struct{}),
			etcdHTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second},
		}
		err := c.start(ctx)
		if err == nil {
			return c, nil
		}
		retry := errors.Is(err, errPortInUse) && attempt < startAttempts
		c.abort(!retry)
		if !retry {
			return nil, err
		}
	}
}

// start does the work of Start for one set of ports.
func (c *Cluster) start(ctx context.Context) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	c.etcdClientPort, c.etcdPeerPort, c.apiPort, c.kcmPort = ports[0], ports[1], ports[2], ports[3]
	if c.dir, err = os.MkdirTemp("", "localcluster-"); err != nil {
		return fmt.Errorf("localcluster: creating the cluster directory: %w", err)
	}
	if c.saKey, c.saPub, err = writeServiceAccountKeys(c.dir); err != nil {
		return err
	}
	if c.tokenFile, c.adminToken, err = writeTokenFile(c.dir); err != nil {
		return err
	}
	if err := c.startEtcd(ctx); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx); err != nil {
		return err
	}
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	if c.opts.ControllerManager {
		if err := c.startControllerManager(ctx); err != nil {
			return err
		}
	}
	return nil
}

// abort cleans up after a failed start: it kills the processes and removes
// the cluster's directory, except, with keepLogs, for the log files the
// error message may point at.
func (c *Cluster) abort(keepLogs bool) {
	for _, p := range []*process{c.kcm, c.apiserver, c.etcd} {
		if p != nil {
			_ = p.kill()
		}
	}
	if c.dir == "" {
		return
	}
	if !keepLogs {
		_ = os.RemoveAll(c.dir)
		return
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	kept := false
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".log") {
			kept = true
			continue
		}
		_ = os.RemoveAll(filepath.Join(c.dir, e.Name()))
	}
	if !kept {
		_ = os.Remove(c.dir)
	}
}

// Stop stops the servers (SIGTERM to each process group, SIGKILL after a
// few seconds), waits for them to exit and removes the cluster's directory,
// logs included. It interrupts a restart in progress. Calling it again
// returns the result of the first call.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { close(c.stopped) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isStopped {
		return c.stopErr
	}
	c.isStopped = true
	var errs []error
	for _, p := range []*process{c.kcm, c.apiserver, c.etcd} {
		if p != nil {
			errs = append(errs, p.stop(stopGrace))
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("localcluster: removing %s: %w", c.dir, err))
	}
	c.stopErr = errors.Join(errs...)
	return c.stopErr
}

// APIServerURL returns the API server's URL, https://127.0.0.1:PORT.
func (c *Cluster) APIServerURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
}

// EtcdURL returns etcd's client URL, http://127.0.0.1:PORT.
func (c *Cluster) EtcdURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(c.etcdClientPort)
}

// BinDir returns the directory the server binaries were run from; kubectl,
// when built by `make tools`, is there too.
func (c *Cluster) BinDir() string {
	return c.binDir
}

// Dir returns the cluster's temporary directory, which holds the etcd data,
// certificates, keys, the kubeconfig and (unless Options.Output is set) the
// server logs. Stop removes it.
func (c *Cluster) Dir() string {
	return c.dir
}
