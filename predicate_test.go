package informer

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// metaPod returns pod default/a, generation 1, resourceVersion 1, labelled
// app=web and annotated note=a, changed by changes.
func metaPod(changes ...func(m *metav1.ObjectMeta)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "default", Name: "a", Generation: 1, ResourceVersion: "1",
		Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "a"},
	}}
	for _, change := range changes {
		change(&p.ObjectMeta)
	}
	return p
}

func generation(g int64) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.Generation = g }
}

func resourceVersion(rv string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.ResourceVersion = rv }
}

func label(key, value string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.Labels[key] = value }
}

func annotation(key, value string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.Annotations[key] = value }
}

func namespace(ns string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.Namespace = ns }
}

func finalizers(names ...string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) { m.Finalizers = names }
}

// deleting sets deletionTimestamp, as the API server does when a delete
// starts on an object with finalizers.
func deleting(m *metav1.ObjectMeta) {
	now := metav1.Now()
	m.DeletionTimestamp = &now
}

// running sets the pod's status phase: a status-only change.
func running(p *corev1.Pod) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	return p
}

type predicateCase struct {
	name      string
	predicate Predicate
	kind      eventKind
	old, obj  *corev1.Pod // old: updates only
	want      bool        // delivered
}

var (
	web          = metaPod()
	webUpdated   = metaPod(resourceVersion("2"))
	db           = metaPod(label("app", "db"))
	dbUpdated    = metaPod(label("app", "db"), resourceVersion("2"))
	dbDeleting   = metaPod(label("app", "db"), resourceVersion("2"), deleting)
	dbFinalized  = metaPod(label("app", "db"), finalizers("example.com/cleanup"))
	dbUnfinished = metaPod(label("app", "db"), resourceVersion("2"))
	elsewhere    = metaPod(namespace("other"))
)

