#!/usr/bin/env bash
# The README's run command: installs what is missing, builds a Release binary, makes a dev TLS
# certificate and dev secrets under var/, applies migrations, seeds the demo shop, prints what
# to try, and runs `afterglow serve` on https://localhost:8443 with SQLite in var/.
#
# The demo's outside world runs on loopback next to it: the development platform
# (afterglow-dev-platform: the demo shop's Admin API, where accepted offers are appended) and,
# when no STRIPE_SECRET_KEY is configured, the Stripe-compatible test server
# (tests/stripe_server, seeded with the demo shop's account and card). Both stop when the server
# stops.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build-release Release afterglow afterglow-dev-platform
bin=build-release/afterglow
dev_platform=build-release/tests/afterglow-dev-platform
mkdir -p var

if [ ! -f var/dev-key.pem ] || [ ! -f var/dev-cert.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout var/dev-key.pem -out var/dev-cert.pem -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  echo "made a dev TLS certificate: var/dev-cert.pem (self-signed, 30 days)"
fi
if [ ! -f var/dev.env ]; then
  umask 077
  cat > var/dev.env <<ENV
# Development settings made by scripts/run.sh. The environment overrides any key here.
APP_URL=https://localhost:8443
APP_API_KEY=dev_api_key
APP_API_SECRET=dev_$(openssl rand -hex 16)
STRIPE_WEBHOOK_SECRET=whsec_dev_$(openssl rand -hex 16)
DATABASE_URL=sqlite:var/afterglow.db
TLS_CERT=var/dev-cert.pem
TLS_KEY=var/dev-key.pem
PORT=8443
WORKERS=2
DEV_MODE=1
ENV
  umask 022
fi
# Shop tokens are stored encrypted with this key (dev.env files made before it existed get one).
if ! grep -q '^TOKEN_ENCRYPTION_KEY=' var/dev.env; then
  echo "TOKEN_ENCRYPTION_KEY=$(openssl rand -base64 32)" >> var/dev.env
fi
# The demo shop's access token on the development platform (stored encrypted by seed-demo).
if [ ! -f var/dev-platform-token ]; then
  (umask 077; echo "shpat_dev_$(openssl rand -hex 16)" > var/dev-platform-token)
fi
# A key from var/dev.env, unless the environment sets it (the environment wins, as for the server).
setting() {
  if [ -n "${!1:-}" ]; then printf '%s' "${!1}"; else sed -n "s/^$1=//p" var/dev.env | tail -n 1; fi
}
# The secrets are read here only to sign the sample request and to hand the webhook secret to the
# Stripe test server; they are never printed.
secret=$(setting APP_API_SECRET)
port=$(setting PORT)

"$bin" --config var/dev.env migrate
"$bin" --config var/dev.env seed-demo --platform-token-file var/dev-platform-token

# Background helpers, stopped when this script exits (the server stopped, Ctrl-C, or an error).
children=()
stop_children() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_children EXIT
# Starts "$@" in the background with stdout to $out and stderr to $log, and waits (15 s at most)
# for its first stdout line, `listening <port> …`, which it leaves in $ready.
start_helper() {
  local out=$1 log=$2
  shift 2
  : > "$out"
  "$@" > "$out" 2> "$log" &
  children+=($!)
  local pid=$!
  for _ in $(seq 150); do
    ready=$(head -n 1 "$out")
    case "$ready" in listening\ *) return 0 ;; esac
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: $1 did not start; its log ($log):" >&2
  tail -n 20 "$log" >&2
  exit 1
}
mkdir -p var/run

# The development platform: the demo shop's catalogue and order #1001, over HTTPS on loopback.
start_helper var/run/dev-platform.out var/dev-platform.log \
  "$dev_platform" --access-token-file var/dev-platform-token --client-id "$(setting APP_API_KEY)"
read -r _ platform_port platform_ca <<< "$ready"
export PLATFORM_API_BASE="https://127.0.0.1:$platform_port" PLATFORM_CA_FILE="$platform_ca"

# Stripe: your test key if you configured one (STRIPE_SECRET_KEY in the environment or
# var/dev.env), else the Stripe-compatible test server with the demo shop's connected account
# and saved card, sending its webhooks (3-D Secure completions among them) to this server.
stripe_base=$(setting STRIPE_API_BASE)
stripe_note="your STRIPE_SECRET_KEY at ${stripe_base:-https://api.stripe.com} (set your connected
    account in the merchant page's settings: the demo shop's is acct_1AfterglowDemo)"
if [ -z "$(setting STRIPE_SECRET_KEY)" ]; then
  # The webhook secret travels in the environment, never on a command line (`ps` shows those).
  STRIPE_SERVER_WEBHOOK_SECRET=$(setting STRIPE_WEBHOOK_SECRET) \
  start_helper var/run/stripe-server.out var/stripe-server.log \
    node tests/stripe_server/server.mjs --port 0 --host 127.0.0.1 \
      --seed-customer cus_demo:pm_card_visa --seed-account acct_1AfterglowDemo \
      --webhook-url "https://127.0.0.1:$port/webhooks/stripe" \
      --webhook-secret-env STRIPE_SERVER_WEBHOOK_SECRET --webhook-ca var/dev-cert.pem
  read -r _ stripe_port <<< "$ready"
  export STRIPE_API_BASE="http://127.0.0.1:$stripe_port" STRIPE_SECRET_KEY=sk_test_afterglow_dev
  stripe_note="the Stripe test server on $STRIPE_API_BASE (no real key needed; log: var/stripe-server.log)"
