package informer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Sentinel errors for conditions callers may want to branch on with [errors.Is].
var (
	// ErrAlreadyStarted is returned by [Informer.Start] when called a second time.
	ErrAlreadyStarted = errors.New("informer: already started")
	// ErrNotStarted is returned by [Informer.WaitForSync], [Informer.Ready] and
	// [Informer.Healthy] before [Informer.Start].
	ErrNotStarted = errors.New("informer: not started")
	// ErrStopped is returned by methods called after [Informer.Stop], and is the
	// cause of the context handed to handlers once Stop was called.
	ErrStopped = errors.New("informer: stopped")
	// ErrAlreadyBuilt is returned by a second [Builder.Build], and wrapped by
	// the errors of With... calls made after Build (see [Builder.Err]).
	ErrAlreadyBuilt = errors.New("informer: builder already built")
	// ErrSyncTimeout is the cause of a [SyncError] when the sync timeout of
	// [Builder.WithSyncTimeout] ran out.
	ErrSyncTimeout = errors.New("informer: sync timeout")
	// ErrFailFast is the cause of a [SyncError] when [Builder.WithFailFast]
	// ended the wait early: every unsynced informer had an error that
	// retrying is unlikely to fix.
	ErrFailFast = errors.New("informer: sync abandoned early")
	// ErrStale is wrapped by every [StaleError].
	ErrStale = errors.New("informer: cache stale")
	// ErrNoConfig means no cluster configuration could be found: no explicit
	// config, no kubeconfig file and not running inside a cluster.
	ErrNoConfig = errors.New("informer: no cluster configuration found")

	// ErrForbidden classifies a list/watch error: the identity lacks RBAC rights.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized classifies a list/watch error: the credentials were rejected.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrResourceNotFound classifies a list/watch error: the server does not
	// serve the resource (for a custom resource: the CRD is not installed).
	ErrResourceNotFound = errors.New("resource not found")
	// ErrUnreachable classifies a list/watch error: the server could not be reached.
	ErrUnreachable = errors.New("server unreachable")
	// ErrUntrustedServer classifies a list/watch error: the server's TLS
	// certificate could not be verified.
	ErrUntrustedServer = errors.New("server certificate not trusted")
)

// SyncError is returned by [Informer.WaitForSync] when some caches did not
// sync. It names every unsynced informer and the last list/watch error each
// one saw, so a caller can tell a missing permission from a missing CRD from a
// slow server. errors.Is and errors.As see through it to the cause (for
// example [ErrSyncTimeout] or [context.Canceled]), the classification
// sentinels ([ErrForbidden], ...) and the API errors themselves, so
// apierrors.IsForbidden(err) works on a SyncError.
type SyncError struct {
	// Unsynced lists the informers that had not synced, in registration order.
	Unsynced []UnsyncedInformer
	// Cause is why waiting stopped: [ErrSyncTimeout], [ErrFailFast],
	// [ErrStopped] or the cause of the caller's context. From
	// [Informer.Ready], an error saying the informers have not synced yet.
	Cause error
}

// UnsyncedInformer describes one informer that did not sync.
type UnsyncedInformer struct {
	// Resource names the informer, for example "pods" or
	// "widgets.v1.example.com (metadata)".
	Resource string
	// LastError is the last list/watch error the informer saw, classified
	// (it wraps one of [ErrForbidden], [ErrUnauthorized], [ErrResourceNotFound],
	// [ErrUnreachable], [ErrUntrustedServer] where one applies). Nil when no
	// error was seen, or when the cache had synced (see CacheSynced).
	LastError error
	// LastErrorTime is when LastError was seen.
	LastErrorTime time.Time
	// CacheSynced reports whether the cache itself had synced; when true, a
	// handler was still processing the initial list.
	CacheSynced bool
}

func (e *SyncError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "informer: %d informer(s) not synced", len(e.Unsynced))
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Cause.Error(), "informer: "))
	}
	for _, u := range e.Unsynced {
		b.WriteString("; ")
		b.WriteString(u.Resource)
		b.WriteString(": ")
		switch {
		case u.LastError != nil:
			b.WriteString(u.LastError.Error())
		case u.CacheSynced:
			b.WriteString("cache synced, a handler is still processing the initial list")
		default:
			b.WriteString("no list/watch error seen, the initial list is still in progress")
		}
	}
	return b.String()
}

// Unwrap returns the cause and every last list/watch error.
func (e *SyncError) Unwrap() []error {
	errs := make([]error, 0, len(e.Unsynced)+1)
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	for _, u := range e.Unsynced {
		if u.LastError != nil {
			errs = append(errs, u.LastError)
		}
	}
	return errs
}

