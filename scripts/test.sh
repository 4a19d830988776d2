#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, starts a throwaway PostgreSQL
# server, runs every unit and integration test (the database tests on SQLite and again on
# PostgreSQL; the integration tests start the real binary over HTTPS on free ports), and ends
# with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The npm packages of the manifests tests (esbuild, the Shopify extension libraries), as locked.
(cd manifests && npm ci --no-audit --no-fund --loglevel=error)
# playwright-core for the merchant page's browser test; it drives Debian's chromium (no download).
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# smtp-server for the SMTP mailer's tests (tests/smtp_server/), as locked.
(cd tests/smtp_server && npm ci --no-audit --no-fund --loglevel=error)
bash scripts/build.sh build RelWithDebInfo
# The PostgreSQL pass (tests/CMakeLists.txt) runs against a throwaway server: initdb in a fresh
# temporary directory, Unix socket only, stopped and removed however the run ends.
root=$(pwd)
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/afterglow-pg-XXXXXX")
trap 'bash "$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
AFTERGLOW_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start "$pg_dir")
export AFTERGLOW_TEST_POSTGRES_URL
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 600
