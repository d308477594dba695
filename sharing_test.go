package informer

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// podWithOwnStrings returns a pod whose image and managedFields manager are
// each in an allocation of their own, as a decoder would produce them.
func podWithOwnStrings(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:     "shop",
			Name:          fmt.Sprintf("web-%d", i),
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: strings.Clone("kubelet")}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: strings.Clone("registry.example.com/web:v1.2.3")}}},
	}
}

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestStringSharingWorksWithManagedFieldsKept(t *testing.T) {
	transform := newTransform(settings{keepManagedFields: true, shareStrings: true})
	pods := []*corev1.Pod{podWithOwnStrings(0), podWithOwnStrings(1)}
	for _, p := range pods {
		if _, err := transform(p); err != nil {
			t.Fatal(err)
		}
	}
	if len(pods[1].ManagedFields) != 1 {
		t.Fatalf("managedFields: got %v, want the kubelet entry kept", pods[1].ManagedFields)
	}
	if !sameString(pods[0].ManagedFields[0].Manager, pods[1].ManagedFields[0].Manager) {
		t.Error("the managers of the kept managedFields are two copies, want one")
	}
	if !sameString(pods[0].Spec.Containers[0].Image, pods[1].Spec.Containers[0].Image) {
		t.Error("the images are two copies, want one")
	}
}

func TestWithStringSharingSharesAcrossCachedObjects(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Builder)
		share     bool
	}{
		{name: "default", configure: func(*Builder) {}, share: true},
		{name: "WithStringSharing(false)", configure: func(b *Builder) { b.WithStringSharing(false) }},
		{name: "WithStringSharing()", configure: func(b *Builder) { b.WithStringSharing(false).WithStringSharing() }, share: true},
		{name: "WithStringSharing(true)", configure: func(b *Builder) { b.WithStringSharing(false).WithStringSharing(true) }, share: true},
	}
	for _, tt := range tests {
		share := tt.share
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset(podWithOwnStrings(1), podWithOwnStrings(2))
			b := NewBuilder().WithClients(kube, nil)
			tt.configure(b)
			reg := Watch(b, Funcs[*corev1.Pod]{})
			startSynced(t, b)
			pods, err := reg.Lister().List(nil)
			if err != nil || len(pods) != 2 {
				t.Fatalf("List: %d pods, %v", len(pods), err)
			}
			a, c := pods[0].Spec.Containers[0].Image, pods[1].Spec.Containers[0].Image
			if a != c {
				t.Fatalf("images differ: %q, %q", a, c)
			}
			if got := sameString(a, c); got != share {
				t.Errorf("the two cached pods share their image string: %v, want %v", got, share)
			}
		})
	}
}

func TestWithStringSharingRejectsSeveralArguments(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil).WithStringSharing(true, false)
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "WithStringSharing") {
		t.Errorf("Build: got %v, want an error naming WithStringSharing", err)
	}
}
