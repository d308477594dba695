package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/informer-go/informer"
)

// The controller copies every source ConfigMap, a ConfigMap labelled
// sourceLabel=true in the source namespace, into every namespace labelled
// targetLabel=true. Copies carry copyOfLabel=<source name>, so the
// controller finds them, and are never written by anyone else. A finalizer
// on the source makes sure its copies are deleted with it, even when the
// controller was down at the time: owner references cannot cross
// namespaces, so garbage collection cannot do it.
const (
	sourceLabel = "cmcopy.example.com/source"
	targetLabel = "cmcopy.example.com/target"
	copyOfLabel = "cmcopy.example.com/copy-of"
	finalizer   = "cmcopy.example.com/cleanup"
)

// controller holds what the reconcile function reads and writes.
type controller struct {
	kube            kubernetes.Interface
	sourceNamespace string
	sources         *informer.Reconciler[*corev1.ConfigMap]
	namespaces      *informer.Registration[*corev1.Namespace]
	copies          *informer.Registration[*corev1.ConfigMap]
}

// register sets up the reconcile loop and the registrations that feed it:
// sources (its own), target namespaces and copies (mapped to their
// sources).
func register(b *informer.Builder, kube kubernetes.Interface, sourceNamespace string) *controller {
	c := &controller{kube: kube, sourceNamespace: sourceNamespace}
	c.sources = informer.Reconcile(b, c.reconcile,
		informer.WithName("cmcopy"),
		informer.Workers(2),
		informer.InScope(informer.Scope{Namespace: sourceNamespace, LabelSelector: sourceLabel + "=true"}))
	// A namespace that gains or loses the target label changes every
	// source's copies; one that loses it leaves this cache, as a delete.
	c.namespaces = informer.Watch(b, informer.EnqueueMapped(c.sources, c.allSources),
		informer.WithName("targets"),
		informer.InScope(informer.Scope{LabelSelector: targetLabel + "=true"}))
	// A copy edited or deleted by someone else is repaired.
	c.copies = informer.Watch(b, informer.EnqueueMapped(c.sources, c.sourceOfCopy),
		informer.WithName("copies"),
		informer.InScope(informer.Scope{LabelSelector: copyOfLabel}))
	return c
}

// allSources maps any event to every source.
func (c *controller) allSources(context.Context, *corev1.Namespace) []cache.ObjectName {
	sources, _ := c.sources.Lister().List(nil)
	keys := make([]cache.ObjectName, 0, len(sources))
	for _, s := range sources {
		keys = append(keys, cache.NewObjectName(s.Namespace, s.Name))
	}
	return keys
}

// sourceOfCopy maps a copy to its source.
func (c *controller) sourceOfCopy(_ context.Context, cm *corev1.ConfigMap) []cache.ObjectName {
	return []cache.ObjectName{cache.NewObjectName(c.sourceNamespace, cm.Labels[copyOfLabel])}
}

// reconcile brings one source's copies in line: a copy with the source's
// data in every target namespace, and none elsewhere; when the source is
// being deleted, no copy, then no finalizer.
func (c *controller) reconcile(ctx context.Context, req informer.Request[*corev1.ConfigMap]) (informer.Result, error) {
	source, err := req.Get()
	switch {
	case apierrors.IsNotFound(err):
		// Gone without our finalizer (deleted before we ever added it):
		// clean up what may be left.
		return informer.Result{}, c.deleteCopies(ctx, req.Name, nil)
	case err != nil:
		return informer.Result{}, err
	}
	if source.DeletionTimestamp != nil {
		if err := c.deleteCopies(ctx, source.Name, nil); err != nil {
			return informer.Result{}, err
		}
		return informer.Result{}, c.setFinalizer(ctx, source, false)
	}
	if err := c.setFinalizer(ctx, source, true); err != nil {
		return informer.Result{}, err
	}
	targets, err := c.targetNamespaces()
	if err != nil {
		return informer.Result{}, err
	}
	var errs []error
	for ns := range targets {
		errs = append(errs, c.ensureCopy(ctx, source, ns))
	}
	errs = append(errs, c.deleteCopies(ctx, source.Name, targets))
	return informer.Result{}, errors.Join(errs...)
}

// targetNamespaces returns the active target namespaces, from the cache.
func (c *controller) targetNamespaces() (map[string]bool, error) {
	namespaces, err := c.namespaces.Lister().List(nil)
	if err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	for _, ns := range namespaces {
		// The source namespace gets no copy: it would be the source itself.
		// The label is checked too: the cache's selector is the server's
		// business, and a fake clientset does not apply it to watches.
		if ns.Name != c.sourceNamespace && ns.Labels[targetLabel] == "true" &&
			ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating {
			targets[ns.Name] = true
		}
	}
	return targets, nil
}

// ensureCopy creates or updates the copy of source in namespace.
func (c *controller) ensureCopy(ctx context.Context, source *corev1.ConfigMap, namespace string) error {
	existing, err := c.copies.Lister().Get(namespace, source.Name)
	if apierrors.IsNotFound(err) {
		_, err = c.kube.CoreV1().ConfigMaps(namespace).Create(ctx, newCopy(source, namespace), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("copy %s/%s: created meanwhile, will update: %w", namespace, source.Name, err)
		}
		return err
	}
	if err != nil {
		return err
	}
	if maps.Equal(existing.Data, source.Data) && existing.Labels[copyOfLabel] == source.Name {
		return nil
	}
	updated := existing.DeepCopy()
	updated.Data = maps.Clone(source.Data)
	updated.Labels = map[string]string{copyOfLabel: source.Name}
	// A conflict (someone wrote it meanwhile) is an error: the key is
	// retried with backoff, reading the new version from the cache.
	_, err = c.kube.CoreV1().ConfigMaps(namespace).Update(ctx, updated, metav1.UpdateOptions{})
	return err
}

// deleteCopies deletes the copies of source outside keep (all when keep is
// nil).
func (c *controller) deleteCopies(ctx context.Context, source string, keep map[string]bool) error {
	copies, err := c.copies.Lister().List(labels.SelectorFromSet(labels.Set{copyOfLabel: source}))
	if err != nil {
		return err
	}
	var errs []error
	for _, cp := range copies {
		if keep[cp.Namespace] {
			continue
		}
		err := c.kube.CoreV1().ConfigMaps(cp.Namespace).Delete(ctx, cp.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setFinalizer adds or removes the finalizer on source, retrying on
// conflict with the server's latest version.
func (c *controller) setFinalizer(ctx context.Context, source *corev1.ConfigMap, want bool) error {
	if hasFinalizer(source) == want {
		return nil
	}
	client := c.kube.CoreV1().ConfigMaps(source.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := client.Get(ctx, source.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil || hasFinalizer(latest) == want {
			return err
		}
		latest = latest.DeepCopy()
		if want {
			latest.Finalizers = append(latest.Finalizers, finalizer)
		} else {
			latest.Finalizers = slices.DeleteFunc(latest.Finalizers, func(f string) bool { return f == finalizer })
		}
		_, err = client.Update(ctx, latest, metav1.UpdateOptions{})
		return err
	})
}

func hasFinalizer(cm *corev1.ConfigMap) bool { return slices.Contains(cm.Finalizers, finalizer) }

// newCopy returns the copy of source for namespace.
func newCopy(source *corev1.ConfigMap, namespace string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      source.Name,
			Labels:    map[string]string{copyOfLabel: source.Name},
		},
		Data: maps.Clone(source.Data),
	}
}
