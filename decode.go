package informer

import (
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// leanSerializer is the NegotiatedSerializer of the REST clients behind
// typed informers (see restListWatch): client-go's, whose protobuf decoder
// first strips managedFields and the last-applied annotation from the bytes
// (protostrip.go), so that they are never decoded. Objects and lists, from
// LIST responses and from watch events (whose objects the watch decoder
// hands to this decoder one by one), are all decoded by it. JSON is decoded
// as usual; the default transform strips it after decoding.
type leanSerializer struct {
	runtime.NegotiatedSerializer
	mediaTypes []runtime.SerializerInfo
}

// newLeanSerializer returns client-go's serializer (without conversion, as
// the typed clientset's), its protobuf decoder replaced by a strippingDecoder
// that finds the shape of each kind in client-go's scheme.
func newLeanSerializer() runtime.NegotiatedSerializer {
	base := scheme.Codecs.WithoutConversion()
	infos := append([]runtime.SerializerInfo(nil), base.SupportedMediaTypes()...)
	for i := range infos {
		if infos[i].MediaType == runtime.ContentTypeProtobuf {
			infos[i].Serializer = strippingDecoder{Serializer: infos[i].Serializer, shapes: schemeShapes}
		}
	}
	return leanSerializer{NegotiatedSerializer: base, mediaTypes: infos}
}

// SupportedMediaTypes returns client-go's, the protobuf one stripping.
func (s leanSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	return s.mediaTypes
}

// strippingDecoder is a protobuf Serializer whose Decode strips the bytes
// first. Decode rewrites the bytes it is given in place: they stay a valid
// encoding of the object, without what was stripped.
type strippingDecoder struct {
	runtime.Serializer
	shapes func(schema.GroupVersionKind) shape
}

// Decode strips data, when its kind is one whose metadata is known, and
// decodes it. Bytes that do not parse are decoded as they are, for the
// protobuf decoder to report.
func (d strippingDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if apiVersion, kind, plain, err := envelopeType(data); err == nil && plain {
		if s := d.shapes(schema.FromAPIVersionAndKind(apiVersion, kind)); s != shapeNone {
			data, _ = stripEnvelope(data, s)
		}
	}
	return d.Serializer.Decode(data, defaults, into)
}

var shapeCache sync.Map // schema.GroupVersionKind -> shape

// schemeShapes returns the shape of kind gvk in client-go's scheme.
func schemeShapes(gvk schema.GroupVersionKind) shape {
	if cached, ok := shapeCache.Load(gvk); ok {
		return cached.(shape)
	}
	s := shapeNone
	if obj, err := scheme.Scheme.New(gvk); err == nil {
		s = shapeOf(reflect.TypeOf(obj))
	}
	shapeCache.Store(gvk, s)
	return s
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()

// shapeOf returns the shape of Go type t, read from its fields' protobuf
// tags: an object has its ObjectMeta at field 1, a list its items at field
// 2, each an object.
func shapeOf(t reflect.Type) shape {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return shapeNone
	}
	if f, ok := t.FieldByName("ObjectMeta"); ok && f.Type == objectMetaType && protobufField(f) == "bytes,1,opt,name=metadata" {
		return shapeObject
	}
	if f, ok := t.FieldByName("Items"); ok && f.Type.Kind() == reflect.Slice && protobufField(f) == "bytes,2,rep,name=items" &&
		shapeOf(f.Type.Elem()) == shapeObject {
		return shapeList
	}
	return shapeNone
}

// protobufField returns a struct field's protobuf tag.
func protobufField(f reflect.StructField) string {
	return f.Tag.Get("protobuf")
}
