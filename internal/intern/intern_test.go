package intern

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// fresh returns a copy of s in an allocation of its own, as a decoder
// would produce it.
func fresh(s string) string { return strings.Clone(s) }

// decodedPod returns pod i of a Deployment with every string in its own
// allocation: the namespace, labels, image and container name repeat from
// pod to pod; the name, UID and IP do not.
func decodedPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fresh("shop"),
			Name:      fmt.Sprintf("web-%05d", i),
			UID:       types.UID(fmt.Sprint("uid-", i)),
			Labels:    map[string]string{fresh("app.kubernetes.io/name"): fresh("web"), fresh("tier"): fresh("frontend")},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  fresh("web"),
				Image: fresh("registry.example.com/web:v1.2.3"),
				Args:  []string{fresh("--port=8080")},
			}},
			PreemptionPolicy: new(corev1.PreemptionPolicy(fresh(string(corev1.PreemptLowerPriority)))),
		},
		Status: corev1.PodStatus{
			PodIP:      fmt.Sprintf("10.0.%d.%d", i/256, i%256),
			Conditions: []corev1.PodCondition{{Type: corev1.PodConditionType(fresh("Ready")), Status: corev1.ConditionStatus(fresh("True"))}},
		},
	}
}

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// unsharedKeys returns the keys of last that are not the same allocation as
// a key of first.
func unsharedKeys[V any](first, last map[string]V) []string {
	var unshared []string
	for key := range last {
		shared := false
		for firstKey := range first {
			shared = shared || same(key, firstKey)
		}
		if !shared {
			unshared = append(unshared, key)
		}
	}
	return unshared
}

func TestStringSharingSharesRepeatedStringsAndChangesNoValue(t *testing.T) {
	table := NewTable()
	const n = 3 * probeWindow
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = decodedPod(i)
		want := pods[i].DeepCopy()
		table.Share(pods[i])
		if diff := cmp.Diff(want, pods[i]); diff != "" {
			t.Fatalf("pod %d changed (-before +after):\n%s", i, diff)
		}
	}
	first, last := pods[0], pods[n-1]
	for what, pair := range map[string][2]string{
		"namespace":        {first.Namespace, last.Namespace},
		"image":            {first.Spec.Containers[0].Image, last.Spec.Containers[0].Image},
		"container name":   {first.Spec.Containers[0].Name, last.Spec.Containers[0].Name},
		"args item":        {first.Spec.Containers[0].Args[0], last.Spec.Containers[0].Args[0]},
		"preemptionPolicy": {string(*first.Spec.PreemptionPolicy), string(*last.Spec.PreemptionPolicy)},
		"condition type":   {string(first.Status.Conditions[0].Type), string(last.Status.Conditions[0].Type)},
		"label value":      {first.Labels["tier"], last.Labels["tier"]},
	} {
		if !same(pair[0], pair[1]) {
			t.Errorf("%s %q: the first and last pods hold two copies, want one", what, pair[0])
		}
	}
	// The label value "web" and the container name "web" are one string.
	if !same(last.Labels["app.kubernetes.io/name"], last.Spec.Containers[0].Name) {
		t.Error(`label value "web" and container name "web" are two copies, want one`)
	}
	for _, key := range unsharedKeys(first.Labels, last.Labels) {
		t.Errorf("label key %q of the last pod is not the first pod's", key)
	}
	// Values that never repeat are skipped once judged, not piled up in the
	// table.
	for what, value := range map[string]string{"name": last.Name, "uid": string(last.UID), "pod IP": last.Status.PodIP} {
		if _, ok := table.strings[value]; ok {
			t.Errorf("the table holds the last pod's %s %q; the field should be skipped", what, value)
		}
	}
	// Three unique fields (name, UID, IP) fill one window each.
	if len(table.strings) > 3*probeWindow+16 {
		t.Errorf("the table holds %d strings after %d pods; want at most a window of each unique field and the shared ones", len(table.strings), n)
	}
}

func TestStringSharingTableIsBounded(t *testing.T) {
	table := NewTable()
	table.limit = 8
	table.fields = make([]fieldStats, 1)
	for i := range 50 {
		s := fmt.Sprint("value-", i)
		if got := table.share(s, &table.fields[0]); got != s {
			t.Fatalf("share(%q) = %q", s, got)
		}
		if len(table.strings) > table.limit {
			t.Fatalf("after %d strings the table holds %d, limit %d", i+1, len(table.strings), table.limit)
		}
	}
}

// node is a recursive type with strings at every level, in a slice, behind
// pointers, in a map and in an unexported field.
type node struct {
	Name     string
	Kids     []node
	Next     *node
	Tags     map[string]string
	Alias    *string
	internal string
}

