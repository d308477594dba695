// Package intern shares the strings that repeat between decoded Kubernetes
// objects, so that a cache of many similar objects keeps one copy of each.
//
// A decoder gives every string of every object an allocation of its own,
// though most of them repeat from object to object: namespaces, label and
// annotation keys, images, container names, condition types and reasons,
// policies, node names. [Table.Share] replaces each such string with the one
// copy the table already holds, so that 10,000 pods of a Deployment keep one
// "registry.example.com/web:v1.2.3" rather than 20,000.
//
// What is shared is learned per field: the non-empty values of each string
// field are looked up, and after every probeWindow lookups a field whose
// values were found in the table at most half of the time (names, UIDs, IPs,
// container IDs) is skipped from then on, so that neither the table nor the
// CPU is spent on values that do not repeat. The table is bounded: at
// maxEntries it starts afresh (objects keep the strings they have).
//
// Unstructured objects are map trees: their keys (the field names, shared by
// every object of a kind) and their string values are shared the same way,
// values being judged per key name.
//
// Strings are immutable, so sharing them changes nothing a program can
// observe without package unsafe. Share rewrites objects in place: call it
// only on objects no other goroutine reads yet (client-go's transforms see
// freshly decoded objects only). This package is the only one of the module
// that uses unsafe.
package intern

import (
	"reflect"
	"sync"
	"unsafe"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	// maxLen is the longest string looked up; longer ones rarely repeat.
	maxLen = 256
	// maxEntries bounds a table.
	maxEntries = 1 << 16
	// probeWindow is the number of lookups after which a field's sharing
	// rate is judged.
	probeWindow = 256
)

// Table is one cache's table of shared strings, learned from the objects
// given to [Table.Share]. It is safe for concurrent use; its lock is held
// for a whole object.
type Table struct {
	mu      sync.Mutex
	strings map[string]string
	limit   int          // the most strings held; maxEntries
	fields  []fieldStats // indexed by stringOp.id
	// last caches the plan of the type seen last (an informer sees one).
	lastType reflect.Type
	lastPlan *stringPlan
	// treeKeys counts the keys of unstructured objects; treeValues the
	// string values under each key name (at most maxTreeValueStats names,
	// then overflowValues for the rest).
	treeKeys       fieldStats
	treeValues     map[string]*fieldStats
	overflowValues fieldStats
}

// maxTreeValueStats bounds the key names whose values are counted apart.
const maxTreeValueStats = 4096

// fieldStats count the lookups of one field in the current window, and
// keep the field's last shared value: many fields hold the same value in
// object after object (a namespace, an image, "True"), and comparing with
// it is cheaper than a lookup.
type fieldStats struct {
	seen, shared uint32
	skip         bool
	last         string
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{
		strings:    make(map[string]string),
		limit:      maxEntries,
		treeValues: make(map[string]*fieldStats),
	}
}

// Share replaces, in place, the strings of obj that repeat by the table's
// copies, and learns the new ones. obj is a pointer to a struct (such as a
// *corev1.Pod) or an *unstructured.Unstructured; other values, and nil, are
// left alone. Values are unchanged; only exported fields are rewritten.
func (t *Table) Share(obj any) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if u != nil {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.shareTree(u.Object)
		}
		return
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	typ := v.Type()
	if typ != t.lastType {
		t.lastType, t.lastPlan = typ, planFor(typ.Elem())
		if n := maxFieldID(); n > len(t.fields) {
			t.fields = append(t.fields, make([]fieldStats, n-len(t.fields))...)
		}
	}
	if t.lastPlan != nil {
		t.walk(v.UnsafePointer(), t.lastPlan)
	}
}

// share returns the table's copy of s, adding s when it has none, or s
// itself when field f is not shared.
func (t *Table) share(s string, f *fieldStats) string {
	if len(s) == 0 || len(s) > maxLen {
		return s
	}
	if f.skip {
		return s
	}
	shared, found := f.last, f.last == s
	if !found {
		if shared, found = t.strings[s]; found {
			f.last = shared
		}
	}
	f.seen++
	if found {
		f.shared++
	}
	if f.seen == probeWindow {
		// Judge the window: a field whose values were found at most half
		// of the time costs more (table entries, lookups) than it saves.
		f.skip = f.shared*2 <= f.seen
		f.seen, f.shared = 0, 0
	}
	if found {
		return shared
	}
	if len(t.strings) >= t.limit {
		t.strings = make(map[string]string)
	}
	t.strings[s] = s
	f.last = s
	return s
}

