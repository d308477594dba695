//go:build tools

// Package lint pins the version of golangci-lint that `make lint` runs. It is
// a module of its own, apart from tools/ (which pins kube-apiserver and
// friends) and the root module, so that the linter's dependencies never
// change theirs. Nothing imports it; scripts/lint.sh builds the binary into
// ../../bin.
package lint

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
