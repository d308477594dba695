package localcluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSampleRequest(t *testing.T) {
	tests := []struct {
		name string
		rule rbacv1.PolicyRule
		want authorizationv1.SelfSubjectAccessReviewSpec
	}{
		{"resource", rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list", "watch"}},
			authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: "list", Group: "apps", Resource: "deployments"}}},
		{"subresource and name", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/log"}, ResourceNames: []string{"web"}, Verbs: []string{"get"}},
			authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: "get", Resource: "pods", Subresource: "log", Name: "web"}}},
		{"wildcards", rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: "get", Resource: "pods"}}},
		{"non-resource URL", rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
			authorizationv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{
				Path: "/metrics", Verb: "get"}}},
		{"non-resource wildcard", rbacv1.PolicyRule{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
			authorizationv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{
				Path: "/", Verb: "get"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sampleRequest(tt.rule)); diff != "" {
				t.Errorf("sampleRequest (-want +got):\n%s", diff)
			}
		})
	}
}
