package informertest

import (
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"
)

// initialRevision is the revision of an empty tracker. It is above 0
// because "0" means "any version" in list and watch requests.
const initialRevision = 1

// tracker is a clienttesting.ObjectTracker that versions what it stores.
// It wraps client-go's field-managed tracker (the one behind
// fake.NewClientset) and adds what that one lacks: every write stamps a new
// resourceVersion, from one counter shared by all resources, on the stored
// object and is appended to the resource's event log; Watch replays the log
// from the requested resourceVersion before streaming live changes.
//
// One mutex serializes writes, lists and watch registrations, so a list's
// resourceVersion and a watch's replay never miss or repeat a change.
type tracker struct {
	inner clienttesting.ObjectTracker

	mu       sync.Mutex
	revision int64
	logs     map[schema.GroupVersionResource]eventLog
	watchers map[schema.GroupVersionResource]map[*watcher]struct{}
}

var _ clienttesting.ObjectTracker = (*tracker)(nil)

func newTracker() *tracker {
	return &tracker{
		inner: clienttesting.NewFieldManagedObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder(),
			applyconfigurations.NewTypeConverter(scheme.Scheme)),
		revision: initialRevision,
		logs:     map[schema.GroupVersionResource]eventLog{},
		watchers: map[schema.GroupVersionResource]map[*watcher]struct{}{},
	}
}

// currentRevision returns the revision of the latest write.
func (t *tracker) currentRevision() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.revision
}

// Add adds obj (or each item of a list) as if created, under the resource
// guessed from its kind, like client-go's tracker does.
func (t *tracker) Add(obj runtime.Object) error {
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return err
		}
		if errs := runtime.DecodeList(items, scheme.Codecs.UniversalDecoder()); len(errs) > 0 {
			return errs[0]
		}
		for _, item := range items {
			if err := t.Add(item); err != nil {
				return err
			}
		}
		return nil
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return fmt.Errorf("informertest: adding %T: %w", obj, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	rev := t.revision + 1
	stampNew(m, rev)
	if err := t.inner.Add(obj); err != nil {
		return err
	}
	for _, gvk := range gvks {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		if gvr.Version == runtime.APIVersionInternal {
			gvr.Version = ""
		}
		t.commit(gvr, rev, watch.Added, obj, nil)
	}
	return nil
}

// Get returns a copy of the stored object.
func (t *tracker) Get(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.GetOptions) (runtime.Object, error) {
	return t.inner.Get(gvr, ns, name, opts...)
}

// List returns the objects of gvr in ns, with the current revision as the
// list's resourceVersion.
func (t *tracker) List(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, ns string, opts ...metav1.ListOptions) (runtime.Object, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.inner.List(gvr, gvk, ns, opts...)
	if err != nil {
		return nil, err
	}
	if lm, err := meta.ListAccessor(list); err == nil {
		lm.SetResourceVersion(strconv.FormatInt(t.revision, 10))
	}
	return list, nil
}

// Create stores a new object. As the API server does, it fills in a name
// from metadata.generateName (in obj itself, because
// clienttesting.ObjectReaction reads the name back from it), a UID and a
// creation timestamp when missing, and the new resourceVersion.
func (t *tracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(5))
	}
	obj = obj.DeepCopyObject()
	m, _ = meta.Accessor(obj)
	rev := t.revision + 1
	stampNew(m, rev)
	if err := t.inner.Create(gvr, obj, ns, opts...); err != nil {
		return err
	}
	stored, err := t.inner.Get(gvr, namespace(m, ns), m.GetName())
	if err != nil {
		return err
	}
	t.commit(gvr, rev, watch.Added, stored, nil)
	return nil
}

// Update replaces an existing object. A resourceVersion in obj is a
// precondition, as on the API server: it must be the stored one, or Update
// returns a Conflict error. An empty one updates unconditionally.
func (t *tracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.replace(gvr, obj.DeepCopyObject(), ns, func(obj runtime.Object) error {
		return t.inner.Update(gvr, obj, ns, opts...)
	})
	return err
}

// Patch stores an object that clienttesting.ObjectReaction patched from the
// stored one; a resourceVersion the patch changed is a precondition, as in
// Update. The new resourceVersion is also set in patched, which
// ObjectReaction returns to the client.
func (t *tracker) Patch(gvr schema.GroupVersionResource, patched runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, err := t.replace(gvr, patched.DeepCopyObject(), ns, func(obj runtime.Object) error {
		return t.inner.Patch(gvr, obj, ns, opts...)
	})
	if err != nil {
		return err
	}
	out, err := meta.Accessor(patched)
	if err != nil {
		return err
	}
	in, _ := meta.Accessor(stored)
	out.SetResourceVersion(in.GetResourceVersion())
	out.SetUID(in.GetUID())
	out.SetCreationTimestamp(in.GetCreationTimestamp())
	return nil
}

