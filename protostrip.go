package informer

import (
	"bytes"
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// Stripping managedFields from protobuf bytes, before they are decoded.
//
// Decoding a pod's managedFields only for the default transform to drop them
// is a sixth of the decoding time and of its allocations (DESIGN.md, "Traps
// and baselines"). For typed resources received as protobuf, the decoder of
// decode.go removes them, and the last-applied annotation, from the bytes
// first. This file walks the wire format; it knows the field numbers of
// three messages and nothing else:
//
//   - runtime.Unknown, the envelope the server writes after the "k8s\x00"
//     prefix: typeMeta = 1, raw = 2 (the object), contentEncoding = 3,
//     contentType = 4;
//   - every built-in object: metadata (an ObjectMeta) = 1; every built-in
//     list: items = 2, each such an object (decode.go checks both on the Go
//     type before asking for a strip);
//   - ObjectMeta: annotations = 12 (map entries: key = 1, value = 2),
//     managedFields = 17.
//
// Fields are removed in place, by moving what follows to the left: the
// result is never longer than the input, so no buffer is allocated. A first
// pass checks, without writing, that every message walked parses; bytes
// that do not are left untouched for the real decoder to reject.

// protobufPrefix is what the protobuf serializer writes before the envelope.
var protobufPrefix = []byte{0x6b, 0x38, 0x73, 0x00}

// Field numbers of the messages walked.
const (
	unknownTypeMeta        protowire.Number = 1
	unknownRaw             protowire.Number = 2
	unknownContentEncoding protowire.Number = 3
	unknownContentType     protowire.Number = 4
	typeMetaAPIVersion     protowire.Number = 1
	typeMetaKind           protowire.Number = 2
	objectMetadata         protowire.Number = 1
	listItems              protowire.Number = 2
	metaAnnotations        protowire.Number = 12
	metaManagedFields      protowire.Number = 17
	mapEntryKey            protowire.Number = 1
)

// errMalformed says that bytes do not parse as the message expected.
var errMalformed = errors.New("malformed protobuf")

// shape says what a message holds that can be stripped.
type shape uint8

const (
	shapeNone   shape = iota // nothing known: left alone
	shapeObject              // an object: metadata = 1
	shapeList                // a list: items = 2, each a shapeObject
)

// envelopeType returns the apiVersion and kind that the envelope of data
// (prefix included) names, and whether its raw object is plain protobuf (no
// content encoding or type of its own).
func envelopeType(data []byte) (apiVersion, kind string, plain bool, err error) {
	if !bytes.HasPrefix(data, protobufPrefix) {
		return "", "", false, errMalformed
	}
	plain = true
	err = eachField(data[len(protobufPrefix):], func(num protowire.Number, typ protowire.Type, value []byte) error {
		switch num {
		case unknownTypeMeta:
			if typ != protowire.BytesType {
				return errMalformed
			}
			return eachField(value, func(num protowire.Number, typ protowire.Type, value []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case typeMetaAPIVersion:
					apiVersion = string(value)
				case typeMetaKind:
					kind = string(value)
				}
				return nil
			})
		case unknownContentEncoding, unknownContentType:
			plain = plain && len(value) == 0
		}
		return nil
	})
	return apiVersion, kind, plain, err
}

// eachField calls fn with each field of msg: its number, wire type, and for
// fields of wire type bytes their content (nil for others).
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, value []byte) error) error {
	for len(msg) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(msg)
		if tagLen < 0 {
			return errMalformed
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, msg[tagLen:])
		if fieldLen < 0 {
			return errMalformed
		}
		var value []byte
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(msg[tagLen:])
		}
		if err := fn(num, typ, value); err != nil {
			return err
		}
		msg = msg[tagLen+fieldLen:]
	}
	return nil
}

