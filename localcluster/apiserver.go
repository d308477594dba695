package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// apiServerArgs returns the kube-apiserver flags: loopback only, etcd from
// this cluster, a self-signed serving certificate in the cluster's
// directory, static-token and service-account authentication, RBAC; then
// Options.APIServerFlags, with Options.FeatureGates merged in.
func (c *Cluster) apiServerArgs() []string {
	args := []string{
		"--etcd-servers=" + c.EtcdURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.apiPort),
		"--cert-dir=" + c.apiCertDir(),
		"--service-account-key-file=" + c.saPub,
		"--service-account-signing-key-file=" + c.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file=" + c.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		// Pods can be created in any namespace without a "default"
		// ServiceAccount, which only kube-controller-manager creates.
		"--disable-admission-plugins=ServiceAccount",
		// No Endpoints for the kubernetes Service: a loopback address is
		// not a valid endpoint, and the reconciler would log about it.
		"--endpoint-reconciler-type=none",
	}
	return append(args, withFeatureGates(c.opts.APIServerFlags, c.opts.FeatureGates)...)
}

func (c *Cluster) apiCertDir() string {
	return filepath.Join(c.dir, "apiserver-certs")
}

// apiServerCertFile is the self-signed serving certificate kube-apiserver
// generates in its --cert-dir: the leaf followed by the CA that signed it.
func (c *Cluster) apiServerCertFile() string {
	return filepath.Join(c.apiCertDir(), "apiserver.crt")
}

// startAPIServer starts kube-apiserver and waits until /readyz is OK. Call
// with c.mu held or before the cluster is shared.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := startProcess(c.binDir, c.dir, apiServerBinary, c.apiServerArgs(), c.output)
	if err != nil {
		return err
	}
	c.apiserver = p
	if err := c.waitFor(ctx, "kube-apiserver /readyz", c.checkAPIServer, p); err != nil {
		return err
	}
	if c.caData != nil {
		return nil
	}
	// The certificate file was being written while the first checks ran;
	// now that the server is serving with it, it is complete.
	ca, err := caBundle(c.apiServerCertFile())
	if err != nil {
		return err
	}
	caFile := filepath.Join(c.dir, "ca.crt")
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		return fmt.Errorf("localcluster: writing %s: %w", caFile, err)
	}
	c.caData, c.caFile = ca, caFile
	return nil
}

// checkAPIServer asks kube-apiserver's /readyz endpoint, as the admin user.
func (c *Cluster) checkAPIServer(ctx context.Context) error {
	if c.apiHTTP == nil {
		ca := c.caData
		if ca == nil {
			var err error
			if ca, err = readCertFile(c.apiServerCertFile()); err != nil {
				return err
			}
		}
		client, err := httpClientFor(ca)
		if err != nil {
			return err
		}
		c.apiHTTP = client
	}
	if err := getOK(ctx, c.apiHTTP, c.APIServerURL()+"/readyz", c.adminToken); err != nil {
		// The certificate may have been read while it was being
		// written: read it again next time.
		c.apiHTTP = nil
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// readCertFile reads a PEM file and checks that it holds certificates only.
func readCertFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localcluster: reading the serving certificate: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("localcluster: no certificate in %s", path)
	}
	return data, nil
}

// caBundle returns the CA certificates of the PEM file at path: those marked
// as CAs, or all of them if none is (a plain self-signed certificate).
// kube-apiserver's generated certificate file holds its serving certificate
// followed by the CA that signed it; kube-controller-manager rejects the
// serving certificate in its --root-ca-file.
func caBundle(path string) ([]byte, error) {
	data, err := readCertFile(path)
	if err != nil {
		return nil, err
	}
	var cas []byte
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("localcluster: parsing %s: %w", path, err)
		}
		if cert.IsCA {
			cas = append(cas, pem.EncodeToMemory(block)...)
		}
	}
	if cas == nil {
		return data, nil
	}
	return cas, nil
}

// httpClientFor returns an HTTP client that trusts only the certificates in
// caPEM.
func httpClientFor(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("localcluster: no certificate in the CA bundle")
	}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
		Timeout: 5 * time.Second,
	}, nil
}
