#!/usr/bin/env bash
# demo.sh [DEMO_ARGS...] — the README's main job: installs what is missing, builds, runs the offline demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DZENWS_BUILD_TESTS=OFF
exec "$root/build/zenws" demo "$@"
