// Package localcluster runs a real, throwaway Kubernetes control plane on
// loopback for tests: etcd and kube-apiserver, and optionally
// kube-controller-manager, each as a child process of the test binary.
//
// It plays the role that controller-runtime's envtest plays elsewhere, with
// nothing to download: the binaries are built from source, at versions pinned
// by the tools/ module of this repository, with `make tools` (which `make
// test` runs first). The first build takes several minutes; later ones are
// no-ops.
//
// A test starts a cluster, talks to it with client-go, and stops it:
//
//	c, err := localcluster.Start(t.Context(), localcluster.Options{})
//	if errors.Is(err, localcluster.ErrBinariesMissing) {
//		t.Skip(err)
//	}
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { _ = c.Stop() })
//	client := kubernetes.NewForConfigOrDie(c.RESTConfig())
//
// Each cluster gets free loopback ports, its own temporary directory (etcd
// data, serving certificates, service-account keys, a kubeconfig and the
// server logs) and an admin identity in system:masters. AddUser creates
// further identities with exactly the RBAC rules a test asks for. Fault tests
// can kill and restart kube-apiserver or etcd while clients keep running.
//
// The API server has no kubelet and no scheduler behind it: with
// Options.ControllerManager a Deployment gets its ReplicaSet and Pods, but the
// Pods stay Pending. The ServiceAccount admission plugin is disabled so that
// Pods can be created in any namespace without kube-controller-manager.
//
// # Platforms
//
// Each server runs in a process group of its own, and [Cluster.Stop] signals
// the whole group (SIGTERM, then SIGKILL after a few seconds), so that
// whatever a server started goes with it. On Linux the servers also get a
// parent-death signal, so they do not outlive a test binary that dies
// without running its cleanups: a panic, a `go test -timeout` that expires,
// kill -9.
//
// macOS and the BSDs have no parent-death signal: there the servers of a test
// binary that dies that way keep running, with their ports and temporary
// directory; `pgrep -fl localcluster-` lists them. Stop, and so t.Cleanup,
// works as on Linux.
//
// Windows is not supported: [Start] returns an error wrapping
// [ErrUnsupportedPlatform], and informertest.StartCluster skips the test.
package localcluster