func TestStringSharingFollowsRecursiveTypes(t *testing.T) {
	table := NewTable()
	mk := func() *node {
		alias := fresh("alias")
		return &node{
			Name: fresh("root"), Alias: &alias, internal: fresh("root"),
			Kids: []node{{Name: fresh("root"), Tags: map[string]string{fresh("k"): fresh("root")}}},
			Next: &node{Name: fresh("root"), Next: &node{Name: fresh("root")}},
		}
	}
	a, b := mk(), mk()
	table.Share(a)
	table.Share(b)
	for what, s := range map[string]string{
		"kid name": b.Kids[0].Name, "next name": b.Next.Name, "next next name": b.Next.Next.Name, "map value": b.Kids[0].Tags["k"],
	} {
		if !same(s, a.Name) {
			t.Errorf("%s is not the shared %q", what, a.Name)
		}
	}
	if !same(*a.Alias, *b.Alias) {
		t.Error("the strings behind *string fields are not shared")
	}
	if same(b.internal, a.Name) {
		t.Error("an unexported field was rewritten")
	}
}

func TestStringSharingLeavesOtherValuesAlone(t *testing.T) {
	table := NewTable()
	for _, obj := range []any{nil, (*corev1.Pod)(nil), corev1.Pod{}, "text", 42, &struct{}{}, (*unstructured.Unstructured)(nil), &unstructured.Unstructured{}} {
		table.Share(obj)
	}
	if len(table.strings) != 0 {
		t.Errorf("the table holds %d strings, want none", len(table.strings))
	}
}

// decodedUnstructured returns pod i as a dynamic client decodes it: a map
// tree with every key and string in its own allocation.
func decodedUnstructured(t testing.TB, i int) *unstructured.Unstructured {
	t.Helper()
	pod := decodedPod(i)
	pod.Kind, pod.APIVersion = "Pod", "v1"
	data, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStringSharingSharesUnstructuredTrees(t *testing.T) {
	table := NewTable()
	const n = 3 * probeWindow
	objs := make([]*unstructured.Unstructured, n)
	for i := range objs {
		objs[i] = decodedUnstructured(t, i)
		want := objs[i].DeepCopy()
		table.Share(objs[i])
		if diff := cmp.Diff(want.Object, objs[i].Object); diff != "" {
			t.Fatalf("object %d changed (-before +after):\n%s", i, diff)
		}
	}
	first, last := objs[0], objs[n-1]
	str := func(u *unstructured.Unstructured, path ...string) string {
		s, _, err := unstructured.NestedString(u.Object, path...)
		if err != nil || s == "" {
			t.Fatalf("%v: %q, %v", path, s, err)
		}
		return s
	}
	image := func(u *unstructured.Unstructured) string {
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
		return containers[0].(map[string]any)["image"].(string)
	}
	for what, pair := range map[string][2]string{
		"namespace":   {str(first, "metadata", "namespace"), str(last, "metadata", "namespace")},
		"label value": {str(first, "metadata", "labels", "tier"), str(last, "metadata", "labels", "tier")},
		"image":       {image(first), image(last)},
	} {
		if !same(pair[0], pair[1]) {
			t.Errorf("%s %q: the first and last objects hold two copies, want one", what, pair[0])
		}
	}
	// Keys: "metadata" of the last object is the first object's.
	for _, key := range unsharedKeys(first.Object, last.Object) {
		t.Errorf("key %q of the last object is not the first object's", key)
	}
	// Values under "name" mix unique pod names with shared container names;
	// those under "uid" never repeat and are skipped once judged.
	if _, ok := table.strings[str(last, "metadata", "uid")]; ok {
		t.Error("the table holds the last object's uid; values under \"uid\" should be skipped")
	}
}

func TestStringSharingIsSafeFromSeveralGoroutines(t *testing.T) {
	table := NewTable()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				pod := decodedPod(g*1000 + i)
				want := pod.DeepCopy()
				table.Share(pod)
				if diff := cmp.Diff(want, pod); diff != "" {
					t.Errorf("pod changed (-before +after):\n%s", diff)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkStringSharing measures the CPU the sharing costs per pod once
// the table is warm (the pods are decoded outside the timer).
func BenchmarkStringSharing(b *testing.B) {
	benchmarkSharing(b, func(i int) any { return decodedPod(i) })
}

// BenchmarkStringSharingUnstructured is BenchmarkStringSharing for the same
// pods as unstructured objects.
func BenchmarkStringSharingUnstructured(b *testing.B) {
	benchmarkSharing(b, func(i int) any { return decodedUnstructured(b, i) })
}

// benchmarkSharing times Share on objects decode makes, a fresh
// batch of them each time the last one is used up, outside the timer.
func benchmarkSharing(b *testing.B, decode func(i int) any) {
	const batch = 1000
	next := 0
	decodeBatch := func() []any {
		objs := make([]any, batch)
		for i := range objs {
			objs[i] = decode(next)
			next++
		}
		return objs
	}
	table := NewTable()
	for _, obj := range decodeBatch() {
		table.Share(obj)
	}
	objs := decodeBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			objs = decodeBatch()
			b.StartTimer()
		}
		table.Share(objs[i%batch])
	}
}
