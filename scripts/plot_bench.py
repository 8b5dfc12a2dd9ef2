#!/usr/bin/env python3
"""Turns the suite's JSON into the ratio table and a PNG chart (gnuplot).

    python3 scripts/plot_bench.py build-bench/results [--png out.png] [--md out.md]

Reads bench.json (Google Benchmark, aggregates), cpython.json (optional) and
sizes.json from the results folder. Every figure is a median over the
repetitions of one run. The table gives pythreading's own median and, for
each other implementation, the ratio pythreading / other on the same
metric (lower = pythreading faster; > 1 = slower). Metric per group:
  uncontended, local  CPU time per operation (one thread; robust to other load)
  contended           ns_per_op counter (wall time / total increments)
  handoff             wall time per round trip
  barrier             wall time per generation
  thread              wall time per start+join (or Timer start+cancel+join)
  notify_n            threads woken (not a ratio)
  queue               wall time for a fixed number of items (PxC-capN-item)
  queue_handoff       wall time per round trip (two hand-offs to a blocked get)
Only the Python standard library is used; the chart needs gnuplot
(Debian: gnuplot-nox).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Columns of the table, in order: (heading, implementation names in bench.json).
COLUMNS = [
    ("std", ["std"]),
    ("Abseil", ["absl-nodd", "absl"]),
    ("Boost", ["boost"]),
    ("POSIX", ["posix"]),
    ("TBB", ["tbb"]),
    ("moodycamel", ["moodycamel"]),
    ("CPython 3.11", ["cpython"]),
]
# Implementations shown in the "other" column.
OTHERS = ["std-unlocked", "std-atomic", "std-counting"]

# Targets: key -> (column impl, max ratio ours/theirs) or ("abs", max ns).
TARGETS = {
    ("uncontended", "Lock", ""): ("std", 0.9),
    ("uncontended", "RLock", ""): ("std", 1.0),
    ("uncontended", "RLock-nested", ""): ("std", 1.0),
    ("uncontended", "Semaphore", ""): ("abs", 15.0),
    ("uncontended", "BoundedSemaphore", ""): ("abs", 15.0),
    ("contended", "Lock", "threads:2"): ("std", 1 / 1.1),
    ("contended", "Lock", "threads:16"): ("std", 1 / 1.3),
    ("handoff", "Condition", ""): ("std", 0.5),
    ("handoff", "Event", ""): ("std", 0.5),
    ("barrier", "Barrier", "parties:2"): ("std", 1.0),
    ("barrier", "Barrier", "parties:8"): ("std", 1.0),
    ("thread", "start+join", ""): ("std", 1.15),
    ("local", "get", ""): ("abs", 2.0),
}

GROUP_ORDER = ["uncontended", "contended", "handoff", "notify_n", "barrier", "thread", "local",
               "queue", "queue_handoff"]

# Queue targets (issue 12): ahead of TBB, Boost and std in every case (≤ 0.8
# of their time); the blocked hand-off ≤ 0.5× std's. moodycamel: no target.
QUEUE_LIMITS = {"queue": [("std", 0.8), ("tbb", 0.8), ("boost", 0.8)],
                "queue_handoff": [("std", 0.5), ("tbb", 0.8), ("boost", 0.8)]}


def parse_name(run_name):
    """'contended/Lock/std/threads:2/iterations:4/manual_time' -> key, impl."""
    parts = run_name.split("/")
    group, case, impl = parts[0], parts[1], parts[2]
    args = [p for p in parts[3:]
            if ":" in p and not p.startswith(("iterations:", "repeats:", "min_time:"))]
    return (group, case, "/".join(args)), impl


def metric_ns(group, b):
    scale = UNIT_NS[b.get("time_unit", "ns")]
    if group == "contended":
        return b["ns_per_op"]
    if group in ("uncontended", "local"):
        return b["cpu_time"] * scale
    return b["real_time"] * scale


def load(results):
    data = {}  # key -> impl -> {"ns": .., counters}
    with open(os.path.join(results, "bench.json")) as f:
        bench = json.load(f)
    for b in bench["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        key, impl = parse_name(b["run_name"])
        entry = {"ns": metric_ns(key[0], b)}
        for c in ("ops_per_s", "max_wait_us", "fairness", "woken", "woken_min", "asked"):
            if c in b:
                entry[c] = b[c]
        data.setdefault(key, {})[impl] = entry
    cpy = os.path.join(results, "cpython.json")
    cpython = None
    if os.path.exists(cpy):
        with open(cpy) as f:
            cpython = json.load(f)
        for b in cpython["benchmarks"]:
            key, impl = parse_name(b["name"])
            entry = {"ns": b["median_ns"]}
            entry.update(b.get("counters", {}))
            data.setdefault(key, {})[impl] = entry
    sizes = None
    sz = os.path.join(results, "sizes.json")
    if os.path.exists(sz):
        with open(sz) as f:
            sizes = json.load(f)["sizes"]
    return bench.get("context", {}), data, cpython, sizes


def fmt_ns(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.1f} µs"
    return f"{v:.2f} ns" if v < 10 else f"{v:.1f} ns"


def fmt_ratio(r):
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


def sort_key(key):
    g = GROUP_ORDER.index(key[0]) if key[0] in GROUP_ORDER else 99
    num = 0
    if key[2]:
        try:
            num = int(key[2].split(":")[1])
        except (IndexError, ValueError):
            pass
    case = key[1]
    if key[0] == "queue":  # "PxC-capN-item": by threads, then capacity, then item
        shape, cap, item = case.split("-")
        case = (int(shape.split("x")[0]), {"cap1": 0, "cap64": 1}.get(cap, 2), item)
        return (g, "", num, case)
    return (g, case, num, ())


def label(key):
    return f"{key[0]}/{key[1]}" + (f" ({key[2]})" if key[2] else "")


def queue_verdict(key, impls):
    ours = impls["pythreading"]["ns"]
    missed = [f"{col} {ours / impls[col]['ns']:.2f}×" for col, limit in QUEUE_LIMITS[key[0]]
              if col in impls and ours / impls[col]["ns"] > limit]
    limits = ", ".join(f"{c} ≤ {l:g}" for c, l in QUEUE_LIMITS[key[0]])
    return f"{limits}: " + ("met" if not missed else "MISSED (" + ", ".join(missed) + ")")


def verdict(key, impls):
    if key[0] in QUEUE_LIMITS and "pythreading" in impls:
        return queue_verdict(key, impls)
    t = TARGETS.get(key)
    ours = impls.get("pythreading")
    if not t or not ours:
        return ""
    col, limit = t
    if col == "abs":
        ok = ours["ns"] <= limit
        return f"≤ {limit:g} ns: {'met' if ok else 'MISSED'}"
    other = impls.get(col)
    if not other:
        return ""
    r = ours["ns"] / other["ns"]
    ok = r <= limit
    if key[0] == "contended":
        return f"≥ {1 / limit:.1f}× {col} throughput: {'met' if ok else 'MISSED'} ({other['ns'] / ours['ns']:.2f}×)"
    return f"≤ {limit:g}× {col}: {'met' if ok else 'MISSED'}"


def markdown(context, data, cpython, sizes):
    out = []
    out.append("| benchmark | pythreading | " + " | ".join(h for h, _ in COLUMNS)
               + " | other | target |")
    out.append("|---|---|" + "---|" * len(COLUMNS) + "---|---|")
    for key in sorted(data, key=sort_key):
        impls = data[key]
        if key[0] == "notify_n":
            continue
        ours = impls.get("pythreading")
        if not ours:
            continue
        row = [label(key), fmt_ns(ours["ns"])]
        for _, names in COLUMNS:
            cells = []
            for n in names:
                if n in impls:
                    r = ours["ns"] / impls[n]["ns"]
                    cells.append(fmt_ratio(r) + (" (dd on)" if n == "absl" else ""))
            row.append(", ".join(cells) if cells else "—")
        others = [f"{n}: {fmt_ratio(ours['ns'] / impls[n]['ns'])}" for n in OTHERS if n in impls]
        row.append(", ".join(others) if others else "")
        row.append(verdict(key, impls))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("Cells are pythreading's median ÷ the other's median (< 1: pythreading is faster).")
    out.append("Abseil: absl::Mutex with its deadlock detector off; \"(dd on)\" = Debian's default.")

    # Starvation table.
    cont = [k for k in data if k[0] == "contended"]
    if cont:
        out.append("")
        out.append("Contended counter, throughput and starvation (medians):")
        out.append("")
        out.append("| case | impl | Mops/s | longest wait | fairness (min/max per-thread ops) |")
        out.append("|---|---|---|---|---|")
        for key in sorted(cont, key=sort_key):
            for impl in ["pythreading", "std", "posix", "absl-nodd", "absl", "boost", "cpython", "no-lock"]:
                e = data[key].get(impl)
                if not e or "ops_per_s" not in e:
                    continue
                out.append(f"| {label(key)} | {impl} | {e['ops_per_s'] / 1e6:.1f} | "
                           f"{e['max_wait_us'] / 1e3:.2f} ms | {e['fairness']:.3g} |")

    notif = sorted((k for k in data if k[0] == "notify_n"), key=sort_key)
    if notif:
        out.append("")
        out.append("notify(n) with 8 waiters: threads woken (min–max over iterations):")
        out.append("")
        out.append("| n | pythreading | std (n × notify_one) | CPython |")
        out.append("|---|---|---|---|")
        for key in notif:
            cells = []
            for impl in ("pythreading", "std", "cpython"):
                e = data[key].get(impl)
                cells.append(f"{e['woken_min']:g}–{e['woken']:g}" if e else "—")
            out.append(f"| {key[2].split(':')[1]} | " + " | ".join(cells) + " |")

    if sizes:
        out.append("")
        out.append("sizeof (bytes):")
        out.append("")
        out.append("| object | pythreading | std | Abseil | Boost | POSIX | CPython (sys.getsizeof) |")
        out.append("|---|---|---|---|---|---|---|")
        pys = (cpython or {}).get("sizes", {})

        def c(v, n):
            return "—" if v < 0 else f"{v} ({n})" if n else str(v)

        for s in sizes:
            out.append(f"| {s['object']} | {c(s['pythreading'], '')} | {c(s['std'], s['std_name'])} "
                       f"| {c(s['absl'], s['absl_name'])} | {c(s['boost'], s['boost_name'])} "
                       f"| {c(s['posix'], s['posix_name'])} | {pys.get(s['object'], '—')} |")
    return "\n".join(out) + "\n"


def chart(data, png):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("plot_bench: gnuplot not found (apt-get install gnuplot-nox); no PNG", file=sys.stderr)
        return False
    series = [("std", ["std"]), ("Abseil", ["absl-nodd"]), ("Boost", ["boost"]),
              ("POSIX", ["posix"]), ("TBB", ["tbb"]), ("moodycamel", ["moodycamel"]),
              ("CPython 3.11", ["cpython"])]
    rows = []
    for key in sorted(data, key=sort_key):
        impls = data[key]
        if key[0] == "notify_n" or "pythreading" not in impls:
            continue
        ours = impls["pythreading"]["ns"]
        vals = []
        for _, names in series:
            v = "?"
            for n in names:
                if n in impls and ours > 0:
                    v = f"{impls[n]['ns'] / ours:.4g}"
                    break
            vals.append(v)
        if all(v == "?" for v in vals):
            continue
        rows.append((label(key).replace("_", "\\\\_"), vals))
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "ratios.dat")
        with open(dat, "w") as f:
            f.write("case " + " ".join(f'"{h}"' for h, _ in series) + "\n")
            for name, vals in rows:
                f.write(f'"{name}" ' + " ".join(vals) + "\n")
        height = max(600, 28 * len(rows) + 200)
        script = f"""