// builtInCases cover every built-in predicate, alone and combined, on adds,
// updates and deletes, including the deletes and the deletionTimestamp and
// finalizer changes they must never drop.
var builtInCases = []predicateCase{
	{"GenerationChanged: add", GenerationChanged(), addEvent, nil, web, true},
	{"GenerationChanged: spec change", GenerationChanged(), updateEvent, web, metaPod(resourceVersion("2"), generation(2)), true},
	{"GenerationChanged: status-only change is dropped", GenerationChanged(), updateEvent, web, running(metaPod(resourceVersion("2"))), false},
	{"GenerationChanged: label change is dropped", GenerationChanged(), updateEvent, web, metaPod(resourceVersion("2"), label("tier", "x")), false},
	{"GenerationChanged: no generation, every update passes", GenerationChanged(), updateEvent,
		metaPod(generation(0)), running(metaPod(generation(0), resourceVersion("2"))), true},
	{"GenerationChanged: deletionTimestamp set", GenerationChanged(), updateEvent, web, metaPod(resourceVersion("2"), deleting), true},
	{"GenerationChanged: finalizer removed", GenerationChanged(), updateEvent, metaPod(finalizers("f")), webUpdated, true},
	{"GenerationChanged: delete", GenerationChanged(), deleteEvent, nil, web, true},

	{"LabelsChanged: add", LabelsChanged(), addEvent, nil, web, true},
	{"LabelsChanged: label changed", LabelsChanged(), updateEvent, web, metaPod(resourceVersion("2"), label("app", "db")), true},
	{"LabelsChanged: annotation only is dropped", LabelsChanged(), updateEvent, web, metaPod(resourceVersion("2"), annotation("note", "b")), false},
	{"LabelsChanged: finalizer added", LabelsChanged(), updateEvent, web, metaPod(resourceVersion("2"), finalizers("f")), true},
	{"LabelsChanged: delete", LabelsChanged(), deleteEvent, nil, web, true},

	{"AnnotationsChanged: add", AnnotationsChanged(), addEvent, nil, web, true},
	{"AnnotationsChanged: annotation changed", AnnotationsChanged(), updateEvent, web, metaPod(resourceVersion("2"), annotation("note", "b")), true},
	{"AnnotationsChanged: label only is dropped", AnnotationsChanged(), updateEvent, web, metaPod(resourceVersion("2"), label("tier", "x")), false},
	{"AnnotationsChanged: deletionTimestamp set", AnnotationsChanged(), updateEvent, web, metaPod(resourceVersion("2"), deleting), true},
	{"AnnotationsChanged: delete", AnnotationsChanged(), deleteEvent, nil, web, true},

	{"ResourceVersionChanged: add", ResourceVersionChanged(), addEvent, nil, web, true},
	{"ResourceVersionChanged: changed", ResourceVersionChanged(), updateEvent, web, webUpdated, true},
	{"ResourceVersionChanged: unchanged is dropped", ResourceVersionChanged(), updateEvent, web, metaPod(label("tier", "x")), false},
	{"ResourceVersionChanged: unchanged but deletionTimestamp set", ResourceVersionChanged(), updateEvent, web, metaPod(deleting), true},
	{"ResourceVersionChanged: delete", ResourceVersionChanged(), deleteEvent, nil, web, true},

	{"LabelSelector: add matching", LabelSelector("app=web"), addEvent, nil, web, true},
	{"LabelSelector: add not matching is dropped", LabelSelector("app=web"), addEvent, nil, db, false},
	{"LabelSelector: update matching", LabelSelector("app=web"), updateEvent, web, webUpdated, true},
	{"LabelSelector: update that stops matching", LabelSelector("app=web"), updateEvent, web, dbUpdated, true},
	{"LabelSelector: update that starts matching", LabelSelector("app=web"), updateEvent, db, webUpdated, true},
	{"LabelSelector: update matching neither is dropped", LabelSelector("app=web"), updateEvent, db, dbUpdated, false},
	{"LabelSelector: not matching, deletionTimestamp set", LabelSelector("app=web"), updateEvent, db, dbDeleting, true},
	{"LabelSelector: not matching, finalizer removed", LabelSelector("app=web"), updateEvent, dbFinalized, dbUnfinished, true},
	{"LabelSelector: delete not matching", LabelSelector("app=web"), deleteEvent, nil, db, true},

	{"InNamespaces: add in the first", InNamespaces("default", "kube-system"), addEvent, nil, web, true},
	{"InNamespaces: add in the second", InNamespaces("kube-system", "default"), addEvent, nil, web, true},
	{"InNamespaces: add elsewhere is dropped", InNamespaces("default", "kube-system"), addEvent, nil, elsewhere, false},
	{"InNamespaces: update elsewhere is dropped", InNamespaces("default"), updateEvent, elsewhere, metaPod(namespace("other"), resourceVersion("2")), false},
	{"InNamespaces: elsewhere, deletionTimestamp set", InNamespaces("default"), updateEvent, elsewhere, metaPod(namespace("other"), resourceVersion("2"), deleting), true},
	{"InNamespaces: delete elsewhere", InNamespaces("default"), deleteEvent, nil, elsewhere, true},

	{"Not(LabelSelector): add matching is dropped", Not(LabelSelector("app=web")), addEvent, nil, web, false},
	{"Not(LabelSelector): add not matching", Not(LabelSelector("app=web")), addEvent, nil, db, true},
	{"Not(LabelSelector): update matching is dropped", Not(LabelSelector("app=web")), updateEvent, web, webUpdated, false},
	{"Not(LabelSelector): matching, deletionTimestamp set", Not(LabelSelector("app=web")), updateEvent, web, metaPod(resourceVersion("2"), deleting), true},
	{"Not(LabelSelector): matching, finalizer removed", Not(LabelSelector("app=web")), updateEvent, metaPod(finalizers("f")), webUpdated, true},
	{"Not(LabelSelector): delete matching", Not(LabelSelector("app=web")), deleteEvent, nil, web, true},
	{"Not(GenerationChanged): add", Not(GenerationChanged()), addEvent, nil, web, true},
	{"Not(GenerationChanged): spec change is dropped", Not(GenerationChanged()), updateEvent, web, metaPod(resourceVersion("2"), generation(2)), false},
	{"Not(GenerationChanged): status-only change", Not(GenerationChanged()), updateEvent, web, running(metaPod(resourceVersion("2"))), true},
	{"Not(GenerationChanged): spec change and finalizer removed", Not(GenerationChanged()), updateEvent,
		metaPod(finalizers("f")), metaPod(resourceVersion("2"), generation(2)), true},
	{"Not(Not(LabelSelector)): add not matching is dropped", Not(Not(LabelSelector("app=web"))), addEvent, nil, db, false},

	{"And: add matching both", And(LabelSelector("app=web"), InNamespaces("default")), addEvent, nil, web, true},
	{"And: add matching one is dropped", And(LabelSelector("app=web"), InNamespaces("default")), addEvent, nil, elsewhere, false},
	{"And: matching neither, deletionTimestamp set", And(LabelSelector("app=web"), InNamespaces("default")), updateEvent,
		metaPod(namespace("other"), label("app", "db")), metaPod(namespace("other"), label("app", "db"), resourceVersion("2"), deleting), true},
	{"And: delete matching neither", And(LabelSelector("app=web"), InNamespaces("default")), deleteEvent, nil, metaPod(namespace("other"), label("app", "db")), true},
	{"Or: add matching one", Or(LabelSelector("app=web"), LabelSelector("app=db")), addEvent, nil, db, true},
	{"Or: add matching none is dropped", Or(LabelSelector("app=web"), LabelSelector("app=db")), addEvent, nil, metaPod(label("app", "cache")), false},
	{"Or: matching none, finalizer removed", Or(LabelSelector("app=web"), LabelSelector("app=db")), updateEvent,
		metaPod(label("app", "cache"), finalizers("f")), metaPod(label("app", "cache"), resourceVersion("2")), true},
	{"Or: delete matching none", Or(LabelSelector("app=web"), LabelSelector("app=db")), deleteEvent, nil, metaPod(label("app", "cache")), true},
	{"Not(And): matching both, deletionTimestamp set", Not(And(LabelSelector("app=web"), InNamespaces("default"))), updateEvent,
		web, metaPod(resourceVersion("2"), deleting), true},
	{"Not(And): delete matching both", Not(And(LabelSelector("app=web"), InNamespaces("default"))), deleteEvent, nil, web, true},
	{"Not(Or): matching one, finalizer removed", Not(Or(LabelSelector("app=web"), LabelSelector("app=db"))), updateEvent,
		metaPod(finalizers("f")), webUpdated, true},
	{"Not(Or): delete matching one", Not(Or(LabelSelector("app=web"), LabelSelector("app=db"))), deleteEvent, nil, web, true},

	{"zero Predicate: add", Predicate{}, addEvent, nil, web, true},
	{"zero Predicate: update", Predicate{}, updateEvent, web, webUpdated, true},
	{"And of nothing: update", And(), updateEvent, web, webUpdated, true},
	{"Or of nothing: add", Or(), addEvent, nil, web, true},
}

