#!/usr/bin/env bash
# scripts/bench.sh — build (Release) and run the side-by-side WebSocket client benchmarks in ONE run.
#
#   scripts/bench.sh [--quick] [--rounds N] [--build-dir DIR] [--no-build] [--impls "floor beast_sync ..."]
#                    [--modes "rtt pipeline throughput idle"] [--out FILE]
#
# Starts our echo server (bench/echo_server.cpp) pinned to core 0, runs every client pinned to core 1, in N rounds
# (default 3); within a round every mode runs every implementation in turn (interleaved), so slow drifts of a shared
# machine hit all implementations alike. Each cell of the table is the median over the rounds. Prints a markdown
# table with absolute values and ratios (RTT and 16 KiB vs the floor, pipelined vs Beast sync) and the exact
# command line; the raw RESULT lines are kept next to the table (FILE.raw).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ROOT}/../build-bench"
ROUNDS=3
QUICK=0
DO_BUILD=1
IMPLS="floor beast_sync beast_async websocketpp libwebsockets zenws"
MODES="rtt pipeline throughput idle"
OUT=""
CMDLINE="scripts/bench.sh${*:+ $*}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --build-dir) BUILD="$2"; shift ;;
    --no-build) DO_BUILD=0 ;;
    --impls) IMPLS="$2"; shift ;;
    --modes) MODES="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)"
[[ -n "$OUT" ]] || OUT="${BUILD}/bench-results.md"

if [[ $QUICK == 1 ]]; then
  RTT_ARGS="--count 10000 --warmup 500"; PIPE_ARGS="--count 50000"; TPUT_ARGS="--count 4000"; IDLE_ARGS="--conns 1000"
else
  RTT_ARGS="--count 50000 --warmup 1000"; PIPE_ARGS="--count 200000"; TPUT_ARGS="--count 20000"; IDLE_ARGS="--conns 1000"
fi
CPUS=$(nproc)
SERVER_CPU=0
CLIENT_CPU=$(( CPUS > 1 ? 1 : 0 ))

declare -A BIN=(
  [floor]=bench_floor [beast_sync]=bench_beast_sync [beast_async]=bench_beast_async
  [websocketpp]=bench_websocketpp [libwebsockets]=bench_lws [zenws]=bench_zenws
)

# ---- build -------------------------------------------------------------------------------------------------------
if [[ $DO_BUILD == 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENWS_BUILD_BENCH=ON \
        -DZENWS_BUILD_TESTS=OFF -DZENWS_BUILD_TOOL=OFF >/dev/null
  ninja -C "$BUILD" -j2 zenws_echo_server bench_floor bench_beast_sync bench_beast_async >/dev/null
  for t in bench_websocketpp bench_lws bench_zenws; do
    ninja -C "$BUILD" -j2 "$t" >/dev/null 2>"$BUILD/build-$t.log" || echo "note: $t did not build (see $BUILD/build-$t.log); skipped" >&2
  done
fi

AVAILABLE=""
for impl in $IMPLS; do
  if [[ -x "$BUILD/bench/${BIN[$impl]}" ]]; then AVAILABLE+="$impl "; else echo "note: $impl not built; skipped" >&2; fi
done

# ---- server ------------------------------------------------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt 2200 ]]; then
  echo "warning: ulimit -n is $(ulimit -n); the idle test needs > 2000 descriptors" >&2
fi
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
taskset -c "$SERVER_CPU" "$BUILD/bench/zenws_echo_server" >"$TMP/server.out" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 100); do
  PORT="$(awk '/^READY/{print $2}' "$TMP/server.out" 2>/dev/null || true)"
  [[ -n "$PORT" ]] && break
  sleep 0.05
done
[[ -n "$PORT" ]] || { echo "echo server did not start" >&2; cat "$TMP/server.out" >&2; exit 1; }

# ---- runs --------------------------------------------------------------------------------------------------------
RAW="${OUT}.raw"
: >"$RAW"
START=$(date +%s)
echo "bench: server on 127.0.0.1:$PORT (cpu $SERVER_CPU), clients on cpu $CLIENT_CPU, rounds=$ROUNDS, impls: $AVAILABLE" >&2
for round in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    case $mode in
      rtt) args=$RTT_ARGS ;; pipeline) args=$PIPE_ARGS ;; throughput) args=$TPUT_ARGS ;; idle) args=$IDLE_ARGS ;;
    esac
    for impl in $AVAILABLE; do
      kill -0 "$SERVER_PID" 2>/dev/null || { echo "echo server died" >&2; exit 1; }
      # shellcheck disable=SC2086
      line="$(timeout 120 taskset -c "$CLIENT_CPU" "$BUILD/bench/${BIN[$impl]}" --port "$PORT" --mode "$mode" $args \
               2>"$TMP/err" | grep '^RESULT' || true)"
      if [[ -n "$line" ]]; then
        echo "$line round=$round" >>"$RAW"
      else
        echo "RESULT impl=$impl mode=$mode failed=1 round=$round" >>"$RAW"
        echo "bench: $impl $mode round $round failed: $(head -c 300 "$TMP/err")" >&2
      fi
    done
  done
  echo "bench: round $round done ($(( $(date +%s) - START )) s)" >&2
done
ELAPSED=$(( $(date +%s) - START ))

# ---- table -------------------------------------------------------------------------------------------------------
python3 - "$RAW" "$CMDLINE" "$ELAPSED" "$ROUNDS" "$AVAILABLE" "$RTT_ARGS" "$PIPE_ARGS" "$TPUT_ARGS" "$IDLE_ARGS" \
  "$SERVER_CPU" "$CLIENT_CPU" >"$OUT" <<'EOF'
