package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/informer-go/informer"
	"github.com/informer-go/informer/metrics"
)

func Example() {
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer, served by promhttp.Handler
	m, err := metrics.New(reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	kube := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-2"}},
	)
	b := informer.NewBuilder().WithClients(kube, nil).WithHooks(m.Hooks())
	informer.Watch(b, informer.Funcs[*corev1.Pod]{
		OnAdd: func(_ context.Context, p *corev1.Pod) { /* ... */ },
	}, informer.WithName("printer"))
	inf, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Observe(inf)
	if err := inf.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := inf.Stop(); err != nil {
			fmt.Println("stop:", err)
		}
	}()
	if err := inf.WaitForSync(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	want := `
# HELP informer_cached_objects Objects in the informer's cache.
# TYPE informer_cached_objects gauge
informer_cached_objects{resource="pods"} 2
# HELP informer_synced 1 when the cache has synced and every handler has seen the initial list, else 0.
# TYPE informer_synced gauge
informer_synced{resource="pods"} 1
`
	err = testutil.GatherAndCompare(reg, strings.NewReader(want), "informer_cached_objects", "informer_synced")
	fmt.Println("gauges as expected:", err == nil)
	// Output:
	// gauges as expected: true
}
