# informer: the two commands of the README are `make demo` and `make test`.
#
#   make demo [DURATION=30s]   a real local cluster, a pod generator and the podwatch example
#   make test                  go vet and go test -race on every module, e2e against a real cluster
#   make tools                 build kube-apiserver, etcd, kube-controller-manager, kubectl into bin/
#   make bench [QUICK=1]       benchmarks side by side with raw client-go (see BENCHMARKS.md)

SHELL := bash
GO ?= go
ROOT := $(abspath .)
export INFORMER_BIN_DIR ?= $(ROOT)/bin
# Go modules with code to vet and test (tools/ only pins binaries).
MODULES := . $(patsubst %/go.mod,%,$(filter-out tools/go.mod,$(wildcard */go.mod)))
DURATION ?= 0
QUICK ?=

.PHONY: all tools test vet unit demo bench clean

all: test

tools:
	@bash scripts/tools.sh

vet:
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

# Unit tests, examples and the e2e suite, all with the race detector. The e2e
# tests start their own kube-apiserver and etcd from bin/.
test: tools vet
	@for m in $(MODULES); do echo "go test -race ($$m)"; (cd $$m && $(GO) test -race -count=1 -timeout 30m ./...) || exit 1; done

# The root module's tests without building the binaries first: the e2e tests
# skip when bin/ has none, and run when it has them.
unit:
	$(GO) test -race -count=1 ./...

# Built, then run, rather than `go run`: go run exits 1 on Ctrl-C whatever the
# program returns, and Ctrl-C is the normal way to end the demo.
demo: tools
	@$(GO) build -o bin/demo ./examples/demo
	@bin/demo -duration $(DURATION)

# Benchmarks side by side with raw client-go and controller-runtime (bench/ is
# its own module, so the library's users never inherit controller-runtime).
bench: tools
	@cd bench && QUICK=$(QUICK) $(GO) run ./cmd/compare

clean:
	rm -rf bin
