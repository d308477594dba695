package informer

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	restclientwatch "k8s.io/client-go/rest/watch"
)

// podServer serves the pods of one namespace as kube-apiserver does, in
// protobuf: LIST, WATCH, and the streaming list (watch-list) unless
// refused, in which case client-go's reflector falls back to LIST and
// WATCH. Events sent to its channel go to the watch open at the time.
type podServer struct {
	pods           []*corev1.Pod
	refuseWatchAll bool
	events         chan watch.Event
	encoder        runtime.Encoder
}

func (s *podServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/namespaces/shop/pods" {
		http.NotFound(w, r)
		return
	}
	query := r.URL.Query()
	if query.Get("watch") != "true" && query.Get("watch") != "1" {
		list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}
		for _, p := range s.pods {
			list.Items = append(list.Items, *p)
		}
		w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
		_ = s.encoder.Encode(list, w)
		return
	}
	initial := query.Get("sendInitialEvents") == "true"
	if initial && s.refuseWatchAll {
		http.Error(w, "no streaming lists here", http.StatusBadRequest)
		return
	}
	info, _ := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	w.Header().Set("Content-Type", runtime.ContentTypeProtobuf+";stream=watch")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush() // the client's Watch returns once it has the headers
	encoder := restclientwatch.NewEncoder(streaming.NewEncoder(info.StreamSerializer.NewFrameWriter(w), info.StreamSerializer.Serializer), s.encoder)
	send := func(e watch.Event) bool {
		if err := encoder.Encode(&e); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if initial {
		for _, p := range s.pods {
			send(watch.Event{Type: watch.Added, Object: p})
		}
		send(watch.Event{Type: watch.Bookmark, Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			ResourceVersion: "10", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"},
		}}})
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-s.events:
			if !send(e) {
				return
			}
		}
	}
}

// TestTypedInformersDecodeWithoutManagedFields runs a typed informer built
// from a rest.Config against a server that speaks protobuf, with and
// without streaming lists, and checks that pods from the list and from
// watch events are cached without managedFields and the last-applied
// annotation and otherwise as client-go decodes them; and that
// WithManagedFields keeps both.
func TestTypedInformersDecodeWithoutManagedFields(t *testing.T) {
	tests := []struct {
		name           string
		refuseWatchAll bool
		keep           bool
	}{
		{name: "streaming list"},
		{name: "list then watch", refuseWatchAll: true},
		{name: "managedFields kept", keep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := protobufInfo(t)
			server := &podServer{
				pods:           []*corev1.Pod{realisticPod("shop", 0), realisticPod("shop", 1)},
				refuseWatchAll: tt.refuseWatchAll,
				events:         make(chan watch.Event),
				encoder:        scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion),
			}
			srv := httptest.NewServer(server)
			t.Cleanup(srv.Close)

			events := make(chan event, 10)
			b := NewBuilder().WithConfig(&rest.Config{Host: srv.URL}).WithNamespace("shop")
			if tt.keep {
				b.WithManagedFields()
			}
			reg := Watch(b, recordingFuncs[*corev1.Pod](events))
			startSynced(t, b)
			nextEvent(t, events)
			nextEvent(t, events)
			updated := realisticPod("shop", 1)
			updated.ResourceVersion = "11"
			updated.Labels["v"] = "2"
			select {
			case server.events <- watch.Event{Type: watch.Modified, Object: updated}:
			case <-t.Context().Done():
			}
			if e := nextEvent(t, events); e.kind != "update" || e.newLabel != "2" {
				t.Fatalf("event: got %+v, want the update of shop/%s", e, updated.Name)
			}
			for _, sent := range []*corev1.Pod{server.pods[0], updated} {
				got, err := reg.Lister().Get("shop", sent.Name)
				if err != nil {
					t.Fatalf("Lister().Get(%q): %v", sent.Name, err)
				}
				decoded, err := runtime.Decode(info.Serializer, encodeProtobuf(t, sent))
				if err != nil {
					t.Fatal(err)
				}
				want := decoded.(*corev1.Pod)
				want.TypeMeta = metav1.TypeMeta{} // typed clients' decoders clear it
				if !tt.keep {
					want = stripped(want).(*corev1.Pod)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("cached pod %s differs from the server's (-server +cached):\n%s", sent.Name, diff)
				}
				if kept := len(got.ManagedFields) > 0 && got.Annotations[lastAppliedAnnotation] != ""; kept != tt.keep {
					t.Errorf("managedFields and last-applied annotation kept: got %v, want %v", kept, tt.keep)
				}
			}
		})
	}
}

// TestRESTListWatchStripsBeforeDecoding checks the typed informers' REST
// clients on their own, before any transform: with the lean serializer, the
// pods of a LIST and of watch events come out of the decoder without
// managedFields and the last-applied annotation; with client-go's, with
// them.
func TestRESTListWatchStripsBeforeDecoding(t *testing.T) {
	for _, lean := range []bool{true, false} {
		t.Run(fmt.Sprintf("lean=%v", lean), func(t *testing.T) {
			info := protobufInfo(t)
			server := &podServer{
				pods:    []*corev1.Pod{realisticPod("shop", 0)},
				events:  make(chan watch.Event),
				encoder: scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion),
			}
			srv := httptest.NewServer(server)
			t.Cleanup(srv.Close)
			config := &rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{ContentType: runtime.ContentTypeProtobuf}}
			funcs, err := newRESTClients(config, srv.Client(), lean).listWatch(corev1.SchemeGroupVersion.WithKind("Pod"), "pods", "shop")
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, p *corev1.Pod) {
				t.Helper()
				if got, want := len(p.ManagedFields) == 0, lean; got != want {
					t.Errorf("%s: managedFields stripped: got %v, want %v", what, got, want)
				}
				if _, got := p.Annotations[lastAppliedAnnotation]; got == lean {
					t.Errorf("%s: last-applied annotation kept: got %v, want %v", what, got, !lean)
				}
				if p.Name == "" || len(p.Spec.Containers) != 2 {
					t.Errorf("%s: got name %q and %d containers, want the pod's", what, p.Name, len(p.Spec.Containers))
				}
			}
			list, err := funcs.list(t.Context(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			check("listed pod", &list.(*corev1.PodList).Items[0])
			w, err := funcs.watch(t.Context(), metav1.ListOptions{ResourceVersion: "10"})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()
			select {
			case server.events <- watch.Event{Type: watch.Modified, Object: realisticPod("shop", 0)}:
			case <-t.Context().Done():
			}
			select {
			case e := <-w.ResultChan():
				p, ok := e.Object.(*corev1.Pod)
				if !ok {
					t.Fatalf("watch event: got %s %T, want a pod", e.Type, e.Object)
				}
				check("watched pod", p)
			case <-time.After(waitBound):
				t.Fatalf("no watch event within %v", waitBound)
			}
		})
	}
}
