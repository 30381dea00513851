#!/bin/sh
# Entrypoint of the test image 127.0.0.1:5000/gantry/postgres:15, honouring the contract of
# the official postgres image: POSTGRES_USER (default postgres), POSTGRES_PASSWORD,
# POSTGRES_DB (default POSTGRES_USER), PGDATA (default /var/lib/postgresql/data/pgdata); on
# an empty PGDATA initdb runs and /docker-entrypoint-initdb.d/* (.sh, .sql, .sql.gz) run
# once, in name order, against POSTGRES_DB while the server listens only on its unix
# socket; then the server starts for real on 0.0.0.0:5432 as PID 1 with password
# (scram-sha-256) authentication from any address. STOPSIGNAL is SIGINT (fast shutdown).
set -eu

BIN=/usr/lib/postgresql/15/bin
export PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

say() { echo "entrypoint: $*" >&2; }

# Started as root (the default), the entrypoint chowns the data dir (an emptyDir is owned by
# root) and runs the server as uid 999; started as another user (securityContext.runAsUser),
# it runs the server as that user, who must be able to write the data dir (fsGroup).
if [ "$(id -u)" = 0 ]; then AS="runas 999:999"; else AS=""; fi

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"
shift

# An emptyDir (and a fresh docker volume) is owned by root; PGDATA must be 0700 and ours.
mkdir -p "$PGDATA" /var/run/postgresql
if [ -n "$AS" ]; then
  chown 999:999 "$PGDATA" "$(dirname "$PGDATA")" /var/run/postgresql
  chmod 2777 /var/run/postgresql
fi
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    say "error: database is uninitialized and POSTGRES_PASSWORD is not set"
    exit 1
  fi
  say "initialising $PGDATA"
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  [ -z "$AS" ] || chown 999:999 "$pwfile"
  # --no-sync: a preview's instance lives in an emptyDir; durability across a host crash
  # buys nothing there and fsyncing the new cluster costs seconds.
  # shellcheck disable=SC2086
  $AS "$BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  # jit off: the LLVM JIT (libllvm, 100 MB) is left out of the image.
  printf "\nlisten_addresses = '*'\njit = off\n" >>"$PGDATA/postgresql.conf"

  $AS "$BIN/postgres" -D "$PGDATA" -c listen_addresses= -k /var/run/postgresql &
  pid=$!
  export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER" PGDATABASE=postgres
  i=0
  until "$BIN/psql" -Atqc 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { say "error: the server exited during initialisation"; exit 1; }
    i=$((i + 1)); [ "$i" -lt 300 ] || { say "error: the server did not answer in 30 s"; exit 1; }
    sleep 0.1
  done
  if [ "$POSTGRES_DB" != postgres ]; then
    "$BIN/psql" -v ON_ERROR_STOP=1 -q --set db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  psql_db() { "$BIN/psql" -v ON_ERROR_STOP=1 -q --dbname "$POSTGRES_DB" "$@"; }
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) say "running $f"; if [ -x "$f" ]; then PGDATABASE="$POSTGRES_DB" "$f"; else PGDATABASE="$POSTGRES_DB" . "$f"; fi ;;
      *.sql) say "running $f"; psql_db -f "$f" ;;
      *.sql.gz) say "running $f"; gunzip -c "$f" | psql_db ;;
      *) say "ignoring $f" ;;
    esac
  done
  unset PGHOST PGUSER PGDATABASE
  kill -INT "$pid"
  wait "$pid" || true
  say "initialisation done"
fi

exec $AS "$BIN/postgres" -D "$PGDATA" "$@"
