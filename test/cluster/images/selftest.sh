#!/usr/bin/env bash
# Self-test of lib/docker.sh: installs and starts dockerd and the two registries, builds
# the base images, proves they work (node runs, a FROM-node image builds and serves HTTP,
# registry login/push/pull), imports the pause image into a throw-away containerd, then
# stops everything and checks that no dockerd/registry process is left.
#   bash test/cluster/images/selftest.sh            # GANTRY_REBUILD_IMAGES=1 forces rebuilds
#   SELFTEST_KEEP=1 ...                             # leave the daemons running afterwards
# All traffic goes to 127.0.0.1 (and Docker's own bridge on this machine).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$here/../lib/common.sh"
# shellcheck source=../lib/docker.sh
source "$here/../lib/docker.sh"

APP_IMAGE="gantry-selftest/hello:latest"
AUTH_IMAGE="$AUTH_REGISTRY/gantry-selftest/hello:latest"
APP_PORT=18080
work="$(mktemp -d /tmp/gantry-docker-selftest.XXXXXX)"
ctr_pid=""
passed=0

cleanup() {
  local rc=$?
  if _dockerd_up >/dev/null 2>&1; then
    docker rm -f gantry-selftest-hello >/dev/null 2>&1 || true
    docker rmi -f "$APP_IMAGE" "$AUTH_IMAGE" >/dev/null 2>&1 || true
  fi
  if [ -n "$ctr_pid" ] && kill -0 "$ctr_pid" 2>/dev/null; then
    kill -TERM "$ctr_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$ctr_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ctr_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ "${SELFTEST_KEEP:-0}" != 1 ]; then
    log "selftest failed; stopping the daemons (SELFTEST_KEEP=1 leaves them running)"
    stop_registries || true
    stop_dockerd || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); log "ok: $*"; }
fail() { die selftest "$*"; }
timed() {  # timed <label> <function...>
  local label="$1" t0 t1; shift
  t0="$(date +%s.%N)"; "$@"; t1="$(date +%s.%N)"
  log "time: $label $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
}

timed install_docker_packages install_docker_packages
timed start_dockerd start_dockerd
timed start_registries start_registries
timed build_base_images build_base_images

log "images: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'gantry/(node|pause)' | tr '\n' ';')"

# 1. node runs in the base image
v="$(docker run --rm "$NODE_BASE_IMAGE" node -e 'console.log(process.version)')"
[ "$v" = "$(node --version)" ] || fail "node in $NODE_BASE_IMAGE says '$v', host has $(node --version)"
ok "docker run $NODE_BASE_IMAGE node: $v"

# 2. an app image FROM the base builds (RUN steps: shell and npm) and serves HTTP
mkdir -p "$work/app"
cat >"$work/app/server.js" <<'EOF'
require('http').createServer((req, res) => res.end(`hello from ${process.version} as ${require('os').userInfo().username}\n`)).listen(8080);
EOF
cat >"$work/app/Dockerfile" <<EOF
FROM $NODE_BASE_IMAGE
RUN npm --version && sh -c 'echo shell ok' && mkdir -p /app && chown node:node /app
WORKDIR /app
COPY server.js .
RUN node server.js & sleep 1; wget -qO- http://127.0.0.1:8080/; kill \$!
USER node
EXPOSE 8080
CMD ["node", "server.js"]
EOF
docker build -q -t "$APP_IMAGE" "$work/app" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "docker build FROM $NODE_BASE_IMAGE"; }
ok "docker build FROM $NODE_BASE_IMAGE (RUN npm --version, RUN sh/wget)"
docker run -d --name gantry-selftest-hello -p "127.0.0.1:$APP_PORT:8080" "$APP_IMAGE" >/dev/null
answer=""
for _ in $(seq 1 40); do
  answer="$(curl -fsS --max-time 2 "http://127.0.0.1:$APP_PORT/" 2>/dev/null)" && break
  sleep 0.25
done
[ -n "$answer" ] || { docker logs gantry-selftest-hello >&2 || true; fail "no answer from 127.0.0.1:$APP_PORT"; }
case "$answer" in "hello from $(node --version) as node") ;; *) fail "unexpected answer: $answer" ;; esac
ok "docker run -p 127.0.0.1:$APP_PORT:8080 answers: $answer"
docker rm -f gantry-selftest-hello >/dev/null

# 3. the htpasswd registry: wrong password fails, right one logs in and pushes
# shellcheck disable=SC1090
. "$REGISTRY_AUTH_ENV"
export DOCKER_CONFIG="$work/docker-config"   # keeps the credentials out of ~/.docker
mkdir -p "$DOCKER_CONFIG"
if echo "wrong-$REGISTRY_PASSWORD" | docker login -u "$REGISTRY_USER" --password-stdin "$AUTH_REGISTRY" >/dev/null 2>&1; then
  fail "docker login $AUTH_REGISTRY accepted a wrong password"
