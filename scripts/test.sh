#!/usr/bin/env bash
# Builds and runs every test three times: a normal optimised build, under
# ThreadSanitizer, and under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            all three
#   scripts/test.sh plain      only the normal build (quick)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)
configs=("${@:-plain thread address}")
read -r -a configs <<<"${configs[*]}"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
# LeakSanitizer is on by default; programs that fork may turn it off for the
# child through __asan_default_options, which an ASAN_OPTIONS key would override.
export ASAN_OPTIONS="halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for cfg in "${configs[@]}"; do
  dir=build-test-$cfg
  san=""
  extra=()
  # The Python module is tested in the plain build only: CPython itself is not
  # built with the sanitizers, so loading an instrumented module into it fails.
  [ "$cfg" = plain ] || { san=$cfg; extra=(-DPYTHREADING_BUILD_PYTHON=OFF -DPYTHREADING_BUILD_EXAMPLES=OFF); }
  echo "=== $cfg build ($dir)"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHREADING_SANITIZE="$san" -DPYTHREADING_WERROR=ON "${extra[@]}" --no-warn-unused-cli >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
done
