# Docker daemon, the two local registries and the locally built base images (pause, node)
# for the test cluster. Source after common.sh; defines functions only.
# shellcheck shell=bash

DOCKER_IMAGES_DIR="$CLUSTER_DIR/images"

# install_docker_packages: installs what is missing of docker.io, docker-registry,
# apache2-utils (htpasswd), busybox-static, gcc and libc6-dev, without starting any of
# their distro services (there is no init system here; we start daemons ourselves).
install_docker_packages() {
  local -a want=(docker.io docker-registry apache2-utils busybox-static gcc libc6-dev) missing=()
  local p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    # policy-rc.d answering 101 makes invoke-rc.d skip every service start/stop in the
    # postinst scripts (docker.io's would otherwise try /etc/init.d/docker start).
    local policy=/usr/sbin/policy-rc.d ours=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# gantry-cluster: temporary, no service starts during apt-get\nexit 101\n' >"$policy"
      chmod 0755 "$policy"; ours=1
    fi
    local rc=0
    if ! apt-cache show docker.io >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update >/dev/null || rc=$?
    fi
    [ "$rc" -eq 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" >"$CLUSTER_LOGS/apt-docker.log" 2>&1 || rc=$?; }
    if [ -n "$ours" ] && grep -q gantry-cluster "$policy" 2>/dev/null; then rm -f "$policy"; fi
    [ "$rc" -eq 0 ] || { tail -n 25 "$CLUSTER_LOGS/apt-docker.log" >&2 || true; die docker "apt-get install ${missing[*]} failed"; }
  fi
  _docker_stop_distro_services
}

# Stops anything the distro packages may have started on their own (init scripts, or a
# daemon started by a postinst on a machine without policy-rc.d), ignoring our own.
_docker_stop_distro_services() {
  local name pid ours f
  for name in dockerd docker-registry; do
    for pid in $(pgrep -x "$name" 2>/dev/null); do
      ours=""
      for f in "$CLUSTER_RUN"/dockerd.pid "$CLUSTER_RUN"/docker-containerd.pid "$CLUSTER_RUN"/registry.pid "$CLUSTER_RUN"/registry-auth.pid; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$pid" ] && ours=1
      done
      [ -n "$ours" ] && continue
      log "stopping distro-started $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
    done
  done
}

# ---------------------------------------------------------------------------------------
# dockerd

DOCKER_DATA_ROOT="/var/lib/docker"              # kept between runs: the image/layer cache
DOCKER_EXEC_ROOT="/var/run/docker"
DOCKER_SOCK="/var/run/docker.sock"
# dockerd 20.10 adopts /run/containerd/containerd.sock when that one is up (the cluster's
# CRI containerd) and only starts its own containerd otherwise, so which containerd Docker
# uses would depend on start order. We run a dedicated containerd for Docker instead.
DOCKER_CONTAINERD_SOCK="$DOCKER_EXEC_ROOT/containerd/containerd.sock"

# docker_env: the environment the docker CLI needs here (also written to
# $CLUSTER_STATE/docker.env by start_dockerd for processes that do not source this file).
#  - DOCKER_BUILDKIT=0: the docker CLI on PATH (/usr/local/bin/docker, v28) builds with
#    BuildKit through the buildx plugin, which is not installed (Debian bookworm has no
#    buildx package); the legacy builder of the 20.10 daemon works.
#  - DOCKER_HOST: the daemon started below.
docker_env() {
  export DOCKER_HOST="unix://$DOCKER_SOCK"
  export DOCKER_BUILDKIT=0
}

_docker_write_configs() {
  local dir="$CLUSTER_STATE/docker"
  mkdir -p "$dir"
  cat >"$dir/containerd.toml" <<EOT
# containerd for dockerd only (namespace moby); the cluster's CRI containerd is separate.
version = 2
root = "$DOCKER_DATA_ROOT/containerd/daemon"
state = "$DOCKER_EXEC_ROOT/containerd/daemon"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
oom_score = 0
[grpc]
  address = "$DOCKER_CONTAINERD_SOCK"
[ttrpc]
  address = "$DOCKER_CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$DOCKER_DATA_ROOT/containerd/opt"
EOT
  # Our own daemon.json (--config-file), so that an /etc/docker/daemon.json cannot change
  # or conflict with these settings. Bridge networking and iptables stay Docker's defaults.
  cat >"$dir/daemon.json" <<EOT
{
  "data-root": "$DOCKER_DATA_ROOT",
  "exec-root": "$DOCKER_EXEC_ROOT",
  "pidfile": "$DOCKER_EXEC_ROOT.pid",
  "hosts": ["unix://$DOCKER_SOCK"],
  "containerd": "$DOCKER_CONTAINERD_SOCK",
  "storage-driver": "overlay2",
  "insecure-registries": ["$REGISTRY", "$AUTH_REGISTRY"],
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" }
}
EOT
  printf 'export DOCKER_HOST=unix://%s\nexport DOCKER_BUILDKIT=0\n' "$DOCKER_SOCK" >"$CLUSTER_STATE/docker.env"
}

_docker_containerd_up() { ctr --address "$DOCKER_CONTAINERD_SOCK" version; }
_dockerd_up() { DOCKER_HOST="unix://$DOCKER_SOCK" docker info --format '{{.ServerVersion}}'; }

# start_dockerd: starts containerd (for Docker) and Debian's dockerd 20.10 with data root
# /var/lib/docker and socket /var/run/docker.sock; waits until `docker info` answers.
# Idempotent. Exports DOCKER_HOST and DOCKER_BUILDKIT=0 (see docker_env).
start_dockerd() {
  docker_env
  if is_running dockerd && _dockerd_up >/dev/null 2>&1; then
    log "dockerd already running (pid $(cat "$CLUSTER_RUN/dockerd.pid"))"
    return 0
  fi
  command -v dockerd >/dev/null || die dockerd "dockerd not installed (run install_docker_packages)"
  if _dockerd_up >/dev/null 2>&1; then
    die dockerd "a dockerd we did not start answers on $DOCKER_SOCK; stop it first"
  fi
  _docker_write_configs
  # With ip_forward already 1, dockerd leaves the FORWARD policy alone (when it has to
  # switch forwarding on itself it also sets the FORWARD policy to DROP, which would drop
  # bridged pod-to-pod traffic of the cluster).
  if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
    sysctl -qw net.ipv4.ip_forward=1
  fi
  mkdir -p "$DOCKER_EXEC_ROOT/containerd" "$DOCKER_DATA_ROOT"
  if ! is_running docker-containerd; then
    rm -f "$DOCKER_CONTAINERD_SOCK" "$DOCKER_CONTAINERD_SOCK.ttrpc"
  fi
  start_daemon docker-containerd containerd --config "$CLUSTER_STATE/docker/containerd.toml"
  wait_for docker-containerd 30 _docker_containerd_up
  if ! is_running dockerd; then rm -f "$DOCKER_SOCK"; fi
  # HTTP(S)_PROXY: every pull from a registry that is not on loopback (Docker Hub for a FROM or a
  # `docker run` of an image that is not here) goes to a closed loopback port and fails at once
  # ("proxyconnect ... connection refused"): no test can reach a public registry, even by
  # mistake. (Environment, not daemon.json "proxies": Debian's dockerd 20.10 predates that key.)
  (export HTTP_PROXY="$NO_PULL_PROXY" HTTPS_PROXY="$NO_PULL_PROXY" NO_PROXY=127.0.0.1,localhost,::1
   start_daemon dockerd dockerd --config-file "$CLUSTER_STATE/docker/daemon.json")
  wait_for dockerd 60 _dockerd_up
  local api
  api="$(docker version --format '{{.Server.APIVersion}}' 2>/dev/null)" \
    || die dockerd "docker CLI $(command -v docker) cannot talk to the daemon: $(docker version 2>&1 | tail -n 3)"
  log "dockerd up: server $(docker version --format '{{.Server.Version}}') (API $api), client $(docker version --format '{{.Client.Version}}') at $(command -v docker)"
}

# stop_dockerd: stops the containers of our dockerd, dockerd, its containerd and shims,
# deletes docker0 and unmounts what is left under /var/lib/docker and /run/docker*.
stop_dockerd() {
  local ids pid
  if is_running dockerd && _dockerd_up >/dev/null 2>&1; then
    ids="$(DOCKER_HOST="unix://$DOCKER_SOCK" docker ps -q 2>/dev/null || true)"
    if [ -n "$ids" ]; then
      log "stopping containers: $(echo "$ids" | tr '\n' ' ')"
      # shellcheck disable=SC2086
      DOCKER_HOST="unix://$DOCKER_SOCK" timeout 60 docker stop -t 3 $ids >/dev/null 2>&1 || true
    fi
  fi
  stop_daemon dockerd
  stop_daemon docker-containerd
  # shims of our containerd (they outlive it by design); matched by its socket address
  for pid in $(pgrep -f "containerd-shim.*-address $DOCKER_CONTAINERD_SOCK( |\$)" 2>/dev/null || true); do
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in containerd-shim*) ;; *) continue ;; esac
    # the container's init is the shim's child; killing it ends the container's PID namespace
    log "killing leftover shim pid $pid and its container process(es) $(pgrep -P "$pid" | tr '\n' ' ')"
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  if ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 2>/dev/null || log "could not delete docker0"
  fi
  _docker_unmount_leftovers
  pgrep -x dockerd >/dev/null || rm -f "$DOCKER_SOCK" "$DOCKER_EXEC_ROOT.pid"
}

