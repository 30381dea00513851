#!/usr/bin/env bash
# Build (or reuse) the multi-call Kubernetes binary for the test cluster.
#
#   test/cluster/build/build.sh            -> prints the directory holding
#                                             k8s, kube-apiserver, kubelet, ...
#
# The Kubernetes version is the one required for k8s.io/kubernetes in go.mod.
# Output: $GANTRY_CACHE/k8s/<version>/k8s plus the symlinks kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl.
# If that binary already exists it is reused without building (cache hit).
#
# stdout carries exactly one line, the output directory, in both cases, so a
# caller can do:  K8S_BIN="$(test/cluster/build/build.sh)"
# Everything else (progress, the cache-hit notice, errors) goes to stderr.
#
# Environment:
#   GANTRY_CACHE  cache root (default /var/cache/gantry). The Go module and
#                 build caches live in $GANTRY_CACHE/go/{mod,build}.
#   GO            go binary (default: go on PATH, else /usr/local/go/bin/go)
#   GOTOOLCHAIN   default "local" (the build is known to work with go1.26).
#   GANTRY_REBUILD=1  ignore an existing binary and build again.
set -euo pipefail

die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'build.sh: %s\n' "$*" >&2; }
trap 'rc=$?; printf "build.sh: error: command failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GOMOD="$HERE/go.mod"
[[ -f "$GOMOD" ]] || die "go.mod not found next to build.sh ($GOMOD)"

COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# --- 1. version from go.mod -------------------------------------------------
# Matches both "require k8s.io/kubernetes vX" and a line inside a require block.
VERSION="$(sed -nE 's/^[[:space:]]*(require[[:space:]]+)?k8s\.io\/kubernetes[[:space:]]+(v[0-9]+\.[0-9]+\.[0-9]+[^[:space:]]*).*$/\2/p' "$GOMOD" | head -n1)"
[[ -n "$VERSION" ]] || die "no 'k8s.io/kubernetes vX.Y.Z' requirement found in $GOMOD"
[[ "$VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "unexpected k8s.io/kubernetes version '$VERSION' in $GOMOD (want v1.MINOR.PATCH)"
MINOR="${BASH_REMATCH[1]}"
STAGING_VERSION="v0.${MINOR}.${BASH_REMATCH[2]}"

# Every staging replace must point at the matching v0.MINOR.PATCH release;
# a stale one would silently mix Kubernetes versions.
if bad="$(grep -E '^[[:space:]]*k8s\.io/[^[:space:]]+[[:space:]]+=>[[:space:]]+k8s\.io/' "$GOMOD" | grep -vE "=>[[:space:]]+k8s\.io/[^[:space:]]+[[:space:]]+${STAGING_VERSION//./\\.}[[:space:]]*\$")"; then
	die "replace lines in $GOMOD do not match $STAGING_VERSION (expected for $VERSION):
$bad"
fi

CACHE="${GANTRY_CACHE:-/var/cache/gantry}"
OUT="$CACHE/k8s/$VERSION"
BIN="$OUT/k8s"

link_components() {
	local c
	for c in "${COMPONENTS[@]}"; do
		ln -sfn k8s "$OUT/$c"
	done
}

# --- 2. cache hit -------------------------------------------------------------
if [[ -x "$BIN" && "${GANTRY_REBUILD:-0}" != 1 ]]; then
	link_components 2>/dev/null || true # repair missing links if the dir is writable
	log "cache hit: $BIN (Kubernetes $VERSION), not rebuilding"
	printf '%s\n' "$OUT"
	exit 0
fi

# --- 3. build -----------------------------------------------------------------
if [[ -n "${GO:-}" ]]; then
	command -v "$GO" >/dev/null 2>&1 || die "GO=$GO is not an executable go binary"
elif command -v go >/dev/null 2>&1; then
	GO="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
	GO=/usr/local/go/bin/go
else
	die "no Go toolchain found (set GO=/path/to/go or put go on PATH)"
fi

mkdir -p "$OUT" "$CACHE/go/mod" "$CACHE/go/build" ||
	die "cannot create $OUT or $CACHE/go (set GANTRY_CACHE to a writable directory)"

export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOWORK=off                 # never pick up a go.work from the surrounding tree
export GOFLAGS="-mod=readonly"    # go.mod/go.sum are committed; never rewrite them
export CGO_ENABLED=0              # upstream builds every one of these binaries static
# Only the module proxy is reachable: drop a "direct" fallback (it would try
# to clone from the VCS hosts when the proxy says 404/410).
GOPROXY="$("$GO" env GOPROXY)"
GOPROXY="$(printf '%s' "$GOPROXY" | tr ',|' '\n\n' | grep -vE '^(direct|off)?$' | paste -sd, -)" || true
[[ -n "$GOPROXY" ]] || die "GOPROXY has no proxy left once 'direct' is removed; set GOPROXY"
export GOPROXY

exec 9>"$OUT/.build.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
	# Another build may have finished while we waited for the lock.
	if [[ -x "$BIN" && "${GANTRY_REBUILD:-0}" != 1 ]]; then
		link_components
		log "cache hit after waiting for a concurrent build: $BIN"
		printf '%s\n' "$OUT"
		exit 0
	fi
fi

cd "$HERE"
log "building Kubernetes $VERSION with $("$GO" version) into $OUT"

# Version stamp, as kubernetes' hack/lib/version.sh does it (both packages).
GIT_COMMIT=""
BUILD_DATE=""
INFO="$("$GO" mod download -json "k8s.io/kubernetes@$VERSION")" ||
	die "go mod download k8s.io/kubernetes@$VERSION failed (is the module proxy reachable?)"
INFO_FILE="$(printf '%s\n' "$INFO" | sed -nE 's/^[[:space:]]*"Info": "(.*)",?$/\1/p')"
if [[ -n "$INFO_FILE" && -f "$INFO_FILE" ]]; then
	GIT_COMMIT="$(sed -nE 's/.*"Hash":"([0-9a-f]{40})".*/\1/p' "$INFO_FILE")"
	BUILD_DATE="$(sed -nE 's/.*"Time":"([^"]+)".*/\1/p' "$INFO_FILE")" # the tag's time: reproducible
fi
BUILD_DATE="${BUILD_DATE:-1970-01-01T00:00:00Z}"

LDFLAGS="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
	LDFLAGS+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
	LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
	if [[ -n "$GIT_COMMIT" ]]; then
		LDFLAGS+=" -X $pkg.gitCommit=$GIT_COMMIT"
	fi
done

TMP="$OUT/.k8s.tmp.$$"
trap 'rm -f "$TMP"' EXIT
"$GO" build -trimpath -buildvcs=false -tags=selinux,notest -ldflags="$LDFLAGS" -o "$TMP" . ||
	die "go build failed for Kubernetes $VERSION (see the compiler output above)"
mv -f "$TMP" "$BIN"
link_components

# Sanity check: the binary must report the version it was stamped with.
got="$("$OUT/kubectl" version --client 2>&1 || true)"
[[ "$got" == *"$VERSION"* ]] || die "built $BIN but 'kubectl version --client' does not report $VERSION: $got"

log "built $BIN ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$OUT"
