#!/usr/bin/env bash
# Self-test of the data images (images/data/build.sh): builds them if needed, then for each
# one runs a fresh instance with `docker run` (the data dir a root-owned host directory, as
# an emptyDir is) and a seed in /docker-entrypoint-initdb.d, connects with the real npm
# driver (mysql2, pg, mongodb, ioredis, installed in a temporary directory only) and checks:
# the seed ran, a wrong password is refused, SIGTERM stops the server within 5 s, and after
# a restart on the same data dir the seed did not run again. Prints the time from
# `docker run` to the first successful query.
#   bash test/cluster/images/data/selftest.sh        # needs dockerd + registries (test/setup.sh)
# All traffic goes to 127.0.0.1, Docker's bridge and the npm registry (for the drivers).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../lib/common.sh
source "$here/../../lib/common.sh"
# shellcheck source=../../lib/docker.sh
source "$here/../../lib/docker.sh"
docker_env

work="$(mktemp -d /tmp/gantry-data-selftest.XXXXXX)"
passed=0
cleanup() {
  local rc=$? n
  for n in mariadb postgres redis ferretdb; do docker rm -f "gantry-selftest-$n" >/dev/null 2>&1 || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); log "ok: $*"; }
fail() { die selftest "$*"; }

bash "$here/build.sh"
log "images: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'gantry/(mariadb|postgres|redis|ferretdb):' | tr '\n' ';')"

log "installing mysql2 pg mongodb@6 ioredis in $work/drivers"
mkdir -p "$work/drivers"
(cd "$work/drivers" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent mysql2 pg mongodb@6 ioredis >/dev/null) \
  || fail "npm install of the drivers failed"
export DRIVERS_DIR="$work/drivers"

# instance <name> [docker run options]: docker run of a fresh or restarted instance
instance() {
  local name="$1" image env=() args=() mount
  shift
  case "$name" in
    mariadb) image="$REGISTRY/gantry/mariadb:10.11"; mount=/var/lib/mysql
      env=(-e MYSQL_ROOT_PASSWORD=rootSecret1 -e MYSQL_DATABASE=hello -e MYSQL_USER=hello -e MYSQL_PASSWORD=Secret1) ;;
    postgres) image="$REGISTRY/gantry/postgres:15"; mount=/var/lib/postgresql/data
      env=(-e POSTGRES_USER=hello -e POSTGRES_PASSWORD=Secret2 -e POSTGRES_DB=hello) ;;
    redis) image="$REGISTRY/gantry/redis:7"; mount=/data; args=(redis-server --requirepass Secret4) ;;
    ferretdb) image="$REGISTRY/gantry/ferretdb:1.24"; mount=/data/db
      env=(-e MONGO_INITDB_ROOT_USERNAME=hello -e MONGO_INITDB_ROOT_PASSWORD=Secret3 -e MONGO_INITDB_DATABASE=hello) ;;
  esac
  docker run -d --name "gantry-selftest-$name" "$@" "${env[@]}" -v "$work/$name/data:$mount" \
    -v "$work/$name/init:/docker-entrypoint-initdb.d:ro" "$image" "${args[@]}" >/dev/null
}

# check <name> <kind> <port> <user> <password>: prints the JSON line of check.mjs
check() {
  local ip
  ip="$(docker inspect -f '{{.NetworkSettings.IPAddress}}' "gantry-selftest-$1")"
  node "$here/check.mjs" "$2" "$ip" "$3" "$4" "$5" hello 30000 || { docker logs "gantry-selftest-$1" 2>&1 | tail -n 20 >&2; fail "$1: no answer"; }
}

# seeds: a table/collection "seeded" with one row (redis: none, the key counts connections);
# each .sh seed logs a line that must appear once over the two starts
mkdir -p "$work"/{mariadb,postgres,redis,ferretdb}/{data,init}
printf 'CREATE TABLE seeded (id INT PRIMARY KEY AUTO_INCREMENT);\nINSERT INTO seeded () VALUES ();\n' >"$work/mariadb/init/01-seed.sql"
printf 'CREATE TABLE seeded (id serial PRIMARY KEY);\nINSERT INTO seeded DEFAULT VALUES;\n' | gzip >"$work/postgres/init/01-seed.sql.gz"
for n in mariadb postgres ferretdb; do printf 'echo "SEED-SH-RAN in %s"\n' "$n" >"$work/$n/init/00-hello.sh"; done
echo 'db.x.insertOne({})' >"$work/ferretdb/init/02-ignored.js"

for spec in "mariadb mysql 3306 hello Secret1" "postgres postgresql 5432 hello Secret2" \
            "ferretdb mongodb 27017 hello Secret3" "redis redis 6379 default Secret4"; do
  read -r name kind port user pw <<<"$spec"
  t0="$(date +%s%N)"
  instance "$name"
  out="$(check "$name" "$kind" "$port" "$user" "$pw")"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$(jq -r .rows <<<"$out")" = 1 ] || fail "$name: seed not seen: $out"
  [ "$(jq -r .wrongPasswordRefused <<<"$out")" = true ] || fail "$name: a wrong password was not refused: $out"
  if [ "$name" != redis ]; then
    runs="$(grep -c SEED-SH-RAN < <(docker logs "gantry-selftest-$name" 2>&1) || true)"
    [ "$runs" = 1 ] || fail "$name: the .sh seed ran $runs times on the first start"
  fi
  ok "$name: fresh instance answered with its seed ${ms} ms after docker run; wrong password refused"
  t0="$(date +%s%N)"
  docker stop -t 10 "gantry-selftest-$name" >/dev/null
  stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$stop_ms" -lt 5000 ] || fail "$name: SIGTERM took $stop_ms ms"
  [ "$(docker inspect -f '{{.State.ExitCode}}' "gantry-selftest-$name")" != 137 ] || fail "$name: killed, not stopped by SIGTERM"
  ok "$name: stopped by SIGTERM in $stop_ms ms"
  docker rm "gantry-selftest-$name" >/dev/null
  instance "$name"
  out="$(check "$name" "$kind" "$port" "$user" "$pw")"
  # redis counts connections instead (INCR): 2 means the data survived the restart
  want=1; [ "$name" = redis ] && want=2
  [ "$(jq -r .rows <<<"$out")" = "$want" ] || fail "$name: after a restart on the same data: $out (want rows $want)"
  if [ "$name" != redis ]; then
    runs="$(grep -c SEED-SH-RAN < <(docker logs "gantry-selftest-$name" 2>&1) || true)"
    [ "$runs" = 0 ] || fail "$name: the .sh seed ran again on restart"
  fi
  ok "$name: restart on the same data dir kept the data and did not seed again"
  docker rm -f "gantry-selftest-$name" >/dev/null
done
# started as a non-root user (securityContext.runAsUser): no chown, the server runs as that
# user in a data dir it can write (an emptyDir is 0777)
for spec in "mariadb mysql 3306 hello Secret1" "postgres postgresql 5432 hello Secret2" \
            "ferretdb mongodb 27017 hello Secret3" "redis redis 6379 default Secret4"; do
  read -r name kind port user pw <<<"$spec"
  rm -rf "$work/$name/data"; mkdir -m 0777 "$work/$name/data"
  instance "$name" --user 999:999
  out="$(check "$name" "$kind" "$port" "$user" "$pw")"
  [ "$(jq -r .ok <<<"$out")" = true ] || fail "$name as uid 999: $out"
  ok "$name: runs as uid 999 when started as that user"
  docker rm -f "gantry-selftest-$name" >/dev/null
done
log "data images selftest: $passed checks passed"