_docker_unmount_leftovers() {
  local m
  # mountinfo field 5 is the mount point; deepest first
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done < <(awk -v a="$DOCKER_DATA_ROOT" '
             { p = $5 } index(p, a "/") == 1 || p == a || p ~ /^\/(var\/)?run\/docker([.\/-]|$)/ { print length(p), p }
           ' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-)
  return 0
}

# ---------------------------------------------------------------------------------------
# registries (Debian's docker-registry, distribution 2.8)

REGISTRY_AUTH_ENV="$CLUSTER_STATE/registry-auth.env"

# _registry_config <name> <addr> <storage dir> [htpasswd file]
_registry_config() {
  local name="$1" addr="$2" storage="$3" htpasswd="${4:-}"
  {
    cat <<EOT
version: 0.1
log:
  level: info
  fields:
    service: $name
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  secret: gantry-local-$name
  headers:
    X-Content-Type-Options: [nosniff]
EOT
    if [ -n "$htpasswd" ]; then
      cat <<EOT
auth:
  htpasswd:
    realm: gantry-registry
    path: $htpasswd
EOT
    fi
  } >"$CLUSTER_STATE/$name.yml"
}

# _registry_credentials: creates $CLUSTER_STATE/registry-auth.env (0600) once, with
# REGISTRY_USER=gantry and a random REGISTRY_PASSWORD, and the bcrypt htpasswd file for it.
_registry_credentials() {
  local htpasswd="$CLUSTER_STATE/registry-auth.htpasswd" pw
  if [ ! -s "$REGISTRY_AUTH_ENV" ]; then
    pw="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
    ( umask 077; printf 'REGISTRY_USER=gantry\nREGISTRY_PASSWORD=%s\n' "$pw" >"$REGISTRY_AUTH_ENV.tmp" )
    mv "$REGISTRY_AUTH_ENV.tmp" "$REGISTRY_AUTH_ENV"
  fi
  chmod 0600 "$REGISTRY_AUTH_ENV"
  local REGISTRY_USER REGISTRY_PASSWORD
  # shellcheck disable=SC1090
  . "$REGISTRY_AUTH_ENV"
  if ! htpasswd -vb "$htpasswd" "$REGISTRY_USER" "$REGISTRY_PASSWORD" >/dev/null 2>&1; then
    ( umask 077; htpasswd -Bbc "$htpasswd" "$REGISTRY_USER" "$REGISTRY_PASSWORD" >/dev/null 2>&1 ) \
      || die registry-auth "htpasswd failed"
  fi
}

_registry_open_up() { curl -fsS -o /dev/null "http://$REGISTRY/v2/"; }
_registry_auth_up() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "http://$AUTH_REGISTRY/v2/")" = 401 ]; }

