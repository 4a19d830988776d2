#!/usr/bin/env bash
# Every benchmark in one run, on both backends: the job queue (bench/queue_bench.cpp) on SQLite
# and on a throwaway PostgreSQL, then webhook intake (bench/intake.sh) on SQLite and PostgreSQL.
# Prints the machine's load before each part: on 2 cores a concurrent build changes the figures,
# so compare the backends within one run.
# Usage: bash bench/run_all.sh [intake seconds per run, default 5] [intake connection counts]
# Environment: JOBS (queue_bench jobs per run, default 5000), BUILD_DIR (build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-release}
bash scripts/setup.sh >/dev/null
out=$(bash scripts/build.sh "$build" Release afterglow queue_bench 2>&1) || { echo "$out"; exit 1; }

# The disk's synced-write latency right now: every commit waits for one (or more), so it is the
# figure that moves the database results most when other work shares the machine.
disk() {
  local f
  f=$(mktemp)
  dd if=/dev/zero of="$f" bs=4k count=100 oflag=dsync 2>&1 |
    awk -F', ' '/copied/ {printf "%.0f us per synced 4 KB write", $3 * 1e4}'
  rm -f "$f"
}
state() { echo "$(uptime | sed 's/.*load/load/'); disk: $(disk)"; }

pgdir=$(mktemp -d)
trap 'bash scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
pg_url=$(bash scripts/postgres.sh start "$pgdir")

echo "== job queue ($(state))"
echo "\$ $build/bench/queue_bench --jobs ${JOBS:-5000} --postgres '$pg_url'"
"$build/bench/queue_bench" --jobs "${JOBS:-5000}" --postgres "$pg_url"
bash scripts/postgres.sh stop "$pgdir" >/dev/null

echo
echo "== webhook intake ($(state))"
echo "\$ bash bench/intake.sh ${1:-5} \"${2:-1 4 16 64}\""
BUILD_DIR=$build bash bench/intake.sh "${1:-5}" "${2:-1 4 16 64}"
echo
echo "== end ($(state))"
