package localcluster_test

import (
	"context"
	"fmt"
	"log"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/informer-go/informer/localcluster"
)

// Example starts a cluster, creates a ConfigMap in it and stops it. In a
// test, pass t.Context() and stop the cluster in t.Cleanup.
func Example() {
	ctx := context.Background()
	cluster, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, localcluster.ErrBinariesMissing): run make tools
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			log.Print(err)
		}
	}()

	client, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		log.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "greeting"},
		Data:       map[string]string{"hello": "world"},
	}
	created, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", created.Name, "at resourceVersion", created.ResourceVersion)
	fmt.Println("kubectl --kubeconfig", cluster.KubeconfigPath(), "get configmaps")
}
