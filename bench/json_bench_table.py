#!/usr/bin/env python3
"""json_bench_table.py — markdown tables from a zenws_json_bench run.

    json_bench_table.py RESULTS.json [--callgrind DIR] [--time cpu|real]

RESULTS.json: zenws_json_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
              --benchmark_out=RESULTS.json --benchmark_out_format=json
DIR:          the callgrind.out.* dumps of `valgrind --tool=callgrind zenws_json_bench --callgrind-iters=N`
              (one dump per case, named after it; Ir per call = dump total / N, N read from the dump's command line).

Cells: median ns per message over the repetitions, min–max in brackets (the bench adds min and max aggregates).
"""
import argparse
import glob
import json
import os
import re
import sys

VARIANTS = ["zenws", "simdjson_copy", "simdjson_padded", "boostjson", "boostjson_mono"]


def load_times(path, which):
    data = json.load(open(path))
    key = "cpu_time" if which == "cpu" else "real_time"
    cells = {}  # (group, sample, variant) -> {aggregate: ns}
    for b in data["benchmarks"]:
        agg = b.get("aggregate_name")
        if not agg:
            continue
        group, sample, variant = b["run_name"].split("/")
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        cells.setdefault((group, sample, variant), {})[agg] = b[key] * scale
    return data.get("context", {}), cells


def load_callgrind(d):
    out = {}
    for f in glob.glob(os.path.join(d, "callgrind.out.*")):
        name = total = iters = None
        for line in open(f, errors="replace"):
            if line.startswith("desc: Trigger: Client Request: "):
                name = line.split(": ", 2)[2].strip().split("Client Request: ")[-1]
            elif line.startswith("cmd:"):
                m = re.search(r"--callgrind-iters=(\d+)", line)
                if m:
                    iters = int(m.group(1))
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
        if name and total is not None and iters:
            out[name] = total / iters
    return out


def fmt_ns(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def table(cells, group, cg):
    samples = []
    for (g, s, _v) in cells:
        if g == group and s not in samples:
            samples.append(s)
    lines = ["| message | " + " | ".join(VARIANTS) + " |", "|---|" + "---:|" * len(VARIANTS)]
    for s in samples:
        row = []
        base = cells.get((group, s, "zenws"), {}).get("median")
        for v in VARIANTS:
            c = cells.get((group, s, v))
            if not c:
                row.append("—")
                continue
            cell = f"{fmt_ns(c['median'])} ({fmt_ns(c['min'])}–{fmt_ns(c['max'])})"
            if v != "zenws" and base:
                cell += f" {base / c['median']:.2f}×"
            row.append(cell)
        lines.append(f"| {s.replace('_', ' ')} | " + " | ".join(row) + " |")
    if cg:
        lines.append("")
        lines.append(f"Instructions per message (callgrind), {group}:")
        lines.append("")
        lines.append("| message | " + " | ".join(VARIANTS) + " |")
        lines.append("|---|" + "---:|" * len(VARIANTS))
        for s in samples:
            row = []
            for v in VARIANTS:
                ir = cg.get(f"{group}/{s}/{v}")
                row.append(f"{ir:,.0f}" if ir is not None else "—")
            lines.append(f"| {s.replace('_', ' ')} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--callgrind")
    ap.add_argument("--time", choices=["cpu", "real"], default="cpu")
    a = ap.parse_args()
    ctx, cells = load_times(a.results, a.time)
    cg = load_callgrind(a.callgrind) if a.callgrind else {}
    print(f"Context: {ctx.get('date', '')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))} (at start); simdjson "
          f"{ctx.get('simdjson_version', '?')} kernel {ctx.get('simdjson_kernel', '?')} (On-Demand front end compiled "
          f"as {ctx.get('simdjson_ondemand_builtin', '?')}), Boost.JSON {ctx.get('boost_json', '?')}; "
          f"{a.time} time, ns per message, median (min–max) over repetitions; × = zenws median / variant median (above 1: faster than zenws).")
    print()
    print("Routing scan (id, method, channel, error, heartbeat kind):")
    print()
    print(table(cells, "route", cg))
    print()
    print("Typed Deribit parsing (message text -> zenws::deribit struct):")
    print()
    print(table(cells, "typed", cg))


if __name__ == "__main__":
    sys.exit(main())
