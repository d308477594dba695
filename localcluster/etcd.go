package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// etcdArgs returns the flags for a single-member etcd that keeps its data in
// the cluster's directory and listens on loopback only.
func (c *Cluster) etcdArgs() []string {
	client := c.EtcdURL()
	peer := "http://127.0.0.1:" + strconv.Itoa(c.etcdPeerPort)
	return []string{
		"--name=localcluster",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=localcluster=" + peer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

// startEtcd starts etcd and waits until it reports itself healthy. Call with
// c.mu held or before the cluster is shared.
func (c *Cluster) startEtcd(ctx context.Context) error {
	p, err := startProcess(c.binDir, c.dir, etcdBinary, c.etcdArgs(), c.output)
	if err != nil {
		return err
	}
	c.etcd = p
	return c.waitFor(ctx, "etcd to be healthy", c.checkEtcd, p)
}

// checkEtcd asks etcd's /health endpoint.
func (c *Cluster) checkEtcd(ctx context.Context) error {
	if err := getOK(ctx, c.etcdHTTP, c.EtcdURL()+"/health", ""); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	return nil
}
