package informer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// lockedBuffer is a bytes.Buffer safe for klog's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureKlog sends klog's output to a buffer for the rest of the test.
func captureKlog(t *testing.T) *lockedBuffer {
	var out lockedBuffer
	klog.LogToStderr(false)
	klog.SetOutput(&out)
	t.Cleanup(func() {
		klog.Flush()
		klog.SetOutput(nil)
		klog.LogToStderr(true)
	})
	return &out
}

func TestSecretContentsAreNeverLogged(t *testing.T) {
	const secretValue = "s3cr3t-value-never-logged"
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db-password",
			Annotations: map[string]string{lastAppliedAnnotation: `{"data":{"password":"` + secretValue + `"}}`}},
		Data:       map[string][]byte{"password": []byte(secretValue)},
		StringData: map[string]string{"token": secretValue},
	}
	logs := captureKlog(t)
	kube := fake.NewClientset(secret)
	panicked := make(chan struct{})
	b := NewBuilder().WithClients(kube, nil)
	Watch(b, Funcs[*corev1.Secret]{OnAdd: func(context.Context, *corev1.Secret) {
		defer close(panicked)
		panic("handler failed")
	}})
	forbidList(kube, "configmaps")
	Watch(b, Funcs[*corev1.ConfigMap]{}, Optional())
	inf := startSynced(t, b)
	waitFor(t, panicked, "handler panic")
	if err := inf.Stop(); err != nil {
		t.Fatal(err)
	}
	klog.Flush()

	out := logs.String()
	if !strings.Contains(out, "db-password") || !strings.Contains(out, "handler panicked") {
		t.Fatalf("logs do not show the recovered panic with the secret's name; got:\n%s", out)
	}
	if strings.Contains(out, secretValue) {
		t.Errorf("logs contain the secret's data:\n%s", out)
	}
}

func TestTLSVerificationStaysOn(t *testing.T) {
	// A server with a certificate no configured authority signed: the
	// informer must refuse it rather than talk to it.
	var requests atomic.Int32
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer server.Close()
	server.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are expected

	b := NewBuilder().WithConfig(&rest.Config{Host: server.URL}).WithSyncTimeout(time.Second)
	Watch(b, Funcs[*corev1.Pod]{})
	inf := buildAndStart(t, b)
	err := inf.WaitForSync(t.Context())
	if stopErr := inf.Stop(); stopErr != nil {
		t.Errorf("Stop: %v", stopErr)
	}
	if !errors.Is(err, ErrUntrustedServer) {
		t.Errorf("WaitForSync: got %v, want ErrUntrustedServer", err)
	}
	if got := requests.Load(); got != 0 {
		t.Errorf("requests that reached the untrusted server: got %d, want 0", got)
	}
}
