#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a directory, Unix
# socket only (no TCP listener), trust authentication for the local socket.
#   bash scripts/postgres.sh start DIR   -> prints a DATABASE_URL for the database "afterglow"
#   bash scripts/postgres.sh stop DIR
# Runs the server as the `postgres` user when started as root (initdb refuses root).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "postgres.sh: PostgreSQL server binaries not found" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    fi
    # fsync stays on: the tests assert durability across kill -9 of our processes, and the
    # benchmarks should measure what production does.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200" start
    as_owner "$bindir/psql" -h "$dir" -U postgres -d postgres -qAt \
      -c "SELECT 1 FROM pg_database WHERE datname='afterglow'" | grep -q 1 ||
      as_owner "$bindir/createdb" -h "$dir" -U postgres afterglow
    echo "postgres:///afterglow?host=$dir&user=postgres"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -s stop
    ;;
  *) echo "usage: postgres.sh start|stop DIR" >&2; exit 2 ;;
esac