# start_registries: open registry on $REGISTRY (127.0.0.1:5000), htpasswd one on
# $AUTH_REGISTRY (127.0.0.1:5001); storage in $CLUSTER_STATE/registry{,-auth}. Idempotent.
# Credentials for the second: `. "$CLUSTER_STATE/registry-auth.env"`.
start_registries() {
  command -v docker-registry >/dev/null || die registry "docker-registry not installed (run install_docker_packages)"
  mkdir -p "$CLUSTER_STATE/registry" "$CLUSTER_STATE/registry-auth"
  _registry_credentials
  _registry_config registry "$REGISTRY" "$CLUSTER_STATE/registry"
  _registry_config registry-auth "$AUTH_REGISTRY" "$CLUSTER_STATE/registry-auth" "$CLUSTER_STATE/registry-auth.htpasswd"
  if ! is_running registry && _registry_open_up 2>/dev/null; then
    die registry "something we did not start already answers on $REGISTRY"
  fi
  if ! is_running registry-auth && curl -s -o /dev/null "http://$AUTH_REGISTRY/v2/"; then
    die registry-auth "something we did not start already answers on $AUTH_REGISTRY"
  fi
  start_daemon registry docker-registry serve "$CLUSTER_STATE/registry.yml"
  start_daemon registry-auth docker-registry serve "$CLUSTER_STATE/registry-auth.yml"
  wait_for registry 30 _registry_open_up
  wait_for registry-auth 30 _registry_auth_up
}

