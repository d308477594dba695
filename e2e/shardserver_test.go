package e2e

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/informer-go/informer/informertest"
	"github.com/informer-go/informer/internal/shard"
	"github.com/informer-go/informer/localcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/sharding"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// These tests record what kube-apiserver v1.37 does with
// ListOptions.ShardSelector (KEP-5866), with its alpha gate
// ShardedListAndWatch on (a cluster of the test's own) and off (the suite's
// cluster), for the selectors package internal/shard builds, over protobuf
// and JSON.

// shardObjectCount is the number of ConfigMaps each cluster starts with.
const shardObjectCount = 60

// malformedSelector has a short bound, which the server's parser rejects
// (it wants exactly 16 hex digits).
const malformedSelector = "shardRange(object.metadata.uid, '0x0', '0x8000000000000000')"

// shardEncodings are the wire formats the typed clientset can use.
var shardEncodings = []struct{ name, contentType string }{
	{name: "protobuf", contentType: "application/vnd.kubernetes.protobuf"},
	{name: "json", contentType: "application/json"},
}

// shardSelectors are the selectors checked: half of the hash space in one
// term, and three of eight ranges in two terms.
var shardSelectors = []struct {
	name     string
	selector sharding.Selector
}{
	{name: "lower half", selector: shard.Selector(shard.ByUID, 2, 0)},
	{name: "ranges 1, 2 and 5 of 8", selector: shard.Selector(shard.ByUID, 8, 1, 2, 5)},
}

func TestShardServer(t *testing.T) {
	requireCluster(t)
	start := time.Now()
	gateOn := informertest.StartCluster(t, localcluster.Options{FeatureGates: map[string]bool{"ShardedListAndWatch": true}})
	t.Logf("cluster with ShardedListAndWatch=true started in %v", time.Since(start).Round(time.Millisecond))

	clusters := []struct {
		name    string
		cluster *localcluster.Cluster
		gateOn  bool
	}{
		{name: "gate on", cluster: gateOn, gateOn: true},
		{name: "gate off", cluster: cluster, gateOn: false},
	}
	for _, tc := range clusters {
		t.Run(tc.name, func(t *testing.T) {
			setup := shardClient(t, tc.cluster, shardEncodings[0].contentType)
			ns := newNamespace(t, setup)
			createShardObjects(t, setup, ns, "initial", shardObjectCount)
			for _, enc := range shardEncodings {
				t.Run(enc.name, func(t *testing.T) {
					client := shardClient(t, tc.cluster, enc.contentType)
					for _, sel := range shardSelectors {
						t.Run(sel.name, func(t *testing.T) {
							t.Run("list", func(t *testing.T) { checkShardList(t, client, ns, sel.selector, tc.gateOn) })
							t.Run("watch", func(t *testing.T) { checkShardWatch(t, client, ns, sel.selector, tc.gateOn) })
							t.Run("watch-list", func(t *testing.T) { checkShardWatchList(t, client, ns, sel.selector, tc.gateOn) })
						})
					}
					t.Run("malformed", func(t *testing.T) { checkMalformedSelector(t, client, ns, tc.gateOn) })
				})
			}
		})
	}
}

// shardClient returns an admin clientset of c that sends and accepts
// contentType.
func shardClient(t *testing.T, c *localcluster.Cluster, contentType string) kubernetes.Interface {
	t.Helper()
	cfg := fastConfig(c)
	cfg.ContentType = contentType
	cfg.AcceptContentTypes = contentType
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubernetes.NewForConfig: %v", err)
	}
	return client
}

// createShardObjects creates count ConfigMaps named prefix-0... and returns
// them as created, with their UIDs.
func createShardObjects(t *testing.T, client kubernetes.Interface, ns, prefix string, count int) []*corev1.ConfigMap {
	t.Helper()
	created := make([]*corev1.ConfigMap, 0, count)
	for i := range count {
		created = append(created, createShardObject(t, client, ns, fmt.Sprintf("%s-%d", prefix, i)))
	}
	return created
}

// createShardObject creates one small ConfigMap and returns it as created.
func createShardObject(t *testing.T, client kubernetes.Interface, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
	created, err := client.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating ConfigMap %s/%s: %v", ns, name, err)
	}
	return created
}

// matchingNames returns the sorted names of the ConfigMaps sel matches, or
// of all of them when the server ignores selectors (filtered false).
func matchingNames(t *testing.T, items []corev1.ConfigMap, sel sharding.Selector, filtered bool) []string {
	t.Helper()
	names := []string{}
	for i := range items {
		ok := true
		if filtered {
			var err error
			if ok, err = sel.Matches(&items[i]); err != nil {
				t.Fatalf("Matches(%s): %v", items[i].Name, err)
			}
		}
		if ok {
			names = append(names, items[i].Name)
		}
	}
	slices.Sort(names)
	return names
}

