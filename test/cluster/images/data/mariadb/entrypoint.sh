#!/bin/sh
# Entrypoint of the test image 127.0.0.1:5000/gantry/mariadb (the "mysql" kind), honouring
# the contract of the official mysql/mariadb images: MYSQL_ROOT_PASSWORD, MYSQL_DATABASE,
# MYSQL_USER, MYSQL_PASSWORD; data in /var/lib/mysql; on an empty data dir the server is
# initialised and /docker-entrypoint-initdb.d/* (.sh, .sql, .sql.gz) run once, in name
# order, against MYSQL_DATABASE while the server listens only on its unix socket; then the
# server starts for real on 0.0.0.0:3306 as PID 1 (SIGTERM stops it).
set -eu

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

say() { echo "entrypoint: $*" >&2; }

# Started as root (the default), the entrypoint chowns the data dir (an emptyDir is owned by
# root) and runs the server as uid 999; started as another user (securityContext.runAsUser),
# it runs the server as that user, who must be able to write the data dir (fsGroup).
if [ "$(id -u)" = 0 ]; then AS="runas 999:999"; else AS=""; fi

# "docker run image --flag" and "docker run image" start the server with those flags
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
case "$1" in mariadbd | mysqld) shift ;; *) exec "$@" ;; esac

# An emptyDir (and a fresh docker volume) is owned by root.
mkdir -p "$DATADIR" /run/mysqld
[ -z "$AS" ] || chown 999:999 "$DATADIR" /run/mysqld

# skip-name-resolve: the test cluster has no DNS; a reverse lookup per client would stall.
SERVER_ARGS="--datadir=$DATADIR --socket=$SOCKET --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci"

sql_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }
sql_ident() { printf '%s' "$1" | sed -e 's/`/``/g'; }

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    say "error: database is uninitialized and MYSQL_ROOT_PASSWORD is not set (or MYSQL_ALLOW_EMPTY_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD)"
    exit 1
  fi
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    say "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi
  say "initialising $DATADIR"
  mariadb-install-db ${AS:+--user=mysql} --datadir="$DATADIR" --skip-test-db --skip-name-resolve \
    --auth-root-authentication-method=normal >/dev/null

  # shellcheck disable=SC2086
  $AS mariadbd $SERVER_ARGS --skip-networking &
  pid=$!
  i=0
  until mariadb --protocol=socket --socket="$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { say "error: the server exited during initialisation"; exit 1; }
    i=$((i + 1)); [ "$i" -lt 300 ] || { say "error: the server did not answer on $SOCKET in 30 s"; exit 1; }
    sleep 0.1
  done

  root_pw="$(sql_string "${MYSQL_ROOT_PASSWORD:-}")"
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
    echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost');"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_pw';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$(sql_ident "$MYSQL_DATABASE")\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
      echo "CREATE USER '$(sql_string "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_string "$MYSQL_PASSWORD")';"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "GRANT ALL ON \`$(sql_ident "$MYSQL_DATABASE")\`.* TO '$(sql_string "$MYSQL_USER")'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --protocol=socket --socket="$SOCKET" -uroot

  # The client reads the root password from an option file, never from its command line.
  cnf="$(mktemp)"
  printf '[client]\nuser=root\npassword="%s"\nsocket=%s\nprotocol=socket\n' "$(sql_string "${MYSQL_ROOT_PASSWORD:-}")" "$SOCKET" >"$cnf"
  mysql_db() { mariadb --defaults-extra-file="$cnf" ${MYSQL_DATABASE:+"$MYSQL_DATABASE"}; }
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) say "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) say "running $f"; mysql_db <"$f" ;;
      *.sql.gz) say "running $f"; gunzip -c "$f" | mysql_db ;;
      *) say "ignoring $f" ;;
    esac
  done
  rm -f "$cnf"

  kill -TERM "$pid"
  wait "$pid" || true
  say "initialisation done"
fi

# shellcheck disable=SC2086
exec $AS mariadbd $SERVER_ARGS --bind-address=0.0.0.0 --port=3306 "$@"
