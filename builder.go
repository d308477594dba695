package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Defaults for a [Builder] whose corresponding With... method was not called.
const (
	DefaultSyncTimeout = 2 * time.Minute
	DefaultStopTimeout = 30 * time.Second
	DefaultQPS         = 50
	DefaultBurst       = 100
	// DefaultStalenessBound is how long a required informer may have no
	// open watch before [Informer.Ready] fails (see
	// [Builder.WithStalenessBound]).
	DefaultStalenessBound = 30 * time.Second
)

// Builder collects what to watch and how, then builds an [Informer].
//
// The zero value is not usable; call [NewBuilder]. With... methods return the
// builder so calls chain. A With... method given bad input does not panic: it
// records the error, and [Builder.Build] reports every recorded error at once.
// A With... method called after Build changes nothing: the call is logged,
// [Builder.Err] reports it and [Informer.Start] fails with it (wrapping
// [ErrAlreadyBuilt]). A Builder is safe for concurrent use, but is meant to
// be configured from one goroutine and built once.
type Builder struct {
	mu       sync.Mutex
	errs     []error // reported by Build
	lateErrs []error // With... calls after Build, reported by Err and Start

	config         *rest.Config
	kubeconfigPath string
	kubeContext    string
	qps            float32
	burst          int

	kube         kubernetes.Interface
	dyn          dynamic.Interface
	meta         metadata.Interface
	clientsGiven bool

	settings settings

	regs    []registration
	runners []runner
	built   *Informer
}

// settings are the options shared by every informer an [Informer] creates.
type settings struct {
	namespace         string
	labelSelector     string
	fieldSelector     string
	resync            time.Duration
	syncTimeout       time.Duration
	stopTimeout       time.Duration
	transform         cache.TransformFunc
	keepManagedFields bool
	shareStrings      bool
	crashOnPanic      bool
	failFast          bool
	stalenessBound    time.Duration
	stalenessHandler  func(context.Context, StalenessChange)
	clock             clock.WithDelayedExecution // a fake in tests
	hooks             Hooks
	election          *electionConfig // WithLeaderElection
	sharding          *shardingConfig // WithSharding
}

// scope returns the builder's cache scope, the default of registrations.
func (s settings) scope() Scope {
	return Scope{Namespace: s.namespace, LabelSelector: s.labelSelector, FieldSelector: s.fieldSelector}
}

// NewBuilder returns a Builder with the documented defaults: all namespaces,
// no selectors, no resync, a sync timeout of [DefaultSyncTimeout], a stop
// timeout of [DefaultStopTimeout], a staleness bound of
// [DefaultStalenessBound], managedFields and the last-applied
// annotation stripped from cached objects (before decoding, for typed
// objects received as protobuf), the strings that repeat between cached
// objects shared (see [Builder.WithStringSharing]), panics in handlers
// recovered, and
// the cluster configuration resolved in controller-runtime's order (see
// [LoadConfig]).
func NewBuilder() *Builder {
	return &Builder{settings: settings{
		syncTimeout:    DefaultSyncTimeout,
		stopTimeout:    DefaultStopTimeout,
		stalenessBound: DefaultStalenessBound,
		shareStrings:   true,
		clock:          clock.RealClock{},
	}}
}

// update runs fn, the body of the With... method named method, under the
// builder's lock, unless the builder was built: then the call is ignored,
// logged and recorded for [Builder.Err] and [Informer.Start].
func (b *Builder) update(method string, fn func() error) *Builder {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.built != nil {
		err := fmt.Errorf("informer: %s after Build has no effect: %w; configure the Builder before Build", method, ErrAlreadyBuilt)
		b.lateErrs = append(b.lateErrs, err)
		klog.Background().Error(err, "Builder configured after Build; the change is ignored", "method", method)
		return b
	}
	if err := fn(); err != nil {
		b.errs = append(b.errs, err)
	}
	return b
}

// WithNamespace restricts every informer to one namespace, except those of
// registrations with a scope of their own ([InScope]). "" (the default)
// means all namespaces. Cluster-scoped resources ignore it.
func (b *Builder) WithNamespace(namespace string) *Builder {
	return b.update("WithNamespace", func() error {
		b.settings.namespace = namespace
		return nil
	})
}

// WithLabelSelector restricts every informer (but those of [InScope]
// registrations) to objects matching selector,
// in the syntax of kubectl's -l flag ("app=web,tier!=cache"). Objects that
// stop matching are delivered as deletes.
func (b *Builder) WithLabelSelector(selector string) *Builder {
	return b.update("WithLabelSelector", func() error {
		if _, err := labels.Parse(selector); err != nil {
			return fmt.Errorf("informer: WithLabelSelector %q: %w", selector, err)
		}
		b.settings.labelSelector = selector
		return nil
	})
}