import platform, statistics, sys
raw, cmd, elapsed, rounds, impls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split()
rtt_args, pipe_args, tput_args, idle_args, scpu, ccpu = sys.argv[6:12]
cells = {}
for line in open(raw):
    kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
    if kv.get("failed"):
        continue
    for k, v in kv.items():
        try:
            cells.setdefault((kv["impl"], kv["mode"], k), []).append(float(v))
        except ValueError:
            pass
def med(impl, mode, key):
    v = cells.get((impl, mode, key))
    return statistics.median(v) if v else None
def spread(impl, mode, key):
    v = cells.get((impl, mode, key))
    return (min(v), max(v)) if v and len(v) > 1 else None
def fmt(x, nd=1):
    if x is None: return "—"
    return f"{x:,.{nd}f}" if nd else f"{x:,.0f}"
def ratio(x, base):
    return f" ({x / base:.2f}×)" if x is not None and base else ""
names = {"floor": "floor (hand-written blocking)", "beast_sync": "Boost.Beast sync", "beast_async": "Boost.Beast async",
         "websocketpp": "websocketpp", "libwebsockets": "libwebsockets", "zenws": "**zenws**"}
floor_rtt = med("floor", "rtt", "p50_us"); floor_tp = med("floor", "throughput", "mb_per_s")
beast_pipe = med("beast_sync", "pipeline", "msgs_per_s")
cpu = ""
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip(); break
except OSError:
    pass
import os
print(f"Command: `{cmd}` — {rounds} interleaved rounds, median per cell, {elapsed} s wall.  ")
print(f"Machine: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}; echo server (bench/echo_server.cpp, epoll) "
      f"pinned to CPU {scpu}, client to CPU {ccpu}, 127.0.0.1.  ")
print(f"Workloads: RTT = 64 B text echo, one in flight ({rtt_args}); pipelined = 64 B text, window 1000 ({pipe_args}); "
      f"16 KiB = binary echo, window 16 ({tput_args}), MB/s of payload = 10^6 B/s one way; CPU = getrusage user+sys "
      f"of the client process / messages; idle = VmRSS growth per extra open connection ({idle_args}), in brackets the malloc'd heap per connection.")
print()
print("| Implementation | RTT p50 µs (× floor) | RTT p99 µs | RTT p99.9 µs | Pipelined 64 B msgs/s (× Beast sync) "
      "| 16 KiB MB/s (× floor) | CPU µs/msg pipelined | CPU µs/msg RTT | KiB / idle conn (heap) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for impl in impls:
    p50 = med(impl, "rtt", "p50_us"); pipe = med(impl, "pipeline", "msgs_per_s"); tp = med(impl, "throughput", "mb_per_s")
    print(f"| {names.get(impl, impl)} | {fmt(p50, 1)}{ratio(p50, floor_rtt)} | {fmt(med(impl, 'rtt', 'p99_us'), 1)} "
          f"| {fmt(med(impl, 'rtt', 'p999_us'), 1)} | {fmt(pipe, 0)}{ratio(pipe, beast_pipe)} "
          f"| {fmt(tp, 0)}{ratio(tp, floor_tp)} | {fmt(med(impl, 'pipeline', 'cpu_us_per_msg'), 2)} "
          f"| {fmt(med(impl, 'rtt', 'cpu_us_per_msg'), 2)} | {fmt(med(impl, 'idle', 'kib_per_conn'), 2)} "
          f"({fmt(med(impl, 'idle', 'heap_kib_per_conn'), 1)}) |")
print()
print("Spread (min–max over rounds) of the headline cells:")
print()
for impl in impls:
    parts = []
    for mode, key, label, nd in (("rtt", "p50_us", "RTT p50", 1), ("pipeline", "msgs_per_s", "pipelined", 0),
                                 ("throughput", "mb_per_s", "16 KiB MB/s", 0), ("idle", "kib_per_conn", "KiB/conn", 2)):
        s = spread(impl, mode, key)
        if s: parts.append(f"{label} {fmt(s[0], nd)}–{fmt(s[1], nd)}")
    if parts: print(f"- {impl}: " + "; ".join(parts))
z = "zenws"
if z in impls:
    print()
    print("Targets (zenws):")
    def chk(name, ok, detail):
        print(f"- {name}: {'met' if ok else ('NOT met' if ok is not None else 'no data')} ({detail})")
    p50 = med(z, "rtt", "p50_us"); pipe = med(z, "pipeline", "msgs_per_s"); tp = med(z, "throughput", "mb_per_s")
    kib = med(z, "idle", "kib_per_conn")
    chk("RTT p50 <= 1.10× floor", (p50 / floor_rtt <= 1.10) if p50 and floor_rtt else None,
        f"{p50 / floor_rtt:.2f}×" if p50 and floor_rtt else "—")
    chk("pipelined 64 B >= 3× Beast sync", (pipe / beast_pipe >= 3) if pipe and beast_pipe else None,
        f"{pipe / beast_pipe:.2f}×" if pipe and beast_pipe else "—")
    chk("16 KiB >= 0.9× floor", (tp / floor_tp >= 0.9) if tp and floor_tp else None,
        f"{tp / floor_tp:.2f}×" if tp and floor_tp else "—")
    chk("<= 4 KiB per idle connection", (kib <= 4) if kib is not None else None, f"{kib:.2f} KiB" if kib is not None else "—")
failed = [l.split()[1:3] for l in open(raw) if "failed=1" in l]
if failed:
    print()
    print(f"Failed runs (excluded): {len(failed)} — " + ", ".join(f"{a[0][5:]}/{a[1][5:]}" for a in failed))
EOF
cat "$OUT"
echo >&2
echo "bench: table written to $OUT (raw lines: $RAW)" >&2
