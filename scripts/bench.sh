#!/usr/bin/env bash
# Builds the benchmark suite in Release (-O2) and runs it, with CPython 3.11's
# threading timed on the same operations, then draws the chart and table.
#
#   scripts/bench.sh [extra Google Benchmark flags]
#
# Environment:
#   REPS=5          repetitions of every benchmark (medians are reported)
#   FILTER=.        Google Benchmark --benchmark_filter regex
#   MIN_TIME=0.2    seconds per repetition for benchmarks without a fixed count
#   CPYTHON=1       also time CPython (python/pythreading_bench.py --json; 0 to skip)
#   JOBS=2          build parallelism
#   UPDATE_DOCS=0   1: copy the chart to docs/bench.png and the table to
#                   build-bench/results/table.md only (docs/PERFORMANCE.md is
#                   written by hand from it)
#
# Results: build-bench/results/{bench.json,cpython.json,sizes.json,machine.txt,
#          table.md,bench.png}
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Google Benchmark, Abseil, Boost.Thread, TBB, moodycamel and gnuplot (only the benchmarks need them).
bash "$root/scripts/setup.sh" bench
build=$root/build-bench
out=$build/results
REPS=${REPS:-5}
FILTER=${FILTER:-.}
MIN_TIME=${MIN_TIME:-0.2}
CPYTHON=${CPYTHON:-1}
JOBS=${JOBS:-2}
UPDATE_DOCS=${UPDATE_DOCS:-0}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}"
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DPYTHREADING_BUILD_TESTS=OFF -DPYTHREADING_BUILD_EXAMPLES=OFF \
  -DPYTHREADING_BUILD_PYTHON=OFF -DPYTHREADING_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$JOBS" --target pythreading_bench pythreading_sizes

mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nproc: $(nproc)"
  echo "loadavg before: $(cat /proc/loadavg)"
  lscpu | head -20
  uname -srm
  g++ --version | head -1
} >"$out/machine.txt"

"$build/bench/pythreading_sizes" --json "$out/sizes.json"

"$build/bench/pythreading_bench" \
  --benchmark_repetitions="$REPS" \
  --benchmark_report_aggregates_only=true \
  --benchmark_min_time="$MIN_TIME" \
  --benchmark_filter="$FILTER" \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json \
  "$@"

if [ "$CPYTHON" = 1 ]; then
  py=$(command -v python3.11 || true)
  if [ -n "$py" ]; then
    "$py" "$root/python/pythreading_bench.py" --json "$out/cpython.json" --reps "$REPS"
  else
    echo "bench.sh: python3.11 not found; CPython column skipped" >&2
    rm -f "$out/cpython.json"
  fi
fi
echo "loadavg after: $(cat /proc/loadavg)" >>"$out/machine.txt"

python3 "$root/scripts/plot_bench.py" "$out" --png "$out/bench.png" --md "$out/table.md"
if [ "$UPDATE_DOCS" = 1 ]; then
  cp "$out/bench.png" "$root/docs/bench.png"
  echo "bench.sh: updated docs/bench.png"
fi
echo "bench.sh: results in $out"
