package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Names and labels of what the generator creates.
const (
	podPrefix      = "demo-"
	deploymentName = "api"
	// pauseImage does nothing and exits on SIGTERM: on a cluster with
	// nodes the pods really run, cheaply; on the local cluster they stay
	// Pending because there is no scheduler or kubelet.
	pauseImage = "registry.k8s.io/pause:3.10"
)

const (
	// minPods is how many standalone pods a delete step leaves alive; below
	// it, the step creates a pod instead, so that there is always something
	// to relabel and delete.
	minPods = 3
	// maxFailures is how many steps in a row may fail before Run gives up:
	// one failure (a conflict, a slow server) is shown and skipped; a
	// cluster that rejects everything ends the demo.
	maxFailures = 3
)

// action is one kind of change the generator makes.
type action int

const (
	createPod action = iota
	relabelPod
	deletePod
	scaleDeployment
)

// schedule is the order of the steps, repeated. Each round creates one pod
// and deletes one, so the number of standalone pods stays small.
var schedule = []action{createPod, relabelPod, deletePod, scaleDeployment}

// replicaCycle is the sequence of replica counts of the Deployment: the
// first scale step creates it with 2 replicas, the next ones scale it to 4,
// then 1, then 2 again, and so on.
var replicaCycle = []int32{2, 4, 1}

// Stats counts what the generator did.
type Stats struct {
	Created    int // standalone pods created
	Relabelled int // pods relabelled tier=web -> cache
	Deleted    int // standalone pods deleted
	Scaled     int // replica changes of the Deployment, its creation included
}

func (s Stats) String() string {
	return fmt.Sprintf("created=%d relabelled=%d deleted=%d scaled=%d", s.Created, s.Relabelled, s.Deleted, s.Scaled)
}

// Generator makes pod events in one namespace: it creates pods labelled
// tier=web, relabels some to tier=cache, deletes some, and scales a
// Deployment so that its ReplicaSet creates and deletes pods too (when
// kube-controller-manager runs).
//
// Each call to Step makes one change, so tests drive it step by step; Run
// makes one change per tick. A Generator is used by one goroutine at a time;
// Stats may be called from any goroutine.
type Generator struct {
	client    kubernetes.Interface
	namespace string
	log       io.Writer // one line per change, written before the request so that it comes before the watcher's line

	step       int
	nextPod    int
	pods       []podState // standalone pods alive, oldest first
	replicaIdx int        // index in replicaCycle of the Deployment's replicas; -1 before it exists

	mu    sync.Mutex
	stats Stats
}

// podState is what the generator remembers of a pod it created.
type podState struct {
	name, tier string
}

// NewGenerator returns a generator that works in namespace, which must
// exist, and writes a line per change to log (nil: no lines).
func NewGenerator(client kubernetes.Interface, namespace string, log io.Writer) *Generator {
	if log == nil {
		log = io.Discard
	}
	return &Generator{client: client, namespace: namespace, log: log, nextPod: 1, replicaIdx: -1}
}

// Stats returns what the generator has done so far.
func (g *Generator) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// count applies fn to the stats under the lock.
func (g *Generator) count(fn func(*Stats)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn(&g.stats)
}

// DeploymentReplicas returns the replica count the generator last set on the
// Deployment, or -1 if it has not created it yet.
func (g *Generator) DeploymentReplicas() int32 {
	if g.replicaIdx < 0 {
		return -1
	}
	return replicaCycle[g.replicaIdx]
}

// Seed creates n pods without advancing the schedule. The demo seeds before
// the watcher starts, so that the watcher's initial list is not empty.
func (g *Generator) Seed(ctx context.Context, n int) error {
	for range n {
		if err := g.createPod(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Run calls Step once per value received from ticks until ctx ends or ticks
// is closed. A failed step is reported on the log and skipped; Run returns
// an error only after maxFailures failed steps in a row. It returns nil when
// stopped.
func (g *Generator) Run(ctx context.Context, ticks <-chan time.Time) error {
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ticks:
			if !ok {
				return nil
			}
		}
		err := g.Step(ctx)
		switch {
		case err == nil:
			failures = 0
		case ctx.Err() != nil:
			return nil // interrupted in the middle of a request
		default:
			failures++
			if failures >= maxFailures {
				return fmt.Errorf("generator: %d changes in a row failed, the last one: %w", failures, err)
			}
			fmt.Fprintf(g.log, "generator: %v (skipped)\n", err)
		}
	}
}

// Step makes the next change of the schedule.
func (g *Generator) Step(ctx context.Context) error {
	next := schedule[g.step%len(schedule)]
	g.step++
	switch next {
	case relabelPod:
		if i := g.oldestWithTier("web"); i >= 0 {
			return g.relabel(ctx, i, "cache")
		}
	case deletePod:
		if len(g.pods) > minPods {
			return g.deleteOldest(ctx)
		}
	case scaleDeployment:
		return g.scale(ctx)
	}
	return g.createPod(ctx)
}

func (g *Generator) createPod(ctx context.Context) error {
	name := fmt.Sprintf("%s%d", podPrefix, g.nextPod)
	g.nextPod++
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: g.namespace,
			Labels:    map[string]string{"app": "demo", "tier": "web"},
		},
		Spec: podSpec(),
	}
	fmt.Fprintf(g.log, "generator: create pod %s (tier=web)\n", name)
	if _, err := g.client.CoreV1().Pods(g.namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating pod %s: %w", name, err)
	}
	g.pods = append(g.pods, podState{name: name, tier: "web"})
	g.count(func(s *Stats) { s.Created++ })
	return nil
}

