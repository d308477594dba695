//go:build tools

// Package tools pins the versions of the binaries that the informer
// repository builds for its tests and demo: kube-apiserver, etcd,
// kube-controller-manager and kubectl. Nothing imports it; `make tools`
// builds the binaries into ../bin.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
