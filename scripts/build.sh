#!/usr/bin/env bash
# Configures (once) and builds the whole project with clang-22 and ninja.
# NSL_BUILD_DIR overrides the build folder (default: build/).
# Usage: scripts/build.sh [TARGET...]   (default: everything, tests included)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; echo "build: cmake configure failed" >&2; exit 1; }
fi
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$build" -j "$(nproc)" ${targets[@]+"${targets[@]}"}
