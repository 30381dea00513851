#!/usr/bin/env bash
# The database images the tests run (the "Instance image contract" of the official images),
# built offline and pushed to the open local registry:
#   127.0.0.1:5000/gantry/mariadb:10.11   Debian's mariadb-server-core + mariadb-client-core
#   127.0.0.1:5000/gantry/postgres:15     Debian's postgresql-15 + postgresql-client-15
#   127.0.0.1:5000/gantry/redis:7         Debian's redis-server + redis-tools
#   127.0.0.1:5000/gantry/ferretdb:1.24   FerretDB v1.24.2 from the Go module proxy (SQLite)
# Each is FROM scratch plus a rootfs: the packages and their dependency closure extracted
# with dpkg-deb (no maintainer scripts, nothing installed on the host), busybox-static as
# /bin/sh, runas (runas.c, static) and the image's entrypoint.sh.
#
#   bash test/cluster/images/data/build.sh [mariadb|postgres|redis|ferretdb ...]
#
# Needs dockerd and the registries (up.sh starts them first). An image is rebuilt only when
# its inputs change: this script, runas.c, the image's Dockerfile and entrypoint.sh, the
# candidate versions of its root packages (or FerretDB's and Go's versions), busybox's and
# gcc's; their hash is the image label org.gantry.build-hash, compared with the local image
# and the registry's copy (GANTRY_REBUILD_IMAGES=1 forces a rebuild). Downloads are cached
# in $GANTRY_CACHE/images/debs and $GANTRY_CACHE/images/ferretdb-<version>, the Go module
# and build caches in $GANTRY_CACHE/go like build/build.sh.
set -euo pipefail

DATA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../lib/common.sh
source "$DATA_DIR/../../lib/common.sh"
# shellcheck source=../../lib/docker.sh
source "$DATA_DIR/../../lib/docker.sh"

# Bump when the way the images are assembled changes, to force a rebuild everywhere.
DATA_IMAGES_RECIPE=1
FERRETDB_VERSION=v1.24.2
DEB_CACHE="$GANTRY_CACHE/images/debs"

# What the closure leaves out: maintainer-script tooling (perl, debconf, adduser, ...),
# the wrappers of postgresql-common (the entrypoint calls the binaries themselves), the
# locales (glibc has C.UTF-8 built in), libllvm (PostgreSQL's JIT, off in the image) and
# packages only other parts of the server packages need.
EXCLUDE='perl|perl-base|perl:any|debconf|debconf-2.0|adduser|lsb-base|init-system-helpers|postgresql-common|postgresql-client-common|locales|locales-all|ssl-cert|libllvm14|passwd|debianutils|sensible-utils|ucf|dpkg|tar|galera-4|libconfig-inifiles-perl'

# image <name>: sets REF, ROOTS (Debian packages; none for ferretdb), CHECK (a command run
# in the rootfs with chroot to prove its libraries are complete).
image() {
  case "$1" in
    mariadb) REF="$REGISTRY/gantry/mariadb:10.11"; ROOTS="mariadb-server-core mariadb-client-core"
             CHECK="/usr/sbin/mariadbd --version" ;;
    postgres) REF="$REGISTRY/gantry/postgres:15"; ROOTS="postgresql-15 postgresql-client-15 tzdata"
              CHECK="/usr/lib/postgresql/15/bin/postgres --version" ;;
    redis) REF="$REGISTRY/gantry/redis:7"; ROOTS="redis-server redis-tools"
           CHECK="/usr/bin/redis-server --version" ;;
    ferretdb) REF="$REGISTRY/gantry/ferretdb:1.24"; ROOTS=""
              CHECK="/usr/local/bin/ferretdb --version" ;;
    *) die image-data "unknown image '$1' (want mariadb, postgres, redis or ferretdb)" ;;
  esac
}

# apt_show <pkg...>: apt-cache show of the candidates; updates the package lists once when
# they are missing (a fresh machine).
apt_show() {
  local out
  if out="$(apt-cache show --no-all-versions "$@" 2>/dev/null)"; then printf '%s\n' "$out"; return 0; fi
  log "data images: apt-get update (package lists missing)"
  DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update >/dev/null || die image-data "apt-get update failed"
  apt-cache show --no-all-versions "$@"
}