// sameString reports whether a and b are the same allocation.
func sameString(a, b string) bool {
	return unsafe.StringData(a) == unsafe.StringData(b)
}

// walk shares the strings of the value at p, laid out as plan says.
func (t *Table) walk(p unsafe.Pointer, plan *stringPlan) {
	for i := range plan.ops {
		op := &plan.ops[i]
		field := unsafe.Add(p, op.off)
		switch op.kind {
		case opString:
			// Most string fields are empty or skipped: decide that here,
			// where it inlines.
			if s := (*string)(field); len(*s) != 0 && !t.fields[op.id].skip {
				t.shareAt(s, op.id)
			}
		case opStringPointer:
			if s := *(**string)(field); s != nil {
				t.shareAt(s, op.id)
			}
		case opStringSlice:
			for j, items := 0, *(*[]string)(field); j < len(items); j++ {
				t.shareAt(&items[j], op.id)
			}
		case opStringMap:
			t.shareMap(*(*map[string]string)(field), op.id, op.valueID)
		case opPointer:
			if elem := *(*unsafe.Pointer)(field); elem != nil {
				t.walk(elem, op.elem)
			}
		case opSlice:
			header := (*sliceHeader)(field)
			for j := 0; j < header.len; j++ {
				t.walk(unsafe.Add(header.data, uintptr(j)*op.size), op.elem)
			}
		}
	}
}

// shareAt replaces *s by the shared copy, writing only when it differs.
func (t *Table) shareAt(s *string, id int) {
	if shared := t.share(*s, &t.fields[id]); !sameString(shared, *s) {
		*s = shared
	}
}

// shareMap shares the keys and values of m. Values are replaced in place,
// keys by applyRekeys.
func (t *Table) shareMap(m map[string]string, keyID, valueID int) {
	if len(m) == 0 {
		return
	}
	var buf [16]rekey
	rekeys := buf[:0]
	for k, v := range m {
		if shared := t.share(v, &t.fields[valueID]); !sameString(shared, v) {
			m[k] = shared
		}
		if shared := t.share(k, &t.fields[keyID]); !sameString(shared, k) {
			rekeys = append(rekeys, rekey{k, shared})
		}
	}
	applyRekeys(m, rekeys)
}

// rekey is a map key to replace by its shared copy.
type rekey struct{ old, shared string }

// applyRekeys replaces keys of m by their shared copies, each by deleting
// and re-adding its entry (a map's keys cannot be assigned; doing it after
// the loop that found them keeps that loop's iteration well defined).
func applyRekeys[V any](m map[string]V, rekeys []rekey) {
	for _, r := range rekeys {
		v := m[r.old]
		delete(m, r.old)
		m[r.shared] = v
	}
}

// shareTree shares the keys and string values of an unstructured object's
// map tree. Values are counted per key name, so that the values of "uid"
// or "name" can be skipped while those of "image" are shared.
func (t *Table) shareTree(m map[string]any) {
	var buf [16]rekey
	rekeys := buf[:0]
	for k, v := range m {
		if shared, ok := t.shareTreeValue(v, k); ok {
			m[k] = shared
		}
		if shared := t.share(k, &t.treeKeys); !sameString(shared, k) {
			rekeys = append(rekeys, rekey{k, shared})
		}
	}
	applyRekeys(m, rekeys)
}

// shareTreeValue shares the strings in v, found under key name key (the
// items of a list count as values of the list's key). For a string whose
// shared copy is another allocation it returns that copy, for the caller to
// store in v's place: boxed anew (16 bytes), the old box freed.
func (t *Table) shareTreeValue(v any, key string) (any, bool) {
	switch v := v.(type) {
	case string:
		if shared := t.share(v, t.valueStats(key)); !sameString(shared, v) {
			return shared, true
		}
	case map[string]any:
		t.shareTree(v)
	case []any:
		for i, item := range v {
			if shared, ok := t.shareTreeValue(item, key); ok {
				v[i] = shared
			}
		}
	}
	return nil, false
}

