#!/usr/bin/env bash
# Installs what Gantry's tests and demo need on a fresh Debian machine, idempotently:
# Debian packages (rsync for gitlab-ci-local, git, chromium for the browser tests), npm dependencies, the built CLI, and the
# local Kubernetes cluster with Docker and the registries (test/cluster/up.sh; skipped with
# GANTRY_NO_CLUSTER=1 for work that does not need it).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v rsync >/dev/null || need_apt+=(rsync)
command -v git >/dev/null || need_apt+=(git)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || need_apt+=(golang-go)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_apt[*]}; run as root or install them: apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm install (not npm ci): with this machine's omit-lockfile-registry-resolved setting npm 11 leaves
# other platforms' optional bindings out of the lockfile, and npm ci then refuses it. npm install
# still installs the locked versions. Skipped when node_modules already matches the lockfile.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s <(sed -n '/"packages"/,$p' package-lock.json) <(sed -n '/"packages"/,$p' node_modules/.package-lock.json) 2>/dev/null; then
  echo "setup: npm install" >&2
  npm install --no-audit --no-fund --loglevel=error
fi
npm run --silent build
if [ "${GANTRY_NO_CLUSTER:-0}" != 1 ]; then
  bash test/cluster/up.sh >/dev/null
fi
echo "setup: ready" >&2