# root_versions <pkg...>: "name version" lines of the candidates (part of the build hash).
root_versions() {
  [ "$#" -gt 0 ] || return 0
  apt_show "$@" | awk '/^Package:/{p=$2} /^Version:/{print p, $2}'
}

# closure <pkg...>: "name version deb" (deb: the file name apt-get download gives it, the
# epoch's colon as %3a) of the packages and their Depends/Pre-Depends,
# first alternative of each, minus $EXCLUDE; one apt-cache call per level of the graph.
closure() {
  local -A seen=()
  local -a level=("$@") next
  local p info
  while [ "${#level[@]}" -gt 0 ]; do
    info="$(apt_show "${level[@]}")" || die image-data "apt-cache show ${level[*]} failed"
    for p in "${level[@]}"; do seen[$p]=1; done
    awk '/^Package:/{p=$2} /^Version:/{v=$2} /^Architecture:/{a=$2}
         /^$/{ if (p != "") { f = v; sub(/:/, "%3a", f); print p, v, p "_" f "_" a ".deb" }; p = "" }
         END{ if (p != "") { f = v; sub(/:/, "%3a", f); print p, v, p "_" f "_" a ".deb" } }' <<<"$info"
    next=()
    for p in $(awk '/^(Depends|Pre-Depends):/{sub(/^[^:]+: /,""); print}' <<<"$info" \
               | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | sort -u); do
      [[ "$p" =~ ^($EXCLUDE)$ ]] && continue
      [ -n "${seen[$p]:-}" ] && continue
      seen[$p]=1
      next+=("$p")
    done
    level=("${next[@]}")
  done
}

# build_hash <name>
build_hash() {
  local name="$1"
  image "$name"
  {
    echo "recipe $DATA_IMAGES_RECIPE $REF"
    cat "$DATA_DIR/build.sh" "$DATA_DIR/runas.c" "$DATA_DIR/$name/Dockerfile" "$DATA_DIR/$name/entrypoint.sh"
    local r
    for r in $ROOTS; do grep "^$r " <<<"$ROOT_VERSIONS" || die image-data "no candidate version of $r"; done
    dpkg-query -W -f='busybox ${Version}\n' busybox-static
    gcc -dumpfullversion
    if [ "$name" = ferretdb ]; then echo "ferretdb $FERRETDB_VERSION $(go_bin) $("$(go_bin)" env GOVERSION)"; fi
  } | sha256sum | cut -c1-16
}

go_bin() {
  if [ -n "${GO:-}" ]; then echo "$GO"; elif command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die image-ferretdb "no Go toolchain found (set GO=/path/to/go or put go on PATH)"; fi
}

# ferretdb_binary: prints the path of the static ferretdb binary, building it once per
# version and Go version. The module is copied out of the module cache because its
# build/version/version.txt, which `task gen-version` writes in FerretDB's own builds, must
# exist (FerretDB panics at start without a version).
ferretdb_binary() {
  local go gov out src log="$CLUSTER_LOGS/image-ferretdb.log"
  go="$(go_bin)"; gov="$("$go" env GOVERSION)"
  out="$GANTRY_CACHE/images/ferretdb-$FERRETDB_VERSION/$gov/ferretdb"
  if [ -x "$out" ]; then echo "$out"; return 0; fi
  log "ferretdb: building FerretDB $FERRETDB_VERSION with $gov"
  mkdir -p "$GANTRY_CACHE/go/mod" "$GANTRY_CACHE/go/build" "$(dirname "$out")"
  src="$(mktemp -d /tmp/gantry-ferretdb.XXXXXX)"
  if ! (
    export GOMODCACHE="$GANTRY_CACHE/go/mod" GOCACHE="$GANTRY_CACHE/go/build" GOTOOLCHAIN=local \
      CGO_ENABLED=0 GOFLAGS=-buildvcs=false
    dir="$("$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | jq -r .Dir)"
    cp -r "$dir/." "$src/"
    chmod -R u+w "$src"
    echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
    echo gantry-test >"$src/build/version/package.txt"
    cd "$src" && "$go" build -trimpath -ldflags='-s -w' -o "$out.tmp" ./cmd/ferretdb
  ) >"$log" 2>&1; then
    rm -rf "$src"; die image-ferretdb "go build of FerretDB $FERRETDB_VERSION failed"
  fi
  rm -rf "$src"
  mv "$out.tmp" "$out"
  echo "$out"
}

