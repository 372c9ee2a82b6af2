#!/usr/bin/env bash
# The house checks of the C++ sources (CONVENTIONS.md): every tracked C/C++
# file is formatted by clang-format-22 (.clang-format), and clang-tidy-22
# (.clang-tidy: readability-function-size, 120 lines) passes on every
# compiled hand-written file. Needs a configured build (compile_commands.json).
# Prints one summary line per check; exits non-zero if either fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}
cd "$root"

status=0
mapfile -t sources < <(git ls-files '*.cpp' '*.h' '*.c')
if clang-format-22 --dry-run -Werror "${sources[@]}"; then
  echo "lint: clang-format: ${#sources[@]} files formatted"
else
  echo "lint: clang-format: unformatted files above (fix: clang-format-22 -i FILE)" >&2
  status=1
fi

# The translation units of the build that are tracked sources of the project.
mapfile -t units < <(git ls-files '*.cpp' '*.c' | while read -r f; do
  grep -q "\"file\": \"$root/$f\"" "$build/compile_commands.json" && echo "$f"
done)
log=$(mktemp)
if run-clang-tidy-22 -quiet -p "$build" -j "$(nproc)" "${units[@]/#/$root/}" >"$log" 2>&1; then
  echo "lint: clang-tidy: ${#units[@]} files pass (.clang-tidy)"
else
  grep -E "(warning|error):" "$log" | sort -u >&2
  echo "lint: clang-tidy: the findings above fail .clang-tidy" >&2
  status=1
fi
rm -f "$log"
exit $status