// WithFieldSelector restricts every informer (but those of [InScope]
// registrations) to objects matching selector
// ("status.phase=Running"). Which fields are supported depends on the
// resource; the server rejects others, which shows in [SyncError].
func (b *Builder) WithFieldSelector(selector string) *Builder {
	return b.update("WithFieldSelector", func() error {
		if _, err := fields.ParseSelector(selector); err != nil {
			return fmt.Errorf("informer: WithFieldSelector %q: %w", selector, err)
		}
		b.settings.fieldSelector = selector
		return nil
	})
}

// WithResync sets how often every cached object is re-delivered to handlers
// as an update. 0 (the default) turns resync off. Resync updates change
// nothing, so handlers only see them with [DeliverNoOpUpdates]. client-go
// raises periods below one second to one second.
func (b *Builder) WithResync(period time.Duration) *Builder {
	return b.update("WithResync", func() error {
		if period < 0 {
			return fmt.Errorf("informer: WithResync: negative period %v", period)
		}
		b.settings.resync = period
		return nil
	})
}

// WithSyncTimeout bounds how long [Informer.WaitForSync] waits
// (default [DefaultSyncTimeout]).
func (b *Builder) WithSyncTimeout(timeout time.Duration) *Builder {
	return b.update("WithSyncTimeout", func() error {
		if timeout <= 0 {
			return fmt.Errorf("informer: WithSyncTimeout: must be positive, got %v", timeout)
		}
		b.settings.syncTimeout = timeout
		return nil
	})
}

// WithFailFast makes [Informer.WaitForSync] return as soon as every
// informer that has not synced has failed with an error that retrying is
// unlikely to fix soon: forbidden, unauthorized, or resource not found (a
// CRD that is not installed). The [SyncError]'s cause is then
// [ErrFailFast]. By default WaitForSync waits for the sync timeout, so that
// permissions or CRDs created while the program starts are picked up. The
// informers go on retrying either way.
func (b *Builder) WithFailFast() *Builder {
	return b.update("WithFailFast", func() error {
		b.settings.failFast = true
		return nil
	})
}

// WithStopTimeout bounds how long [Informer.Stop] waits for running handlers
// to return (default [DefaultStopTimeout]).
func (b *Builder) WithStopTimeout(timeout time.Duration) *Builder {
	return b.update("WithStopTimeout", func() error {
		if timeout <= 0 {
			return fmt.Errorf("informer: WithStopTimeout: must be positive, got %v", timeout)
		}
		b.settings.stopTimeout = timeout
		return nil
	})
}

// WithStalenessBound sets how long a required informer whose cache synced
// may have no open watch before [Informer.Ready] fails with a [*StaleError]
// (default [DefaultStalenessBound]). Without an open watch the cache no
// longer follows the server: a revoked permission, an unreachable server
// or a deleted CRD stop it while the program goes on reading the last state
// it knew. A watch that the server ends and the informer reopens at once,
// as it does every few minutes, never comes near the bound. 0 turns the
// check off; [Informer.Status] still tells whether a watch is open.
func (b *Builder) WithStalenessBound(bound time.Duration) *Builder {
	return b.update("WithStalenessBound", func() error {
		if bound < 0 {
			return fmt.Errorf("informer: WithStalenessBound: negative bound %v", bound)
		}
		b.settings.stalenessBound = bound
		return nil
	})
}

// WithStalenessHandler calls handler when an informer's cache becomes
// stale (no open watch for longer than the bound of
// [Builder.WithStalenessBound]) and when it is current again, once each
// time. The same changes are logged at the default verbosity either way.
// handler is called from the informer's goroutines with the context of
// [Informer.Start]: it must return quickly.
func (b *Builder) WithStalenessHandler(handler func(ctx context.Context, change StalenessChange)) *Builder {
	return b.update("WithStalenessHandler", func() error {
		if handler == nil {
			return errors.New("informer: WithStalenessHandler: nil handler")
		}
		b.settings.stalenessHandler = handler
		return nil
	})
}

// WithTransform sets a function applied to every object before it is cached
// and delivered, after the default stripping (see
// [Builder.WithManagedFields]). It must return an object of the same type,
// and may modify its argument in place: client-go calls it once for each
// object received from the server (list items and watch events, deletes
// included), before any handler or cache reader sees it, and never for the
// objects a resync or a relist's tombstone hands out again.
func (b *Builder) WithTransform(transform cache.TransformFunc) *Builder {
	return b.update("WithTransform", func() error {
		b.settings.transform = transform
		return nil
	})
}

// WithManagedFields keeps metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation in cached
// objects. By default both are stripped: they are a large part of each
// object and informers rarely need them. Typed informers of an [Informer]
// built from a cluster config, which receive built-in objects as protobuf,
// remove them from the bytes before decoding, which takes about a quarter
// off the cost of decoding a pod; other objects (unstructured, metadata,
// JSON, injected clients) are stripped right after decoding.
func (b *Builder) WithManagedFields() *Builder {
	return b.update("WithManagedFields", func() error {
		b.settings.keepManagedFields = true
		return nil
	})
}

