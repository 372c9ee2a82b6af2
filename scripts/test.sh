#!/usr/bin/env bash
# Sets up, builds and runs every test: the house checks of the sources
# (scripts/lint.sh: clang-format, clang-tidy), the lit/FileCheck suite
# (test/**/*.mlir) and the GoogleTest suites through ctest. Each prints its
# summary.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh" || exit 1
"$root/scripts/build.sh" || exit 1

status=0
echo "== lint: clang-format and clang-tidy =="
"$root/scripts/lint.sh" || status=1
echo "== lit: compiler tests =="
/usr/lib/llvm-22/bin/lit -sv "$build/test" || status=1
echo "== ctest: unit, reference and PyTorch oracle tests =="
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" || status=1
exit $status