func TestBuiltInPredicates(t *testing.T) {
	// Built-ins read metadata only: each case must hold for typed,
	// unstructured and metadata objects alike.
	representations := []struct {
		name    string
		convert func(t *testing.T, p *corev1.Pod) metav1.Object
	}{
		{"typed", func(_ *testing.T, p *corev1.Pod) metav1.Object { return p }},
		{"unstructured", func(t *testing.T, p *corev1.Pod) metav1.Object {
			fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
			if err != nil {
				t.Fatalf("converting to unstructured: %v", err)
			}
			return &unstructured.Unstructured{Object: fields}
		}},
		{"metadata", func(_ *testing.T, p *corev1.Pod) metav1.Object {
			return &metav1.PartialObjectMetadata{ObjectMeta: p.ObjectMeta}
		}},
	}
	for _, tt := range builtInCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, rep := range representations {
				old := tt.old
				if old == nil {
					old = tt.obj
				}
				got := tt.predicate.accepts(tt.kind, rep.convert(t, old), rep.convert(t, tt.obj))
				if got != tt.want {
					t.Errorf("%s %s: delivered: got %v, want %v", rep.name, tt.kind, got, tt.want)
				}
			}
		})
	}
}

func TestCustomPredicates(t *testing.T) {
	never := func(*corev1.Pod) bool { return false }
	neverUpdate := func(_, _ *corev1.Pod) bool { return false }
	always := func(*corev1.Pod) bool { return true }
	isWeb := func(p *corev1.Pod) bool { return p.Labels["app"] == "web" }
	tests := []predicateCase{
		{"AddFunc: add is decided", AddFunc(never), addEvent, nil, web, false},
		{"AddFunc: update is left alone", AddFunc(never), updateEvent, web, webUpdated, true},
		{"AddFunc: delete is left alone", AddFunc(never), deleteEvent, nil, web, true},
		{"UpdateFunc: update is decided", UpdateFunc(neverUpdate), updateEvent, web, webUpdated, false},
		{"UpdateFunc: is obeyed on deletionTimestamp set", UpdateFunc(neverUpdate), updateEvent, db, dbDeleting, false},
		{"UpdateFunc: is obeyed on finalizer removed", UpdateFunc(neverUpdate), updateEvent, dbFinalized, dbUnfinished, false},
		{"UpdateFunc: add is left alone", UpdateFunc(neverUpdate), addEvent, nil, web, true},
		{"UpdateFunc: gets old and new", UpdateFunc(func(oldObj, newObj *corev1.Pod) bool {
			return oldObj.Labels["app"] == "db" && newObj.Labels["app"] == "web"
		}), updateEvent, db, webUpdated, true},
		{"DeleteFunc: delete is obeyed", DeleteFunc(never), deleteEvent, nil, web, false},
		{"DeleteFunc: sees the object", DeleteFunc(isWeb), deleteEvent, nil, db, false},
		{"DeleteFunc: add is left alone", DeleteFunc(never), addEvent, nil, web, true},
		{"And(LabelSelector, DeleteFunc): delete matching, func says drop", And(LabelSelector("app=web"), DeleteFunc(never)), deleteEvent, nil, web, false},
		{"Or(LabelSelector, DeleteFunc): delete not matching, func says pass", Or(LabelSelector("app=web"), DeleteFunc(always)), deleteEvent, nil, db, true},
		{"And(LabelSelector, AddFunc): add matching both", And(LabelSelector("app=web"), AddFunc(isWeb)), addEvent, nil, web, true},
		{"Or(LabelSelector, AddFunc): add matching neither is dropped", Or(LabelSelector("app=db"), AddFunc(never)), addEvent, nil, web, false},
		{"Not(UpdateFunc): update is dropped", Not(UpdateFunc(func(_, _ *corev1.Pod) bool { return true })), updateEvent, web, webUpdated, false},
		{"Not(UpdateFunc): add is left alone", Not(UpdateFunc(func(_, _ *corev1.Pod) bool { return true })), addEvent, nil, web, true},
		{"Not(UpdateFunc): delete is left alone", Not(UpdateFunc(func(_, _ *corev1.Pod) bool { return true })), deleteEvent, nil, web, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.old
			if old == nil {
				old = tt.obj
			}
			if got := tt.predicate.accepts(tt.kind, old, tt.obj); got != tt.want {
				t.Errorf("%s: delivered: got %v, want %v", tt.kind, got, tt.want)
			}
		})
	}
}

