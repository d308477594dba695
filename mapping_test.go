package informer

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/tools/cache"
)

var replicaSetKind = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}

func ownedPod(name string, owners ...metav1.OwnerReference) *corev1.Pod {
	p := pod("default", name, "1")
	p.OwnerReferences = owners
	return p
}

func ownerRef(apiVersion, kind, name string, controller bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &controller}
}

func TestOwnerKeys(t *testing.T) {
	tests := []struct {
		name           string
		owners         []metav1.OwnerReference
		controllerOnly bool
		want           []string
	}{
		{"controller owner", []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "web", true)}, true, []string{"default/web"}},
		{"non-controller owner, controller only", []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "web", false)}, true, nil},
		{"non-controller owner, all owners", []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "web", false)}, false, []string{"default/web"}},
		{"other kind", []metav1.OwnerReference{ownerRef("apps/v1", "StatefulSet", "db", true)}, false, nil},
		{"same kind, other group", []metav1.OwnerReference{ownerRef("example.com/v1", "ReplicaSet", "x", true)}, false, nil},
		{"any version of the group", []metav1.OwnerReference{ownerRef("apps/v1beta2", "ReplicaSet", "old", true)}, true, []string{"default/old"}},
		{"several owners", []metav1.OwnerReference{ownerRef("apps/v1", "ReplicaSet", "a", false), ownerRef("apps/v1", "ReplicaSet", "b", true)}, false, []string{"default/a", "default/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, key := range ownerKeys(ownedPod("p", tt.owners...), replicaSetKind, tt.controllerOnly) {
				got = append(got, key.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPodEventsReconcileTheirReplicaSet(t *testing.T) {
	kube := fake.NewClientset(
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api"}},
	)
	c := newCalls()
	b := NewBuilder().WithClients(kube, nil)
	rs := Reconcile(b, func(ctx context.Context, req Request[*appsv1.ReplicaSet]) (Result, error) {
		c.record(req.String())
		return Result{}, nil
	})
	Watch(b, EnqueueOwners[*corev1.Pod](rs, replicaSetKind, true))
	started := watchStarted(kube, "pods")
	startSynced(t, b)
	waitFor(t, started, "watch of pods")
	c.next(t) // the initial list of ReplicaSets: web and api
	c.next(t)
	waitIdle(t, rs)

	if _, err := kube.CoreV1().Pods("default").Create(t.Context(), ownedPod("web-1", ownerRef("apps/v1", "ReplicaSet", "web", true)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got != "default/web" {
		t.Errorf("after a pod of web was created: reconciled %q, want default/web", got)
	}
	if err := kube.CoreV1().Pods("default").Delete(t.Context(), "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got != "default/web" {
		t.Errorf("after the pod was deleted: reconciled %q, want default/web", got)
	}
	waitIdle(t, rs)
	if n := c.count("default/api"); n != 1 {
		t.Errorf("reconciles of api: got %d, want 1 (its initial list only)", n)
	}
}

func TestMetadataEventsMappedByAFunction(t *testing.T) {
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	secret := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tls", Annotations: map[string]string{"used-by": "db"}},
	}
	meta := metadatafake.NewSimpleMetadataClient(scheme, secret)
	kube := fake.NewClientset(pod("default", "web", "1"))
	c := newCalls()
	b := NewBuilder().WithClients(kube, nil).WithMetadataClient(meta)
	pods := Reconcile(b, func(ctx context.Context, req Request[*corev1.Pod]) (Result, error) {
		c.record(req.String())
		return Result{}, nil
	})
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	WatchMetadata(b, secrets, EnqueueMapped(pods, func(_ context.Context, s *metav1.PartialObjectMetadata) []cache.ObjectName {
		return []cache.ObjectName{cache.NewObjectName(s.Namespace, s.Annotations["used-by"])}
	}))
	startSynced(t, b)
	// default/web comes from its own add; default/db, which has no pod, only
	// from the secret that names it.
	seen := map[string]bool{}
	for len(seen) < 2 {
		seen[c.next(t)] = true
	}
	if !seen["default/db"] || !seen["default/web"] {
		t.Errorf("reconciled %v, want default/web and default/db", seen)
	}
	waitIdle(t, pods)
	if n := c.count("default/db"); n != 1 {
		t.Errorf("reconciles of default/db: got %d, want 1", n)
	}
}
