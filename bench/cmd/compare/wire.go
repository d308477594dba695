package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// The wire delivery measurement feeds each library the bytes a
// kube-apiserver sends: a protobuf PodList for the LIST, then a protobuf
// watch stream (length-delimited frames, each a metav1.WatchEvent whose
// object is an enveloped protobuf Pod), encoded with apimachinery's own
// serializers as the API server's watch handler encodes them. The bytes
// reach the library through its real client stack: a rest.Config with
// ContentType protobuf whose Transport is wireServer, a RoundTripper that
// answers from the pre-encoded bytes. Everything is encoded before the
// clock starts, so the clock measures the client's decode, the library's
// transform, the cache and the handler.
//
// Streaming lists (watch-list, sendInitialEvents=true) are refused with a
// 422 Invalid Status, as an API server with the WatchList feature off
// answers: the reflectors of all three libraries then LIST and WATCH.

// watchContentType is the content type of a protobuf watch stream.
const watchContentType = protobuf + ";stream=watch"

// wireStream is the pre-encoded traffic of one wire delivery measurement:
// a LIST of podCount pods at resourceVersion "1", then events MODIFIED
// events updating those pods in turn, each with a new resourceVersion.
type wireStream struct {
	podCount, events int
	list             []byte // the LIST response body
	// eventsPath is a file holding the watch response body. The events are
	// read from a file rather than kept in memory: tens to hundreds of
	// megabytes of encoded events on the heap would raise the garbage
	// collector's target and hide part of the GC work the libraries cause.
	eventsPath string
}

// protobufInfo is the protobuf serializer of client-go's scheme, with its
// stream serializer and framer.
func protobufInfo() (k8sruntime.SerializerInfo, error) {
	info, ok := k8sruntime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), k8sruntime.ContentTypeProtobuf)
	if !ok || info.StreamSerializer == nil {
		return info, errors.New("client-go's scheme has no protobuf stream serializer")
	}
	return info, nil
}

// newWireStream encodes the LIST and the events of a wire measurement of
// events updates into dir (the events file); remove it with remove.
func newWireStream(dir string, events int) (*wireStream, error) {
	info, err := protobufInfo()
	if err != nil {
		return nil, err
	}
	// As the API server's watch handler does: the object through the
	// enveloping serializer (k8s\0 + runtime.Unknown), the WatchEvent
	// around it through the raw stream serializer, one frame per event.
	codecs := scheme.Codecs.WithoutConversion()
	objectEncoder := codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion)
	eventEncoder := codecs.EncoderForVersion(info.StreamSerializer.Serializer, corev1.SchemeGroupVersion)

	podCount := min(events, 1000)
	pods := realisticPodList(benchNamespace, podCount)
	for i := range pods.Items {
		// A server sends list items without kind and apiVersion.
		pods.Items[i].TypeMeta = metav1.TypeMeta{}
	}
	list, err := k8sruntime.Encode(objectEncoder, pods)
	if err != nil {
		return nil, fmt.Errorf("encoding the pod list: %w", err)
	}

	f, err := os.CreateTemp(dir, "wire-events-*.pb")
	if err != nil {
		return nil, err
	}
	s := &wireStream{podCount: podCount, events: events, list: list, eventsPath: f.Name()}
	buffered := bufio.NewWriterSize(f, 1<<20)
	stream := streaming.NewEncoder(info.StreamSerializer.NewFrameWriter(buffered), eventEncoder)
	var object bytes.Buffer
	for i := range events {
		pod := &pods.Items[i%podCount]
		pod.ResourceVersion = strconv.Itoa(1_000_000 + i)
		object.Reset()
		if err = objectEncoder.Encode(pod, &object); err != nil {
			break
		}
		event := &metav1.WatchEvent{Type: string(watch.Modified), Object: k8sruntime.RawExtension{Raw: object.Bytes()}}
		if err = stream.Encode(event); err != nil {
			break
		}
	}
	if err == nil {
		err = buffered.Flush()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, errors.Join(fmt.Errorf("encoding the watch events: %w", err), s.remove())
	}
	return s, nil
}

// remove deletes the events file.
func (s *wireStream) remove() error { return os.Remove(s.eventsPath) }

// wireServer is an http.RoundTripper answering the pod LISTs and WATCHes
// of one informer from a wireStream: every LIST gets the list; the first
// WATCH gets the events once release is closed, then stays open without
// events until the client closes it; later WATCHes stay open without
// events; a streaming list is refused.
type wireServer struct {
	stream  *wireStream
	release chan struct{} // closed by start: the events flow
	watched chan struct{} // closed when the first WATCH is answered
	once    sync.Once

	lists, watches, refused atomic.Int32
}

