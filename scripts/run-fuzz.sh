#!/usr/bin/env bash
# scripts/run-fuzz.sh — builds the libFuzzer targets with clang 14 (ASan + UBSan) and runs each for a bounded time.
# Usage: scripts/run-fuzz.sh [SECONDS_PER_TARGET=30]   (env: ZENWS_FUZZ_BUILD_DIR, ZENWS_FUZZ_JOBS)
# Exits non-zero if a target crashes or finds a bug; crash inputs are left in the build dir's fuzz-artifacts/.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [seconds-per-target]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ZENWS_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${ZENWS_FUZZ_JOBS:-2}"

for tool in clang-14 clang++-14 cmake ninja; do
    command -v "$tool" >/dev/null || { echo "run-fuzz: $tool not found" >&2; exit 2; }
done

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DZENWS_BUILD_FUZZ=ON -DZENWS_BUILD_TESTS=OFF -DZENWS_BUILD_TOOL=OFF >/dev/null
ninja -C "$build" -j"$jobs" frame_decoder_fuzz handshake_response_fuzz

failed=0
for target in frame_decoder_fuzz handshake_response_fuzz; do
    corpus="$build/fuzz-corpus/$target"
    artifacts="$build/fuzz-artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    echo "== $target for ${seconds}s"
    # -max_total_time bounds the run; the outer timeout is a safety net should the fuzzer hang.
    if timeout --kill-after=10 $((seconds + 60)) "$build/fuzz/$target" "$corpus" \
            -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
            -artifact_prefix="$artifacts" -print_final_stats=1; then
        echo "== $target: ok"
    else
        echo "== $target: FAILED (exit $?); inputs in $artifacts" >&2
        failed=1
    fi
done
exit "$failed"