// valueStats returns the counts of the values under key name key.
func (t *Table) valueStats(key string) *fieldStats {
	if f, ok := t.treeValues[key]; ok {
		return f
	}
	if len(t.treeValues) >= maxTreeValueStats {
		return &t.overflowValues
	}
	f := &fieldStats{}
	t.treeValues[key] = f
	return f
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// A stringPlan lists where the strings of a struct type are, with the
// offsets of nested structs flattened.
type stringPlan struct {
	ops      []stringOp
	compiled bool
}

type opKind uint8

const (
	opString        opKind = iota // a string (or a named string type)
	opStringPointer               // *string
	opStringSlice                 // []string
	opStringMap                   // map[string]string: keys id, values valueID
	opPointer                     // *struct: walk elem
	opSlice                       // []struct of size bytes each: walk elem
)

type stringOp struct {
	kind        opKind
	off         uintptr
	size        uintptr
	elem        *stringPlan
	id, valueID int
}

var (
	plansMu sync.Mutex
	plans   = map[reflect.Type]*stringPlan{}
	fieldID int // the number of ids handed out
)

// planFor returns the plan of struct type t, or nil when t is not a struct
// or has no strings.
func planFor(t reflect.Type) *stringPlan {
	if t.Kind() != reflect.Struct {
		return nil
	}
	plansMu.Lock()
	defer plansMu.Unlock()
	plan := compilePlan(t)
	if len(plan.ops) == 0 {
		return nil
	}
	return plan
}

// maxFieldID returns the number of field ids handed out so far.
func maxFieldID() int {
	plansMu.Lock()
	defer plansMu.Unlock()
	return fieldID
}

var stringMapType = reflect.TypeFor[map[string]string]()

// compilePlan returns the plan of struct type t, compiling it on first use.
// A plan is registered before its fields are compiled, so recursive types
// end. The caller holds plansMu.
func compilePlan(t reflect.Type) *stringPlan {
	if plan, ok := plans[t]; ok {
		return plan
	}
	plan := &stringPlan{}
	plans[t] = plan
	plan.ops = appendOps(nil, t, 0)
	plan.compiled = true
	return plan
}

// appendOps appends the ops of struct type t laid out at off. Only exported
// fields are followed: unexported ones are caches or pointers into shared
// data (a time.Time's location).
func appendOps(ops []stringOp, t reflect.Type, off uintptr) []stringOp {
	newID := func() int { fieldID++; return fieldID - 1 }
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		at := off + f.Offset
		ft := f.Type
		switch ft.Kind() {
		case reflect.String:
			ops = append(ops, stringOp{kind: opString, off: at, id: newID()})
		case reflect.Struct:
			ops = appendOps(ops, ft, at)
		case reflect.Pointer:
			switch ft.Elem().Kind() {
			case reflect.String:
				ops = append(ops, stringOp{kind: opStringPointer, off: at, id: newID()})
			case reflect.Struct:
				if elem := compilePlan(ft.Elem()); !emptyPlan(elem) {
					ops = append(ops, stringOp{kind: opPointer, off: at, elem: elem})
				}
			}
		case reflect.Slice:
			switch ft.Elem().Kind() {
			case reflect.String:
				ops = append(ops, stringOp{kind: opStringSlice, off: at, id: newID()})
			case reflect.Struct:
				if elem := compilePlan(ft.Elem()); !emptyPlan(elem) {
					ops = append(ops, stringOp{kind: opSlice, off: at, size: ft.Elem().Size(), elem: elem})
				}
			}
		case reflect.Map:
			if ft == stringMapType {
				ops = append(ops, stringOp{kind: opStringMap, off: at, id: newID(), valueID: newID()})
			}
		}
	}
	return ops
}

// emptyPlan reports whether plan is known to have no strings. A plan still
// being compiled (a recursive type) is not.
func emptyPlan(plan *stringPlan) bool {
	return plan.compiled && len(plan.ops) == 0
}
