#!/usr/bin/env bash
# Installs pythreading into a scratch prefix and builds a consumer against it
# with find_package, add_subdirectory, FetchContent and pkg-config.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
opts=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DPYTHREADING_BUILD_PYTHON=OFF)
cmake -S "$src" -B "$work/lib" "${opts[@]}" -DPYTHREADING_BUILD_TESTS=OFF \
      -DPYTHREADING_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" --no-warn-unused-cli >/dev/null
cmake --build "$work/lib" >/dev/null
cmake --install "$work/lib" >/dev/null
for mode in find_package add_subdirectory fetchcontent; do
  cmake -S "$src/tests/package" -B "$work/$mode" "${opts[@]}" -DMODE=$mode \
        -DCMAKE_PREFIX_PATH="$work/prefix" -DPYTHREADING_SOURCE="$src" --no-warn-unused-cli >/dev/null
  cmake --build "$work/$mode" >/dev/null
  echo "$mode: $("$work/$mode/consumer")"
done
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
g++ "$src/tests/package/consumer.cpp" -o "$work/pc" $(pkg-config --cflags --libs pythreading)
echo "pkg-config: $("$work/pc")"