// WithStringSharing turns on or off the sharing of strings between the
// cached objects of every informer. It is on by default: namespaces, label
// and annotation keys and values, images, container names, condition types
// and reasons... repeat from object to object, and each informer keeps one
// copy of each in a table of its own, replacing the decoded copies of a
// received object by those before caching it. Fields whose values do not
// repeat (names, UIDs, IPs) are detected and skipped.
//
// WithStringSharing(false) turns it off. WithStringSharing() and
// WithStringSharing(true) keep it on (WithStringSharing() was the opt-in
// before sharing became the default, and still compiles). More than one
// argument is an error from [Builder.Build].
//
// Sharing takes about 15% off the memory of cached pods (8.1 KB instead of
// 9.5 KB per realistic pod, with managedFields stripped). It costs about a
// quarter of what decoding the pod costs, which the default decoding of
// typed objects without managedFields pays back (see
// [Builder.WithManagedFields]). Strings are immutable, so the sharing
// cannot be seen by handlers. Unstructured objects ([WatchResource]) share
// their map keys and the string values under keys whose values repeat.
// Each table is bounded: at 65,536 strings (of at most 256 bytes each) it
// starts afresh, the objects keeping the strings they have; a table lives
// as long as its informer.
func (b *Builder) WithStringSharing(enabled ...bool) *Builder {
	return b.update("WithStringSharing", func() error {
		switch len(enabled) {
		case 0:
			b.settings.shareStrings = true
		case 1:
			b.settings.shareStrings = enabled[0]
		default:
			return fmt.Errorf("informer: WithStringSharing: got %d arguments, want at most one", len(enabled))
		}
		return nil
	})
}

// WithCrashOnPanic lets a panic in a handler crash the program, as in
// client-go. By default a panic is recovered, logged with the resource and
// the object's key, and counted; the informer and other handlers go on.
func (b *Builder) WithCrashOnPanic() *Builder {
	return b.update("WithCrashOnPanic", func() error {
		b.settings.crashOnPanic = true
		return nil
	})
}

// register records a registration made by [Watch], [WatchResource] or
// [WatchMetadata]. On a built builder it attaches it to the [Informer].
func (b *Builder) register(reg registration) {
	b.mu.Lock()
	if err := reg.validate(); err != nil {
		b.errs = append(b.errs, err)
		b.mu.Unlock()
		reg.fail(err)
		return
	}
	built := b.built
	if built == nil {
		b.regs = append(b.regs, reg)
	}
	b.mu.Unlock()
	if built != nil {
		if err := built.attach(reg); err != nil {
			reg.fail(err)
		}
	}
}

// addRunner records the workers of a reconcile loop; on a built builder it
// hands them to the [Informer], which starts them at once if it runs.
func (b *Builder) addRunner(r runner) {
	b.mu.Lock()
	built := b.built
	if built == nil {
		b.runners = append(b.runners, r)
	}
	b.mu.Unlock()
	if built != nil {
		built.addRunner(r)
	}
}

// Build checks the configuration, resolves the cluster config, creates the
// clients and the informers for every registration, and returns the
// [Informer], not yet started. Every error recorded by a With... method or a
// registration is reported here, joined. Build does not contact the server.
// Build may be called once; a second call returns [ErrAlreadyBuilt].
func (b *Builder) Build() (*Informer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.built != nil {
		return nil, ErrAlreadyBuilt
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	clients, err := b.clients()
	if err != nil {
		return nil, err
	}
	inf := newInformer(clients, b.settings)
	if election := b.settings.election; election != nil {
		if clients.kube == nil {
			return nil, errors.New("informer: WithLeaderElection needs a typed client: pass a kubernetes.Interface to WithClients")
		}
		if inf.election, err = newElection(election, clients.kube, inf.startLeading, inf.loseLeadership); err != nil {
			return nil, err
		}
	}
	if sharding := b.settings.sharding; sharding != nil {
		switch {
		case clients.kube == nil:
			return nil, errors.New("informer: WithSharding needs a typed client: pass a kubernetes.Interface to WithClients")
		case b.settings.election != nil:
			return nil, errors.New("informer: WithSharding and WithLeaderElection exclude each other: sharding already splits the work among live replicas")
		}
		inf.shards = newShardGroup(sharding, clients.kube, inf)
	}
	var errs []error
	for _, reg := range b.regs {
		if err := inf.attach(reg); err != nil {
			reg.fail(err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	inf.lateConfig = b.lateConfigErr
	inf.runners = b.runners
	for _, r := range b.runners {
		r.setOwner(inf)
	}
	b.runners = nil
	b.built = inf
	b.regs = nil
	return inf, nil
}

// Err returns the errors recorded so far: before [Builder.Build], those
// Build will report; after it, the With... calls that came too late to take
// effect (each wraps [ErrAlreadyBuilt]). It returns nil when there are none.
func (b *Builder) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(append(append([]error(nil), b.errs...), b.lateErrs...)...)
}

// lateConfigErr returns the With... calls made after Build, joined.
func (b *Builder) lateConfigErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.lateErrs...)
}
