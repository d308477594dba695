package main

import (
	"errors"
	"os"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestWireStreamRoundTrip reads a wire stream with client-go's own typed
// client, as the libraries do: the LIST decodes to the realistic pods, a
// streaming list is refused with 422 Invalid, and the WATCH yields every
// event as a MODIFIED pod with its new resourceVersion, in order.
func TestWireStreamRoundTrip(t *testing.T) {
	const events = 1500 // more events than listed pods: pods repeat
	stream, err := newWireStream(t.TempDir(), events)
	if err != nil {
		t.Fatal(err)
	}
	server := newWireServer(stream)
	kube, err := kubernetes.NewForConfig(server.config())
	if err != nil {
		t.Fatal(err)
	}
	pods := kube.CoreV1().Pods(metav1.NamespaceAll)

	list, err := pods.List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(list.Items), stream.podCount; got != want {
		t.Fatalf("LIST: got %d pods, want %d", got, want)
	}
	want := realisticPod(benchNamespace, 7)
	if got := list.Items[7]; got.Name != want.Name || len(got.ManagedFields) != 3 || got.ResourceVersion != want.ResourceVersion || list.ResourceVersion != "1" {
		t.Errorf("LIST: got pod %s (resourceVersion %s, %d managedFields entries) in list %s; want %s (%s, 3) in list 1",
			got.Name, got.ResourceVersion, len(got.ManagedFields), list.ResourceVersion, want.Name, want.ResourceVersion)
	}

	initial := true
	_, err = pods.Watch(t.Context(), metav1.ListOptions{SendInitialEvents: &initial, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if !apierrors.IsInvalid(err) {
		t.Errorf("streaming list: got %v, want 422 Invalid", err)
	}

	w, err := pods.Watch(t.Context(), metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	server.start()
	for i := range events {
		event, ok := <-w.ResultChan()
		if !ok {
			t.Fatalf("watch closed after %d events, want %d", i, events)
		}
		pod, isPod := event.Object.(interface{ GetResourceVersion() string })
		if event.Type != watch.Modified || !isPod {
			t.Fatalf("event %d: got %s %T, want MODIFIED *v1.Pod", i, event.Type, event.Object)
		}
		if got, want := pod.GetResourceVersion(), strconv.Itoa(1_000_000+i); got != want {
			t.Fatalf("event %d: got resourceVersion %s, want %s", i, got, want)
		}
	}
	if lists, watches, refused := server.lists.Load(), server.watches.Load(), server.refused.Load(); lists != 1 || watches != 1 || refused != 1 {
		t.Errorf("got %d LISTs, %d WATCHes, %d refused streaming lists; want 1 of each", lists, watches, refused)
	}
	if err := stream.remove(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(stream.eventsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("events file after remove: got %v, want it gone", err)
	}
}

// TestWireDeliveryWiring runs a small wire delivery through each library:
// every event must reach the handler exactly once, after one LIST and one
// WATCH.
func TestWireDeliveryWiring(t *testing.T) {
	stream, err := newWireStream(t.TempDir(), 300)
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range typedLibs {
		t.Run(lib, func(t *testing.T) {
			r, err := measureWireDelivery(t.Context(), lib, stream, deliveryProfiles{})
			if err != nil {
				t.Fatal(err)
			}
			if r.nsPerEvent <= 0 || r.allocsPerEvent <= 0 {
				t.Errorf("got %+v, want positive figures", r)
			}
		})
	}
}

func TestWireComparisons(t *testing.T) {
	nanos := map[string][]float64{libOurs: {3, 1, 2}, libRaw: {20}, libCtrl: {30, 31, 32}}
	allocs := map[string][]float64{libOurs: {9}, libRaw: {10}, libCtrl: {11}}
	got := wireComparisons(50_000, nanos, allocs)
	want := []comparison{
		{name: "delivery_wire_ns_per_event_50k", unit: "ns", ours: 2, raw: 20, ctrl: 31},
		{name: "allocs_wire_per_event_50k", decimals: 2, ours: 9, raw: 10, ctrl: 11},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d comparisons, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("comparison %d: got %+v, want %+v", i, got[i], want[i])
		}
		if lines := got[i].lines(); !rawLine.MatchString(lines[0]) || !ctrlLine.MatchString(lines[1]) {
			t.Errorf("comparison %d: lines %q are not in the two-line form", i, lines)
		}
	}
}
