#!/bin/sh
# Entrypoint of the test image 127.0.0.1:5000/gantry/ferretdb:1.24 (the "mongodb" kind):
# FerretDB over its SQLite backend, data in /data/db, honouring the mongo image's
# MONGO_INITDB_ROOT_USERNAME / MONGO_INITDB_ROOT_PASSWORD / MONGO_INITDB_DATABASE.
# With a root user, FerretDB runs with its SCRAM authentication (--test-enable-new-auth)
# and creates that user in the admin database on the first start (--setup-*), so clients
# connect with mongodb://user:pass@host:27017/db?authSource=admin (SCRAM-SHA-256 or -1)
# and unauthenticated commands are refused. /docker-entrypoint-initdb.d/*.sh run once when
# the data dir is new, while FerretDB listens on 127.0.0.1 only; there is no mongosh, so
# .js files are not run (a warning says so). Then FerretDB listens on 0.0.0.0:27017 as
# PID 1 (SIGTERM stops it).
set -eu

DATA=/data/db
say() { echo "entrypoint: $*" >&2; }

# Started as root (the default), the entrypoint chowns the data dir (an emptyDir is owned by
# root) and runs the server as uid 999; started as another user (securityContext.runAsUser),
# it runs the server as that user, who must be able to write the data dir (fsGroup).
if [ "$(id -u)" = 0 ]; then AS="runas 999:999"; else AS=""; fi

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- ferretdb "$@"; fi
[ "$1" = ferretdb ] || exec "$@"
shift

# An emptyDir (and a fresh docker volume) is owned by root.
mkdir -p "$DATA"
[ -z "$AS" ] || chown 999:999 "$DATA"

set -- --handler=sqlite --sqlite-url="file:$DATA/" --state-dir="$DATA" --telemetry=disable \
  --debug-addr=- --log-level="${FERRETDB_LOG_LEVEL:-info}" "$@"
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
  if [ -z "${MONGO_INITDB_ROOT_PASSWORD:-}" ]; then
    say "error: MONGO_INITDB_ROOT_USERNAME is set but MONGO_INITDB_ROOT_PASSWORD is not"
    exit 1
  fi
  # The password goes through the environment, not the command line (ps would show it).
  export FERRETDB_SETUP_PASSWORD="$MONGO_INITDB_ROOT_PASSWORD"
  set -- --test-enable-new-auth --setup-database=admin --setup-username="$MONGO_INITDB_ROOT_USERNAME" "$@"
fi

marker="$DATA/.gantry-initialised"
if [ ! -e "$marker" ]; then
  seeds=""
  for f in /docker-entrypoint-initdb.d/*; do if [ -e "$f" ]; then seeds=1; fi; done
  if [ -n "$seeds" ]; then
    $AS ferretdb "$@" --listen-addr=127.0.0.1:27017 &
    pid=$!
    i=0
    # busybox's nc has no -z: a listening socket on port 27017 (0x6989) in /proc/net/tcp
    until grep -q '^ *[0-9]*: [0-9A-F]*:6989 [0-9A-F]*:0000 0A' /proc/net/tcp; do
      kill -0 "$pid" 2>/dev/null || { say "error: FerretDB exited during initialisation"; exit 1; }
      i=$((i + 1)); [ "$i" -lt 300 ] || { say "error: FerretDB did not listen in 30 s"; exit 1; }
      sleep 0.1
    done
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) say "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
        *.js) say "warning: ignoring $f: this image has no mongosh (FerretDB test image); seed with a .sh or a seed command" ;;
        *) say "ignoring $f" ;;
      esac
    done
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  touch "$marker"
fi

exec $AS ferretdb "$@" --listen-addr=0.0.0.0:27017
