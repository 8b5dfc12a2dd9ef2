#!/usr/bin/env bash
# Builds the library and runs every example in examples/ (the seeds' demos).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHREADING_BUILD_EXAMPLES=ON \
      -DPYTHREADING_BUILD_TESTS=OFF -DPYTHREADING_BUILD_PYTHON=OFF >/dev/null
cmake --build build-demo -j "$(nproc)"
for exe in build-demo/examples/example_*; do
  [ -x "$exe" ] || continue
  echo
  echo "=== ${exe#build-demo/examples/example_}"
  "$exe"
done
