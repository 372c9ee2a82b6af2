#!/usr/bin/env bash
# The main job: sets up, builds, then takes a model end to end on the CPU —
# the optimised nsl IR, compilation to an artifact (nslc), a run with its
# outputs and time (nsl-run run), the check against the reference
# interpreter (nsl-run check) and a benchmark (nsl-run bench).
# Usage: scripts/run-default.sh [MODEL.mlir]   (default: examples/dynamic_nsn.mlir)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}
model=${1:-$root/examples/dynamic_nsn.mlir}
[ -f "$model" ] || { echo "run-default: error: no model file '$model'" >&2; exit 2; }
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")

"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== nsl-opt --nsl-optimize $model =="
"$build/bin/nsl-opt" "$model" --nsl-optimize
echo "== nslc $model -o model.nslm =="
"$build/bin/nslc" "$model" -o "$work/model.nslm"
echo "== nsl-run run (random inputs, seed 0) =="
"$build/bin/nsl-run" run "$work/model.nslm" --seed 0
echo "== nsl-run check (against the reference interpreter) =="
"$build/bin/nsl-run" check "$work/model.nslm" --seed 1
echo "== nsl-run bench =="
"$build/bin/nsl-run" bench "$work/model.nslm" --warmup 3 --repeats 20
