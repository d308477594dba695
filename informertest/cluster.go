package informertest

import (
	"errors"
	"testing"

	"github.com/informer-go/informer/localcluster"
)

// StartCluster starts a real local control plane (etcd and kube-apiserver,
// see [localcluster.Start]) for the test t, and stops it when the test and
// its subtests are done (t.Cleanup). The cluster's
// [localcluster.Cluster.RESTConfig] goes to [informer.Builder.WithConfig].
//
// When the binaries are missing it skips the test (t.Skip) and says how to
// build them; nothing is downloaded. It skips the test too where local
// clusters cannot run (on Windows, where Start's error wraps
// [localcluster.ErrUnsupportedPlatform]). Any other failure to start fails
// the test (t.Fatal). Startup is bounded by opts.StartTimeout and by the
// test's context. StartCluster must be called from the test's goroutine.
func StartCluster(t testing.TB, opts localcluster.Options) *localcluster.Cluster {
	t.Helper()
	c, err := localcluster.Start(t.Context(), opts)
	switch {
	case errors.Is(err, localcluster.ErrUnsupportedPlatform):
		t.Skipf("no local cluster on this OS: %v", err)
	case errors.Is(err, localcluster.ErrBinariesMissing):
		t.Skipf("kube-apiserver/etcd binaries not found: run `make tools` (or `make test`): %v", err)
	case err != nil:
		t.Fatalf("informertest: starting a local cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("informertest: stopping the local cluster: %v", err)
		}
	})
	return c
}