func (g *Generator) oldestWithTier(tier string) int {
	for i, p := range g.pods {
		if p.tier == tier {
			return i
		}
	}
	return -1
}

// relabel changes the tier label of g.pods[i] with a merge patch, as
// `kubectl label --overwrite` would: the watcher sees an UPDATE whose only
// change is the label.
func (g *Generator) relabel(ctx context.Context, i int, tier string) error {
	p := &g.pods[i]
	name := p.name
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{"tier":%q}}}`, tier)
	fmt.Fprintf(g.log, "generator: relabel pod %s tier=%s -> %s\n", name, p.tier, tier)
	_, err := g.client.CoreV1().Pods(g.namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		g.forget(i) // deleted behind our back; nothing to relabel
	}
	if err != nil {
		return fmt.Errorf("relabelling pod %s: %w", name, err)
	}
	p.tier = tier
	g.count(func(s *Stats) { s.Relabelled++ })
	return nil
}

func (g *Generator) deleteOldest(ctx context.Context) error {
	name := g.pods[0].name
	fmt.Fprintf(g.log, "generator: delete pod %s\n", name)
	err := g.client.CoreV1().Pods(g.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", name, err)
	}
	g.forget(0)
	if err == nil {
		g.count(func(s *Stats) { s.Deleted++ })
	}
	return nil
}

func (g *Generator) forget(i int) {
	g.pods = append(g.pods[:i], g.pods[i+1:]...)
}

// scale creates the Deployment on its first call and moves it to the next
// replica count of replicaCycle on later ones. Its ReplicaSet, run by
// kube-controller-manager, creates and deletes the pods.
func (g *Generator) scale(ctx context.Context) error {
	deployments := g.client.AppsV1().Deployments(g.namespace)
	if g.replicaIdx < 0 {
		replicas := replicaCycle[0]
		fmt.Fprintf(g.log, "generator: create deployment %s (replicas=%d)\n", deploymentName, replicas)
		if _, err := deployments.Create(ctx, deployment(g.namespace, replicas), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating deployment %s: %w", deploymentName, err)
		}
		g.replicaIdx = 0
		g.count(func(s *Stats) { s.Scaled++ })
		return nil
	}
	from := replicaCycle[g.replicaIdx]
	next := (g.replicaIdx + 1) % len(replicaCycle)
	to := replicaCycle[next]
	// A patch of spec.replicas rather than the scale subresource: it is one
	// request and works the same with the fake clientset in tests.
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, to)
	fmt.Fprintf(g.log, "generator: scale deployment %s %d -> %d\n", deploymentName, from, to)
	if _, err := deployments.Patch(ctx, deploymentName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scaling deployment %s to %d: %w", deploymentName, to, err)
	}
	g.replicaIdx = next
	g.count(func(s *Stats) { s.Scaled++ })
	return nil
}

// podSpec is the spec of every pod the generator makes, directly or through
// the Deployment. It passes the "restricted" Pod Security level, so that it
// is admitted on clusters that enforce it, and it stops at once when deleted.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: ptrTo[int64](1),
		AutomountServiceAccountToken:  ptrTo(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptrTo(true),
			RunAsUser:      ptrTo[int64](65535),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:  "pause",
			Image: pauseImage,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("1m"),
					corev1.ResourceMemory: resource.MustParse("8Mi"),
				},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptrTo(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

func deployment(namespace string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": deploymentName}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deploymentName, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(),
			},
		},
	}
}

// ptrTo returns a pointer to v, for the optional fields of the API types.
func ptrTo[T any](v T) *T { return &v }
