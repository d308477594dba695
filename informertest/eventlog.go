package informertest

import (
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// change is one logged write to a resource.
type change struct {
	revision int64
	kind     watch.EventType // Added, Modified or Deleted
	// object is the state after the write; for a delete, the last state,
	// carrying the delete's resourceVersion as the API server sends it.
	object runtime.Object
	// previous is the state before a Modified write, to tell when an object
	// starts or stops matching a label selector.
	previous runtime.Object
}

// eventLog is the history of one resource, in revision order.
type eventLog []change

// after returns the changes with a revision above rev.
func (l eventLog) after(rev int64) eventLog {
	i := sort.Search(len(l), func(i int) bool { return l[i].revision > rev })
	return l[i:]
}

// current folds the log into the objects that exist now, oldest write first.
func (l eventLog) current() []change {
	latest := map[cache.ObjectName]change{}
	for _, c := range l {
		key, _ := cache.ObjectToName(c.object)
		if c.kind == watch.Deleted {
			delete(latest, key)
			continue
		}
		latest[key] = c
	}
	live := make([]change, 0, len(latest))
	for _, c := range latest {
		live = append(live, change{revision: c.revision, kind: watch.Added, object: c.object})
	}
	sort.Slice(live, func(i, j int) bool { return live[i].revision < live[j].revision })
	return live
}

// filter is what a watch asked for: a namespace ("" for all) and a label
// selector (nil for all).
type filter struct {
	namespace string
	selector  labels.Selector
}

// event turns a change into the event a watch with this filter receives, as
// the API server does: an object that starts matching the selector arrives
// as Added, one that stops matching as Deleted.
func (f filter) event(c change) (watch.Event, bool) {
	if f.namespace != "" && namespaceOf(c.object) != f.namespace {
		return watch.Event{}, false
	}
	matches := f.matches(c.object)
	if c.kind != watch.Modified {
		return watch.Event{Type: c.kind, Object: c.object.DeepCopyObject()}, matches
	}
	matched := f.matches(c.previous)
	switch {
	case matches && matched:
		return watch.Event{Type: watch.Modified, Object: c.object.DeepCopyObject()}, true
	case matches:
		return watch.Event{Type: watch.Added, Object: c.object.DeepCopyObject()}, true
	case matched:
		last := c.previous.DeepCopyObject()
		setResourceVersion(last, c.revision)
		return watch.Event{Type: watch.Deleted, Object: last}, true
	default:
		return watch.Event{}, false
	}
}

// admits reports whether obj is in the filter's namespace and matches its
// selector.
func (f filter) admits(obj runtime.Object) bool {
	return (f.namespace == "" || namespaceOf(obj) == f.namespace) && f.matches(obj)
}

func (f filter) matches(obj runtime.Object) bool {
	if f.selector == nil || obj == nil {
		return f.selector == nil
	}
	m, err := meta.Accessor(obj)
	return err == nil && f.selector.Matches(labels.Set(m.GetLabels()))
}

func namespaceOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetNamespace()
}

func setResourceVersion(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
}
