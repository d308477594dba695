package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/informer-go/informer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
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
	client := adminClient(t)
	ns := newNamespace(t, client)
	dyn, err := dynamic.NewForConfig(adminConfig(t))
	if err != nil {
		t.Fatalf("dynamic.NewForConfig: %v", err)
	}

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
	reg := informer.WatchResource(b, widgetGVR, rec.funcs())
	startInformer(t, b)

	widgets := dyn.Resource(widgetGVR).Namespace(ns)
	created, err := widgets.Create(t.Context(), newWidget(ns, "w", "red"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating widget w: %v", err)
	}
	added := rec.expect(t, "add "+ns+"/w")
	if added.initialList {
		t.Errorf("IsInitialList of the add of a widget created after sync: got true, want false")
	}
	if got, want := widgetColor(added.obj), "red"; got != want {
		t.Errorf("spec.color of the added widget: got %q, want %q", got, want)
	}
	if got, want := added.obj.GetKind(), "Widget"; got != want {
		t.Errorf("kind of the added widget: got %q, want %q", got, want)
	}
	checkStripped(t, "added widget", added.obj)
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
	if got, want := widgetColor(updated.old), "red"; got != want {
		t.Errorf("spec.color of the old widget of the update: got %q, want %q", got, want)
	}
	if got, want := widgetColor(updated.obj), "blue"; got != want {
		t.Errorf("spec.color of the new widget of the update: got %q, want %q", got, want)
	}
	if oldRV, newRV := resourceVersion(t, updated.old), resourceVersion(t, updated.obj); newRV <= oldRV {
		t.Errorf("resourceVersions of the update: got old %d, new %d, want new > old", oldRV, newRV)
	}

	if err := widgets.Delete(t.Context(), "w", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting widget w: %v", err)
	}
	deleted := rec.expect(t, "delete "+ns+"/w")
	if got, want := widgetColor(deleted.obj), "blue"; got != want {
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
// condition Established=True, by watching it.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, waitBound)
	defer cancel()
	crds := dyn.Resource(crdGVR)
	for {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
		}
		if isEstablished(crd) {
			return nil
		}
		w, err := crds.Watch(ctx, metav1.ListOptions{
			FieldSelector:   "metadata.name=" + name,
			ResourceVersion: crd.GetResourceVersion(),
		})
		if err != nil {
			return fmt.Errorf("watching CRD %s: %w", name, err)
		}
		established, err := watchUntilEstablished(ctx, w)
		w.Stop()
		if established {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
		}
		// The watch closed early: get and watch again.
	}
}

// watchUntilEstablished reads w until an event shows the CRD established
// (true), the watch closes (false, nil) or ctx ends (false, error).
func watchUntilEstablished(ctx context.Context, w watch.Interface) (bool, error) {
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Error {
				return false, apierrors.FromObject(ev.Object)
			}
			if crd, isCRD := ev.Object.(*unstructured.Unstructured); isCRD && isEstablished(crd) {
				return true, nil
			}
		case <-ctx.Done():
			return false, errors.New("not established within the wait bound")
		}
	}
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
