package localcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// userNamespace is where AddUser creates ServiceAccounts.
	userNamespace = "default"
	// userRolePrefix prefixes the ClusterRole and ClusterRoleBinding names
	// of AddUser, so that they cannot clash with built-in roles.
	userRolePrefix = "localcluster:user:"
	// userTokenLifetime is how long AddUser's tokens are valid.
	userTokenLifetime = 24 * time.Hour
	// userRightsTimeout bounds the wait for new RBAC rules to take effect.
	userRightsTimeout = 30 * time.Second
)

// AddUser creates an identity with exactly the given RBAC rules and returns
// a client configuration for it: a ServiceAccount name in namespace
// "default" (user "system:serviceaccount:default:"+name), a ClusterRole and
// a ClusterRoleBinding named "localcluster:user:"+name, and a token from the
// TokenRequest API, valid for 24 hours. Empty rules give an identity with no
// rights beyond those of every authenticated user. It returns once the token
// is accepted and every rule is in effect. Calling it again with the same
// name replaces the rules; rights that are taken away may linger for a
// moment.
func (c *Cluster) AddUser(ctx context.Context, name string, rules []rbacv1.PolicyRule) (*rest.Config, error) {
	admin, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, fmt.Errorf("localcluster: adding user %q: %w", name, err)
	}
	if err := ensureUserObjects(ctx, admin, name, rules); err != nil {
		return nil, fmt.Errorf("localcluster: adding user %q: %w", name, err)
	}
	lifetime := int64(userTokenLifetime / time.Second)
	tr, err := admin.CoreV1().ServiceAccounts(userNamespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &lifetime}},
		metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("localcluster: requesting a token for user %q: %w", name, err)
	}
	cfg := c.configFor(tr.Status.Token)
	if err := waitForRights(ctx, cfg, rules); err != nil {
		return nil, fmt.Errorf("localcluster: adding user %q: %w", name, err)
	}
	return cfg, nil
}

// ensureUserObjects creates or updates the ServiceAccount, ClusterRole and
// ClusterRoleBinding of a user.
func ensureUserObjects(ctx context.Context, admin kubernetes.Interface, name string, rules []rbacv1.PolicyRule) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: userNamespace}}
	if _, err := admin.CoreV1().ServiceAccounts(userNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the ServiceAccount: %w", err)
	}

	roleName := userRolePrefix + name
	roles := admin.RbacV1().ClusterRoles()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: roleName}, Rules: rules}
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		existing, err := roles.Get(ctx, roleName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading the ClusterRole: %w", err)
		}
		existing.Rules = rules
		if _, err := roles.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the ClusterRole: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("creating the ClusterRole: %w", err)
	}

	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: roleName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: userNamespace}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the ClusterRoleBinding: %w", err)
	}
	return nil
}

// waitForRights waits until the identity of cfg is authenticated and, for
// each rule, allowed one request the rule covers. RBAC rules take effect
// once the API server's informers see them, a moment after they are stored.
func waitForRights(ctx context.Context, cfg *rest.Config, rules []rbacv1.PolicyRule) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, pollInterval, userRightsTimeout, true, func(ctx context.Context) (bool, error) {
		lastErr = checkRights(ctx, client, rules)
		return lastErr == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the rules to take effect: %w (last check: %v)", err, lastErr)
	}
	return nil
}

// checkRights returns nil if client's identity is authenticated and allowed
// a sample request of every rule.
func checkRights(ctx context.Context, client kubernetes.Interface, rules []rbacv1.PolicyRule) error {
	review := &authenticationv1.SelfSubjectReview{}
	if _, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, review, metav1.CreateOptions{}); err != nil {
		return err
	}
	for i, rule := range rules {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: sampleRequest(rule)}
		got, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !got.Status.Allowed {
			return fmt.Errorf("rule %d not in effect yet: %q", i, got.Status.Reason)
		}
	}
	return nil
}

// sampleRequest returns the attributes of one request that rule allows.
func sampleRequest(rule rbacv1.PolicyRule) authorizationv1.SelfSubjectAccessReviewSpec {
	verb := first(rule.Verbs, "get")
	if len(rule.NonResourceURLs) > 0 {
		path := strings.TrimSuffix(rule.NonResourceURLs[0], "*")
		if path == "" {
			path = "/"
		}
		return authorizationv1.SelfSubjectAccessReviewSpec{
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
		}
	}
	resource, subresource, _ := strings.Cut(first(rule.Resources, "pods"), "/")
	if resource == rbacv1.ResourceAll {
		resource = "pods"
	}
	return authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb:        verb,
			Group:       first(rule.APIGroups, ""),
			Resource:    resource,
			Subresource: subresource,
			Name:        first(rule.ResourceNames, ""),
		},
	}
}

// first returns the first of values, or wildcard if there is none or it is
// the RBAC wildcard "*".
func first(values []string, wildcard string) string {
	if len(values) == 0 || values[0] == rbacv1.ResourceAll {
		return wildcard
	}
	return values[0]
}
