package informer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

func TestClassifyListWatchError(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name       string
		err        error
		wantReason error
		wantText   string
	}{
		{"forbidden", apierrors.NewForbidden(pods, "", errors.New("no")), ErrForbidden, "needs list and watch on pods"},
		{"unauthorized", apierrors.NewUnauthorized("bad token"), ErrUnauthorized, "credentials"},
		{"not found", apierrors.NewNotFound(pods, ""), ErrResourceNotFound, "is its CRD installed?"},
		{"unreachable", fmt.Errorf("list: %w", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), ErrUnreachable, "API server is running"},
		{"other", errors.New("something else"), nil, "something else"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classifyListWatchError("pods", tt.err)
			if tt.wantReason != nil && !errors.Is(err, tt.wantReason) {
				t.Errorf("errors.Is(%v, %v): got false, want true", err, tt.wantReason)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classified error does not wrap the original %v", tt.err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("message: got %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestSyncErrorMessageAndUnwrap(t *testing.T) {
	forbidden := classifyListWatchError("pods", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no")))
	err := &SyncError{Cause: context.Canceled, Unsynced: []UnsyncedInformer{
		{Resource: "pods", LastError: forbidden},
		{Resource: "widgets.v1.example.com (unstructured)"},
		{Resource: "configmaps", CacheSynced: true},
	}}
	for _, part := range []string{"3 informer(s) not synced", "pods: forbidden", "widgets.v1.example.com (unstructured): no list/watch error seen", "configmaps: cache synced, a handler"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q does not contain %q", err, part)
		}
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrForbidden) {
		t.Errorf("errors.Is through SyncError: canceled=%v forbidden=%v, want both true", errors.Is(err, context.Canceled), errors.Is(err, ErrForbidden))
	}
	if errors.Is(err, ErrResourceNotFound) {
		t.Error("errors.Is(err, ErrResourceNotFound): got true, want false")
	}
}

func TestUnreachableServerIsNamedInSyncError(t *testing.T) {
	// Nothing listens on port 1 of loopback: every connection is refused.
	b := NewBuilder().WithConfig(&rest.Config{Host: "https://127.0.0.1:1"}).WithSyncTimeout(time.Second)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := buildAndStart(t, b)
	err := inf.WaitForSync(t.Context())
	if stopErr := inf.Stop(); stopErr != nil {
		t.Errorf("Stop: %v", stopErr)
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "pods: server unreachable") {
		t.Errorf("WaitForSync: got %v, want a SyncError saying pods: server unreachable", err)
	}
}
