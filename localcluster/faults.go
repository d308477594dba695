package localcluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// etcdRestartGrace is how long RestartEtcd gives etcd to exit after
// SIGTERM. etcd waits up to its request timeout (7s) for the watch streams of
// a running kube-apiserver to end, which they do not; killing it then loses
// nothing, since etcd's data on disk is crash-safe.
const etcdRestartGrace = 2 * time.Second

// KillAPIServer kills kube-apiserver with SIGKILL and waits for it to exit,
// as a crash would. Clients see connection errors until StartAPIServer. It
// does nothing if kube-apiserver is not running.
func (c *Cluster) KillAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isStopped {
		return errStopped
	}
	return c.apiserver.kill()
}

// StartAPIServer starts kube-apiserver again, on the same port and with the
// same certificate, so existing clients reconnect, and waits until its
// /readyz is OK. It fails if kube-apiserver is running.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isStopped {
		return errStopped
	}
	if c.apiserver.running() {
		return errors.New("localcluster: kube-apiserver is already running")
	}
	return c.restartAPIServer(ctx)
}

// RestartAPIServer kills kube-apiserver (as KillAPIServer) and starts it
// again (as StartAPIServer).
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isStopped {
		return errStopped
	}
	if err := c.apiserver.kill(); err != nil {
		return err
	}
	return c.restartAPIServer(ctx)
}

// RestartEtcd stops etcd (SIGTERM, then SIGKILL after two seconds), starts
// it again on the same ports with the same data, and waits until etcd is
// healthy and, if kube-apiserver is running, until its /readyz is OK again.
func (c *Cluster) RestartEtcd(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isStopped {
		return errStopped
	}
	if err := c.etcd.stop(etcdRestartGrace); err != nil {
		return err
	}
	return c.restart(ctx, func(ctx context.Context) error {
		if err := c.startEtcd(ctx); err != nil {
			_ = c.etcd.kill()
			return err
		}
		if !c.apiserver.running() {
			return nil
		}
		return c.waitFor(ctx, "kube-apiserver /readyz after the etcd restart", c.checkAPIServer, c.etcd, c.apiserver)
	})
}

// restart runs start with the start timeout. Call with c.mu held.
func (c *Cluster) restart(ctx context.Context, start func(context.Context) error) error {
	timeout := c.opts.startTimeout()
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("restart timeout (%v) exceeded", timeout))
	defer cancel()
	return start(ctx)
}

// restartAPIServer starts kube-apiserver and waits for it; if it does not
// become ready, it is killed so that a later StartAPIServer can try again.
// Call with c.mu held.
func (c *Cluster) restartAPIServer(ctx context.Context) error {
	err := c.restart(ctx, c.startAPIServer)
	if err != nil {
		_ = c.apiserver.kill()
	}
	return err
}