# rootfs <name> <dir>: the file tree of the image.
rootfs() {
  local name="$1" root="$2" p v f applet
  image "$name"
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin,local/sbin} "$root"/etc "$root"/root \
    "$root"/tmp "$root"/var/tmp "$root"/run "$root"/proc "$root"/sys "$root"/dev "$root"/docker-entrypoint-initdb.d
  # merged /usr as on the host; the tar below keeps these links (bookworm's packages still
  # ship files under /lib and /bin)
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  ln -s /run "$root/var/run"
  chmod 1777 "$root/tmp" "$root/var/tmp"; chmod 0700 "$root/root"
  # the servers' socket directories, writable for a server started as a non-root user
  mkdir -p "$root/run/mysqld" "$root/run/postgresql"
  chmod 1777 "$root/run/mysqld" "$root/run/postgresql"

  if [ -n "$ROOTS" ]; then
    mkdir -p "$DEB_CACHE/partial"
    local -a want=() missing=()
    # shellcheck disable=SC2086
    while read -r p v f; do
      want+=("$f")
      [ -s "$DEB_CACHE/$f" ] || missing+=("$p=$v")
    done < <(closure $ROOTS)
    if [ "${#missing[@]}" -gt 0 ]; then
      log "$name: apt-get download of ${#missing[@]} packages"
      (cd "$DEB_CACHE" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}") >>"$CLUSTER_LOGS/image-$name.log" 2>&1 \
        || die "image-$name" "apt-get download ${missing[*]} failed"
    fi
    for f in "${want[@]}"; do
      [ -s "$DEB_CACHE/$f" ] || die "image-$name" "$DEB_CACHE/$f missing after apt-get download"
      dpkg-deb --fsys-tarfile "$DEB_CACHE/$f" | tar -x --keep-directory-symlink -C "$root"
    done
  else
    cp "$(ferretdb_binary)" "$root/usr/local/bin/ferretdb"
  fi

  # what no server reads at run time
  rm -rf "$root"/usr/share/{doc,man,info,lintian,bug,bash-completion,locale} \
    "$root"/usr/lib/postgresql/15/lib/bitcode "$root"/usr/lib/postgresql/15/lib/llvmjit* \
    "$root"/etc/init.d "$root"/etc/logrotate.d "$root"/lib/systemd "$root"/usr/lib/systemd
  mkdir -p "$root"/etc/mysql/conf.d "$root"/etc/mysql/mariadb.conf.d

  cp /bin/busybox "$root/usr/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
  done
  gcc -static -O2 -s -Wall -o "$root/usr/local/bin/runas" "$DATA_DIR/runas.c"
  install -m 0755 "$DATA_DIR/$name/entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

  local user
  case "$name" in mariadb) user="mysql:x:999:999:MariaDB:/var/lib/mysql:/bin/false" ;;
    postgres) user="postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh" ;;
    redis) user="redis:x:999:999:Redis:/data:/bin/false" ;;
    ferretdb) user="ferretdb:x:999:999:FerretDB:/data:/bin/false" ;; esac
  printf 'root:x:0:0:root:/root:/bin/sh\n%s\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' "$user" >"$root/etc/passwd"
  printf 'root:x:0:\n%s:x:999:\nnogroup:x:65534:\n' "${user%%:*}" >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  chmod 0644 "$root"/etc/passwd "$root"/etc/group "$root"/etc/nsswitch.conf "$root"/etc/hosts

  # shellcheck disable=SC2086
  chroot "$root" $CHECK >/dev/null || die "image-$name" "'$CHECK' fails in the assembled rootfs (a library missing?)"
}

