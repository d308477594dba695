package main

import (
	"encoding/json"
	"fmt"

	"github.com/informer-go/informer/internal/podfixture"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// benchNamespace holds the pods of every size-driven measurement.
const benchNamespace = "bench"

// stampAnnotation carries the time a latency write was sent, in Unix
// nanoseconds.
const stampAnnotation = "bench.informer-go.io/written-at"

// realisticPod is podfixture.Realistic: the pod the root package's own
// benchmarks measure too.
func realisticPod(ns string, i int) *corev1.Pod { return podfixture.Realistic(ns, i) }

// realisticPodList returns count pods of namespace ns, as a list at
// resourceVersion "1".
func realisticPodList(ns string, count int) *corev1.PodList {
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: make([]corev1.Pod, count)}
	for i := range count {
		list.Items[i] = *realisticPod(ns, i)
	}
	return list
}

// decodedPodList returns realisticPodList(ns, count) as a client would hold
// it after decoding a LIST response: encoded to protobuf and decoded again,
// so that every string and slice of every pod is its own allocation and
// Items grew by appending, as the protobuf decoder does.
func decodedPodList(ns string, count int) *corev1.PodList {
	data, err := realisticPodList(ns, count).Marshal()
	if err != nil {
		panic(fmt.Sprintf("bench: encoding pods: %v", err))
	}
	list := &corev1.PodList{}
	if err := list.Unmarshal(data); err != nil {
		panic(fmt.Sprintf("bench: decoding pods: %v", err))
	}
	return list
}

// decodedMetadataList returns the metadata of realisticPodList(ns, count)
// as the metadata client would hold it after decoding a LIST response: the
// items of a *metav1.List, each a *metav1.PartialObjectMetadata decoded
// from protobuf, which is what client-go's fake metadata client lists.
func decodedMetadataList(ns string, count int) *metav1.List {
	pods := realisticPodList(ns, count)
	partial := &metav1.PartialObjectMetadataList{ListMeta: pods.ListMeta, Items: make([]metav1.PartialObjectMetadata, count)}
	for i := range pods.Items {
		partial.Items[i] = metav1.PartialObjectMetadata{TypeMeta: pods.Items[i].TypeMeta, ObjectMeta: pods.Items[i].ObjectMeta}
	}
	data, err := partial.Marshal()
	if err != nil {
		panic(fmt.Sprintf("bench: encoding metadata: %v", err))
	}
	decoded := &metav1.PartialObjectMetadataList{}
	if err := decoded.Unmarshal(data); err != nil {
		panic(fmt.Sprintf("bench: decoding metadata: %v", err))
	}
	list := &metav1.List{ListMeta: decoded.ListMeta, Items: make([]runtime.RawExtension, len(decoded.Items))}
	for i := range decoded.Items {
		item := &decoded.Items[i]
		item.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		list.Items[i].Object = item
	}
	return list
}

// decodedUnstructuredList returns realisticPodList(ns, count) as the dynamic
// client holds it after decoding a LIST response, which it asks for as JSON.
// Like decodedPodList and decodedMetadataList it goes through the encoding:
// the pods are encoded to JSON as a server sends a PodList (kind and
// apiVersion on the list, not on the items) and decoded again by
// unstructured.UnstructuredJSONScheme, the decoder behind the dynamic
// client's UnstructuredList. That decoder decodes the whole list once into
// a map whose items it drops, then each item on its own: every pod is a
// tree of maps and slices of its own holding strings of its own (numbers
// become int64), given the list's apiVersion and the kind Pod, and Items
// grew by appending.
func decodedUnstructuredList(ns string, count int) (*unstructured.UnstructuredList, error) {
	pods := realisticPodList(ns, count)
	pods.TypeMeta = metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}
	for i := range pods.Items {
		pods.Items[i].TypeMeta = metav1.TypeMeta{}
	}
	data, err := json.Marshal(pods)
	if err != nil {
		return nil, fmt.Errorf("bench: encoding pods as JSON: %w", err)
	}
	list := &unstructured.UnstructuredList{}
	if err := runtime.DecodeInto(unstructured.UnstructuredJSONScheme, data, list); err != nil {
		return nil, fmt.Errorf("bench: decoding pods as unstructured: %w", err)
	}
	return list, nil
}
