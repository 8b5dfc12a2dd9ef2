#!/usr/bin/env bash
# Builds and runs every test, once per configuration, each in build-test-CONFIG/:
#   plain    the normal optimised build; also the Python module's tests
#            (CPython's own lock_tests against it, and ours), the examples,
#            the installed-package consumers and `pip install .`
#   thread   the C++ suite under ThreadSanitizer
#   address  the C++ suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   portable the C++ suite on the portable sleep path (-DPYTHREADING_FUTEX=OFF:
#            pthread mutex/condvar slots instead of the Linux futex)
#
#   scripts/test.sh                 plain thread address portable (the full test command; CI)
#   scripts/test.sh plain           only the normal build (quick)
#   scripts/test.sh thread address  any list of configurations
#
# Every configuration runs even if an earlier one fails; a summary with each
# one's result and wall time comes last, and the exit status is non-zero if
# any failed. ccache is used when installed. JOBS=N overrides the parallelism.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bash scripts/setup.sh test || exit 1
jobs=${JOBS:-$(nproc)}
configs=("$@")
((${#configs[@]})) || configs=(plain thread address portable)

# Options every configuration shares.
common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHREADING_WERROR=ON --no-warn-unused-cli)
command -v ccache >/dev/null && common+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# A configuration's own options (every option set explicitly, so an existing
# build directory is brought back to what the name says).
config_options() {
  skip=()
  case $1 in
    plain) options=(-DPYTHREADING_SANITIZE= -DPYTHREADING_FUTEX=ON -DPYTHREADING_BUILD_PYTHON=ON -DPYTHREADING_BUILD_EXAMPLES=ON) ;;
    # The Python module is tested in the plain build only: CPython itself is
    # not built with the sanitizers, so an instrumented module cannot load.
    thread | address)
      options=(-DPYTHREADING_SANITIZE="$1" -DPYTHREADING_FUTEX=ON -DPYTHREADING_BUILD_PYTHON=OFF -DPYTHREADING_BUILD_EXAMPLES=OFF) ;;
    # The packaging and model checks say nothing about the sleep path: the
    # plain build has run them.
    portable)
      options=(-DPYTHREADING_SANITIZE= -DPYTHREADING_FUTEX=OFF -DPYTHREADING_BUILD_PYTHON=OFF -DPYTHREADING_BUILD_EXAMPLES=OFF)
      skip=(-E '^(package_consumers|model_check)$') ;;
    *) echo "test.sh: unknown configuration '$1' (plain, thread, address, portable)" >&2; return 1 ;;
  esac
}

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
# LeakSanitizer is on by default; programs that fork may turn it off for the
# child through __asan_default_options, which an ASAN_OPTIONS key would override.
export ASAN_OPTIONS="halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

summary=()
failed=0
for cfg in "${configs[@]}"; do
  dir=build-test-$cfg
  start=$SECONDS
  echo "=== $cfg build ($dir)"
  if config_options "$cfg" &&
     cmake -S . -B "$dir" "${common[@]}" "${options[@]}" >/dev/null &&
     cmake --build "$dir" -j "$jobs" &&
     ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${skip[@]}"; then
    result=passed
  else
    result=FAILED
    failed=1
  fi
  summary+=("$(printf '%-8s %-6s %4d s' "$cfg" "$result" $((SECONDS - start)))")
done
echo "=== summary (jobs=$jobs)"
printf '%s\n' "${summary[@]}"
exit $failed
