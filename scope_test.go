package informer

import (
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// listRecorder records the namespace and selectors of every LIST of a
// resource.
type listRecorder struct {
	mu    sync.Mutex
	lists []string
}

func recordLists(kube *fake.Clientset, resource string) *listRecorder {
	rec := &listRecorder{}
	kube.PrependReactor("list", resource, func(action clienttesting.Action) (bool, runtime.Object, error) {
		list := action.(clienttesting.ListAction)
		r := list.GetListRestrictions()
		rec.mu.Lock()
		rec.lists = append(rec.lists, "ns="+list.GetNamespace()+" labels="+r.Labels.String()+" fields="+r.Fields.String())
		rec.mu.Unlock()
		return false, nil, nil
	})
	return rec
}

func (r *listRecorder) sorted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.lists))
}

func TestRegistrationScopes(t *testing.T) {
	kube := fake.NewClientset()
	lists := recordLists(kube, "configmaps")
	b := NewBuilder().WithClients(kube, nil).WithNamespace("default")
	teamA := Scope{Namespace: "team-a", LabelSelector: "app=web"}
	Watch(b, Funcs[*corev1.ConfigMap]{})                                       // the builder's scope
	Watch(b, Funcs[*corev1.ConfigMap]{}, InScope(teamA))                       // its own
	Watch(b, Funcs[*corev1.ConfigMap]{}, InScope(teamA))                       // shares with the one above
	Watch(b, Funcs[*corev1.ConfigMap]{}, InScope(Scope{}))                     // every namespace
	Watch(b, Funcs[*corev1.ConfigMap]{}, InScope(Scope{Namespace: "default"})) // equals the builder's
	inf := startSynced(t, b)

	want := []string{
		"ns= labels= fields=",
		"ns=default labels= fields=",
		"ns=team-a labels=app=web fields=",
	}
	if got := lists.sorted(); !slices.Equal(got, want) {
		t.Errorf("lists: got %q, want %q (one per distinct scope)", got, want)
	}
	st := inf.Status()
	var names []string
	handlers := map[string]int{}
	for _, is := range st.Informers {
		names = append(names, is.Resource)
		handlers[is.Resource] = len(is.Handlers)
	}
	wantNames := []string{"configmaps", "configmaps [namespace=team-a, labels=app=web]", "configmaps [all]"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("informers: got %q, want %q", names, wantNames)
	}
	if handlers["configmaps"] != 2 || handlers["configmaps [namespace=team-a, labels=app=web]"] != 2 {
		t.Errorf("handlers per informer: got %v, want 2 on the builder's scope and 2 on team-a's", handlers)
	}
}

func TestInvalidScopeIsABuildError(t *testing.T) {
	for _, scope := range []Scope{{LabelSelector: "a in ("}, {FieldSelector: "a=b=c,,"}} {
		b := NewBuilder().WithClients(fake.NewClientset(), nil)
		Watch(b, Funcs[*corev1.Pod]{}, InScope(scope))
		if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "InScope") {
			t.Errorf("Build with %+v: got %v, want an InScope error", scope, err)
		}
	}
}
