#!/usr/bin/env bash
# bench/soak/run.sh — build and run the zenws soak test (not part of CI; the default run takes about 31 minutes).
#
#   bench/soak/run.sh                                  # 1,000 clients, 30 min of faults, seed 1
#   bench/soak/run.sh --clients 100 --minutes 1        # quick check (~1.5 min)
#   bench/soak/run.sh --no-build --build-dir /tmp/b -- --clients 1000 --minutes 3 --warmup-min 1
#
# Script options (everything else, or everything after --, goes to zenws_soak; see zenws_soak --help):
#   --build-dir DIR   CMake build directory (default: <repo>/build-soak)
#   --no-build        do not configure/build, use the existing binary
#   --jobs N          ninja -j (default 2)
#   --log FILE        also write the output here (default: DIR/soak-<date>.log)
# Exit status: zenws_soak's (0 all invariants hold, 1 an invariant failed, 2 usage/setup error).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build_dir="$repo/build-soak"
build=1
jobs=2
log=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --) shift; args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done

if [[ $build -eq 1 ]]; then
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENWS_BUILD_BENCH=ON \
    -DZENWS_BUILD_TESTS=OFF -DZENWS_BUILD_TOOL=OFF >/dev/null
  ninja -C "$build_dir" -j "$jobs" zenws_soak
fi
bin="$build_dir/bench/zenws_soak"
[[ -x "$bin" ]] || { echo "run.sh: $bin not found (build it, or drop --no-build)" >&2; exit 2; }

# One socket per client plus the server side of each connection (blackholed attempts linger until resumed).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

[[ -n "$log" ]] || log="$build_dir/soak-$(date +%Y%m%d-%H%M%S).log"
echo "run.sh: $bin ${args[*]:-} (log: $log)"
set +e
"$bin" "${args[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "run.sh: zenws_soak exited with $status"
exit "$status"
