// Package informertest helps users of package informer test their handlers:
// without sleeps, and without the events that client-go's fake clientset
// loses.
//
// It has three pieces.
//
// [Clientset] is a fake kubernetes.Interface, built on client-go's
// fake.Clientset, that behaves like the API server where informers depend
// on it: every write gets a new resourceVersion, lists carry the current
// one, and a watch from a resourceVersion replays what changed since. With
// client-go's fake, an object deleted between an informer's LIST and its
// WATCH is never reported as deleted, and a watch that nobody reads panics
// after 100 events; with [Clientset], OnDelete is called and nothing is
// dropped. client-go's fake (v0.37) also hands a watch opened from a
// resourceVersion the objects of its store themselves, not copies, for
// those changed since: a transform that edits objects in place, as the
// informer's default stripping does, then writes into the fake's store, and
// the race detector reports it. Create one with [NewClientset] and pass it to
// [informer.Builder.WithClients].
//
// [Recorder] records the callbacks of a registration and lets a test wait
// for the events it expects: [Recorder.WaitForEvent] fails the test with
// the list of events seen when one does not come, [Recorder.WaitFor] waits
// for any condition, [Recorder.State] replays the events into the state a
// handler would rebuild.
//
// [StartCluster] starts a real etcd and kube-apiserver for a test (see
// package localcluster) and stops them when the test ends. The binaries are
// not downloaded: build them once from a checkout of this repository with
// `make tools` (which `make test` runs), into its bin/ directory, or point
// the INFORMER_BIN_DIR environment variable at a directory that holds
// them. When they are missing, or on Windows (local clusters need a
// unix-like OS), StartCluster skips the test.
//
// # Fake or real cluster
//
// Use the fake [Clientset] for unit tests of handler logic: it starts in
// microseconds, needs nothing installed, and lets a test control exactly
// which writes happen and when (reactors can inject errors or hold a
// request). It does not validate, default, run admission, garbage collect,
// handle finalizers or enforce RBAC, and it ignores field selectors (see
// [Clientset] for the details). Use [StartCluster] when the behaviour under
// test depends on the real API server: validation and defaulting, RBAC
// (localcluster's AddUser), field selectors, finalizers, watches that
// expire ("410 Gone") and relists, or custom resources.
//
// # Concurrency
//
// [Clientset] and [Recorder] are safe for concurrent use. Recorded objects
// are those the informer hands to callbacks, shared with its cache: tests
// must not modify them.
package informertest
