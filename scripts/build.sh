#!/usr/bin/env bash
# build.sh [BUILD_DIR] [CMAKE_ARGS...] — configures (once) and builds zenws with CMake + Ninja.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"; shift || true
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}"
