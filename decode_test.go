package informer

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// protobufInfo returns client-go's protobuf serializer.
func protobufInfo(t testing.TB) runtime.SerializerInfo {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("client-go's scheme has no protobuf serializer")
	}
	return info
}

// encodeProtobuf encodes obj as the server does: "k8s\x00", then a
// runtime.Unknown holding obj's kind and bytes.
func encodeProtobuf(t testing.TB, obj runtime.Object) []byte {
	t.Helper()
	encoder := scheme.Codecs.EncoderForVersion(protobufInfo(t).Serializer, schema.GroupVersions(scheme.Scheme.PrioritizedVersionsAllGroups()))
	var buf bytes.Buffer
	if err := encoder.Encode(obj, &buf); err != nil {
		t.Fatalf("encoding %T: %v", obj, err)
	}
	return buf.Bytes()
}

// leanDecoder returns the decoder a typed informer's REST client uses for
// protobuf.
func leanDecoder(t testing.TB) runtime.Decoder {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(newLeanSerializer().SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("the lean serializer has no protobuf serializer")
	}
	return info.Serializer
}

// stripped returns a copy of obj as the default transform leaves it, or
// leaves the items of a list.
func stripped(obj runtime.Object) runtime.Object {
	obj = obj.DeepCopyObject()
	if meta.IsListType(obj) {
		_ = meta.EachListItem(obj, func(item runtime.Object) error {
			stripBulkyMetadata(item)
			return nil
		})
		return obj
	}
	return stripBulkyMetadata(obj).(runtime.Object)
}

