#!/usr/bin/env bash
# Installs exactly the Debian 12 packages Afterglow needs that are missing. Safe to run twice.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl curl procps
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev
  catch2 sqlite3 wrk libpq-dev postgresql nodejs
  libkainjow-mustache-dev  # email/ templates: Mustache, header-only
  tzdata                   # email/ quiet hours: the recipient's local time (/usr/share/zoneinfo)
  chromium fonts-dejavu-core  # the merchant page's browser test (tests/browser/), headless
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm (manifests/ tests): Debian's package, unless the installed nodejs brings its own npm
# (NodeSource's does, and it conflicts with Debian's).
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
