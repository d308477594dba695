// Package e2e is the integration suite of package informer against a real
// control plane: kube-apiserver and etcd started by
// [github.com/informer-go/informer/localcluster] from the binaries in the
// repository's bin/ directory, once for the package, plus one of their own
// for each fault and property test, which kill, restart or compact them.
//
// Every test works in a namespace of its own, waits only on conditions
// (handler events, WaitForSync, watches, polled server state), and bounds
// each wait, so that a failure fails instead of hanging. After the tests the
// cluster is stopped and the run fails if a goroutine or a server process is
// left behind.
//
// Without the binaries every test that needs a cluster skips (only
// TestFaultProxy, a test of the suite's TCP proxy, runs); `make test`
// builds them and runs this suite.
package e2e
