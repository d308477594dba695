#!/usr/bin/env bash
# lint.sh builds golangci-lint into bin/ when it is missing or out of date,
# and returns at once, silently, when it is not, so `make lint` calls it every
# time. The version is pinned by the nested module in tools/lint/, apart from
# tools/ so that the linter and the cluster binaries never share dependencies.
# A stamp file of its own (bin/.lint-stamp) records a hash of
# tools/lint/go.mod, tools/lint/go.sum and `go version`; scripts/tools.sh keeps
# bin/.stamp, so neither script invalidates the other.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lint="$root/tools/lint"
bin="$root/bin"
stamp="$bin/.lint-stamp"
name=golangci-lint

if ! command -v go >/dev/null 2>&1; then
	echo "lint: go is not on PATH" >&2
	exit 1
fi

hash_inputs() {
	local sum
	if command -v sha256sum >/dev/null 2>&1; then
		sum=(sha256sum)
	else
		sum=(shasum -a 256)
	fi
	{ cat "$lint/go.mod" "$lint/go.sum"; go version; } | "${sum[@]}" | cut -d' ' -f1
}

want="$(hash_inputs)"

if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	exit 0
fi

mkdir -p "$bin"
# Build into a temporary directory and move the binary into place, so an
# interrupted build never leaves a half-written bin/golangci-lint behind.
work="$(mktemp -d "$bin/.lint-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

version="$(cd "$lint" && GOWORK=off go list -m -f '{{.Version}}' github.com/golangci/golangci-lint/v2)"
echo "lint: building $name $version into bin/ (the first build takes 2-4 minutes on 2 cores)"
start=$SECONDS
(cd "$lint" && GOWORK=off go build -o "$work/$name" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
mv -f "$work/$name" "$bin/$name"
echo "$want" >"$stamp"
echo "lint: built $name in $((SECONDS - start))s"
