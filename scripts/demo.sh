#!/usr/bin/env bash
# Builds the library and runs every example in examples/ (C++ versions of the
# examples in Python's threading documentation, plus the README's quickstart).
# Installs only a compiler, CMake and Ninja if missing (scripts/setup.sh demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-demo -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHREADING_BUILD_EXAMPLES=ON \
      -DPYTHREADING_BUILD_TESTS=OFF -DPYTHREADING_BUILD_PYTHON=OFF >/dev/null
cmake --build build-demo -j "$(nproc)"
for exe in build-demo/examples/example_*; do
  [ -x "$exe" ] || continue
  echo
  echo "=== ${exe#build-demo/examples/example_}"
  "$exe"
done
