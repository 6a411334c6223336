#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests.
#   scripts/postgres.sh start DIR [durable]
#                                   creates and starts a cluster in DIR (new, empty), prints the
#                                   connection string of its `postgres` database; `durable` keeps
#                                   fsync on (for benchmarks, see docs/PERFORMANCE.md)
#   scripts/postgres.sh stop DIR    stops it and removes DIR
#   scripts/postgres.sh down DIR    stops the server, keeping the cluster (tests of an outage)
#   scripts/postgres.sh up DIR      starts it again on the same port
# The server binaries come from Debian's `postgresql` package (.ci/run installs it). initdb
# refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

cmd=${1:?start or stop}
dir=${2:?cluster directory}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    # A free loopback port.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "'$bin/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"
    echo "$port" >"$dir/port"
    echo "${3:-tests}" >"$dir/mode"
    bash "$0" up "$dir"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  up)
    port=$(cat "$dir/port")
    # Tests: durability is not under test, and fsync off makes their many small commits cheap.
    # Durable (benchmarks): fsync on, commits not waiting for their WAL flush — what SQLite's
    # WAL with synchronous=NORMAL, the engine's setting, promises (a crash of the machine may
    # lose the last commits, never corrupt the database).
    fsync=off
    [ "$(cat "$dir/mode" 2>/dev/null)" = durable ] && fsync=on
    as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=$fsync -c synchronous_commit=off\" start >/dev/null"
    ;;
  down)
    as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "'$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null" || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|down|up DIR" >&2; exit 2 ;;
esac
