#!/bin/sh
# Entrypoint of the test image 127.0.0.1:5000/gantry/redis:7: runs `redis-server` with the
# arguments it is given (a deploy passes `redis-server --requirepass <password>`), listening
# on 0.0.0.0:6379 with protected-mode off and its data in /data, as PID 1 (SIGTERM stops
# it), like the official redis image.
set -eu

# Started as root (the default), the entrypoint chowns the data dir (an emptyDir is owned by
# root) and runs the server as uid 999; started as another user (securityContext.runAsUser),
# it runs the server as that user, who must be able to write the data dir (fsGroup).
if [ "$(id -u)" = 0 ]; then AS="runas 999:999"; else AS=""; fi

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
[ "$1" = redis-server ] || exec "$@"
shift

# An emptyDir (and a fresh docker volume) is owned by root.
mkdir -p /data
[ -z "$AS" ] || chown 999:999 /data
cd /data

# Our defaults come after a config file (redis-server wants it first) and before the
# caller's options, so that the caller's win.
conf=""
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then conf="$1"; shift; fi
exec $AS redis-server ${conf:+"$conf"} --bind 0.0.0.0 --port 6379 --protected-mode no --dir /data "$@"
