package informertest

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// Clientset is a fake kubernetes.Interface whose watches do not lose events.
// It is client-go's *fake.Clientset, with its reactors for every verb and
// for watches replaced by ones backed by a tracker that versions objects:
//
//   - every create, update, patch, apply and delete, through the typed
//     clients or through [Clientset.Tracker], gets a new resourceVersion
//     from one strictly increasing counter ([Clientset.Revision]);
//   - a list carries the current revision as its resourceVersion;
//   - a watch from resourceVersion R replays every change after R, then
//     streams live ones, with no gap and no duplicate, so an informer sees
//     every create, update and delete made between its LIST and its WATCH;
//   - watches queue events without bound: a reader that is away never
//     makes a writer block, panic or lose an event.
//
// Like the API server, Clientset fills in metadata.name from generateName,
// a UID and a creation timestamp on create, and treats a resourceVersion in
// an update, a patch or DeleteOptions.Preconditions as a precondition
// (Conflict on mismatch). Unlike it, every successful write bumps the
// revision, even one that changes nothing; there is no validation,
// defaulting, admission, finalizer or graceful deletion; field selectors
// are ignored (label selectors are honoured by lists, watches and
// DeleteCollection, which deletes objects one by one); subresources
// behave as in client-go's fake; the event log is never compacted, so a
// watch never gets "410 Gone".
//
// Reactors added with PrependReactor and PrependWatchReactor run before
// Clientset's own and can override them, as with the fake. A Clientset is
// safe for concurrent use, except that reactors must be added before it is
// used concurrently, as with the fake.
type Clientset struct {
	*fake.Clientset
	tracker *tracker
}

var (
	_ kubernetes.Interface = (*Clientset)(nil)
	// Promoted from *fake.Clientset: it keeps client-go's reflector from
	// using watch-list, which the fake does not implement.
	_ interface{ IsWatchListSemanticsUnSupported() bool } = (*Clientset)(nil)
)

// NewClientset returns a [Clientset] holding objects, each stored as if
// created, in order: the first gets resourceVersion "2", the next "3", and
// so on (an empty Clientset is at revision 1). It panics if an object cannot
// be added, for example one of a type client-go's scheme does not know, or
// two objects with the same name.
func NewClientset(objects ...runtime.Object) *Clientset {
	t := newTracker()
	for _, obj := range objects {
		if err := t.Add(obj); err != nil {
			panic(fmt.Sprintf("informertest: NewClientset: adding %T: %v", obj, err))
		}
	}
	// The embedded fake's own tracker and reactors stay behind ours, unused;
	// NewSimpleClientset builds them far faster than NewClientset.
	c := &Clientset{Clientset: fake.NewSimpleClientset(), tracker: t}
	c.PrependReactor("*", "*", clienttesting.ObjectReaction(t))
	c.PrependReactor("delete-collection", "*", c.deleteCollection)
	c.PrependWatchReactor("*", c.watch)
	return c
}

// Tracker returns the versioning object tracker behind the clientset.
// Writes made through it are versioned, logged and seen by watches, like
// writes made through the typed clients. (The tracker of the embedded
// *fake.Clientset, reached as c.Clientset.Tracker(), is not used.)
func (c *Clientset) Tracker() clienttesting.ObjectTracker {
	return c.tracker
}

// Revision returns the revision of the latest write: the resourceVersion,
// as a number, of the object it wrote, and the resourceVersion a list
// returns now.
func (c *Clientset) Revision() int64 {
	return c.tracker.currentRevision()
}

// deleteCollection serves DeleteCollection, which client-go's fake ignores.
func (c *Clientset) deleteCollection(action clienttesting.Action) (bool, runtime.Object, error) {
	var selector labels.Selector
	if a, ok := action.(clienttesting.DeleteCollectionActionImpl); ok {
		selector = a.ListRestrictions.Labels
	}
	return true, nil, c.tracker.deleteCollection(action.GetResource(), action.GetNamespace(), selector)
}

// watch serves watch actions. It reports an error as handled, so that the
// fake's own reactor behind it, with its lossy tracker, never serves a
// watch instead.
func (c *Clientset) watch(action clienttesting.Action) (bool, watch.Interface, error) {
	var opts metav1.ListOptions
	if wa, ok := action.(clienttesting.WatchActionImpl); ok {
		opts = wa.ListOptions
	}
	w, err := c.tracker.Watch(action.GetResource(), action.GetNamespace(), opts)
	return true, w, err
}
