package informer

import (
	"github.com/informer-go/informer/internal/podfixture"
	corev1 "k8s.io/api/core/v1"
)

// realisticPod is the pod the bench module measures with (see
// internal/podfixture): three managedFields entries and kubectl's
// last-applied annotation included.
func realisticPod(ns string, i int) *corev1.Pod { return podfixture.Realistic(ns, i) }
