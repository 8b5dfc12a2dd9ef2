#!/usr/bin/env bash
# Installs the Debian packages one of pythreading's commands needs, and only
# those; does nothing (and never calls apt-get) when they are all there.
#
#   scripts/setup.sh demo     compiler, CMake, Ninja              (scripts/demo.sh)
#   scripts/setup.sh test     + GoogleTest, the Python module's build needs,
#                               CPython's test package and venv for the Python
#                               the module is built for, pkg-config, spin
#                                                                 (scripts/test.sh)
#   scripts/setup.sh python   + the Python module's build needs and venv
#                                                                 (pip install .)
#   scripts/setup.sh bench    + Google Benchmark, Abseil, Boost, TBB, moodycamel, gnuplot
#                                                                 (scripts/bench.sh)
# Several purposes may be given at once. Runs apt-get directly as root, through
# sudo otherwise; without either it prints what to install and exits 1.
# SETUP_DRY_RUN=1 only prints what it would install.
set -euo pipefail

# --- the package lists: the one place to edit --------------------------------
pkgs_demo=(g++ cmake ninja-build)
# What building the Python module needs (python/CMakeLists.txt).
pkgs_pymodule=(python3-dev)
# The test suite: GoogleTest, the consumer test's pkg-config, the model
# checker; plus the module and, for the Python it is built for, CPython's own
# test package and venv (added below, as they depend on that interpreter).
pkgs_test=(libgtest-dev libgmock-dev pkgconf spin "${pkgs_pymodule[@]}")
pkgs_python=("${pkgs_pymodule[@]}")
pkgs_bench=(libbenchmark-dev libabsl-dev libboost-thread-dev libtbb-dev libconcurrentqueue-dev
            gnuplot-nox python3)
# ------------------------------------------------------------------------------

usage() { echo "usage: scripts/setup.sh demo|test|python|bench ..." >&2; exit 2; }
(($#)) || usage
wanted=("${pkgs_demo[@]}")
py_needs=() # of the module's Python: testsuite (CPython's test package), venv
for purpose in "$@"; do
  case $purpose in
    demo) ;;
    test) wanted+=("${pkgs_test[@]}"); py_needs+=(testsuite venv) ;;
    python) wanted+=("${pkgs_python[@]}"); py_needs+=(venv) ;;
    bench) wanted+=("${pkgs_bench[@]}") ;;
    *) usage ;;
  esac
done

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

updated=0
install() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if [ "${SETUP_DRY_RUN:-0}" = 1 ]; then
    echo "setup: would install ${missing[*]}"
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "setup: these Debian packages are missing: ${missing[*]}" >&2
      echo "setup: install them as root (apt-get install ${missing[*]}) and run this again" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${missing[*]}"
  if ((!updated)); then
    "${sudo[@]}" apt-get update -qq
    updated=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install "${wanted[@]}"

# CPython's own test package (test.lock_tests, test.test_threading_local) and
# venv (`pip install .` into a virtual environment) for the interpreter the
# module is built for: the `python3` first on PATH, as python/CMakeLists.txt
# picks it. Debian splits both out of its system Python (libpython3.X-testsuite,
# python3.X-venv); pyenv and self-built Pythons have them.
((${#py_needs[@]})) || exit 0
if ! py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null); then
  [ "${SETUP_DRY_RUN:-0}" = 1 ] && { echo "setup: would then add CPython's test package and venv"; exit 0; }
  echo "setup: no python3 on PATH" >&2
  exit 1
fi
needs=()
for n in "${py_needs[@]}"; do
  case $n in
    testsuite) "$py" -c 'import test.lock_tests, test.test_threading_local' 2>/dev/null || needs+=(testsuite) ;;
    venv) "$py" -c 'import ensurepip' 2>/dev/null || needs+=(venv) ;;
  esac
done
((${#needs[@]})) || exit 0
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if dpkg -S "$(readlink -f "$py")" >/dev/null 2>&1; then
  extra=()
  for n in "${needs[@]}"; do
    case $n in
      testsuite) extra+=("libpython$ver-testsuite") ;;
      venv) extra+=("python$ver-venv") ;;
    esac
  done
  install "${extra[@]}"
else
  echo "setup: $py (Python $ver, not Debian's) lacks: ${needs[*]}" >&2
  echo "setup: the Python tests need CPython's 'test' package, and pip's virtual" \
       "environments 'ensurepip'; rebuild that Python with them or put another" \
       "python3 first on PATH" >&2
  exit 1
fi
