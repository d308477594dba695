#!/usr/bin/env bash
# tools.sh builds the binaries that the informer tests and demo run as real
# processes: etcd, kube-apiserver, kube-controller-manager and kubectl. Their
# versions are pinned by the nested module in tools/; the binaries land in
# bin/ at the repository root. A stamp file (bin/.stamp) records a hash of
# tools/go.mod, tools/go.sum and `go version`, so a second run with nothing
# changed returns at once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools"
bin="$root/bin"
stamp="$bin/.stamp"
names=(etcd kube-apiserver kube-controller-manager kubectl)

if ! command -v go >/dev/null 2>&1; then
	echo "tools: go is not on PATH" >&2
	exit 1
fi

hash_inputs() {
	local sum
	if command -v sha256sum >/dev/null 2>&1; then
		sum=(sha256sum)
	else
		sum=(shasum -a 256)
	fi
	{ cat "$tools/go.mod" "$tools/go.sum"; go version; } | "${sum[@]}" | cut -d' ' -f1
}

want="$(hash_inputs)"

up_to_date() {
	[[ -f "$stamp" ]] || return 1
	[[ "$(cat "$stamp")" == "$want" ]] || return 1
	local n
	for n in "${names[@]}"; do
		[[ -x "$bin/$n" ]] || return 1
	done
}

if up_to_date; then
	echo "tools: up to date (bin/)"
	exit 0
fi

mkdir -p "$bin"
work="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

k8s_version="$(cd "$tools" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/kubernetes)"
# Stamp the real version (go build alone reports v0.0.0-master) so that
# discovery and `kubectl version` show it.
k8s_minor="${k8s_version#v*.}"
k8s_minor="${k8s_minor%%.*}"
k8s_major="${k8s_version#v}"
k8s_major="${k8s_major%%.*}"
pkg=k8s.io/component-base/version
ldflags="-X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"

echo "tools: building ${names[*]} into bin/ (kubernetes $k8s_version)"
echo "tools: the first build takes about 5-10 minutes on 2 cores; later builds reuse the Go build cache"
start=$SECONDS

cd "$tools"
export GOWORK=off
go build -ldflags "$ldflags" -o "$work/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kubectl
go build -o "$work/etcd" go.etcd.io/etcd/server/v3

for n in "${names[@]}"; do
	mv -f "$work/$n" "$bin/$n"
done
echo "$want" >"$stamp"

echo "tools: built ${names[*]} in $((SECONDS - start))s"
