package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// controllerManagerArgs returns the kube-controller-manager flags: the admin
// kubeconfig for everything, no leader election, loopback only, and the
// controllers that are on by default.
func (c *Cluster) controllerManagerArgs() []string {
	return []string{
		"--kubeconfig=" + c.kubeconfigPath,
		"--authentication-kubeconfig=" + c.kubeconfigPath,
		"--authorization-kubeconfig=" + c.kubeconfigPath,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.kcmPort),
		"--cert-dir=" + c.kcmCertDir(),
		"--service-account-private-key-file=" + c.saKey,
		"--root-ca-file=" + c.caFile,
		"--controllers=*",
	}
}

func (c *Cluster) kcmCertDir() string {
	return filepath.Join(c.dir, "controller-manager-certs")
}

// startControllerManager starts kube-controller-manager and waits until its
// /healthz is OK. Call with c.mu held or before the cluster is shared.
func (c *Cluster) startControllerManager(ctx context.Context) error {
	p, err := startProcess(c.binDir, c.dir, controllerManagerBinary, c.controllerManagerArgs(), c.output)
	if err != nil {
		return err
	}
	c.kcm = p
	return c.waitFor(ctx, "kube-controller-manager /healthz", c.checkControllerManager, p)
}

// checkControllerManager asks kube-controller-manager's /healthz endpoint,
// trusting the self-signed certificate it generated in its --cert-dir.
func (c *Cluster) checkControllerManager(ctx context.Context) error {
	if c.kcmHTTP == nil {
		ca, err := readCertFile(filepath.Join(c.kcmCertDir(), "kube-controller-manager.crt"))
		if err != nil {
			return err
		}
		client, err := httpClientFor(ca)
		if err != nil {
			return err
		}
		c.kcmHTTP = client
	}
	url := "https://127.0.0.1:" + strconv.Itoa(c.kcmPort) + "/healthz"
	if err := getOK(ctx, c.kcmHTTP, url, c.adminToken); err != nil {
		// The certificate may have been read while it was being
		// written: read it again next time.
		c.kcmHTTP = nil
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	return nil
}
