# Shared by the test/cluster scripts: paths, logging, and starting/stopping daemons with
# pid files and log files, so every component can be listed, stopped and diagnosed alike.
# shellcheck shell=bash

CLUSTER_STATE="${GANTRY_CLUSTER_STATE:-/var/lib/gantry-cluster}"   # pki, etcd, configs, logs
CLUSTER_RUN="${GANTRY_CLUSTER_RUN:-/run/gantry-cluster}"           # pid files
GANTRY_CACHE="${GANTRY_CACHE:-/var/cache/gantry}"                  # binaries, image tarballs
CLUSTER_LOGS="$CLUSTER_STATE/logs"
CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"      # test/cluster

REGISTRY="127.0.0.1:5000"        # open registry: base images, test images
AUTH_REGISTRY="127.0.0.1:5001"   # htpasswd registry: credential tests
NODE_BASE_IMAGE="$REGISTRY/gantry/node:20"
PAUSE_IMAGE="registry.local/gantry/pause:3.9"
# A closed loopback port given to dockerd and the cluster's containerd as their HTTP(S) proxy,
# with the loopback registries exempt: a pull from any other registry fails at once, locally.
NO_PULL_PROXY="http://127.0.0.1:9"

mkdir -p "$CLUSTER_STATE" "$CLUSTER_RUN" "$CLUSTER_LOGS" "$GANTRY_CACHE"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# die <component> <message>: says which component failed and shows the tail of its log.
die() {
  local component="$1"; shift
  printf '[cluster] ERROR: %s: %s\n' "$component" "$*" >&2
  if [ -f "$CLUSTER_LOGS/$component.log" ]; then
    printf '[cluster] last lines of %s:\n' "$CLUSTER_LOGS/$component.log" >&2
    tail -n 25 "$CLUSTER_LOGS/$component.log" | sed 's/^/    /' >&2
  fi
  exit 1
}

# is_running <component>: its pid file names a live process running the command we started
# (after a crash or a reboot of the session, a stale pid may belong to something else).
is_running() {
  local pidfile="$CLUSTER_RUN/$1.pid" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  [ ! -f "$CLUSTER_RUN/$1.cmd" ] || tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(cat "$CLUSTER_RUN/$1.cmd")"
}

# start_daemon <component> <command> [args...]: runs it detached, logging to logs/<component>.log.
# Does nothing when it already runs (idempotent up).
start_daemon() {
  local component="$1"; shift
  if is_running "$component"; then
    log "$component already running (pid $(cat "$CLUSTER_RUN/$component.pid"))"
    return 0
  fi
  log "starting $component"
  local pidfile="$CLUSTER_RUN/$component.pid"
  rm -f "$pidfile"
  basename "$1" > "$CLUSTER_RUN/$component.cmd"
  # The child writes its own pid and then becomes the daemon: setsid forks when the caller
  # has job control, so $! would name a process that already exited.
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" >>"$CLUSTER_LOGS/$component.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  die "$component" "did not start"
}

# stop_daemon <component>: TERM, wait up to 15 s, then KILL; removes the pid file.
stop_daemon() {
  local component="$1" pidfile="$CLUSTER_RUN/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $component (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# write_if_changed <file>: stdin becomes the file only when it differs. Daemons such as
# kube-proxy exit when their config file is rewritten, even with the same content.
write_if_changed() {
  local file="$1" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  cat > "$tmp"
  if cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; fi
}

# wait_for <component> <seconds> <command...>: polls until the command succeeds, or fails
# naming the component (and showing its log) if it died or the time ran out.
wait_for() {
  local component="$1" seconds="$2"; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$CLUSTER_RUN/$component.pid" ] && ! is_running "$component"; then
      die "$component" "exited during start-up"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "$component" "not ready after ${seconds}s (waiting for: $*)"
    sleep 0.5
  done
}
