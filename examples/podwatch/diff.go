package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// noValue stands for a field that is absent on one side of a change, the way
// kubectl shows missing values.
const noValue = "<none>"

// maxValueLen is how many characters of a value a change shows; longer values
// (a JSON annotation, a long command line) would drown the line.
const maxValueLen = 40

// fieldChanges compares two versions of an object and returns one
// "path: old -> new" entry per leaf field that was added, removed or
// changed, sorted by path. Paths are dotted, with list indexes in brackets:
// "spec.containers[0].image". The "metadata." prefix is dropped ("labels.tier")
// because metadata fields are familiar and the lines get long enough.
//
// Fields that change on every write and say nothing to a reader are ignored:
// metadata.resourceVersion and metadata.managedFields. metadata.generation is
// kept: it changes only when the spec does.
func fieldChanges(oldObj, newObj runtime.Object) ([]string, error) {
	oldFields, err := flatFields(oldObj)
	if err != nil {
		return nil, err
	}
	newFields, err := flatFields(newObj)
	if err != nil {
		return nil, err
	}

	var changes []fieldChange
	for path, oldValue := range oldFields {
		if newValue, ok := newFields[path]; !ok {
			changes = append(changes, fieldChange{path, oldValue, noValue})
		} else if newValue != oldValue {
			changes = append(changes, fieldChange{path, oldValue, newValue})
		}
	}
	for path, newValue := range newFields {
		if _, ok := oldFields[path]; !ok {
			changes = append(changes, fieldChange{path, noValue, newValue})
		}
	}
	slices.SortFunc(changes, func(a, b fieldChange) int { return strings.Compare(a.path, b.path) })

	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.path + ": " + shorten(c.oldValue) + " -> " + shorten(c.newValue)
	}
	return out, nil
}

type fieldChange struct {
	path, oldValue, newValue string
}

// summarizeChanges joins changes for one output line, keeping at most limit
// of them and saying how many were left out.
func summarizeChanges(changes []string, limit int) string {
	if len(changes) == 0 {
		return "(no field changes)"
	}
	if len(changes) <= limit {
		return strings.Join(changes, ", ")
	}
	return fmt.Sprintf("%s, +%d more", strings.Join(changes[:limit], ", "), len(changes)-limit)
}

// flatFields converts obj to its JSON-like form, the one users know from
// kubectl get -o yaml, and flattens it to path -> printed value.
func flatFields(obj runtime.Object) (map[string]string, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", obj, err)
	}
	if metadata, ok := content["metadata"].(map[string]any); ok {
		delete(metadata, "resourceVersion")
		delete(metadata, "managedFields")
		// Lift metadata's fields to the top so that paths read "labels.tier".
		delete(content, "metadata")
		for key, value := range metadata {
			content[key] = value
		}
	}
	fields := map[string]string{}
	flatten("", content, fields)
	return fields, nil
}

// flatten adds every leaf of value under prefix to fields. Empty maps and
// lists add nothing: they mean the same as absent, like "resources: {}".
func flatten(prefix string, value any, fields map[string]string) {
	switch v := value.(type) {
	case map[string]any:
		for key, item := range v {
			flatten(joinKey(prefix, key), item, fields)
		}
	case []any:
		for i, item := range v {
			flatten(prefix+"["+strconv.Itoa(i)+"]", item, fields)
		}
	case string:
		if v == "" {
			fields[prefix] = `""` // tell an empty string from an absent field
		} else {
			fields[prefix] = v
		}
	case nil:
		// JSON null means the same as absent (an unset creationTimestamp).
	default: // int64, float64, bool
		fields[prefix] = fmt.Sprint(v)
	}
}

// joinKey appends key to a dotted path. Keys that would make the path
// ambiguous, like the label "app.kubernetes.io/name", are quoted in brackets.
func joinKey(prefix, key string) string {
	if key == "" || strings.ContainsAny(key, ".[] \"") {
		return prefix + "[" + strconv.Quote(key) + "]"
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// shorten cuts s to maxValueLen characters, marking the cut.
func shorten(s string) string {
	runes := []rune(s)
	if len(runes) <= maxValueLen {
		return s
	}
	return string(runes[:maxValueLen-3]) + "..."
}
