package informer

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// Mapping other resources into a reconcile loop: the functions below return
// callbacks for a registration on another resource (with [Watch],
// [WatchResource] or [WatchMetadata], so the source may be typed,
// unstructured or metadata-only) whose events enqueue keys of a
// [Reconciler]:
//
//	rs := informer.Reconcile(b, reconcileReplicaSet)
//	informer.WatchMetadata(b, podsGVR, informer.EnqueueOwners[*metav1.PartialObjectMetadata](rs, replicaSetKind, true))
//
// The registration is an ordinary one: predicates, [WithName] and
// [Optional] apply, and it shares its informer with other registrations of
// the same resource.

// EnqueueMapped returns callbacks that enqueue, for every add, update and
// delete of a source object, the keys fn returns (for an update, those of
// the old and of the new object). fn must be fast and must not modify obj.
func EnqueueMapped[S Object, T Object](rc *Reconciler[T], fn func(ctx context.Context, obj S) []cache.ObjectName) Funcs[S] {
	enqueue := func(ctx context.Context, obj S) {
		for _, key := range fn(ctx, obj) {
			rc.enqueueKey(key)
		}
	}
	return Funcs[S]{
		OnAdd: enqueue,
		OnUpdate: func(ctx context.Context, oldObj, newObj S) {
			enqueue(ctx, oldObj)
			enqueue(ctx, newObj)
		},
		OnDelete: enqueue,
	}
}

// EnqueueOwners returns callbacks that enqueue the owners of kind owner
// (for example {Group: "apps", Kind: "ReplicaSet"}) of every source object
// added, updated (the owners before and after) or deleted: a Pod event
// reconciles its ReplicaSet. With controllerOnly, only the owner reference
// marked controller counts; otherwise every owner of that kind does.
//
// An owner is looked up in the source object's namespace, which is where
// Kubernetes requires a namespaced owner to be; for a cluster-scoped owner
// of namespaced objects, use [EnqueueMapped] with an empty namespace.
func EnqueueOwners[S Object, T Object](rc *Reconciler[T], owner schema.GroupKind, controllerOnly bool) Funcs[S] {
	return EnqueueMapped(rc, func(_ context.Context, obj S) []cache.ObjectName {
		return ownerKeys(obj, owner, controllerOnly)
	})
}

// ownerKeys returns the keys of obj's owners of kind owner.
func ownerKeys(obj metav1.Object, owner schema.GroupKind, controllerOnly bool) []cache.ObjectName {
	var keys []cache.ObjectName
	for _, ref := range obj.GetOwnerReferences() {
		if controllerOnly && (ref.Controller == nil || !*ref.Controller) {
			continue
		}
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil || gv.Group != owner.Group || ref.Kind != owner.Kind {
			continue
		}
		keys = append(keys, cache.NewObjectName(obj.GetNamespace(), ref.Name))
	}
	return keys
}