// stripEnvelope removes managedFields and the last-applied annotation from
// data, an envelope (prefix included) whose raw object has shape s. It
// rewrites data in place and returns the shorter slice, or data itself when
// there was nothing to strip. Bytes that do not parse are returned
// unchanged with errMalformed.
func stripEnvelope(data []byte, s shape) ([]byte, error) {
	if s == shapeNone || !bytes.HasPrefix(data, protobufPrefix) {
		return data, nil
	}
	body := data[len(protobufPrefix):]
	edit := func(num protowire.Number, typ protowire.Type, value []byte) fieldEdit {
		if num == unknownRaw && typ == protowire.BytesType {
			return fieldEdit{inner: shapeEdit(s)}
		}
		return fieldEdit{}
	}
	changed, err := compact(body, edit, false)
	if err != nil || changed == 0 {
		return data, err
	}
	n, _ := compact(body, edit, true)
	return data[:len(protobufPrefix)+n], nil
}

// shapeEdit returns the edit of a message of shape s.
func shapeEdit(s shape) editFunc {
	switch s {
	case shapeObject:
		return editObject
	case shapeList:
		return editList
	}
	return nil
}

// fieldEdit says what to do with one field: drop it, or rewrite its
// content (a message) with inner. The zero fieldEdit keeps it as it is.
type fieldEdit struct {
	drop  bool
	inner editFunc
}

// editFunc decides, field by field, the edits of one message.
type editFunc func(num protowire.Number, typ protowire.Type, value []byte) fieldEdit

func editList(num protowire.Number, typ protowire.Type, _ []byte) fieldEdit {
	if num == listItems && typ == protowire.BytesType {
		return fieldEdit{inner: editObject}
	}
	return fieldEdit{}
}

func editObject(num protowire.Number, typ protowire.Type, _ []byte) fieldEdit {
	if num == objectMetadata && typ == protowire.BytesType {
		return fieldEdit{inner: editObjectMeta}
	}
	return fieldEdit{}
}

func editObjectMeta(num protowire.Number, typ protowire.Type, value []byte) fieldEdit {
	switch {
	case num == metaManagedFields:
		return fieldEdit{drop: true}
	case num == metaAnnotations && typ == protowire.BytesType:
		return fieldEdit{drop: isLastApplied(value)}
	}
	return fieldEdit{}
}

// isLastApplied reports whether entry, an encoded map entry of the
// annotations, has the last-applied annotation's key.
func isLastApplied(entry []byte) bool {
	found := false
	_ = eachField(entry, func(num protowire.Number, typ protowire.Type, value []byte) error {
		if num == mapEntryKey && typ == protowire.BytesType {
			found = string(value) == lastAppliedAnnotation
		}
		return nil
	})
	return found
}

// compact applies edit to the fields of msg. With write false it only
// checks that msg and every message edit descends into parse, and counts
// the fields it would drop; with write true (on a msg that was checked) it
// also rewrites msg in place and returns its new length. Every field kept
// moves left by what was dropped before it; a rewritten message's length
// prefix never grows, so the writes never pass the reads.
func compact(msg []byte, edit editFunc, write bool) (int, error) {
	w, dropped := 0, 0
	for r := 0; r < len(msg); {
		num, typ, tagLen := protowire.ConsumeTag(msg[r:])
		if tagLen < 0 {
			return 0, errMalformed
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, msg[r+tagLen:])
		if fieldLen < 0 {
			return 0, errMalformed
		}
		end := r + tagLen + fieldLen
		var value []byte
		valueStart := end
		if typ == protowire.BytesType {
			var n int
			value, n = protowire.ConsumeBytes(msg[r+tagLen:])
			valueStart = r + tagLen + n - len(value)
		}
		e := edit(num, typ, value)
		switch {
		case e.drop:
			dropped++
		case e.inner != nil:
			innerLen, err := compact(value, e.inner, write)
			if err != nil {
				return 0, err
			}
			if !write {
				dropped += innerLen
				break
			}
			w += copy(msg[w:], msg[r:r+tagLen])
			w = len(protowire.AppendVarint(msg[:w], uint64(innerLen)))
			w += copy(msg[w:], msg[valueStart:valueStart+innerLen])
		default:
			if write {
				w += copy(msg[w:], msg[r:end])
			}
		}
		r = end
	}
	if !write {
		return dropped, nil
	}
	return w, nil
}