stop_registries() {
  stop_daemon registry
  stop_daemon registry-auth
}

# ---------------------------------------------------------------------------------------
# base images, built locally (nothing can be pulled here)

# Bump when the way the images are assembled changes, to force a rebuild everywhere.
_GANTRY_IMAGES_RECIPE=1

# _drop_if_dangling <image id>: removes a replaced image once no tag points to it.
_drop_if_dangling() {
  [ -n "$1" ] || return 0
  if [ "$(docker image inspect --format '{{len .RepoTags}}' "$1" 2>/dev/null)" = 0 ]; then
    docker rmi "$1" >/dev/null 2>&1 || true
  fi
}

_image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null; }

# _registry_manifest_config <repo> <tag>: config digest of the tag in the open registry.
_registry_manifest_config() {
  curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null | jq -r '.config.digest // empty'
}

# _registry_image_label <repo> <tag> <label>: a label of the tag in the open registry.
_registry_image_label() {
  local digest
  digest="$(_registry_manifest_config "$1" "$2")" && [ -n "$digest" ] || return 1
  curl -fsS "http://$REGISTRY/v2/$1/blobs/$digest" 2>/dev/null | jq -r --arg l "$3" '.config.Labels[$l] // empty'
}

# build_base_images: the pause image ($PAUSE_IMAGE, also saved to
# $GANTRY_CACHE/images/pause.tar) and the Node base image ($NODE_BASE_IMAGE, pushed to
# the open registry). Needs start_dockerd and start_registries. Skips what is up to date
# (same sources, same host node/npm/busybox) unless GANTRY_REBUILD_IMAGES=1.
build_base_images() {
  docker_env
  _dockerd_up >/dev/null 2>&1 || die dockerd "not running (start_dockerd first)"
  _registry_open_up 2>/dev/null || die registry "not running (start_registries first)"
  mkdir -p "$GANTRY_CACHE/images"
  _build_pause_image
  _build_node_image
}

