package main

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// diffBase is the pod every fieldChanges case starts from.
func diffBase() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: "web-1",
			Labels:          map[string]string{"tier": "web"},
			ResourceVersion: "100",
			Generation:      1,
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
		},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func TestFieldChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *corev1.Pod)
		want   []string
	}{
		{
			name:   "nothing changed",
			change: func(p *corev1.Pod) {},
			want:   nil,
		},
		{
			name: "resourceVersion and managedFields are ignored",
			change: func(p *corev1.Pod) {
				p.ResourceVersion = "101"
				p.ManagedFields = append(p.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubelet"})
			},
			want: nil,
		},
		{
			name:   "label changed",
			change: func(p *corev1.Pod) { p.Labels["tier"] = "cache" },
			want:   []string{"labels.tier: web -> cache"},
		},
		{
			name:   "label added and label removed",
			change: func(p *corev1.Pod) { p.Labels = map[string]string{"team": "blue"} },
			want:   []string{"labels.team: <none> -> blue", "labels.tier: web -> <none>"},
		},
		{
			name:   "key with dots is quoted",
			change: func(p *corev1.Pod) { p.Labels["app.kubernetes.io/name"] = "web" },
			want:   []string{`labels["app.kubernetes.io/name"]: <none> -> web`},
		},
		{
			name:   "empty string differs from absent",
			change: func(p *corev1.Pod) { p.Labels["canary"] = "" },
			want:   []string{`labels.canary: <none> -> ""`},
		},
		{
			name: "generation is kept, list items are indexed",
			change: func(p *corev1.Pod) {
				p.Generation = 2
				p.Spec.Containers[0].Image = "nginx:2"
			},
			want: []string{"generation: 1 -> 2", "spec.containers[0].image: nginx:1 -> nginx:2"},
		},
		{
			name: "labels, spec and status together, sorted by path",
			change: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodRunning
				p.Spec.Containers[0].Image = "nginx:2"
				p.Labels["tier"] = "cache"
			},
			want: []string{
				"labels.tier: web -> cache",
				"spec.containers[0].image: nginx:1 -> nginx:2",
				"status.phase: Pending -> Running",
			},
		},
		{
			name: "list item added",
			change: func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy"})
			},
			want: []string{
				"spec.containers[1].image: <none> -> envoy",
				"spec.containers[1].name: <none> -> proxy",
			},
		},
		{
			name: "long values are shortened",
			change: func(p *corev1.Pod) {
				p.Annotations = map[string]string{"note": strings.Repeat("x", 100)}
			},
			want: []string{"annotations.note: <none> -> " + strings.Repeat("x", maxValueLen-3) + "..."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldPod := diffBase()
			newPod := oldPod.DeepCopy()
			tt.change(newPod)

			got, err := fieldChanges(oldPod, newPod)
			if err != nil {
				t.Fatalf("fieldChanges: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSummarizeChanges(t *testing.T) {
	eight := []string{"a: 1 -> 2", "b: 1 -> 2", "c: 1 -> 2", "d: 1 -> 2", "e: 1 -> 2", "f: 1 -> 2", "g: 1 -> 2", "h: 1 -> 2"}
	tests := []struct {
		name    string
		changes []string
		limit   int
		want    string
	}{
		{"none", nil, 6, "(no field changes)"},
		{"one", eight[:1], 6, "a: 1 -> 2"},
		{"exactly the limit", eight[:6], 6, "a: 1 -> 2, b: 1 -> 2, c: 1 -> 2, d: 1 -> 2, e: 1 -> 2, f: 1 -> 2"},
		{"over the limit", eight, 6, "a: 1 -> 2, b: 1 -> 2, c: 1 -> 2, d: 1 -> 2, e: 1 -> 2, f: 1 -> 2, +2 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizeChanges(tt.changes, tt.limit); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	// Cutting counts characters, not bytes, so a multi-byte character is
	// never split.
	long := strings.Repeat("é", maxValueLen+1)
	want := strings.Repeat("é", maxValueLen-3) + "..."
	if got := shorten(long); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	exact := strings.Repeat("é", maxValueLen)
	if got := shorten(exact); got != exact {
		t.Errorf("got %q, want %q unchanged", got, exact)
	}
}