// listAll lists every ConfigMap of ns without a selector.
func listAll(t *testing.T, client kubernetes.Interface, ns string) *corev1.ConfigMapList {
	t.Helper()
	list, err := client.CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing ConfigMaps of %s: %v", ns, err)
	}
	return list
}

// wantShardInfo is the ShardInfo a LIST with sel returns: the selector,
// normalised, with the gate on; none with it off.
func wantShardInfo(sel sharding.Selector, gateOn bool) *metav1.ShardInfo {
	if !gateOn {
		return nil
	}
	return &metav1.ShardInfo{Selector: sel.String()}
}

// checkShardList lists with the selector, from etcd (resourceVersion ""),
// from the watch cache (resourceVersion "0") and in pages of 7, and checks
// the objects and the echoed ShardInfo of each response.
func checkShardList(t *testing.T, client kubernetes.Interface, ns string, sel sharding.Selector, gateOn bool) {
	all := listAll(t, client, ns)
	want := matchingNames(t, all.Items, sel, gateOn)
	if gateOn && (len(want) == 0 || len(want) == len(all.Items)) {
		t.Fatalf("objects the selector matches: got %d of %d, want some but not all for a meaningful test", len(want), len(all.Items))
	}
	for _, rv := range []string{"", "0"} {
		opts := metav1.ListOptions{ShardSelector: sel.String(), ResourceVersion: rv}
		list, err := client.CoreV1().ConfigMaps(ns).List(t.Context(), opts)
		if err != nil {
			t.Fatalf("LIST with resourceVersion %q: %v", rv, err)
		}
		if diff := cmp.Diff(want, matchingNames(t, list.Items, nil, false)); diff != "" {
			t.Errorf("LIST with resourceVersion %q: objects (-want +got):\n%s", rv, diff)
		}
		if diff := cmp.Diff(wantShardInfo(sel, gateOn), list.ShardInfo); diff != "" {
			t.Errorf("LIST with resourceVersion %q: ShardInfo (-want +got):\n%s", rv, diff)
		}
		t.Logf("LIST with resourceVersion %q: %d of %d objects, ShardInfo %+v", rv, len(list.Items), len(all.Items), list.ShardInfo)
	}

	var paged []corev1.ConfigMap
	opts := metav1.ListOptions{ShardSelector: sel.String(), Limit: 7}
	for page := 1; ; page++ {
		list, err := client.CoreV1().ConfigMaps(ns).List(t.Context(), opts)
		if err != nil {
			t.Fatalf("LIST page %d: %v", page, err)
		}
		if diff := cmp.Diff(wantShardInfo(sel, gateOn), list.ShardInfo); diff != "" {
			t.Errorf("LIST page %d: ShardInfo (-want +got):\n%s", page, diff)
		}
		paged = append(paged, list.Items...)
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	if diff := cmp.Diff(want, matchingNames(t, paged, nil, false)); diff != "" {
		t.Errorf("LIST in pages of 7: objects (-want +got):\n%s", diff)
	}
	t.Logf("LIST in pages of 7: %d of %d objects", len(paged), len(all.Items))
}

// checkShardWatch opens a watch with the selector, creates ConfigMaps until
// at least 20 are created and the last one matches, and checks that the
// watch delivered exactly the matching ones: the server sends events in
// resourceVersion order, so once the last one arrived every earlier one
// that was going to come has come.
func checkShardWatch(t *testing.T, client kubernetes.Interface, ns string, sel sharding.Selector, gateOn bool) {
	rv := listAll(t, client, ns).ResourceVersion
	w, err := client.CoreV1().ConfigMaps(ns).Watch(t.Context(), metav1.ListOptions{ShardSelector: sel.String(), ResourceVersion: rv})
	if err != nil {
		t.Fatalf("WATCH: %v", err)
	}
	defer w.Stop()

	prefix := "watch-" + nonNameChars.ReplaceAllString(t.Name(), "-")
	prefix = fmt.Sprintf("w%x", shard.Hash(prefix))
	var created []corev1.ConfigMap
	for i := 0; ; i++ {
		cm := createShardObject(t, client, ns, fmt.Sprintf("%s-%d", prefix, i))
		created = append(created, *cm)
		last, err := sel.Matches(cm)
		if err != nil {
			t.Fatalf("Matches: %v", err)
		}
		if i >= 19 && last {
			break
		}
		if i > 200 {
			t.Fatalf("created %d ConfigMaps and none of the last ones matches %q", i+1, sel)
		}
	}
	want := matchingNames(t, created, sel, gateOn)
	lastName := created[len(created)-1].Name

	var got []string
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	for !slices.Contains(got, lastName) {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v, before the last ConfigMap %s", got, lastName)
			}
			cm, isCM := e.Object.(*corev1.ConfigMap)
			if e.Type != watch.Added || !isCM {
				t.Fatalf("watch event: got %s %T, want only ADDED ConfigMaps", e.Type, e.Object)
			}
			got = append(got, cm.Name)
		case <-timeout.C:
			t.Fatalf("waiting %v for the ADDED of %s: got only %v", waitBound, lastName, got)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ADDED events of %d new ConfigMaps (-want +got):\n%s", len(created), diff)
	}
	t.Logf("WATCH: %d ConfigMaps created, %d ADDED events", len(created), len(got))
}

