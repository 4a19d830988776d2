#!/usr/bin/env bash
# Webhook intake load run: HTTPS keep-alive, ~2 KB orders/create bodies, a unique webhook id per
# request, several connection counts. Prints sustained webhooks/s with p50/p99 latency, and the
# same for an empty route (POST /bench/empty, same body) on the same server as the ceiling.
# After the run the server is killed with SIGKILL and the stored rows are counted against the
# acknowledged (2xx) responses: every acknowledged webhook must be durable.
#
# One run measures each backend in turn, the same way: SQLite (a file in a temp dir, WAL) and
# PostgreSQL (a throwaway server from scripts/postgres.sh in a temp dir, fsync on, stopped at
# exit). Compare the two tables of one run; absolute figures move with the machine's load.
#
# The server is pinned to CPU 0 and wrk to CPU 1 (a 2-core machine), so figures are per core.
# PostgreSQL runs on CPU 0 too: the database is part of the server's cost, as SQLite (in-process)
# is.
# Usage: bash bench/intake.sh [seconds per run, default 5] [connection counts, default "1 4 16 64"]
#                             [backends, default "sqlite postgres"]
# Environment: SQLITE_SYNCHRONOUS (FULL), PG_SYNCHRONOUS_COMMIT (on; "off" shows what the commit
# wait costs), BUILD_DIR (build-release), PERF_OUT=DIR to record a `perf record -C 0 -g` profile
# of CPU 0 (server + database) during each webhook run into DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-"1 4 16 64"}
backends=${3:-"sqlite postgres"}
sync=${SQLITE_SYNCHRONOUS:-FULL}
pg_sync=${PG_SYNCHRONOUS_COMMIT:-on}
build=${BUILD_DIR:-build-release}
bash scripts/setup.sh >/dev/null
out=$(bash scripts/build.sh "$build" Release afterglow 2>&1) || { echo "$out"; exit 1; }
bin=$PWD/$build/afterglow

dir=$(mktemp -d)
pgdir=""
server=""
cleanup() {
  [ -z "$server" ] || kill -KILL "$server" 2>/dev/null || true
  [ -z "$pgdir" ] || bash scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$dir" ${pgdir:+"$pgdir"}
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
secret=bench_$(openssl rand -hex 8)

# A realistic orders/create body of about 2 KB.
lines=""
for i in 0 1 2 3 4 5 6; do
  lines+="${lines:+,}{\"id\":86655031176643902$i,\"admin_graphql_api_id\":\"gid://shopify/LineItem/86655031176643902$i\",\"product_id\":632910392,\"variant_id\":80895081$i,\"sku\":\"IPOD2008PINK\",\"title\":\"IPod Nano - 8GB\",\"variant_title\":\"Pink\",\"quantity\":1,\"price\":\"199.00\"}"
done
printf '%s' "{\"id\":820982911946154508,\"name\":\"#1001\",\"email\":\"jon@example.com\",\"currency\":\"USD\",\"presentment_currency\":\"EUR\",\"total_price\":\"209.00\",\"financial_status\":\"paid\",\"created_at\":\"2025-04-22T14:30:00-05:00\",\"updated_at\":\"2025-04-22T14:30:00-05:00\",\"customer\":{\"id\":115310627314723954,\"email\":\"jon@example.com\",\"first_name\":\"Jon\",\"last_name\":\"Doe\"},\"line_items\":[$lines],\"shipping_address\":{\"country_code\":\"US\"}}" > "$dir/body.json"
hmac=$(openssl dgst -sha256 -hmac "$secret" -binary < "$dir/body.json" | base64)

# The HMAC covers the body only, so one signed body serves every request; the webhook id header
# changes per request, so every request is a new delivery.
cat > "$dir/intake.lua" <<LUA
local f = io.open("$dir/body.json"); local body = f:read("*a"); f:close()
local n = 0
local prefix = tostring(math.random(1, 1e9)) .. "-" .. tostring(os.time())
request = function()
  n = n + 1
  return wrk.format("POST", "/webhooks/shopify", {
    ["Content-Type"] = "application/json", ["X-Shopify-Hmac-Sha256"] = "$hmac",
    ["X-Shopify-Topic"] = "orders/create", ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
    ["X-Shopify-API-Version"] = "2025-07", ["X-Shopify-Webhook-Id"] = prefix .. "-" .. n}, body)
end
LUA
cat > "$dir/empty.lua" <<LUA
local f = io.open("$dir/body.json"); local body = f:read("*a"); f:close()
request = function()
  return wrk.format("POST", "/bench/empty", {["Content-Type"] = "application/json"}, body)
end
LUA

# start_server DATABASE_URL -> sets $server and $url
start_server() {
  local ready=$dir/ready-$RANDOM port=""
  exec 5>"$ready"
  APP_API_KEY=bench APP_API_SECRET=$secret TLS_CERT=$dir/cert.pem TLS_KEY=$dir/key.pem \
    DATABASE_URL=$1 PORT=0 HOST=127.0.0.1 WORKERS=0 BENCH_ROUTES=1 LOG_LEVEL=warn \
    SQLITE_SYNCHRONOUS=$sync READY_FD=5 taskset -c 0 "$bin" serve 2>>"$dir/server.log" &
  server=$!
  exec 5>&-
  while [ -z "$port" ] && kill -0 "$server" 2>/dev/null; do read -r port _ < "$ready" || true; done
  [ -n "$port" ] || { echo "server did not start:"; cat "$dir/server.log"; exit 1; }
  url=https://127.0.0.1:$port
}

# run SCRIPT CONNS -> "req/s p50 p99 total non2xx"
run() {
  local out
  out=$(taskset -c 1 wrk -t1 -c"$2" -d"${secs}s" --latency -s "$1" "$url")
  local rps p50 p99 total non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $p50 $p99 $total ${non2xx:-0}"
}

# The intake run under `perf record` of CPU 0 when PERF_OUT is set; same output as run.
run_intake() {
  [ -n "${PERF_OUT:-}" ] || { run "$dir/intake.lua" "$1"; return; }
  mkdir -p "$PERF_OUT"
  perf record -q -C 0 -g -o "$PERF_OUT/intake-$label-c$1.perf.data" 2>/dev/null &
  local perf=$!
  run "$dir/intake.lua" "$1"
  kill -INT "$perf"
  wait "$perf" 2>/dev/null || true
}

# count SQL -> the number, from the backend just measured
count() {
  case $label in
    sqlite) sqlite3 "$dir/bench.db" "$1" ;;
    postgres) psql "$db_url" -XAtc "$1" ;;
  esac
}