// tracedPredicate is a predicate that records each event it decides and
// passes it.
func tracedPredicate(decided chan<- string) Predicate {
	return Or(
		AddFunc(func(p *corev1.Pod) bool { decided <- "add " + p.Name; return true }),
		UpdateFunc(func(_, p *corev1.Pod) bool { decided <- "update " + p.Name; return true }),
		DeleteFunc(func(p *corev1.Pod) bool { decided <- "delete " + p.Name; return true }),
	)
}

func TestFilteredEventsAreSeenButNotDelivered(t *testing.T) {
	events := make(chan event, 10)
	r := directRegistration(events, WithPredicates(LabelSelector("app=web")), WithPredicates(InNamespaces("default")))
	r.onAdd(db, false)                                            // dropped by the first option
	r.onAdd(elsewhere, false)                                     // dropped by the second
	r.onUpdate(db, dbUpdated)                                     // dropped
	r.onUpdate(db, dbDeleting)                                    // a deletion starts: delivered
	r.onAdd(web, true)                                            // delivered
	r.onDelete(cache.DeletedObject[*corev1.Pod]{OptionalObj: db}) // a delete: delivered

	var got []string
	for len(events) > 0 {
		e := <-events
		got = append(got, e.kind)
	}
	want := []string{"update", "add", "delete"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("delivered: got %q, want %q", got, want)
	}
	st := r.Stats()
	if st.Delivered != 3 {
		t.Errorf("Delivered: got %d, want 3 (filtered events are not delivered)", st.Delivered)
	}
	if got := r.seen.Load(); got != 6 {
		t.Errorf("events seen: got %d, want 6 (filtered events count for the backlog)", got)
	}
}

func TestNoOpUpdatesAreSkippedBeforePredicates(t *testing.T) {
	decided := make(chan string, 10)
	events := make(chan event, 10)
	r := directRegistration(events, WithPredicates(tracedPredicate(decided)))
	same := withRV(pod("default", "a", "1"), "5")
	r.onUpdate(same, same)
	r.onUpdate(same, withRV(pod("default", "a", "2"), "5"))
	if len(decided) != 0 || len(events) != 0 {
		t.Errorf("no-op updates: got %d predicate calls and %d callbacks, want none", len(decided), len(events))
	}
}

