package informer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/connrotation"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/homedir"
)

// protobufContentType is used by the typed clientset: built-in types decode
// faster and smaller from protobuf than from JSON.
const protobufContentType = "application/vnd.kubernetes.protobuf"

// WithConfig uses cfg to reach the cluster, ahead of any kubeconfig. The
// builder copies cfg; later changes to it have no effect. QPS and Burst left
// at zero get [DefaultQPS] and [DefaultBurst].
func (b *Builder) WithConfig(cfg *rest.Config) *Builder {
	return b.update("WithConfig", func() error {
		if cfg == nil {
			return errors.New("informer: WithConfig: nil *rest.Config")
		}
		b.config = rest.CopyConfig(cfg)
		return nil
	})
}

// WithKubeconfig selects a kubeconfig file and a context in it. An empty path
// means the default resolution, in this order: $KUBECONFIG, the in-cluster
// service account, ~/.kube/config. An empty context means the file's current
// context. [Builder.WithConfig] takes precedence over this.
func (b *Builder) WithKubeconfig(path, context string) *Builder {
	return b.update("WithKubeconfig", func() error {
		b.kubeconfigPath, b.kubeContext = path, context
		return nil
	})
}

// WithRateLimits sets the client-side rate limit of every client the builder
// creates (default [DefaultQPS] and [DefaultBurst] when the config leaves
// them at zero). Informers only list and watch, so this matters at start and
// after reconnects.
func (b *Builder) WithRateLimits(qps float32, burst int) *Builder {
	return b.update("WithRateLimits", func() error {
		if qps <= 0 || burst <= 0 {
			return fmt.Errorf("informer: WithRateLimits: qps and burst must be positive, got %v and %d", qps, burst)
		}
		b.qps, b.burst = qps, burst
		return nil
	})
}

// WithClients injects the typed and dynamic clients, typically fakes in
// tests. No config is resolved then; a client left nil is an error from
// [Builder.Build] only if a registration needs it. See also
// [Builder.WithMetadataClient].
func (b *Builder) WithClients(kube kubernetes.Interface, dyn dynamic.Interface) *Builder {
	return b.update("WithClients", func() error {
		b.kube, b.dyn, b.clientsGiven = kube, dyn, true
		return nil
	})
}

// WithMetadataClient injects the metadata client used by [WatchMetadata],
// typically a fake in tests. Like [Builder.WithClients], it turns off config
// resolution.
func (b *Builder) WithMetadataClient(meta metadata.Interface) *Builder {
	return b.update("WithMetadataClient", func() error {
		b.meta, b.clientsGiven = meta, true
		return nil
	})
}

// clientSet holds the clients an [Informer] uses. A nil client means it was
// not injected and cannot be created.
type clientSet struct {
	kube kubernetes.Interface
	dyn  dynamic.Interface
	meta metadata.Interface
	// closeConnections closes every connection of the HTTP client the
	// builder created; nil for injected clients.
	closeConnections func()
	// typedREST makes the REST clients of typed informers (see
	// restListWatch); nil for injected clients, which are used instead.
	typedREST *restClients
}

// clients returns the injected clients, or creates all three from the
// resolved config and one shared HTTP client. The caller holds b.mu.
func (b *Builder) clients() (clientSet, error) {
	if b.clientsGiven {
		return clientSet{kube: b.kube, dyn: b.dyn, meta: b.meta}, nil
	}
	cfg, err := b.restConfig()
	if err != nil {
		return clientSet{}, err
	}
	// A dialer of its own gives the Informer a transport of its own (client-go
	// shares transports between equal configs) whose connections Stop can
	// close, so that no connection goroutine outlives Stop.
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	dialer := connrotation.NewDialer(dial)
	cfg.Dial = dialer.DialContext
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return clientSet{}, fmt.Errorf("informer: creating the HTTP client for %s: %w", cfg.Host, err)
	}
	typedCfg := rest.CopyConfig(cfg)
	if typedCfg.ContentType == "" {
		typedCfg.ContentType = protobufContentType
		typedCfg.AcceptContentTypes = protobufContentType + ",application/json"
	}
	if typedCfg.RateLimiter == nil {
		// One limiter for the clientset and our typed REST clients, as
		// the clientset shares one between its groups.
		typedCfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(typedCfg.QPS, typedCfg.Burst)
	}
	kube, err := kubernetes.NewForConfigAndClient(typedCfg, httpClient)
	if err != nil {
		return clientSet{}, fmt.Errorf("informer: creating the typed client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return clientSet{}, fmt.Errorf("informer: creating the dynamic client: %w", err)
	}
	meta, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return clientSet{}, fmt.Errorf("informer: creating the metadata client: %w", err)
	}
	return clientSet{
		kube: kube, dyn: dyn, meta: meta, closeConnections: dialer.CloseAll,
		typedREST: newRESTClients(typedCfg, httpClient, !b.settings.keepManagedFields),
	}, nil
}

// restConfig resolves the cluster config: WithConfig, then WithKubeconfig's
// path, then $KUBECONFIG, then in-cluster, then ~/.kube/config. The caller
// holds b.mu.
func (b *Builder) restConfig() (*rest.Config, error) {
	cfg := b.config
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(b.kubeconfigPath, b.kubeContext); err != nil {
			return nil, err
		}
	} else {
		cfg = rest.CopyConfig(cfg)
	}
	if b.qps > 0 {
		cfg.QPS, cfg.Burst = b.qps, b.burst
	}
	if cfg.QPS == 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	return cfg, nil
}

// LoadConfig resolves a cluster config in the order of controller-runtime's
// GetConfig, with clientcmd's loading rules: an explicit kubeconfig path,
// else $KUBECONFIG, else the in-cluster service account, else
// ~/.kube/config. kubectl differs in one case: it uses the in-cluster
// config only when it finds no kubeconfig, while LoadConfig prefers the
// in-cluster one to ~/.kube/config, so that a program in a pod uses its own
// service account even if an image ships a kubeconfig. context selects
// a kubeconfig context ("" = current). When nothing is found the error wraps
// [ErrNoConfig]; a kubeconfig that cannot be read or parsed gives an error
// naming the file.
func LoadConfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	envPath := os.Getenv(clientcmd.RecommendedConfigPathEnvVar)
	if envPath == "" {
		// clientcmd computes the home file once, when the program starts;
		// look it up now so that a changed $HOME is honoured.
		rules.Precedence = []string{filepath.Join(homedir.HomeDir(), clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}

	// In-cluster comes before ~/.kube/config, but only when no kubeconfig was
	// named explicitly or through $KUBECONFIG and no context was asked for.
	if path == "" && context == "" && envPath == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		} else if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("informer: in-cluster config: %w", err)
		}
	}

	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err == nil {
		return cfg, nil
	}
	files := rules.GetLoadingPrecedence()
	if path != "" {
		files = []string{path}
	}
	if clientcmd.IsEmptyConfig(err) {
		return nil, fmt.Errorf("%w: looked in %s and in-cluster; name a kubeconfig or set $KUBECONFIG", ErrNoConfig, strings.Join(files, ", "))
	}
	return nil, fmt.Errorf("informer: loading kubeconfig %s: %w", strings.Join(files, ", "), err)
}
