#!/usr/bin/env bash
# Builds the library and runs every example in examples/ (the seeds' demos).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
for exe in build/examples/example_*; do
  [ -x "$exe" ] || continue
  echo "=== ${exe#build/examples/}"
  "$exe"
done