fi
ok "docker login $AUTH_REGISTRY with a wrong password fails"
docker tag "$APP_IMAGE" "$AUTH_IMAGE"
if docker push "$AUTH_IMAGE" >/dev/null 2>&1; then fail "push to $AUTH_REGISTRY without login succeeded"; fi
ok "push to $AUTH_REGISTRY without login fails"
echo "$REGISTRY_PASSWORD" | docker login -u "$REGISTRY_USER" --password-stdin "$AUTH_REGISTRY" >/dev/null 2>&1 \
  || fail "docker login $AUTH_REGISTRY with the generated credentials"
ok "docker login $AUTH_REGISTRY as $REGISTRY_USER"
docker push -q "$AUTH_IMAGE" >/dev/null 2>&1 || fail "docker push $AUTH_IMAGE"
digest="$(curl -fsS -u "$REGISTRY_USER:$REGISTRY_PASSWORD" -D - -o /dev/null \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$AUTH_REGISTRY/v2/gantry-selftest/hello/manifests/latest" \
  | tr -d '\r' | awk 'tolower($1)=="docker-content-digest:"{print $2}')"
[ -n "$digest" ] || fail "pushed manifest not found on $AUTH_REGISTRY"
ok "docker push $AUTH_IMAGE ($digest)"
code="$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -u "$REGISTRY_USER:$REGISTRY_PASSWORD" \
  "http://$AUTH_REGISTRY/v2/gantry-selftest/hello/manifests/$digest")"
[ "$code" = 202 ] || fail "DELETE manifest on $AUTH_REGISTRY answered $code"
ok "manifest delete on $AUTH_REGISTRY (delete enabled)"
docker logout "$AUTH_REGISTRY" >/dev/null 2>&1 || true
unset DOCKER_CONFIG

# 4. pull the base image's manifest and config from the open registry with curl
repo="${NODE_BASE_IMAGE#"$REGISTRY"/}"; tag="${repo##*:}"; repo="${repo%:*}"
manifest="$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/$repo/manifests/$tag")" || fail "GET manifest $NODE_BASE_IMAGE"
config="$(echo "$manifest" | jq -r .config.digest)"
label="$(curl -fsS "http://$REGISTRY/v2/$repo/blobs/$config" | jq -r '.config.Labels["org.gantry.node-version"]')"
[ "v$label" = "$(node --version)" ] || fail "node-version label in the registry is '$label'"
ok "curl manifest of $NODE_BASE_IMAGE on $REGISTRY: $(echo "$manifest" | jq '.layers | length') layer(s), node-version label $label"

# 5. the saved pause image imports into a containerd (a throw-away one under /tmp)
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
  c="$work/containerd"; mkdir -p "$c"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
EOF
  setsid containerd --config "$c/config.toml" >"$c/log" 2>&1 </dev/null &
  ctr_pid=$!
  for _ in $(seq 1 60); do ctr --address "$c/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.25; done
  import_pause_image "$c/containerd.sock"
  ctr --address "$c/containerd.sock" -n k8s.io run -d "$PAUSE_IMAGE" gantry-selftest-pause >/dev/null \
    || fail "ctr run $PAUSE_IMAGE"
  sleep 0.5
  ctr --address "$c/containerd.sock" -n k8s.io task kill -s TERM gantry-selftest-pause
  status=""
  for _ in $(seq 1 40); do
    status="$(ctr --address "$c/containerd.sock" -n k8s.io task ls | awk '$1=="gantry-selftest-pause"{print $3}')"
    [ "$status" = STOPPED ] && break; sleep 0.25
  done
  [ "$status" = STOPPED ] || fail "pause did not stop on TERM (status '$status')"
  ctr --address "$c/containerd.sock" -n k8s.io task delete gantry-selftest-pause >/dev/null 2>&1 || true
  ctr --address "$c/containerd.sock" -n k8s.io containers delete gantry-selftest-pause >/dev/null 2>&1 || true
  ok "import_pause_image into containerd; $PAUSE_IMAGE runs and stops on TERM"
  kill -TERM "$ctr_pid"; wait "$ctr_pid" 2>/dev/null || true; ctr_pid=""
else
  log "skip: containerd/ctr not installed, import_pause_image not tested"
fi

docker rmi -f "$APP_IMAGE" "$AUTH_IMAGE" >/dev/null 2>&1 || true

if [ "${SELFTEST_KEEP:-0}" = 1 ]; then
  log "SELFTEST_KEEP=1: leaving dockerd and the registries running"
else
  timed stop_registries stop_registries
  timed stop_dockerd stop_dockerd
  for comp in dockerd docker-containerd registry registry-auth; do
    ! is_running "$comp" || fail "$comp still running"
  done
  left="$(pgrep -a -x dockerd || true; pgrep -a -x docker-registry || true; pgrep -af "containerd-shim.*$DOCKER_CONTAINERD_SOCK" || true)"
  [ -z "$left" ] || fail "processes left: $left"
  ! ip link show docker0 >/dev/null 2>&1 || fail "docker0 still present"
  ! grep -qE ' (/var/lib/docker|/run/docker)[/ ]' /proc/self/mountinfo || fail "mounts left under /var/lib/docker or /run/docker"
  ok "stopped: no dockerd, docker-registry or shim left, docker0 gone, no mounts left"
fi
echo "$passed passed, 0 failed"