set terminal pngcairo size 1400,{height} font "DejaVu Sans,10"
set output "{png}"
set title "pythreading speed-up: other's median time ÷ pythreading's (> 1 = pythreading faster; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [0.01:1000]
set ytics ("0.01" 0.01, "0.1" 0.1, "0.5" 0.5, "1" 1, "2" 2, "10" 10, "100" 100, "1000" 1000)
set grid ytics
set xtics rotate by -60 scale 0 font ",9"
set key top left
set datafile missing "?"
set bmargin 14
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black"
plot "{dat}" using 2:xtic(1) title columnheader(2) lc rgb "#1f77b4", \\
     "" using 3 title columnheader(3) lc rgb "#ff7f0e", \\
     "" using 4 title columnheader(4) lc rgb "#2ca02c", \\
     "" using 5 title columnheader(5) lc rgb "#9467bd", \\
     "" using 6 title columnheader(6) lc rgb "#8c564b", \\
     "" using 7 title columnheader(7) lc rgb "#e377c2", \\
     "" using 8 title columnheader(8) lc rgb "#d62728"
"""
        gp = os.path.join(tmp, "chart.gp")
        with open(gp, "w") as f:
            f.write(script)
        subprocess.run([gnuplot, gp], check=True)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--png")
    ap.add_argument("--md")
    args = ap.parse_args()
    context, data, cpython, sizes = load(args.results)
    md = markdown(context, data, cpython, sizes)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    if args.png and chart(data, args.png):
        print(f"plot_bench: wrote {args.png}")


if __name__ == "__main__":
    main()