# measure BACKEND: one table and the durability check for that backend
measure() {
  label=$1
  case $label in
    sqlite)
      db_url=sqlite:$dir/bench.db
      what="SQLite WAL synchronous=$sync" ;;
    postgres)
      pgdir=$(mktemp -d)
      db_url=$(taskset -c 0 bash scripts/postgres.sh start "$pgdir")
      psql "$db_url" -XAtqc "ALTER SYSTEM SET synchronous_commit = '$pg_sync'" \
        -c "SELECT pg_reload_conf()" >/dev/null
      what="PostgreSQL $(psql "$db_url" -XAtc 'SHOW server_version' | cut -d' ' -f1) fsync=$(
        psql "$db_url" -XAtc 'SHOW fsync') synchronous_commit=$(
        psql "$db_url" -XAtc 'SHOW synchronous_commit') (Unix socket, CPU 0)" ;;
    *) echo "unknown backend: $label (sqlite or postgres)"; exit 2 ;;
  esac
  start_server "$db_url"

  echo "webhook intake, $(nproc) cores, server on CPU 0, wrk on CPU 1, ${secs}s per run,"
  echo "$what, body $(wc -c < "$dir/body.json") bytes, HTTPS keep-alive"
  printf '%-6s %12s %9s %9s   %12s %9s %9s   %7s\n' conns empty/s p50 p99 webhooks/s p50 p99 ratio
  local acked=0 c e_rps e_p50 e_p99 w_rps w_p50 w_p99 w_total w_bad ratio
  for c in $conns; do
    read -r e_rps e_p50 e_p99 _ _ < <(run "$dir/empty.lua" "$c")
    read -r w_rps w_p50 w_p99 w_total w_bad < <(run_intake "$c")
    acked=$((acked + w_total - w_bad))
    ratio=$(awk -v a="$w_rps" -v b="$e_rps" 'BEGIN {printf "%.0f%%", 100 * a / b}')
    printf '%-6s %12s %9s %9s   %12s %9s %9s   %7s\n' "$c" "$e_rps" "$e_p50" "$e_p99" \
      "$w_rps" "$w_p50" "$w_p99" "$ratio"
    [ "$w_bad" = 0 ] || echo "  ($w_bad intake responses were not 2xx)"
  done

  kill -KILL "$server"
  wait "$server" 2>/dev/null || true
  server=""
  local stored jobs
  stored=$(count "SELECT COUNT(*) FROM webhook_inbox")
  jobs=$(count "SELECT COUNT(*) FROM jobs")
  echo "durability: $acked acknowledged, $stored inbox rows and $jobs jobs after SIGKILL" \
    "($([ "$stored" -ge "$acked" ] && echo ok || echo LOST))"
}

first=1
for b in $backends; do
  [ "$first" = 1 ] || echo
  first=0
  measure "$b"
done