// replace runs write for an update of an existing object and logs it. The
// caller holds t.mu; obj is the caller's to modify.
func (t *tracker) replace(gvr schema.GroupVersionResource, obj runtime.Object, ns string, write func(runtime.Object) error) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	ns = namespace(m, ns)
	old, err := t.inner.Get(gvr, ns, m.GetName())
	if err != nil {
		return nil, err
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return nil, err
	}
	if rv := m.GetResourceVersion(); rv != "" && rv != oldMeta.GetResourceVersion() {
		return nil, conflict(gvr, m.GetName(), rv, oldMeta.GetResourceVersion())
	}
	if m.GetUID() == "" {
		m.SetUID(oldMeta.GetUID())
	}
	if m.GetCreationTimestamp().Time.IsZero() {
		m.SetCreationTimestamp(oldMeta.GetCreationTimestamp())
	}
	rev := t.revision + 1
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if err := write(obj); err != nil {
		return nil, err
	}
	stored, err := t.inner.Get(gvr, ns, m.GetName())
	if err != nil {
		return nil, err
	}
	t.commit(gvr, rev, watch.Modified, stored, old)
	return stored, nil
}

// Apply applies a server-side apply patch with client-go's field manager,
// creating the object if needed, then stamps the new resourceVersion with a
// second write (the field manager ignores resourceVersion, so managedFields
// stay as the apply left them).
func (t *tracker) Apply(gvr schema.GroupVersionResource, applyConfiguration runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	am, err := meta.Accessor(applyConfiguration)
	if err != nil {
		return err
	}
	name := am.GetName()
	old, err := t.inner.Get(gvr, ns, name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	existed := err == nil
	if err := t.inner.Apply(gvr, applyConfiguration, ns, opts...); err != nil {
		return err
	}
	applied, err := t.inner.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	m, err := meta.Accessor(applied)
	if err != nil {
		return err
	}
	rev := t.revision + 1
	stampNew(m, rev)
	if err := t.inner.Update(gvr, applied, ns); err != nil {
		return err
	}
	stored, err := t.inner.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	if existed {
		t.commit(gvr, rev, watch.Modified, stored, old)
	} else {
		t.commit(gvr, rev, watch.Added, stored, nil)
	}
	return nil
}

// Delete removes an object. The UID and resourceVersion preconditions of
// DeleteOptions are checked as on the API server. The logged Deleted event
// carries the object's last state with the delete's resourceVersion.
func (t *tracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, err := t.inner.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	m, err := meta.Accessor(old)
	if err != nil {
		return err
	}
	if len(opts) == 1 && opts[0].Preconditions != nil {
		pre := opts[0].Preconditions
		if pre.UID != nil && *pre.UID != m.GetUID() {
			return apierrors.NewConflict(gvr.GroupResource(), name,
				fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, m.GetUID()))
		}
		if pre.ResourceVersion != nil && *pre.ResourceVersion != m.GetResourceVersion() {
			return conflict(gvr, name, *pre.ResourceVersion, m.GetResourceVersion())
		}
	}
	if err := t.inner.Delete(gvr, ns, name, opts...); err != nil {
		return err
	}
	rev := t.revision + 1
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	t.commit(gvr, rev, watch.Deleted, old, nil)
	return nil
}

// deleteCollection deletes, one by one as the API server does, every
// object of gvr in ns ("" for all) that matches selector (nil for all).
func (t *tracker) deleteCollection(gvr schema.GroupVersionResource, ns string, selector labels.Selector) error {
	t.mu.Lock()
	live := t.logs[gvr].current()
	t.mu.Unlock()
	f := filter{namespace: ns, selector: selector}
	for _, c := range live {
		if !f.admits(c.object) {
			continue
		}
		m, err := meta.Accessor(c.object)
		if err != nil {
			return err
		}
		// A concurrent delete may have come first.
		if err := t.Delete(gvr, m.GetNamespace(), m.GetName()); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// IsWatchListSemanticsUnSupported tells client-go's reflector, like the
// fake's own tracker does, not to use watch-list (sendInitialEvents): this
// tracker does not implement it.
func (t *tracker) IsWatchListSemanticsUnSupported() bool {
	return true
}

// commit records a successful write at revision rev and sends it to the
// matching watchers. The caller holds t.mu.
func (t *tracker) commit(gvr schema.GroupVersionResource, rev int64, kind watch.EventType, obj, previous runtime.Object) {
	t.revision = rev
	c := change{revision: rev, kind: kind, object: obj, previous: previous}
	t.logs[gvr] = append(t.logs[gvr], c)
	for w := range t.watchers[gvr] {
		if e, ok := w.filter.event(c); ok {
			w.send(e)
		}
	}
}

// stampNew sets the resourceVersion, and the UID and creation timestamp the
// API server sets on create when they are missing.
func stampNew(m metav1.Object, rev int64) {
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if m.GetUID() == "" {
		m.SetUID(uuid.NewUUID())
	}
	if m.GetCreationTimestamp().Time.IsZero() {
		m.SetCreationTimestamp(metav1.Now())
	}
}

// namespace returns the object's namespace, or ns when it has none (the
// tracker fills it in the same way).
func namespace(m metav1.Object, ns string) string {
	if m.GetNamespace() != "" {
		return m.GetNamespace()
	}
	return ns
}

func conflict(gvr schema.GroupVersionResource, name, got, stored string) error {
	return apierrors.NewConflict(gvr.GroupResource(), name,
		fmt.Errorf("the object has been modified (resourceVersion %s, stored %s); please apply your changes to the latest version and try again", got, stored))
}
