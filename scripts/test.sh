#!/usr/bin/env bash
# test.sh — installs what is missing, builds, and runs every test (unit + integration against real servers on
# 127.0.0.1) with CTest. Extra arguments go to ctest (e.g. -R Conformance).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DZENWS_BUILD_TESTS=ON
cd "$root/build"
ctest --output-on-failure --timeout 300 -j 2 "$@"
