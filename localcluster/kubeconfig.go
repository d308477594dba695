package localcluster

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const kubeconfigName = "localcluster"

// RESTConfig returns a client configuration for the admin identity, a member
// of system:masters authenticated by a static token. TLS verification is on:
// the only trusted CA is the one that signed the serving certificate
// kube-apiserver generated for itself. Each call returns a fresh copy that
// the caller may modify.
func (c *Cluster) RESTConfig() *rest.Config {
	return c.configFor(c.adminToken)
}

// configFor returns a client configuration for the identity token stands for.
func (c *Cluster) configFor(token string) *rest.Config {
	return &rest.Config{
		Host:        c.APIServerURL(),
		BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: append([]byte(nil), c.caData...),
		},
	}
}

// KubeconfigPath returns the path of a kubeconfig file for the admin
// identity, with the CA and token embedded, usable by kubectl (--kubeconfig
// or $KUBECONFIG) and by clientcmd. It is removed by Stop.
func (c *Cluster) KubeconfigPath() string {
	return c.kubeconfigPath
}

// writeKubeconfig writes the admin kubeconfig into the cluster's directory.
func (c *Cluster) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[kubeconfigName] = &clientcmdapi.Cluster{
		Server:                   c.APIServerURL(),
		CertificateAuthorityData: c.caData,
	}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{Token: c.adminToken}
	cfg.Contexts[kubeconfigName] = &clientcmdapi.Context{
		Cluster:   kubeconfigName,
		AuthInfo:  adminUser,
		Namespace: "default",
	}
	cfg.CurrentContext = kubeconfigName
	path := filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("localcluster: writing the kubeconfig: %w", err)
	}
	c.kubeconfigPath = path
	return nil
}