func newWireServer(stream *wireStream) *wireServer {
	return &wireServer{stream: stream, release: make(chan struct{}), watched: make(chan struct{})}
}

// start lets the events of the first WATCH flow.
func (s *wireServer) start() { close(s.release) }

// config is a client configuration that reaches this server.
func (s *wireServer) config() *rest.Config {
	return &rest.Config{Host: "http://wire.invalid", ContentConfig: rest.ContentConfig{ContentType: protobuf}, Transport: s}
}

// RoundTrip answers req.
func (s *wireServer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if req.Method != http.MethodGet || req.URL.Path != "/api/v1/pods" {
		return s.status(req, apierrors.NewNotFound(schema.GroupResource{Resource: req.URL.Path}, req.Method))
	}
	if !strings.Contains(req.Header.Get("Accept"), protobuf) {
		return s.status(req, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "get", podsResource.GroupResource(), "",
			"the wire benchmark serves protobuf only, the client accepts "+req.Header.Get("Accept"), 0, false))
	}
	query := req.URL.Query()
	if watch, _ := strconv.ParseBool(query.Get("watch")); !watch {
		s.lists.Add(1)
		return response(req, http.StatusOK, protobuf, io.NopCloser(bytes.NewReader(s.stream.list))), nil
	}
	if initial, _ := strconv.ParseBool(query.Get("sendInitialEvents")); initial {
		s.refused.Add(1)
		return s.status(req, apierrors.NewInvalid(schema.GroupKind{Kind: "ListOptions"}, "",
			field.ErrorList{field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled")}))
	}
	body := &wireBody{done: req.Context().Done(), closed: make(chan struct{})}
	first := false
	s.once.Do(func() { first = true })
	if first {
		f, err := os.Open(s.stream.eventsPath)
		if err != nil {
			return nil, err
		}
		body.file, body.events, body.release = f, bufio.NewReaderSize(f, 256<<10), s.release
	}
	s.watches.Add(1)
	resp := response(req, http.StatusOK, watchContentType, body)
	if first {
		close(s.watched)
	}
	return resp, nil
}

// status answers req with err's Status, encoded as protobuf.
func (s *wireServer) status(req *http.Request, err *apierrors.StatusError) (*http.Response, error) {
	info, infoErr := protobufInfo()
	if infoErr != nil {
		return nil, infoErr
	}
	status := err.Status()
	data, encodeErr := k8sruntime.Encode(scheme.Codecs.WithoutConversion().EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion), &status)
	if encodeErr != nil {
		return nil, encodeErr
	}
	return response(req, int(status.Code), protobuf, io.NopCloser(bytes.NewReader(data))), nil
}

func response(req *http.Request, code int, contentType string, body io.ReadCloser) *http.Response {
	return &http.Response{
		Status:     strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode: code,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{contentType}},
		Body:          body,
		ContentLength: -1,
		Request:       req,
	}
}

// wireBody is the body of a WATCH response: the events, if any, once
// release is closed, then nothing until the client closes the body or its
// request is cancelled. Read is called by one goroutine (the watch
// decoder's), Close by another.
type wireBody struct {
	file    *os.File      // nil: no events
	events  *bufio.Reader // over file
	release <-chan struct{}
	done    <-chan struct{} // the request's context
	closed  chan struct{}
	once    sync.Once
}

func (b *wireBody) Read(p []byte) (int, error) {
	if b.release != nil {
		select {
		case <-b.release:
			b.release = nil
		case <-b.closed:
			return 0, io.EOF
		case <-b.done:
			return 0, context.Canceled
		}
	}
	if b.events != nil {
		n, err := b.events.Read(p)
		if n > 0 || err != io.EOF {
			return n, err
		}
		b.events = nil
	}
	select {
	case <-b.closed:
		return 0, io.EOF
	case <-b.done:
		return 0, context.Canceled
	}
}

func (b *wireBody) Close() error {
	var err error
	b.once.Do(func() {
		close(b.closed)
		if b.file != nil {
			err = b.file.Close()
		}
	})
	return err
}

