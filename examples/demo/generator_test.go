package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// podTiers returns the tier label of every pod in the demo namespace, by
// pod name.
func podTiers(t *testing.T, client *fake.Clientset) map[string]string {
	t.Helper()
	pods, err := client.CoreV1().Pods(demoNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tiers := map[string]string{}
	for _, p := range pods.Items {
		tiers[p.Name] = p.Labels["tier"]
	}
	return tiers
}

func TestGeneratorSteps(t *testing.T) {
	client := fake.NewClientset()
	var log strings.Builder
	g := NewGenerator(client, demoNamespace, &log)
	ctx := t.Context()

	if err := g.Seed(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Three rounds of the schedule: create, relabel, delete, scale.
	for i := range 3 * len(schedule) {
		if err := g.Step(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	want := Stats{Created: 6, Relabelled: 3, Deleted: 2, Scaled: 3}
	if diff := cmp.Diff(want, g.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	// The oldest pods were relabelled first and deleted first: demo-1 and
	// demo-2 are gone, demo-3 is the one relabelled pod left.
	wantTiers := map[string]string{"demo-3": "cache", "demo-4": "web", "demo-5": "web", "demo-6": "web"}
	if diff := cmp.Diff(wantTiers, podTiers(t, client)); diff != "" {
		t.Errorf("pods and their tier (-want +got):\n%s", diff)
	}
	// The Deployment went 2 -> 4 -> 1.
	d, err := client.AppsV1().Deployments(demoNamespace).Get(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *d.Spec.Replicas; got != 1 || g.DeploymentReplicas() != 1 {
		t.Errorf("deployment replicas = %d, generator says %d; want 1", got, g.DeploymentReplicas())
	}
	for _, line := range []string{
		"generator: create pod demo-1 (tier=web)\n",
		"generator: relabel pod demo-1 tier=web -> cache\n",
		"generator: delete pod demo-1\n",
		"generator: create deployment api (replicas=2)\n",
		"generator: scale deployment api 2 -> 4\n",
		"generator: scale deployment api 4 -> 1\n",
	} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q; log:\n%s", line, log.String())
		}
	}
}

// TestGeneratorRun drives Run with a tick channel: each send is received by
// Run before the next, and closing the channel ends it.
func TestGeneratorRun(t *testing.T) {
	client := fake.NewClientset()
	g := NewGenerator(client, demoNamespace, nil)
	ticks := make(chan time.Time)
	done := make(chan error, 1)
	go func() { done <- g.Run(t.Context(), ticks) }()
	for range 2 * len(schedule) {
		ticks <- time.Now()
	}
	close(ticks)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Without seeded pods a delete step creates instead: 4 creates, 2
	// relabels, no deletes, the Deployment created and scaled once.
	want := Stats{Created: 4, Relabelled: 2, Deleted: 0, Scaled: 2}
	if diff := cmp.Diff(want, g.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if got := len(podTiers(t, client)); got != 4 {
		t.Errorf("%d pods, want 4", got)
	}
}

// TestGeneratorForgetsPodsDeletedBehindItsBack checks that a pod deleted by
// someone else is dropped from the generator's list: relabelling it fails
// once, deleting it is no error and is not counted, and later steps move on
// to the next pods.
func TestGeneratorForgetsPodsDeletedBehindItsBack(t *testing.T) {
	client := fake.NewClientset()
	g := NewGenerator(client, demoNamespace, nil)
	ctx := t.Context()
	if err := g.Seed(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"demo-1", "demo-2"} {
		if err := client.CoreV1().Pods(demoNamespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// One round and a half: create demo-6, relabel demo-1 (gone), delete
	// demo-2 (gone), create the Deployment, create demo-7, relabel demo-3.
	for i := range len(schedule) + 2 {
		err := g.Step(ctx)
		switch {
		case i == 1 && !apierrors.IsNotFound(err):
			t.Fatalf("step %d, relabelling demo-1: got error %v, want NotFound", i, err)
		case i != 1 && err != nil:
			t.Fatalf("step %d: %v", i, err)
		}
	}

	want := Stats{Created: 7, Relabelled: 1, Deleted: 0, Scaled: 1}
	if diff := cmp.Diff(want, g.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	wantTiers := map[string]string{"demo-3": "cache", "demo-4": "web", "demo-5": "web", "demo-6": "web", "demo-7": "web"}
	if diff := cmp.Diff(wantTiers, podTiers(t, client)); diff != "" {
		t.Errorf("pods and their tier (-want +got):\n%s", diff)
	}
}

func TestGeneratorRunStopsWhenCancelled(t *testing.T) {
	g := NewGenerator(fake.NewClientset(), demoNamespace, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.Run(ctx, make(chan time.Time)); err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	if got := g.Stats(); got != (Stats{}) {
		t.Errorf("stats = %v, want nothing done", got)
	}
}

// TestGeneratorRunGivesUp checks that a failed step is skipped and that Run
// returns after maxFailures failures in a row.
func TestGeneratorRunGivesUp(t *testing.T) {
	client := fake.NewClientset()
	errQuota := errors.New("exceeded quota")
	client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errQuota
	})
	var log strings.Builder
	g := NewGenerator(client, demoNamespace, &log)
	ticks := make(chan time.Time, maxFailures+2)
	for range cap(ticks) {
		ticks <- time.Now()
	}
	close(ticks)

	err := g.Run(t.Context(), ticks)
	if !errors.Is(err, errQuota) {
		t.Fatalf("Run: %v, want an error wrapping %v", err, errQuota)
	}
	if got := len(ticks); got != 2 {
		t.Errorf("Run left %d ticks, want 2: it should stop after %d failures", got, maxFailures)
	}
	if got := strings.Count(log.String(), "(skipped)"); got != maxFailures-1 {
		t.Errorf("%d skipped steps logged, want %d; log:\n%s", got, maxFailures-1, log.String())
	}
}