func TestPanickingPredicateIsRecoveredAndDelivers(t *testing.T) {
	logs := captureKlog(t)
	events := make(chan event, 1)
	r := directRegistration(events, WithPredicates(UpdateFunc(func(_, _ *corev1.Pod) bool { panic("boom") })))
	r.onUpdate(web, webUpdated)
	if len(events) != 1 {
		t.Errorf("update after a predicate panicked: got %d callbacks, want 1", len(events))
	}
	if st := r.Stats(); st.Panics != 1 || st.Delivered != 1 {
		t.Errorf("stats: got %+v, want 1 panic and 1 delivered", st)
	}
	if out := logs.String(); !strings.Contains(out, "predicate panicked") || !strings.Contains(out, `name="a"`) {
		t.Errorf("log: got %q, want a line saying the predicate panicked, naming the object", out)
	}
}

func TestDispatchAllocations(t *testing.T) {
	tests := []struct {
		name string
		opts []WatchOption
	}{
		{"no predicate", nil},
		{"built-in predicates", []WatchOption{WithPredicates(LabelSelector("app=web"), Not(GenerationChanged()), InNamespaces("default"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Registration[*corev1.Pod]{
				funcs: Funcs[*corev1.Pod]{
					OnAdd:    func(context.Context, *corev1.Pod) {},
					OnUpdate: func(context.Context, *corev1.Pod, *corev1.Pod) {},
					OnDelete: func(context.Context, *corev1.Pod) {},
				},
				contexts: newEventContexts(context.Background()),
			}
			for _, opt := range tt.opts {
				opt(&r.opts)
			}
			deleted := cache.DeletedObject[*corev1.Pod]{OptionalObj: web}
			allocs := testing.AllocsPerRun(100, func() {
				r.onAdd(web, false)
				r.onUpdate(web, webUpdated)
				r.onDelete(deleted)
			})
			if allocs != 0 {
				t.Errorf("allocations per add, update and delete: got %v, want 0", allocs)
			}
		})
	}
}

func TestPredicateErrorsAreBuildErrors(t *testing.T) {
	podOnly := func(*corev1.Pod) bool { return true }
	tests := []struct {
		name     string
		register func(b *Builder) interface{ Err() error }
		wantErr  string // "" for none
	}{
		{"invalid LabelSelector", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(LabelSelector("app in (web")))
		}, `informer: WithPredicates: LabelSelector "app in (web"`},
		{"invalid LabelSelector inside Not", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(GenerationChanged(), Not(Or(LabelSelector("=")))))
		}, `LabelSelector "="`},
		{"InNamespaces without namespace", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(InNamespaces()))
		}, "InNamespaces: no namespace given"},
		{"nil function", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(UpdateFunc[*corev1.Pod](nil)))
		}, "UpdateFunc[*v1.Pod]: nil function"},
		{"custom predicate of another type", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(UpdateFunc(func(_, _ *corev1.ConfigMap) bool { return true })))
		}, "informer: watch pods: WithPredicates: UpdateFunc[*v1.ConfigMap]: the registration's objects are *v1.Pod"},
		{"custom predicate of another type inside Not(And)", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(LabelsChanged()), WithPredicates(Not(And(AddFunc(podOnly), DeleteFunc(func(*corev1.Secret) bool { return true })))))
		}, "DeleteFunc[*v1.Secret]"},
		{"typed predicate on WatchResource", func(b *Builder) interface{ Err() error } {
			return WatchResource(b, podsGVR, Funcs[*unstructured.Unstructured]{}, WithPredicates(AddFunc(podOnly)))
		}, "AddFunc[*v1.Pod]: the registration's objects are *unstructured.Unstructured"},
		{"typed predicate on WatchMetadata", func(b *Builder) interface{ Err() error } {
			return WatchMetadata(b, podsGVR, Funcs[*metav1.PartialObjectMetadata]{}, WithPredicates(AddFunc(podOnly)))
		}, "AddFunc[*v1.Pod]: the registration's objects are *v1.PartialObjectMetadata"},
		{"custom predicate of another type on Reconcile", func(b *Builder) interface{ Err() error } {
			reconcile := func(context.Context, Request[*corev1.Pod]) (Result, error) { return Result{}, nil }
			return Reconcile(b, reconcile, WithPredicates(DeleteFunc(func(*corev1.Secret) bool { return true })))
		}, "DeleteFunc[*v1.Secret]: the registration's objects are *v1.Pod"},
		{"matching types", func(b *Builder) interface{ Err() error } {
			return Watch(b, Funcs[*corev1.Pod]{}, WithPredicates(AddFunc(podOnly), LabelSelector("app=web"), InNamespaces("default")))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder().WithClients(fake.NewClientset(), nil)
			reg := tt.register(b)
			inf, buildErr := b.Build()
			if inf != nil {
				t.Cleanup(func() { _ = inf.Stop() })
			}
			for what, err := range map[string]error{"Build": buildErr, "Registration.Err": reg.Err()} {
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("%s: got %v, want no error", what, err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("%s: got %v, want an error containing %q", what, err, tt.wantErr)
				}
			}
		})
	}
}

