#!/usr/bin/env bash
# The ways a C++ project uses pythreading, each built and run:
#   installed: `cmake --install BUILD --prefix P` into a scratch prefix other
#              than the one BUILD was configured with, the tree then moved
#              elsewhere, and found there with find_package and with pkg-config
#              (so a path fixed at configure time cannot pass);
#   in-tree:   add_subdirectory and FetchContent of the source tree.
#
#   tests/package/check.sh BUILD     BUILD: an already-built build directory of
#                                    this source tree (ctest passes its own)
# The installed consumers reuse BUILD's library instead of building another;
# the in-tree ones compile it (unoptimised, through ccache when installed).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: check.sh BUILD_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

opts=(-G Ninja --no-warn-unused-cli)
command -v ccache >/dev/null && opts+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# --- installed -------------------------------------------------------------
# Both are fresh temporary directories, so neither is BUILD's configured prefix.
staged=$work/staged
prefix=$work/moved/prefix
cmake --install "$build" --prefix "$staged" >"$work/install.log"
# Nothing may land outside the prefix (the Python module installs only on request).
if outside=$(grep -v "^$staged/" "$build/install_manifest.txt"); then
  echo "installed outside the prefix $staged:"; echo "$outside"; exit 1
fi
mkdir -p "$(dirname "$prefix")"
mv "$staged" "$prefix"

cmake -S "$src/tests/package" -B "$work/find_package" "${opts[@]}" -DMODE=find_package \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/find_package" >/dev/null
echo "find_package: $("$work/find_package/consumer")"

pc=$(find "$prefix" -name pythreading.pc)
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
includedir=$(pkg-config --variable=includedir pythreading)
if [ "$(realpath "$includedir")" != "$(realpath "$prefix")/include" ]; then
  echo "pkg-config: includedir is $includedir, not under $prefix ($pc):"; cat "$pc"; exit 1
fi
# shellcheck disable=SC2046  # pkg-config's output is a list of flags
g++ "$src/tests/package/consumer.cpp" -o "$work/pc" $(pkg-config --cflags --libs pythreading)
echo "pkg-config: $("$work/pc")"

# --- in-tree ---------------------------------------------------------------
for mode in add_subdirectory fetchcontent; do
  cmake -S "$src/tests/package" -B "$work/$mode" "${opts[@]}" -DMODE=$mode \
        -DPYTHREADING_SOURCE="$src" >/dev/null
  cmake --build "$work/$mode" >/dev/null
  echo "$mode: $("$work/$mode/consumer")"
done
