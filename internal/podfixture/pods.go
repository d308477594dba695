// Package podfixture builds the realistic pods that the root package's
// tests and benchmarks and the bench module measure with, so that both
// measure the same object.
package podfixture

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// lastApplied is the annotation kubectl apply writes.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// BaseTime keeps generated timestamps stable from run to run.
var BaseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Realistic returns pod number i of namespace ns as a Deployment's
// ReplicaSet would leave it on a running node: labels, annotations
// (including kubectl's last-applied copy), an owner reference, two
// containers, a full status and three managedFields entries, one per writer
// (controller, scheduler, kubelet). Every string is built per pod, so that
// nothing is shared between pods that a decoder would not share either.
func Realistic(ns string, i int) *corev1.Pod {
	name := fmt.Sprintf("web-7d9f8c6b5-%05d", i)
	hash := "7d9f8c6b5"
	created := metav1.NewTime(BaseTime.Add(time.Duration(i) * time.Millisecond))
	started := metav1.NewTime(created.Add(3 * time.Second))
	podIP := fmt.Sprintf("10.%d.%d.%d", 64+i/65536%64, i/256%256, i%256)
	nodeName := fmt.Sprintf("node-%03d", i%100)
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			GenerateName:      "web-7d9f8c6b5-",
			Namespace:         ns,
			UID:               types.UID(fmt.Sprintf("8c2b5f1e-3d4a-4b6c-9e7f-%012d", i)),
			ResourceVersion:   strconv.Itoa(1000 + i),
			CreationTimestamp: created,
			Labels: map[string]string{
				"app.kubernetes.io/name":      "web",
				"app.kubernetes.io/instance":  "web-prod",
				"app.kubernetes.io/component": "frontend",
				"pod-template-hash":           hash,
			},
			Annotations: map[string]string{
				"prometheus.io/scrape":                           "true",
				"prometheus.io/port":                             "9090",
				"kubectl.kubernetes.io/restartedAt":              "2026-01-01T00:00:00Z",
				"cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
				lastApplied: fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"prometheus.io/port":"9090","prometheus.io/scrape":"true"},"labels":{"app.kubernetes.io/component":"frontend","app.kubernetes.io/instance":"web-prod","app.kubernetes.io/name":"web"},"name":%q,"namespace":%q},"spec":{"containers":[{"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"PORT","value":"8080"}],"image":"registry.example.com/web/frontend:v1.42.7","name":"web","ports":[{"containerPort":8080,"name":"http"}],"resources":{"limits":{"cpu":"1","memory":"512Mi"},"requests":{"cpu":"250m","memory":"256Mi"}}},{"args":["--config=/etc/proxy/config.yaml"],"image":"registry.example.com/infra/proxy:v2.3.1","name":"proxy","ports":[{"containerPort":9090,"name":"metrics"}]}]}}`+"\n", name, ns),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "apps/v1",
				Kind:               "ReplicaSet",
				Name:               "web-" + hash,
				UID:                types.UID(fmt.Sprintf("5a1c9e2d-7b3f-4e8a-a6d0-%012d", i%50)),
				Controller:         new(true),
				BlockOwnerDeletion: new(true),
			}},
			ManagedFields: realisticManagedFields(created, started),
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{
					Name:  "web",
					Image: "registry.example.com/web/frontend:v1.42.7",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
					Env: []corev1.EnvVar{
						{Name: "LOG_LEVEL", Value: "info"},
						{Name: "PORT", Value: "8080"},
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
					},
					Resources: corev1.ResourceRequirements{
						Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "kube-api-access-" + name[len(name)-5:], MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
					},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
						PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
					},
					TerminationMessagePath:   "/dev/termination-log",
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					ImagePullPolicy:          corev1.PullIfNotPresent,
				},
				{
					Name:  "proxy",
					Image: "registry.example.com/infra/proxy:v2.3.1",
					Args:  []string{"--config=/etc/proxy/config.yaml"},
					Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "kube-api-access-" + name[len(name)-5:], MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
					},
					TerminationMessagePath:   "/dev/termination-log",
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					ImagePullPolicy:          corev1.PullIfNotPresent,
				},
			},
			Volumes: []corev1.Volume{{
				Name: "kube-api-access-" + name[len(name)-5:],
				VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3607))}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					},
					DefaultMode: new(int32(420)),
				}},
			}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: new(int64(30)),
			DNSPolicy:                     corev1.DNSClusterFirst,
			ServiceAccountName:            "default",
			NodeName:                      nodeName,
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 corev1.DefaultSchedulerName,
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
			},
			Priority:           new(int32(0)),
			EnableServiceLinks: new(true),
			PreemptionPolicy:   new(corev1.PreemptLowerPriority),
		},
		Status: realisticStatus(i, podIP, created, started),
	}
	return pod
}

// realisticStatus is the status a kubelet reports for a running pod with two
// ready containers.
func realisticStatus(i int, podIP string, created, started metav1.Time) corev1.PodStatus {
	condition := func(t corev1.PodConditionType, at metav1.Time) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: at}
	}
	container := func(name, repository, tag, digest string) corev1.ContainerStatus {
		return corev1.ContainerStatus{
			Name:         name,
			Image:        repository + ":" + tag,
			ImageID:      repository + "@sha256:" + digest,
			ContainerID:  fmt.Sprintf("containerd://%064x", i*2+len(name)),
			Ready:        true,
			Started:      new(true),
			State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
			RestartCount: 0,
		}
	}
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			condition("PodReadyToStartContainers", started),
			condition(corev1.PodInitialized, created),
			condition(corev1.PodReady, started),
			condition(corev1.ContainersReady, started),
			condition(corev1.PodScheduled, created),
		},
		HostIP:    fmt.Sprintf("192.168.0.%d", 10+i%100),
		HostIPs:   []corev1.HostIP{{IP: fmt.Sprintf("192.168.0.%d", 10+i%100)}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &created,
		QOSClass:  corev1.PodQOSBurstable,
		ContainerStatuses: []corev1.ContainerStatus{
			container("web", "registry.example.com/web/frontend", "v1.42.7", "3f1e9a7c5b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"),
			container("proxy", "registry.example.com/infra/proxy", "v2.3.1", "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"),
		},
	}
}

// realisticManagedFields returns the three entries a running pod of a
// Deployment carries: the ReplicaSet controller's, the scheduler's and the
// kubelet's.
func realisticManagedFields(created, started metav1.Time) []metav1.ManagedFieldsEntry {
	entry := func(manager, subresource string, at metav1.Time, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{
			Manager:     manager,
			Operation:   metav1.ManagedFieldsOperationUpdate,
			APIVersion:  "v1",
			Time:        &at,
			FieldsType:  "FieldsV1",
			FieldsV1:    metav1.NewFieldsV1(fields),
			Subresource: subresource,
		}
	}
	return []metav1.ManagedFieldsEntry{
		entry("kube-controller-manager", "", created, `{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/restartedAt":{},"f:prometheus.io/port":{},"f:prometheus.io/scrape":{}},"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/component":{},"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/name":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"5a1c9e2d-7b3f-4e8a-a6d0-000000000000\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"proxy\"}":{".":{},"f:args":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}},"k:{\"name\":\"web\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"PORT\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{".":{},"f:limits":{".":{},"f:cpu":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}`),
		entry("kube-scheduler", "status", created, `{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"PodScheduled\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}}}}`),
		entry("kubelet", "status", started, `{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.64.0.1\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`),
	}
}