_build_pause_image() {
  local src="$DOCKER_IMAGES_DIR/pause" tar="$GANTRY_CACHE/images/pause.tar" hash ctx old_id
  hash="$( { echo "recipe $_GANTRY_IMAGES_RECIPE $PAUSE_IMAGE"; cat "$src/Dockerfile" "$src/pause.c"; gcc -dumpfullversion; } | sha256sum | cut -c1-16)"
  if [ "${GANTRY_REBUILD_IMAGES:-0}" != 1 ]; then
    if [ -f "$tar" ] && [ "$(cat "$tar.build-hash" 2>/dev/null)" = "$hash" ]; then
      if [ "$(_image_label "$PAUSE_IMAGE" org.gantry.build-hash)" != "$hash" ]; then
        log "pause: loading $tar"
        docker load -q -i "$tar" >/dev/null || die docker "docker load $tar failed"
      fi
      log "pause: $PAUSE_IMAGE up to date ($tar)"
      return 0
    fi
    if [ "$(_image_label "$PAUSE_IMAGE" org.gantry.build-hash)" = "$hash" ]; then
      _save_pause_image "$hash"
      return 0
    fi
  fi
  log "pause: building $PAUSE_IMAGE"
  old_id="$(docker image inspect --format '{{.Id}}' "$PAUSE_IMAGE" 2>/dev/null || true)"
  ctx="$(mktemp -d /tmp/gantry-pause.XXXXXX)"
  cp "$src/Dockerfile" "$ctx/"
  if ! gcc -static -O2 -s -Wall -o "$ctx/pause" "$src/pause.c" >"$CLUSTER_LOGS/image-pause.log" 2>&1 \
     || ! docker build -q --label "org.gantry.build-hash=$hash" -t "$PAUSE_IMAGE" "$ctx" >>"$CLUSTER_LOGS/image-pause.log" 2>&1; then
    rm -rf "$ctx"
    die image-pause "build of $PAUSE_IMAGE failed"
  fi
  rm -rf "$ctx"
  _drop_if_dangling "$old_id"
  _save_pause_image "$hash"
}

_save_pause_image() {
  local tar="$GANTRY_CACHE/images/pause.tar"
  docker save -o "$tar.tmp" "$PAUSE_IMAGE" || die docker "docker save $PAUSE_IMAGE failed"
  chmod 0644 "$tar.tmp"
  mv "$tar.tmp" "$tar"
  echo "$1" >"$tar.build-hash"
  log "pause: saved $PAUSE_IMAGE to $tar"
}

_build_node_image() {
  local src="$DOCKER_IMAGES_DIR/node" node_bin npm_dir node_version npm_version hash
  local repo tag ref="$NODE_BASE_IMAGE" local_id remote_id
  node_bin="$(readlink -f "$(command -v node)")" || die image-node "node not found on PATH"
  npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)" || die image-node "npm not found on PATH"
  node_version="$("$node_bin" --version)"; node_version="${node_version#v}"
  npm_version="$("$node_bin" -p "require('$npm_dir/package.json').version")"
  hash="$( { echo "recipe $_GANTRY_IMAGES_RECIPE node $node_version npm $npm_version";
             dpkg-query -W -f='${Version}\n' busybox-static; cat "$src/Dockerfile"; } | sha256sum | cut -c1-16)"
  repo="${ref#"$REGISTRY"/}"; tag="${repo##*:}"; repo="${repo%:*}"

  if [ "${GANTRY_REBUILD_IMAGES:-0}" != 1 ]; then
    if [ "$(_image_label "$ref" org.gantry.build-hash)" = "$hash" ]; then
      local_id="$(docker image inspect --format '{{.Id}}' "$ref")"
      remote_id="$(_registry_manifest_config "$repo" "$tag" || true)"
      if [ "$local_id" = "$remote_id" ]; then
        log "node: $ref up to date (node $node_version, npm $npm_version)"
        return 0
      fi
      _push_node_image "$ref" "$node_version"
      return 0
    fi
    if [ "$(_registry_image_label "$repo" "$tag" org.gantry.build-hash || true)" = "$hash" ]; then
      log "node: pulling $ref from the local registry"
      docker pull -q "$ref" >/dev/null || die docker "docker pull $ref failed"
      return 0
    fi
  fi

  log "node: building $ref (node $node_version, npm $npm_version)"
  local ctx old_id
  old_id="$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)"
  ctx="$(mktemp -d /tmp/gantry-node.XXXXXX)"
  # in a bash of its own so that set -e holds inside (it does not in an `if` condition)
  if ! bash -euo pipefail -c "$(declare -f _node_rootfs); _node_rootfs \"\$@\"" _node_rootfs \
        "$ctx/rootfs" "$node_bin" "$npm_dir" >"$CLUSTER_LOGS/image-node.log" 2>&1 \
     || ! tar --numeric-owner -C "$ctx/rootfs" -cf "$ctx/rootfs.tar" . 2>>"$CLUSTER_LOGS/image-node.log"; then
    rm -rf "$ctx"; die image-node "assembling the rootfs failed"
  fi
  rm -rf "$ctx/rootfs"
  cp "$src/Dockerfile" "$ctx/"
  if ! docker build --build-arg "NODE_VERSION=$node_version" --build-arg "NPM_VERSION=$npm_version" \
      --label "org.gantry.build-hash=$hash" -t "$ref" "$ctx" >>"$CLUSTER_LOGS/image-node.log" 2>&1; then
    rm -rf "$ctx"; die image-node "docker build of $ref failed"
  fi
  rm -rf "$ctx"
  _push_node_image "$ref" "$node_version"
  _drop_if_dangling "$old_id"
}

