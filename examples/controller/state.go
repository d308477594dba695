package main

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// convergence compares the cluster's state, listed from the server, with
// what the controller should have made of it.
type convergence struct {
	wanted, actual, missing, extra int
	// examples names a few missing and extra copies, for the demo's
	// message when the cluster did not converge.
	examples []string
}

func (c *convergence) example(what, key string) {
	if len(c.examples) < 5 {
		c.examples = append(c.examples, what+" "+key)
	}
}

func (c convergence) converged() bool { return c.missing == 0 && c.extra == 0 }

// checkState lists sources, namespaces and copies from the server. Wanted:
// one copy of every source not being deleted in every active target
// namespace but the source namespace, with the source's data. Copies in
// namespaces being deleted are left out: the namespace controller deletes
// them with the namespace.
func checkState(ctx context.Context, kube kubernetes.Interface, sourceNamespace string) (convergence, error) {
	sources, err := kube.CoreV1().ConfigMaps(sourceNamespace).List(ctx, metav1.ListOptions{LabelSelector: sourceLabel + "=true"})
	if err != nil {
		return convergence{}, fmt.Errorf("listing sources: %w", err)
	}
	namespaces, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return convergence{}, fmt.Errorf("listing namespaces: %w", err)
	}
	copies, err := kube.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: copyOfLabel})
	if err != nil {
		return convergence{}, fmt.Errorf("listing copies: %w", err)
	}
	active, targets := map[string]bool{}, map[string]bool{}
	for _, ns := range namespaces.Items {
		if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
			continue
		}
		active[ns.Name] = true
		if ns.Labels[targetLabel] == "true" && ns.Name != sourceNamespace {
			targets[ns.Name] = true
		}
	}
	wanted := map[string]map[string]string{} // namespace/name -> data
	for _, src := range sources.Items {
		if src.DeletionTimestamp != nil {
			continue
		}
		for ns := range targets {
			wanted[ns+"/"+src.Name] = src.Data
		}
	}
	var c convergence
	c.wanted = len(wanted)
	present := map[string]bool{} // copies that exist, right or not
	for _, cp := range copies.Items {
		if !active[cp.Namespace] {
			continue
		}
		c.actual++
		key := cp.Namespace + "/" + cp.Name
		present[key] = true
		data, ok := wanted[key]
		switch {
		case !ok || cp.Labels[copyOfLabel] != cp.Name:
			c.extra++
			c.example("extra", key)
		case !maps.Equal(data, cp.Data):
			c.missing++ // a copy with the wrong data is missing its right version
			c.example("outdated", key)
		}
	}
	for key := range wanted {
		if !present[key] { // present with other data: counted above
			c.missing++
			c.example("missing", key)
		}
	}
	return c, nil
}