# forget_in_cluster <ref>: drops the tag from the cluster's containerd (when it runs), so that
# the next pod pulls the new image: with a fixed tag and the default imagePullPolicy
# (IfNotPresent) the node would go on running the one it pulled before.
forget_in_cluster() {
  local address="${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}"
  [ -S "$address" ] || return 0
  if ctr --address "$address" -n k8s.io images rm "$1" >/dev/null 2>&1; then
    log "${1##*/}: removed the previous image from the cluster's containerd"
  fi
  return 0
}

# build_one <name>: builds, pushes or skips one image.
build_one() {
  local name="$1" hash repo tag local_id remote_id ctx old_id t0
  t0="$(date +%s)"
  hash="$(build_hash "$name")"
  image "$name"
  repo="${REF#"$REGISTRY"/}"; tag="${repo##*:}"; repo="${repo%:*}"
  if [ "${GANTRY_REBUILD_IMAGES:-0}" != 1 ]; then
    if [ "$(_image_label "$REF" org.gantry.build-hash)" = "$hash" ]; then
      local_id="$(docker image inspect --format '{{.Id}}' "$REF")"
      remote_id="$(_registry_manifest_config "$repo" "$tag" || true)"
      if [ "$local_id" = "$remote_id" ]; then
        log "$name: $REF up to date"
        return 0
      fi
      log "$name: pushing $REF"
      docker push -q "$REF" >>"$CLUSTER_LOGS/image-$name.log" 2>&1 || die "image-$name" "docker push $REF failed"
      return 0
    fi
    if [ "$(_registry_image_label "$repo" "$tag" org.gantry.build-hash || true)" = "$hash" ]; then
      log "$name: pulling $REF from the local registry"
      docker pull -q "$REF" >/dev/null || die docker "docker pull $REF failed"
      return 0
    fi
  fi

  log "$name: building $REF"
  : >"$CLUSTER_LOGS/image-$name.log"
  old_id="$(docker image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)"
  ctx="$(mktemp -d /tmp/gantry-data-image.XXXXXX)"
  # in a bash of its own so that set -e holds inside (it does not in an `if` condition)
  if ! bash "$DATA_DIR/build.sh" --rootfs "$name" "$ctx/rootfs" >>"$CLUSTER_LOGS/image-$name.log" 2>&1 \
     || ! tar --numeric-owner -C "$ctx/rootfs" -cf "$ctx/rootfs.tar" . 2>>"$CLUSTER_LOGS/image-$name.log"; then
    rm -rf "$ctx"; die "image-$name" "assembling the rootfs of $REF failed"
  fi
  rm -rf "$ctx/rootfs"
  cp "$DATA_DIR/$name/Dockerfile" "$ctx/"
  if ! docker build --label "org.gantry.build-hash=$hash" -t "$REF" "$ctx" >>"$CLUSTER_LOGS/image-$name.log" 2>&1; then
    rm -rf "$ctx"; die "image-$name" "docker build of $REF failed"
  fi
  rm -rf "$ctx"
  docker push -q "$REF" >>"$CLUSTER_LOGS/image-$name.log" 2>&1 || die "image-$name" "docker push $REF failed"
  forget_in_cluster "$REF"
  _drop_if_dangling "$old_id"
  log "$name: built and pushed $REF ($(docker image inspect --format '{{.Size}}' "$REF" | awk '{printf "%.0f MB", $1/1e6}')) in $(( $(date +%s) - t0 )) s"
}

main() {
  if [ "${1:-}" = --rootfs ]; then shift; rootfs "$@"; return; fi
  docker_env
  _dockerd_up >/dev/null 2>&1 || die dockerd "not running (start_dockerd first, or bash test/setup.sh)"
  _registry_open_up 2>/dev/null || die registry "not running (start_registries first)"
  mkdir -p "$GANTRY_CACHE/images"
  local -a names=("$@")
  [ "${#names[@]}" -gt 0 ] || names=(mariadb postgres redis ferretdb)
  local name roots=""
  for name in "${names[@]}"; do image "$name"; roots="$roots $ROOTS"; done
  # one apt-cache call for all (each costs seconds when apt rebuilds its cache)
  # shellcheck disable=SC2086
  ROOT_VERSIONS="$(root_versions $roots)"
  for name in "${names[@]}"; do build_one "$name"; done
}

main "$@"
