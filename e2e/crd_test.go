package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/informer-go/informer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

var (
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	widgetGVR = schema.GroupVersionResource{Group: "e2e.informer.dev", Version: "v1", Resource: "widgets"}
)

// widgetCRD is the CustomResourceDefinition of widgets: namespaced, one
// version, any content. It is built as unstructured data so that the module
// does not need k8s.io/apiextensions-apiserver.
func widgetCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": widgetGVR.Resource + "." + widgetGVR.Group},
		"spec": map[string]any{
			"group": widgetGVR.Group,
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     "Widget",
				"listKind": "WidgetList",
				"plural":   "widgets",
				"singular": "widget",
			},
			"versions": []any{map[string]any{
				"name":    widgetGVR.Version,
				"served":  true,
				"storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type":                                 "object",
					"x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
}

func newWidget(namespace, name, color string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": widgetGVR.GroupVersion().String(),
		"kind":       "Widget",
		"metadata":   map[string]any{"namespace": namespace, "name": name},
		"spec":       map[string]any{"color": color},
	}}
}

// TestCustomResource creates a CRD, waits until it is established, and
// follows one custom object through add, update and delete with
// WatchResource.
func TestCustomResource(t *testing.T) {
	client, dyn := directClients(t, requireCluster(t))
	ns := newNamespace(t, client)

	crd, err := dyn.Resource(crdGVR).Create(t.Context(), widgetCRD(), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the CRD: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := dyn.Resource(crdGVR).Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting the CRD: %v", err)
		}
	})
	if err := waitEstablished(t.Context(), dyn, crd.GetName()); err != nil {
		t.Fatal(err)
	}

	rec := newRecorder[*unstructured.Unstructured]()
	b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
	reg := informer.WatchResource(b, widgetGVR, rec.Funcs())
	startInformer(t, b)

	widgets := dyn.Resource(widgetGVR).Namespace(ns)
	created, err := widgets.Create(t.Context(), newWidget(ns, "w", "red"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating widget w: %v", err)
	}
	added := rec.expect(t, "add "+ns+"/w")
	if added.InitialList {
		t.Errorf("IsInitialList of the add of a widget created after sync: got true, want false")
	}
	if got, want := widgetColor(added.Object), "red"; got != want {
		t.Errorf("spec.color of the added widget: got %q, want %q", got, want)
	}
	if got, want := added.Object.GetKind(), "Widget"; got != want {
		t.Errorf("kind of the added widget: got %q, want %q", got, want)
	}
	checkStripped(t, "added widget", added.Object)
	if _, err := reg.Lister().Get(ns, "w"); err != nil {
		t.Errorf("Lister().Get(%q, %q): %v", ns, "w", err)
	}

	if err := unstructured.SetNestedField(created.Object, "blue", "spec", "color"); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Update(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating widget w: %v", err)
	}
	updated := rec.expect(t, "update "+ns+"/w")
	if got, want := widgetColor(updated.OldObject), "red"; got != want {
		t.Errorf("spec.color of the old widget of the update: got %q, want %q", got, want)
	}
	if got, want := widgetColor(updated.Object), "blue"; got != want {
		t.Errorf("spec.color of the new widget of the update: got %q, want %q", got, want)
	}
	if oldRV, newRV := resourceVersion(t, updated.OldObject), resourceVersion(t, updated.Object); newRV <= oldRV {
		t.Errorf("resourceVersions of the update: got old %d, new %d, want new > old", oldRV, newRV)
	}

	if err := widgets.Delete(t.Context(), "w", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting widget w: %v", err)
	}
	deleted := rec.expect(t, "delete "+ns+"/w")
	if got, want := widgetColor(deleted.Object), "blue"; got != want {
		t.Errorf("spec.color of the deleted widget: got %q, want %q", got, want)
	}
	rec.expectNoneQueued(t)
	if _, err := reg.Lister().Get(ns, "w"); !apierrors.IsNotFound(err) {
		t.Errorf("Lister().Get of the deleted widget: got error %v, want NotFound", err)
	}
}

func widgetColor(obj *unstructured.Unstructured) string {
	color, _, _ := unstructured.NestedString(obj.Object, "spec", "color")
	return color
}

// waitEstablished waits, within waitBound, until the CRD name has the
// condition Established=True, by listing and watching it.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, waitBound)
	defer cancel()
	crds := dyn.Resource(crdGVR)
	byName := "metadata.name=" + name
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			return crds.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return crds.Watch(ctx, opts)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		crd, ok := ev.Object.(*unstructured.Unstructured)
		return ok && isEstablished(crd), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
	}
	return nil
}

func isEstablished(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		condition, _ := c.(map[string]any)
		if condition["type"] == "Established" && condition["status"] == "True" {
			return true
		}
	}
	return false
}
