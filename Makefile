# informer: the two commands of the README are `make demo` and `make test`.
#
#   make demo [DURATION=30s]   a real local cluster, a pod generator and the podwatch example
#   make demo-controller [DURATION=40s]  the example controller on a local cluster, with a summary
#   make demo-shards [DURATION=60s]      3 sharded replicas as processes: SIGKILL, join, clean leave, a summary
#   make test                  make lint, then go test -race on every module, e2e against a real cluster
#   make lint                  the fast lane: go mod tidy -diff, go vet for linux/darwin/windows, golangci-lint
#   make tools                 build kube-apiserver, etcd, kube-controller-manager, kubectl into bin/
#   make bench [QUICK=1]       benchmarks side by side with raw client-go (see BENCHMARKS.md);
#                              also draws the headline figures into docs/bench.svg

SHELL := bash
GO ?= go
ROOT := $(abspath .)
export INFORMER_BIN_DIR ?= $(ROOT)/bin
# Built by scripts/lint.sh from the version pinned in tools/lint/go.mod.
INFORMER_LINT := $(ROOT)/bin/golangci-lint
# Every module, code or pins, for `go mod tidy -diff` (bin/ holds build trees).
ALL_MODULES := $(patsubst ./%,%,$(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path './bin/*' -not -path './.cache/*' | sort)))
# Go modules with code to vet, lint and test (tools/ and tools/lint only pin
# binaries): the root, bench/, metrics/, examples/controller/...
MODULES := $(filter-out tools tools/%,$(ALL_MODULES))
# The platforms `make lint` vets every code module for (STYLE.md 12).
VET_GOOS := linux darwin windows
DURATION ?= 0
QUICK ?=

.PHONY: all tools lint test unit demo demo-controller demo-shards bench clean

all: test

tools:
	@bash scripts/tools.sh

# The fast lane, seconds when warm: tidy go.mod files, go vet on every
# platform, golangci-lint (.golangci.yml). Every check runs even when an
# earlier one fails, so one run shows all findings; the target fails at the
# end if any did.
lint:
	@bash scripts/lint.sh
	@failed=; \
	for m in $(ALL_MODULES); do \
		echo "go mod tidy -diff ($$m)"; \
		(cd $$m && GOWORK=off $(GO) mod tidy -diff) || failed="$$failed tidy($$m)"; \
	done; \
	for m in $(MODULES); do for goos in $(VET_GOOS); do \
		echo "go vet GOOS=$$goos ($$m)"; \
		(cd $$m && GOOS=$$goos $(GO) vet ./...) || failed="$$failed vet-$$goos($$m)"; \
	done; done; \
	for m in $(MODULES); do \
		echo "golangci-lint run ($$m)"; \
		(cd $$m && $(INFORMER_LINT) run ./...) || failed="$$failed golangci-lint($$m)"; \
	done; \
	if [[ -n "$$failed" ]]; then echo "lint: failed:$$failed" >&2; exit 1; fi

# Unit tests, examples and the e2e suite, all with the race detector. The e2e
# tests start their own kube-apiserver and etcd from bin/. lint comes first so
# a lint mistake fails in seconds, not after the first tools build.
test: lint tools
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

# The example controller against a local cluster while a generator changes
# namespaces and ConfigMaps; it ends with "controller summary: ... missing=0
# extra=0" and exits non-zero when the cluster did not converge.
demo-controller: tools
	@cd examples/controller && $(GO) build -o $(ROOT)/bin/controller-demo . && $(ROOT)/bin/controller-demo -demo -duration $(if $(filter 0,$(DURATION)),40s,$(DURATION))

# examples/sharded on a local cluster with ShardedListAndWatch on: replicas
# as processes, one killed, one joining, one leaving cleanly, under updates;
# it ends with "shards summary: ..." and exits non-zero when an object was
# handled by two replicas at once or its last update by none.
demo-shards: tools
	@cd examples/sharded && $(GO) build -o $(ROOT)/bin/sharded-demo . && $(ROOT)/bin/sharded-demo -demo -duration $(if $(filter 0,$(DURATION)),60s,$(DURATION))

# Benchmarks side by side with raw client-go and controller-runtime (bench/ is
# its own module, so the library's users never inherit controller-runtime).
# The program also writes the chart docs/bench.svg from the run's own figures.
bench: tools
	@cd bench && QUICK=$(QUICK) $(GO) run ./cmd/compare

clean:
	rm -rf bin