// StaleError is returned by [Informer.Ready] when a required informer whose
// cache synced has had no open watch for longer than the bound of
// [Builder.WithStalenessBound]: its cache no longer follows the server.
// The informer keeps retrying; Ready returns nil again once a watch is
// open. errors.Is sees [ErrStale] and the last error's classification
// ([ErrForbidden], ...) through it.
type StaleError struct {
	// Resource names the informer, as in [InformerStatus].
	Resource string
	// NoWatchSince is when the informer lost its last watch, and For how
	// long it had been without one when the error was made.
	NoWatchSince time.Time
	For          time.Duration
	// LastError is the last list/watch error seen since the watch was
	// lost, classified; nil when none was seen (a server that does not
	// answer).
	LastError error
}

func (e *StaleError) Error() string {
	reason := "no list/watch error seen since the watch ended (a server that takes connections and does not answer, or a retry still waiting)"
	if e.LastError != nil {
		reason = e.LastError.Error()
	}
	return fmt.Sprintf("%s: stale for %v: %s", e.Resource, e.For.Round(time.Second), reason)
}

// Unwrap returns [ErrStale] and the last list/watch error.
func (e *StaleError) Unwrap() []error {
	if e.LastError == nil {
		return []error{ErrStale}
	}
	return []error{ErrStale, e.LastError}
}

// StopError is returned by [Informer.Stop] when goroutines were still
// running after the stop timeout of [Builder.WithStopTimeout]: handlers that
// did not return, or client-go's informer goroutines. Those goroutines are
// left to finish on their own.
type StopError struct {
	// Handlers names each handler that had not returned, for example
	// "pods#1". Empty when only client-go's goroutines were left: a
	// reflector waits out its retry backoff (up to 30 s) before it notices
	// the stop, for example after the server became unreachable.
	Handlers []string
	// Resources names the informers that were stopping.
	Resources []string
	// Timeout is the grace period that ran out.
	Timeout time.Duration
}

func (e *StopError) Error() string {
	if len(e.Handlers) == 0 {
		return fmt.Sprintf("informer: stop timed out after %v: informers of %s still stopping (a retry backoff, up to 30s, delays them)",
			e.Timeout, strings.Join(e.Resources, ", "))
	}
	return fmt.Sprintf("informer: stop timed out after %v: handlers still running: %s",
		e.Timeout, strings.Join(e.Handlers, ", "))
}

// listWatchError is a list/watch error with its classification and a hint.
type listWatchError struct {
	reason error // one of the Err... sentinels, or nil
	hint   string
	err    error
}

func (e *listWatchError) Error() string {
	msg := e.err.Error()
	if e.reason != nil && !strings.HasPrefix(strings.ToLower(msg), e.reason.Error()) {
		msg = e.reason.Error() + ": " + msg
	}
	if e.hint != "" {
		msg += " (" + e.hint + ")"
	}
	return msg
}

func (e *listWatchError) Unwrap() []error {
	if e.reason == nil {
		return []error{e.err}
	}
	return []error{e.reason, e.err}
}

// classifyListWatchError wraps err, seen while listing or watching resource,
// with a sentinel naming the condition and a hint for the fix.
func classifyListWatchError(resource string, err error) error {
	lw := &listWatchError{err: err}
	var urlErr *url.Error
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case apierrors.IsForbidden(err):
		lw.reason = ErrForbidden
		lw.hint = "the identity needs list and watch on " + resource
	case apierrors.IsUnauthorized(err):
		lw.reason = ErrUnauthorized
		lw.hint = "check the credentials in the kubeconfig or service account token"
	case apierrors.IsNotFound(err):
		lw.reason = ErrResourceNotFound
		lw.hint = "the server does not serve " + resource + "; for a custom resource, is its CRD installed?"
	case errors.As(err, &certErr):
		lw.reason = ErrUntrustedServer
		lw.hint = "check the certificate authority in the kubeconfig; TLS verification stays on unless turned off explicitly"
	case errors.As(err, &opErr), errors.As(err, &urlErr), errors.Is(err, ErrUnreachable):
		lw.reason = ErrUnreachable
		lw.hint = "check the server address and that the API server is running"
	}
	return lw
}

// classifyLeaseError wraps err, seen reading or writing the Lease of
// election, as classifyListWatchError does, with the rights a Lease needs
// as the hint when it is forbidden.
func classifyLeaseError(election *electionConfig, err error) error {
	classified := classifyListWatchError("leases", err)
	if lw, ok := classified.(*listWatchError); ok && lw.reason == ErrForbidden {
		lw.hint = "the identity needs get, create and update on leases (coordination.k8s.io) in namespace " + election.namespace
	}
	return fmt.Errorf("lease %s: %w", election, classified)
}
