package informertest

import (
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// Watch starts a watch on gvr in ns ("" for all namespaces).
//
// With opts[0].ResourceVersion set to a revision R, the watch first replays
// every logged change after R, then streams live ones: the replay and the
// registration happen under one lock, so nothing is missed or repeated.
// With "" or "0" it starts with an Added event for each existing object, as
// the API server does. Without opts it streams only changes made from now
// on. opts[0].LabelSelector filters events as on the API server; field
// selectors are ignored, as in client-go's fake.
//
// The returned watch queues without bound and never drops an event; Stop
// ends it and its goroutine.
func (t *tracker) Watch(gvr schema.GroupVersionResource, ns string, opts ...metav1.ListOptions) (watch.Interface, error) {
	if len(opts) > 1 {
		return nil, fmt.Errorf("informertest: watch %s: want at most one ListOptions, got %d", gvr.Resource, len(opts))
	}
	f := filter{namespace: ns}
	var from string
	hasFrom := len(opts) == 1
	if hasFrom {
		o := opts[0]
		if o.SendInitialEvents != nil && *o.SendInitialEvents {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("informertest: watch %s: sendInitialEvents (watch-list) is not supported", gvr.Resource))
		}
		if o.LabelSelector != "" {
			sel, err := labels.Parse(o.LabelSelector)
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("informertest: watch %s: label selector %q: %v", gvr.Resource, o.LabelSelector, err))
			}
			f.selector = sel
		}
		from = o.ResourceVersion
	}
	var fromRev int64
	if from != "" && from != "0" {
		rev, err := strconv.ParseInt(from, 10, 64)
		if err != nil || rev < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("informertest: watch %s: invalid resourceVersion %q", gvr.Resource, from))
		}
		fromRev = rev
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if fromRev > t.revision {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("informertest: watch %s: resourceVersion %d is ahead of the current revision %d", gvr.Resource, fromRev, t.revision))
	}
	var replay eventLog
	switch {
	case !hasFrom:
	case from == "" || from == "0":
		replay = t.logs[gvr].current()
	default:
		replay = t.logs[gvr].after(fromRev)
	}
	w := newWatcher(f, func(w *watcher) { t.removeWatcher(gvr, w) })
	for _, c := range replay {
		if e, ok := f.event(c); ok {
			w.send(e)
		}
	}
	if t.watchers[gvr] == nil {
		t.watchers[gvr] = map[*watcher]struct{}{}
	}
	t.watchers[gvr][w] = struct{}{}
	return w, nil
}

func (t *tracker) removeWatcher(gvr schema.GroupVersionResource, w *watcher) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.watchers[gvr], w)
}
