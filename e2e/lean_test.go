package e2e

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDefaultsDecodeWithoutManagedFields checks the default typed path
// against a real server, which sends pods as protobuf with managedFields:
// pods from the initial (streaming) list and from watch events are cached
// without managedFields and the last-applied annotation, and otherwise
// exactly as the server returns them (every field, other annotations
// included). WithManagedFields keeps both.
func TestDefaultsDecodeWithoutManagedFields(t *testing.T) {
	tests := []struct {
		name string
		keep bool
	}{
		{name: "defaults"},
		{name: "WithManagedFields", keep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := adminClient(t)
			ns := newNamespace(t, client)
			annotated := func(name string) *corev1.Pod {
				p := newPod(ns, name, map[string]string{"app": "lean"})
				p.Annotations = map[string]string{lastAppliedAnnotation: `{"apiVersion":"v1","kind":"Pod"}`, "keep": "me"}
				return p
			}
			listed := createPod(t, client, annotated("listed"))

			rec := newRecorder[*corev1.Pod]()
			b := informer.NewBuilder().WithConfig(adminConfig(t)).WithNamespace(ns)
			if tt.keep {
				b.WithManagedFields()
			}
			reg := informer.Watch(b, rec.Funcs())
			startInformer(t, b)
			rec.expect(t, "add "+ns+"/listed")
			watched := createPod(t, client, annotated("watched"))
			rec.expect(t, "add "+ns+"/watched")

			for _, sent := range []*corev1.Pod{listed, watched} {
				if len(sent.ManagedFields) == 0 {
					t.Fatalf("the server returned pod %s without managedFields; the check would prove nothing", sent.Name)
				}
				got, err := reg.Lister().Get(ns, sent.Name)
				if err != nil {
					t.Fatalf("Lister().Get(%q): %v", sent.Name, err)
				}
				want := sent.DeepCopy()
				if !tt.keep {
					want.ManagedFields = nil
					delete(want.Annotations, lastAppliedAnnotation)
				}
				if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b metav1.Time) bool { return a.Equal(&b) })); diff != "" {
					t.Errorf("cached pod %s differs from the server's (-server +cached):\n%s", sent.Name, diff)
				}
			}
		})
	}
}
