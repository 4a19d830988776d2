#!/usr/bin/env bash
# Configures and builds into $1 (default build/) with build type $2 (default RelWithDebInfo).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
type=${2:-RelWithDebInfo}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$type" >/dev/null
fi
cmake --build "$dir" --parallel "$(nproc)"
