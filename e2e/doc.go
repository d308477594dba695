// Package e2e is the integration suite of package informer against a real
// control plane: kube-apiserver and etcd started once for the package by
// [github.com/informer-go/informer/localcluster] from the binaries in the
// repository's bin/ directory.
//
// Every test works in a namespace of its own, waits only on conditions
// (handler events, WaitForSync, watches), and bounds each wait, so that a
// failure fails instead of hanging. After the tests the cluster is stopped
// and the run fails if a goroutine or a server process is left behind.
//
// Without the binaries every test skips; `make test` builds them and runs
// this suite.
package e2e