func TestLeanDecoderStripsBeforeDecoding(t *testing.T) {
	withOtherAnnotation := realisticPod("shop", 1)
	withOtherAnnotation.ManagedFields = nil
	delete(withOtherAnnotation.Annotations, lastAppliedAnnotation)
	onlyLastApplied := realisticPod("shop", 2)
	onlyLastApplied.Annotations = map[string]string{lastAppliedAnnotation: "{}"}
	status := &metav1.Status{Status: metav1.StatusFailure, Message: "gone", Reason: metav1.StatusReasonGone, Code: 410}
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	tests := []struct {
		name   string
		obj    runtime.Object
		shrink bool // whether the bytes lose something
	}{
		{name: "realistic pod", obj: realisticPod("shop", 0), shrink: true},
		{name: "pod without managedFields, other annotations", obj: withOtherAnnotation},
		{name: "pod whose only annotation is last-applied", obj: onlyLastApplied, shrink: true},
		{name: "cluster-scoped object", obj: namespace, shrink: true},
		{name: "list", obj: &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7"},
			Items: []corev1.Pod{*realisticPod("shop", 3), *withOtherAnnotation, *realisticPod("shop", 4)}}, shrink: true},
		{name: "empty list", obj: &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}}},
		{name: "object without ObjectMeta", obj: status},
		{name: "empty pod", obj: &corev1.Pod{}},
	}
	decoder := leanDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := encodeProtobuf(t, tt.obj)
			gvks, _, err := scheme.Scheme.ObjectKinds(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			strippedBytes, err := stripEnvelope(bytes.Clone(data), schemeShapes(gvks[0]))
			if err != nil {
				t.Fatalf("stripEnvelope: %v", err)
			}
			// Generated marshalling writes fields in order and map keys
			// sorted: removing fields gives the encoding of the object
			// without them, to the byte.
			if want := encodeProtobuf(t, stripped(tt.obj)); !bytes.Equal(strippedBytes, want) {
				t.Errorf("stripped bytes (%d) differ from the encoding of the stripped object (%d)", len(strippedBytes), len(want))
			}
			if shrunk := len(strippedBytes) < len(data); shrunk != tt.shrink {
				t.Errorf("bytes shrunk: got %v, want %v", shrunk, tt.shrink)
			}
			got, err := runtime.Decode(decoder, data)
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			decoded, err := runtime.Decode(protobufInfo(t).Serializer, encodeProtobuf(t, tt.obj))
			if err != nil {
				t.Fatalf("decoding with client-go's decoder: %v", err)
			}
			want := stripped(decoded)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decoded object differs from the original stripped after decoding (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripEnvelopeLeavesMalformedBytesAlone(t *testing.T) {
	pod := encodeProtobuf(t, realisticPod("shop", 0))
	tests := []struct {
		name string
		data []byte
	}{
		{name: "truncated in the object", data: pod[:len(pod)/2]},
		{name: "truncated in the envelope", data: pod[:6]},
		{name: "no prefix", data: pod[4:]},
		{name: "length past the end", data: append(append([]byte(nil), protobufPrefix...), 0x12, 0xff, 0x01, 0x0a)},
		{name: "bad tag", data: append(append([]byte(nil), protobufPrefix...), 0x00)},
		{name: "metadata that does not parse", data: append(append([]byte(nil), protobufPrefix...), 0x12, 0x03, 0x0a, 0x01, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			original := bytes.Clone(tt.data)
			got, err := stripEnvelope(tt.data, shapeObject)
			if !bytes.Equal(got, original) || !bytes.Equal(tt.data, original) {
				t.Errorf("stripEnvelope changed malformed bytes: got %x, want %x", got, original)
			}
			if err == nil && !bytes.HasPrefix(tt.data, protobufPrefix) {
				return // not ours to judge: left alone without an error
			}
			if err == nil && tt.name != "truncated in the envelope" {
				t.Errorf("stripEnvelope(%x): got no error, want %v", original, errMalformed)
			}
			if _, err := runtime.Decode(leanDecoder(t), bytes.Clone(original)); err == nil && tt.name != "truncated in the envelope" {
				t.Errorf("decoding malformed bytes: got no error")
			}
		})
	}
}

func TestShapeOf(t *testing.T) {
	tests := []struct {
		name string
		obj  any
		want shape
	}{
		{name: "pod", obj: &corev1.Pod{}, want: shapeObject},
		{name: "pod list", obj: &corev1.PodList{}, want: shapeList},
		{name: "namespace", obj: &corev1.Namespace{}, want: shapeObject},
		{name: "status", obj: &metav1.Status{}, want: shapeNone},
		{name: "watch event", obj: &metav1.WatchEvent{}, want: shapeNone},
		{name: "not a struct", obj: new(string), want: shapeNone},
		{name: "partial object metadata list", obj: &metav1.PartialObjectMetadataList{}, want: shapeList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shapeOf(reflect.TypeOf(tt.obj)); got != tt.want {
				t.Errorf("shapeOf(%T): got %d, want %d", tt.obj, got, tt.want)
			}
		})
	}
}

// FuzzStripEnvelope feeds the protobuf stripping arbitrary bytes: it must
// never panic nor grow them, and must leave bytes it rejects unchanged.
// When client-go's decoder accepts the bytes, the stripped canonical
// encoding of what they decode to must decode to that object as the
// default transform leaves it. The seed corpus runs in every `go test`.
func FuzzStripEnvelope(f *testing.F) {
	list := &corev1.PodList{Items: []corev1.Pod{*realisticPod("shop", 0), *realisticPod("shop", 1)}}
	for _, obj := range []runtime.Object{
		realisticPod("shop", 0), list,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{lastAppliedAnnotation: "{}", "a": "b"}}},
		&metav1.Status{Message: "gone", Code: 410},
	} {
		data := encodeProtobuf(f, obj)
		f.Add(data)
		f.Add(data[:len(data)*2/3])
	}
	plain := protobufInfo(f).Serializer
	f.Fuzz(func(t *testing.T, data []byte) {
		original := bytes.Clone(data)
		apiVersion, kind, plainRaw, err := envelopeType(data)
		s := shapeNone
		if err == nil && plainRaw {
			s = schemeShapes(schema.FromAPIVersionAndKind(apiVersion, kind))
		}
		for _, try := range []shape{shapeObject, shapeList, s} {
			out, err := stripEnvelope(bytes.Clone(original), try)
			if len(out) > len(original) {
				t.Fatalf("stripEnvelope grew %d bytes to %d", len(original), len(out))
			}
			if err != nil && !bytes.Equal(out, original) {
				t.Fatalf("stripEnvelope rejected bytes (%v) but changed them", err)
			}
		}
		if s == shapeNone {
			return
		}
		// The generated decoders bound a map entry's fields by the end of
		// the whole message rather than the entry's, so some malformed
		// bytes decode only thanks to what follows them, which stripping
		// may remove. The exact property is checked on the canonical
		// encoding of what the original decodes to.
		decoded, err := runtime.Decode(plain, bytes.Clone(original))
		if err != nil {
			return
		}
		canonical := encodeProtobuf(t, decoded)
		out, _ := stripEnvelope(bytes.Clone(canonical), s)
		got, err := runtime.Decode(plain, out)
		if err != nil {
			t.Fatalf("the original decodes, the stripped bytes do not: %v", err)
		}
		if want := stripped(decoded); !apiequality.Semantic.DeepEqual(want, got) {
			t.Fatalf("stripped bytes decode to %#v, want %#v", got, want)
		}
	})
}