# _push_node_image <ref> <node version>: pushes <ref> and <repo>:<node version>.
_push_node_image() {
  local ref="$1" full="${1%:*}:$2"
  docker tag "$ref" "$full"
  log "node: pushing $ref and $full"
  docker push -q "$ref" >>"$CLUSTER_LOGS/image-node.log" 2>&1 || die image-node "docker push $ref failed"
  docker push -q "$full" >>"$CLUSTER_LOGS/image-node.log" 2>&1 || die image-node "docker push $full failed"
}

# _node_rootfs <dir> <node binary> <npm package dir>: the file tree of the node image.
_node_rootfs() {
  local root="$1" node_bin="$2" npm_dir="$3" lib applet
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin,local/sbin} "$root"/etc/ssl/certs \
    "$root"/root "$root"/home/node "$root"/tmp "$root"/var/tmp "$root"/proc "$root"/sys "$root"/dev
  # merged /usr, as on the host (Debian bookworm)
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp" "$root/var/tmp"; chmod 0700 "$root/root"
  chown 1000:1000 "$root/home/node"

  cp "$node_bin" "$root/usr/bin/node"
  # shared libraries ldd lists for node, the dynamic loader included, at the same paths
  for lib in $(ldd "$node_bin" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done

  mkdir -p "$root/usr/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  ln -s /usr/bin/node "$root/usr/local/bin/node"
  ln -s /usr/bin/npm "$root/usr/local/bin/npm"
  ln -s /usr/bin/npx "$root/usr/local/bin/npx"

  # busybox-static as the shell and the usual tools (/bin/sh, /usr/bin/env for npm's
  # "#!/usr/bin/env node", ls, cat, wget, ...)
  cp /bin/busybox "$root/usr/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
  done

  cat >"$root/etc/passwd" <<'EOT'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOT
  cat >"$root/etc/group" <<'EOT'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOT
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chmod 0644 "$root"/etc/passwd "$root"/etc/group "$root"/etc/nsswitch.conf "$root"/etc/ssl/certs/ca-certificates.crt
}

# import_pause_image [containerd socket]: imports $GANTRY_CACHE/images/pause.tar into
# containerd's k8s.io namespace (default socket: $CONTAINERD_ADDRESS or
# /run/containerd/containerd.sock) and pins it against image garbage collection.
import_pause_image() {
  local address="${1:-${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}}"
  local tar="$GANTRY_CACHE/images/pause.tar"
  [ -f "$tar" ] || die containerd "$tar missing (run build_base_images)"
  ctr --address "$address" -n k8s.io images import --all-platforms "$tar" >/dev/null \
    || die containerd "ctr images import $tar failed"
  ctr --address "$address" -n k8s.io images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
  # The list is read whole first: `ctr ... | grep -q` under pipefail fails when grep stops
  # reading at the match and ctr, still writing a long list, gets SIGPIPE.
  local images
  images="$(ctr --address "$address" -n k8s.io images ls -q)" || die containerd "ctr images ls failed"
  grep -qxF "$PAUSE_IMAGE" <<<"$images" \
    || die containerd "$PAUSE_IMAGE not listed in namespace k8s.io after import"
  log "imported $PAUSE_IMAGE into containerd ($address, namespace k8s.io)"
}