// measureWireDelivery syncs lib's informer on the LIST of stream through a
// wireServer, then lets the watch events flow and times them from then
// until the handler has counted the last. Allocations are counted over the
// same span, as in measureDelivery.
func measureWireDelivery(ctx context.Context, lib string, stream *wireStream, prof deliveryProfiles) (deliveryResult, error) {
	server := newWireServer(stream)
	h := newCounter(stream.podCount, stream.events)
	s, err := newSubject(lib, &source{config: server.config(), mapper: podMapper()}, h, subjectOptions{})
	if err != nil {
		return deliveryResult{}, err
	}
	defer s.stop()
	if err := startSynced(ctx, s, h); err != nil {
		return deliveryResult{}, err
	}
	if err := wait(server.watched, stepTimeout, lib+" watch"); err != nil {
		return deliveryResult{}, err
	}

	result, err := timeDelivery(lib, stream.events, h, prof, server.start)
	if err != nil {
		return deliveryResult{}, err
	}
	if lists, watches := server.lists.Load(), server.watches.Load(); lists != 1 || watches != 1 {
		return deliveryResult{}, fmt.Errorf("%s: %d LISTs and %d WATCHes, want 1 and 1 (%d streaming lists refused)", lib, lists, watches, server.refused.Load())
	}
	return result, nil
}

// wireLibs are the libraries of the wire delivery: the three compared, then
// ours-noshare and ours-keep, logged against ours on stderr (what string
// sharing and the stripping cost or save when each event is decoded).
var wireLibs = []string{libOurs, libRaw, libCtrl, libOursNoShare, libOursKeep}

// runWireDelivery measures delivery from the wire at size events, o.runs
// times per library of wireLibs, rotating the order of the libraries from
// run to run. The events are encoded once, for every run.
func runWireDelivery(ctx context.Context, o options, p printer, size int) (err error) {
	started := time.Now()
	stream, err := newWireStream("", size)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stream.remove()) }()
	logf("wire %d: %d pods listed (%d bytes), %d events encoded in %v", size, stream.podCount, len(stream.list), size, time.Since(started).Round(time.Millisecond))
	nanos, allocs, cpu := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for round := range o.runs {
		for k := range wireLibs {
			lib := wireLibs[(round+k)%len(wireLibs)]
			r, err := measureWireDelivery(ctx, lib, stream, deliveryProfiles{})
			if err != nil {
				return fmt.Errorf("wire delivery %s %d: %w", lib, size, err)
			}
			logf("wire delivery %d run %d %s: %.0f ns/event %.2f allocs/event, process CPU %.0f ns/event", size, round+1, lib, r.nsPerEvent, r.allocsPerEvent, r.cpuNsPerEvent)
			cpu[lib] = append(cpu[lib], r.cpuNsPerEvent)
			nanos[lib] = append(nanos[lib], r.nsPerEvent)
			allocs[lib] = append(allocs[lib], r.allocsPerEvent)
		}
	}
	for _, lib := range wireLibs {
		logSpread("delivery_wire_ns_per_event"+sizeSuffix(size)+" "+lib, nanos[lib], "ns")
		logSpread("delivery_wire_ns_per_event"+sizeSuffix(size)+" "+lib+" process CPU", cpu[lib], "ns")
	}
	for _, lib := range []string{libOursNoShare, libOursKeep} {
		logf("delivery_wire%s %s/ours: %.3f ns, %.3f process CPU, %.3f allocs (%.2f allocs/event)", sizeSuffix(size), lib,
			median(nanos[lib])/median(nanos[libOurs]), median(cpu[lib])/median(cpu[libOurs]),
			median(allocs[lib])/median(allocs[libOurs]), median(allocs[lib]))
	}
	for _, c := range wireComparisons(size, nanos, allocs) {
		p.compare(c)
	}
	if o.profileDir != "" {
		err := profileRuns(o.profileDir, "wire", size, wireLibs, func(lib string, prof deliveryProfiles) error {
			_, err := measureWireDelivery(ctx, lib, stream, prof)
			return err
		})
		if err != nil {
			return err
		}
		logf("wire delivery profiles written to %s", o.profileDir)
	}
	return nil
}

// wireComparisons are the wire delivery results at size events.
func wireComparisons(size int, nanos, allocs map[string][]float64) []comparison {
	suffix := sizeSuffix(size)
	return []comparison{
		{name: "delivery_wire_ns_per_event" + suffix, unit: "ns",
			ours: median(nanos[libOurs]), raw: median(nanos[libRaw]), ctrl: median(nanos[libCtrl])},
		{name: "allocs_wire_per_event" + suffix, decimals: 2,
			ours: median(allocs[libOurs]), raw: median(allocs[libRaw]), ctrl: median(allocs[libCtrl])},
	}
}