// checkShardWatchList opens a watch-list (initial events, then the end
// bookmark) with the selector and checks the initial events, and records
// what the bookmark carries.
func checkShardWatchList(t *testing.T, client kubernetes.Interface, ns string, sel sharding.Selector, gateOn bool) {
	listed := listAll(t, client, ns).Items
	listedCount := len(listed)
	want := matchingNames(t, listed, sel, gateOn)
	opts := metav1.ListOptions{
		ShardSelector:        sel.String(),
		SendInitialEvents:    ptr.To(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	}
	w, err := client.CoreV1().ConfigMaps(ns).Watch(t.Context(), opts)
	if err != nil {
		t.Fatalf("watch-list: %v", err)
	}
	defer w.Stop()

	var got []string
	timeout := time.NewTimer(waitBound)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch-list closed after %v, before the end of the initial events", got)
			}
			cm, isCM := e.Object.(*corev1.ConfigMap)
			if !isCM {
				t.Fatalf("watch-list event: got %s %T, want ConfigMaps", e.Type, e.Object)
			}
			switch e.Type {
			case watch.Added:
				got = append(got, cm.Name)
				continue
			case watch.Bookmark:
				if cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
					continue // a periodic bookmark
				}
			default:
				t.Fatalf("watch-list event: got %s %s, want ADDED or BOOKMARK", e.Type, cm.Name)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("initial events (-want +got):\n%s", diff)
			}
			// The bookmark is a bare ConfigMap: it has no ListMeta, so no
			// ShardInfo, and the server adds nothing about the shard.
			wantAnnotations := map[string]string{metav1.InitialEventsAnnotationKey: "true"}
			if diff := cmp.Diff(wantAnnotations, cm.Annotations); diff != "" {
				t.Errorf("annotations of the end bookmark (-want +got):\n%s", diff)
			}
			t.Logf("watch-list: %d initial events of %d objects", len(got), listedCount)
			t.Logf("end bookmark: resourceVersion %s, annotations %v, labels %v", cm.ResourceVersion, cm.Annotations, cm.Labels)
			return
		case <-timeout.C:
			t.Fatalf("waiting %v for the end of the initial events: got %v", waitBound, got)
		}
	}
}

// checkMalformedSelector sends a selector the server's parser rejects, on
// LIST and WATCH, and checks the answer: an HTTP 500 with the gate on, the
// selector ignored with it off. Validate rejects it first.
func checkMalformedSelector(t *testing.T, client kubernetes.Interface, ns string, gateOn bool) {
	if err := shard.Validate(malformedSelector); err == nil {
		t.Errorf("shard.Validate(%q): got nil, want an error", malformedSelector)
	}
	all := listAll(t, client, ns)
	opts := metav1.ListOptions{ShardSelector: malformedSelector}
	list, listErr := client.CoreV1().ConfigMaps(ns).List(t.Context(), opts)
	w, watchErr := client.CoreV1().ConfigMaps(ns).Watch(t.Context(), opts)
	if watchErr == nil {
		defer w.Stop()
	}
	if !gateOn {
		if listErr != nil {
			t.Fatalf("LIST with a malformed selector, gate off: got %v, want the selector ignored", listErr)
		}
		if got, want := len(list.Items), len(all.Items); got != want || list.ShardInfo != nil {
			t.Errorf("LIST with a malformed selector, gate off: got %d objects and ShardInfo %v, want %d and nil", got, list.ShardInfo, want)
		}
		if watchErr != nil {
			t.Errorf("WATCH with a malformed selector, gate off: got %v, want the selector ignored", watchErr)
		}
		return
	}
	for _, r := range []struct {
		request string
		err     error
	}{{request: "LIST", err: listErr}, {request: "WATCH", err: watchErr}} {
		var status apierrors.APIStatus
		if !errors.As(r.err, &status) {
			t.Errorf("%s with a malformed selector: got %v, want an API status error", r.request, r.err)
			continue
		}
		got := status.Status()
		t.Logf("%s with a malformed selector: HTTP %d, reason %q, message %q", r.request, got.Code, got.Reason, got.Message)
		// A plain error from the parser, not an API status: the handler
		// makes it a 500 of reason Unknown (""), which apierrors'
		// IsInternalError does not recognise.
		if got.Code != 500 || got.Reason != metav1.StatusReasonUnknown {
			t.Errorf("%s with a malformed selector: got HTTP %d reason %q, want 500 and reason \"\" (Unknown)", r.request, got.Code, got.Reason)
		}
	}
}
