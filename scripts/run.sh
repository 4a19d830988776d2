#!/usr/bin/env bash
# The README's run command: installs what is missing, builds a Release binary, makes a dev TLS
# certificate and dev secrets under var/, applies migrations, seeds the demo shop, prints what
# to try, and runs `afterglow serve` on https://localhost:8443 with SQLite in var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build-release Release afterglow
bin=build-release/afterglow
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
# The secret is read here only to sign the sample request below; it is never printed.
secret=$(sed -n 's/^APP_API_SECRET=//p' var/dev.env)
[ -z "${APP_API_SECRET:-}" ] || secret=$APP_API_SECRET
port=$(sed -n 's/^PORT=//p' var/dev.env)
[ -z "${PORT:-}" ] || port=$PORT

"$bin" --config var/dev.env migrate
"$bin" --config var/dev.env seed-demo

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > var/demo-order.json <<JSON
{"id":820982911946154508,"name":"#1001","email":"jon@example.com","currency":"USD","presentment_currency":"EUR","subtotal_price":"199.00","total_tax":"0.00","total_discounts":"0.00","total_price":"209.00","total_price_set":{"shop_money":{"amount":"209.00","currency_code":"USD"},"presentment_money":{"amount":"193.50","currency_code":"EUR"}},"financial_status":"paid","created_at":"$now","updated_at":"$now","customer":{"id":115310627314723954,"email":"jon@example.com","first_name":"Jon","last_name":"Doe"},"line_items":[{"id":866550311766439020,"product_id":632910392,"variant_id":808950810,"title":"IPod Nano - 8GB","variant_title":"Pink","quantity":1,"price":"199.00","price_set":{"shop_money":{"amount":"199.00","currency_code":"USD"},"presentment_money":{"amount":"184.20","currency_code":"EUR"}}}],"shipping_address":{"country_code":"US"}}
JSON
hmac=$(openssl dgst -sha256 -hmac "$secret" -binary < var/demo-order.json | base64)

cat <<TRY

Afterglow is starting on https://localhost:$port (dev certificate: add -k to curl, or --cacert var/dev-cert.pem).

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

  # what happened
  sqlite3 var/afterglow.db 'select id, topic, state, note from webhook_inbox'
  sqlite3 var/afterglow.db 'select order_id, name, total_price, financial_status from orders'
  $bin --config var/dev.env jobs
  curl -s --cacert var/dev-cert.pem https://localhost:$port/metrics | grep afterglow_webhooks

Stop with Ctrl-C.
TRY
exec "$bin" --config var/dev.env serve
