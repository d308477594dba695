package informer

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// FuzzDispatch drives a registration with random sequences of the
// notifications client-go can produce (adds, updates, resyncs, relists with
// unchanged objects, deletes, tombstones with and without a last state) and
// checks that the state a handler rebuilds from its callbacks equals the
// informer's, that no-op updates never reach it, that every update and
// delete concerns an object the handler knows, with the old object it saw,
// and that registrations with and without callbacks count as seen exactly
// the notifications the API server caused (the backlog's accounting).
//
// Each input byte is one step: the low 2 bits pick one of 4 keys, the rest
// picks the notification. The seed corpus runs in every `go test`.
func FuzzDispatch(f *testing.F) {
	f.Add([]byte{0, 4, 8, 12, 16, 20, 24})
	f.Add([]byte{0, 0, 0, 8, 8, 12, 0, 16, 0, 20, 1, 5, 9, 13, 17, 21})
	f.Add([]byte{3, 7, 11, 15, 19, 23, 2, 6, 10, 14, 18, 22})
	f.Fuzz(func(t *testing.T, steps []byte) {
		type version struct{ rv, label string }
		cached := map[string]*corev1.Pod{} // what the informer holds
		rebuilt := map[string]version{}    // what the handler rebuilt
		var rv int
		var received int64 // notifications of objects the API server sent
		var problems []string
		report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

		r := &Registration[*corev1.Pod]{contexts: newEventContexts(context.Background()), funcs: Funcs[*corev1.Pod]{
			OnAdd: func(_ context.Context, p *corev1.Pod) {
				if _, ok := rebuilt[p.Name]; ok {
					report("add of known object %s", p.Name)
				}
				rebuilt[p.Name] = version{p.ResourceVersion, p.Labels["v"]}
			},
			OnUpdate: func(_ context.Context, oldPod, newPod *corev1.Pod) {
				seen, ok := rebuilt[newPod.Name]
				switch {
				case !ok:
					report("update of unknown object %s", newPod.Name)
				case seen.rv != oldPod.ResourceVersion:
					report("update of %s: old rv %s, handler had %s", newPod.Name, oldPod.ResourceVersion, seen.rv)
				case oldPod.ResourceVersion == newPod.ResourceVersion:
					report("no-op update of %s delivered", newPod.Name)
				}
				rebuilt[newPod.Name] = version{newPod.ResourceVersion, newPod.Labels["v"]}
			},
			OnDelete: func(_ context.Context, p *corev1.Pod) {
				if p == nil || p.Name == "" {
					report("delete without an object")
					return
				}
				if _, ok := rebuilt[p.Name]; !ok {
					report("delete of unknown object %s", p.Name)
				}
				delete(rebuilt, p.Name)
			},
		}}
		bare := &Registration[*corev1.Pod]{contexts: newEventContexts(context.Background())}
		onAdd := func(p *corev1.Pod) { r.onAdd(p, false); bare.onAdd(p, false) }
		onUpdate := func(oldPod, newPod *corev1.Pod) { r.onUpdate(oldPod, newPod); bare.onUpdate(oldPod, newPod) }
		onDelete := func(d cache.DeletedObject[*corev1.Pod]) { r.onDelete(d); bare.onDelete(d) }

		for _, step := range steps {
			name := "p" + strconv.Itoa(int(step&3))
			old := cached[name]
			switch (step >> 2) % 6 {
			case 0, 1: // write: add, or update to a new version
				rv++
				next := pod("default", name, strconv.Itoa(rv))
				next.ResourceVersion = strconv.Itoa(rv)
				cached[name] = next
				received++
				if old == nil {
					onAdd(next)
				} else {
					onUpdate(old, next)
				}
			case 2: // periodic resync: the same object twice
				if old != nil {
					onUpdate(old, old)
				}
			case 3: // relist returned the object unchanged: equal copy
				if old != nil {
					received++
					onUpdate(old, old.DeepCopy())
				}
			case 4: // watched delete
				if old != nil {
					delete(cached, name)
					received++
					onDelete(cache.DeletedObject[*corev1.Pod]{OptionalObj: old})
				}
			case 5: // delete noticed on relist: tombstone, sometimes without state
				if old != nil {
					delete(cached, name)
					tomb := &cache.DeletedFinalStateUnknown{Key: "default/" + name}
					deleted := cache.DeletedObject[*corev1.Pod]{FinalStateUnknown: tomb}
					if step&0x80 == 0 {
						tomb.Obj, deleted.OptionalObj = old, old
					}
					onDelete(deleted)
				}
			}
		}

		for _, reg := range []*Registration[*corev1.Pod]{r, bare} {
			if got := reg.seen.Load(); got != received {
				t.Errorf("seen: got %d, want %d notifications from the server (callbacks: %v)", got, received, reg.funcs.OnAdd != nil)
			}
		}
		for _, p := range problems {
			t.Error(p)
		}
		if len(rebuilt) != len(cached) {
			t.Errorf("rebuilt state has %d objects, informer has %d", len(rebuilt), len(cached))
		}
		for name, p := range cached {
			if got, want := rebuilt[name], (version{p.ResourceVersion, p.Labels["v"]}); got != want {
				t.Errorf("%s: handler rebuilt %+v, informer has %+v", name, got, want)
			}
		}
	})
}