fi

# Email: your SMTP_URL if you configured one, else a local catcher (tests/smtp_server, npm
# smtp-server on loopback) that keeps what the sequences send, readable over its control API.
mail_note="your SMTP_URL"
if [ -z "$(setting SMTP_URL)" ]; then
  [ -d tests/smtp_server/node_modules ] ||
    (cd tests/smtp_server && npm ci --no-audit --no-fund --loglevel=error)
  start_helper var/run/smtp-server.out var/smtp-server.log \
    node tests/smtp_server/server.mjs --port 0 --host 127.0.0.1
  read -r _ smtp_port smtp_control_port <<< "$ready"
  export SMTP_URL="smtp://127.0.0.1:$smtp_port" SMTP_TLS=none MAIL_FROM=bounces@afterglow-demo.example
  mail_note="the local mail catcher: curl -s http://127.0.0.1:$smtp_control_port/_test/messages"
fi

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > var/demo-order.json <<JSON
{"id":820982911946154508,"name":"#1002","email":"jon@example.com","currency":"USD","presentment_currency":"EUR","subtotal_price":"199.00","total_tax":"0.00","total_discounts":"0.00","total_price":"209.00","total_price_set":{"shop_money":{"amount":"209.00","currency_code":"USD"},"presentment_money":{"amount":"193.50","currency_code":"EUR"}},"financial_status":"paid","created_at":"$now","updated_at":"$now","customer":{"id":115310627314723954,"email":"jon@example.com","first_name":"Jon","last_name":"Doe"},"line_items":[{"id":866550311766439020,"product_id":632910392,"variant_id":808950810,"title":"IPod Nano - 8GB","variant_title":"Pink","quantity":1,"price":"199.00","price_set":{"shop_money":{"amount":"199.00","currency_code":"USD"},"presentment_money":{"amount":"184.20","currency_code":"EUR"}}}],"shipping_address":{"country_code":"US"}}
JSON
hmac=$(openssl dgst -sha256 -hmac "$secret" -binary < var/demo-order.json | base64)

cat <<TRY

Afterglow is starting on https://localhost:$port (dev certificate: add -k to curl, or --cacert var/dev-cert.pem).

Thank-you page demo: https://localhost:$port/demo/thank-you
  The demo shop's order #1001 with a one-click offer from /checkout/widget.js. Click
  "Add to my order": the card the order was paid with is charged through
    $stripe_note
  and the item is appended to the order on the development platform ($PLATFORM_API_BASE).
  The panel below the offer shows the charge ledger as it happens. Each offer can be answered
  once per order; to start over, stop the server and delete var/afterglow.db.

Merchant page: open the one-time "Development login" link printed just below
(https://localhost:$port/admin?login=...) in your browser and accept the dev certificate.
Each link works once; using it prints the next one here.

Try, in another terminal:

  curl --cacert var/dev-cert.pem https://localhost:$port/readyz

  # a signed orders/create webhook for the demo shop (send it twice: the second is a duplicate; change demo-1 for a new delivery)
  curl --cacert var/dev-cert.pem https://localhost:$port/webhooks/shopify \\
    -H 'Content-Type: application/json' -H 'X-Shopify-Topic: orders/create' \\
    -H 'X-Shopify-Shop-Domain: afterglow-demo.myshopify.com' -H 'X-Shopify-API-Version: 2025-07' \\
    -H "X-Shopify-Webhook-Id: demo-1" -H 'X-Shopify-Hmac-Sha256: $hmac' \\
    --data-binary @var/demo-order.json

  # the same order as orders/paid: the demo flow "Thank-you note (demo)" writes to jon@example.com
  # a minute later, through $mail_note
  curl --cacert var/dev-cert.pem https://localhost:$port/webhooks/shopify \\
    -H 'Content-Type: application/json' -H 'X-Shopify-Topic: orders/paid' \\
    -H 'X-Shopify-Shop-Domain: afterglow-demo.myshopify.com' -H 'X-Shopify-API-Version: 2025-07' \\
    -H "X-Shopify-Webhook-Id: demo-paid-1" -H 'X-Shopify-Hmac-Sha256: $hmac' \\
    --data-binary @var/demo-order.json
  sqlite3 var/afterglow.db 'select step_id, outcome, reason, detail from send_log'

  # what happened
  sqlite3 var/afterglow.db 'select id, topic, state, note from webhook_inbox'
  sqlite3 var/afterglow.db 'select order_id, name, total_price, financial_status from orders'
  $bin --config var/dev.env jobs
  curl -s --cacert var/dev-cert.pem https://localhost:$port/metrics | grep afterglow_webhooks

Stop with Ctrl-C.
TRY
# Not exec: the trap above stops the helpers once the server has exited.
status=0
"$bin" --config var/dev.env serve || status=$?
exit "$status"