func TestPredicateErrorAfterBuildIsRegistrationErr(t *testing.T) {
	b := NewBuilder().WithClients(fake.NewClientset(), nil)
	Watch(b, Funcs[*corev1.Pod]{})
	startSynced(t, b)
	late := Watch(b, Funcs[*corev1.ConfigMap]{}, WithPredicates(LabelSelector("app in (")))
	if err := late.Err(); err == nil || !strings.Contains(err.Error(), "LabelSelector") {
		t.Errorf("Registration.Err: got %v, want the LabelSelector error", err)
	}
}

// TestPredicatesFilterEventsFromTheServer runs predicates on events from an
// informer: a filtered update is not delivered, a later matching one is,
// and the backlog counts filtered events as handled.
func TestPredicatesFilterEventsFromTheServer(t *testing.T) {
	kube := fake.NewClientset(pod("default", "a", "1"))
	started := watchStarted(kube, "pods")
	events := make(chan event, 10)
	decided := make(chan string, 10)
	b := NewBuilder().WithClients(kube, nil)
	// tracedPredicate comes first: And stops at the first drop.
	reg := Watch(b, recordingFuncs[*corev1.Pod](events), WithPredicates(tracedPredicate(decided), LabelsChanged()))
	startSynced(t, b)
	waitFor(t, started, "watch on pods")
	if got, want := nextEvent(t, events), (event{kind: "add", key: "default/a", initial: true, newLabel: "1"}); got != want {
		t.Fatalf("initial list: got %+v, want %+v", got, want)
	}
	waitForString(t, decided, "add a", "the initial list")

	pods := kube.CoreV1().Pods("default")
	update := func(change func(p *corev1.Pod)) {
		t.Helper()
		p, err := pods.Get(t.Context(), "a", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod: %v", err)
		}
		change(p)
		if _, err := pods.Update(t.Context(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update pod: %v", err)
		}
	}
	// wantFiltered waits for the predicates to see an update, which must
	// then be handled without a callback.
	wantFiltered := func(what string, delivered int64) {
		t.Helper()
		waitForString(t, decided, "update a", what)
		if st := reg.Stats(); st.Delivered != delivered || st.Backlog != 0 {
			t.Errorf("after %s: got Delivered %d and Backlog %d, want %d and 0", what, st.Delivered, st.Backlog, delivered)
		}
	}

	update(func(p *corev1.Pod) { p.Annotations = map[string]string{"note": "x"} })
	wantFiltered("an annotation change", 1)
	update(func(p *corev1.Pod) { p.Labels["v"] = "2" })
	waitForString(t, decided, "update a", "a label change")
	want := event{kind: "update", key: "default/a", oldLabel: "1", newLabel: "2"}
	if got := nextEvent(t, events); got != want {
		t.Errorf("update after a filtered one: got %+v, want %+v", got, want)
	}
	update(func(p *corev1.Pod) { p.Annotations["note"] = "y" })
	wantFiltered("a second annotation change", 2)
	if len(events) != 0 {
		t.Errorf("callbacks after filtered updates: got %+v, want none", <-events)
	}
}

func waitForString(t *testing.T, ch <-chan string, want, what string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("%s: predicates saw %q, want %q", what, got, want)
		}
	case <-time.After(waitBound):
		t.Fatalf("%s: predicates saw nothing within %v", what, waitBound)
	}
}
