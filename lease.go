package informer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of the Leases of [Builder.WithLeaderElection]: client-go's
// leader-election defaults.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// leaseJitter is client-go's leaderelection.JitterFactor: RenewDeadline must
// exceed RetryPeriod times it.
const leaseJitter = 1.2

// LeaseOption configures the Lease a replica holds: its identity and its
// timings. See [LeaseIdentity] and [LeaseTimings].
type LeaseOption func(*leaseConfig)

// leaseConfig is what LeaseOptions set.
type leaseConfig struct {
	identity      string
	leaseDuration time.Duration
	renewDeadline time.Duration
	retryPeriod   time.Duration
}

// LeaseIdentity sets the identity written in the Lease as its holder. It
// must be unique among the replicas. The default is the host name (the pod
// name, in a pod) followed by "_" and 8 random hex digits, so that a
// restarted process never passes for its predecessor.
func LeaseIdentity(identity string) LeaseOption {
	return func(c *leaseConfig) { c.identity = identity }
}

// LeaseTimings sets the Lease timings, as client-go's leader election
// defines them: leaseDuration is how long the others wait, from the last
// renewal they saw, before they take over; renewDeadline is how long the
// holder keeps trying to renew before it gives up, and stops handling; the
// holder renews every retryPeriod. They must satisfy leaseDuration >
// renewDeadline > 1.2 × retryPeriod > 0. The defaults are
// [DefaultLeaseDuration], [DefaultRenewDeadline] and [DefaultRetryPeriod].
func LeaseTimings(leaseDuration, renewDeadline, retryPeriod time.Duration) LeaseOption {
	return func(c *leaseConfig) {
		c.leaseDuration, c.renewDeadline, c.retryPeriod = leaseDuration, renewDeadline, retryPeriod
	}
}

// newLeaseConfig applies opts to the defaults and checks the result; what
// names the caller (for example "WithLeaderElection") in errors.
func newLeaseConfig(what string, opts []LeaseOption) (leaseConfig, error) {
	c := leaseConfig{
		leaseDuration: DefaultLeaseDuration,
		renewDeadline: DefaultRenewDeadline,
		retryPeriod:   DefaultRetryPeriod,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	if c.identity == "" {
		id, err := defaultIdentity()
		if err != nil {
			return c, fmt.Errorf("informer: %s: %w; set one with LeaseIdentity", what, err)
		}
		c.identity = id
	}
	switch {
	case c.retryPeriod <= 0:
		return c, fmt.Errorf("informer: %s: retry period %v must be positive", what, c.retryPeriod)
	case float64(c.renewDeadline) <= leaseJitter*float64(c.retryPeriod):
		return c, fmt.Errorf("informer: %s: renew deadline %v must exceed 1.2 × the retry period %v", what, c.renewDeadline, c.retryPeriod)
	case c.leaseDuration <= c.renewDeadline:
		return c, fmt.Errorf("informer: %s: lease duration %v must exceed the renew deadline %v", what, c.leaseDuration, c.renewDeadline)
	case c.leaseDuration < time.Second:
		// Leases count whole seconds.
		return c, fmt.Errorf("informer: %s: lease duration %v is under the Lease's 1 s resolution", what, c.leaseDuration)
	}
	return c, nil
}

// defaultIdentity returns the host name and a random suffix.
func defaultIdentity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("no host name for the default identity: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails (crypto/rand)
	return host + "_" + hex.EncodeToString(suffix), nil
}

// validLeaseName checks a namespace and a Lease name.
func validLeaseName(what, namespace, name string) error {
	if msgs := validation.IsDNS1123Label(namespace); len(msgs) > 0 {
		return fmt.Errorf("informer: %s: invalid namespace %q: %s", what, namespace, msgs[0])
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("informer: %s: invalid Lease name %q: %s", what, name, msgs[0])
	}
	return nil
}
