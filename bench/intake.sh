#!/usr/bin/env bash
# Webhook intake load run: HTTPS keep-alive, ~2 KB orders/create bodies, a unique webhook id per
# request, several connection counts. Prints sustained webhooks/s with p50/p99 latency, and the
# same for an empty route (POST /bench/empty, same body) on the same server as the ceiling.
# After the run the server is killed with SIGKILL and the stored rows are counted against the
# acknowledged (2xx) responses: every acknowledged webhook must be durable.
#
# The server is pinned to CPU 0 and wrk to CPU 1 (a 2-core machine), so figures are per core.
# Usage: bash bench/intake.sh [seconds per run, default 5] [connection counts, default "1 4 16 64"]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-"1 4 16 64"}
sync=${SQLITE_SYNCHRONOUS:-FULL}
bash scripts/setup.sh >/dev/null
bash scripts/build.sh build-release Release >/dev/null
bin=$PWD/build-release/afterglow

dir=$(mktemp -d)
trap 'pkill -KILL -f "$dir/" 2>/dev/null || true; rm -rf "$dir"' EXIT
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

exec 5>"$dir/ready"
APP_API_KEY=bench APP_API_SECRET=$secret TLS_CERT=$dir/cert.pem TLS_KEY=$dir/key.pem \
  DATABASE_URL=sqlite:$dir/bench.db PORT=0 HOST=127.0.0.1 WORKERS=0 BENCH_ROUTES=1 LOG_LEVEL=warn \
  SQLITE_SYNCHRONOUS=$sync READY_FD=5 taskset -c 0 "$bin" serve 2>"$dir/server.log" &
server=$!
exec 5>&-
port=""
while [ -z "$port" ] && kill -0 $server 2>/dev/null; do read -r port _ < "$dir/ready" || true; done
[ -n "$port" ] || { echo "server did not start:"; cat "$dir/server.log"; exit 1; }
url=https://127.0.0.1:$port

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

echo "webhook intake, $(nproc) cores, server on CPU 0, wrk on CPU 1, ${secs}s per run,"
echo "SQLite WAL synchronous=$sync, body $(wc -c < "$dir/body.json") bytes, HTTPS keep-alive"
printf '%-6s %12s %9s %9s   %12s %9s %9s   %7s\n' conns empty/s p50 p99 webhooks/s p50 p99 ratio
acked=0
for c in $conns; do
  read -r e_rps e_p50 e_p99 _ _ < <(run "$dir/empty.lua" "$c")
  read -r w_rps w_p50 w_p99 w_total w_bad < <(run "$dir/intake.lua" "$c")
  acked=$((acked + w_total - w_bad))
  ratio=$(awk -v a="$w_rps" -v b="$e_rps" 'BEGIN {printf "%.0f%%", 100 * a / b}')
  printf '%-6s %12s %9s %9s   %12s %9s %9s   %7s\n' "$c" "$e_rps" "$e_p50" "$e_p99" \
    "$w_rps" "$w_p50" "$w_p99" "$ratio"
  [ "$w_bad" = 0 ] || echo "  ($w_bad intake responses were not 2xx)"
done

kill -KILL $server
wait $server 2>/dev/null || true
stored=$(sqlite3 "$dir/bench.db" "SELECT COUNT(*) FROM webhook_inbox")
jobs=$(sqlite3 "$dir/bench.db" "SELECT COUNT(*) FROM jobs")
echo "durability: $acked acknowledged, $stored inbox rows and $jobs jobs after SIGKILL" \
  "($([ "$stored" -ge "$acked" ] && echo ok || echo LOST))"
