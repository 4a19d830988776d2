#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every unit and integration
# test (the integration tests start the real binary over HTTPS on free ports), and ends with
# ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build RelWithDebInfo
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 600
