#!/usr/bin/env bash
# The main job: sets up, builds, then takes a model end to end on the CPU —
# the optimised nsl IR, compilation to an artifact (nslc), a run with its
# outputs and time (nsl-run run), the check against the reference
# interpreter (nsl-run check) and a benchmark (nsl-run bench).
# Usage: scripts/run-default.sh [MODEL.mlir]   (default: examples/dynamic_nsn.mlir)
#        scripts/run-default.sh MODEL.pt NxCxHxW [NxCxHxW…]   (a TorchScript model
#        and the shapes of its inputs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}
model=${1:-$root/examples/dynamic_nsn.mlir}
[ -f "$model" ] || { echo "run-default: error: no model file '$model'" >&2; exit 2; }
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
shapes=()
if [[ "$model" == *.pt ]]; then
  shift
  [ $# -gt 0 ] || { echo "run-default: error: a .pt model needs its input shapes, e.g. $0 model.pt 1x1x28x28" >&2; exit 2; }
  for shape in "$@"; do shapes+=(--input-shape "$shape"); done
fi

"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ${#shapes[@]} -gt 0 ]; then
  echo "== nsl-import $model | nsl-opt --nsl-optimize =="
  "$build/bin/nsl-import" "$model" "${shapes[@]}" | "$build/bin/nsl-opt" --nsl-optimize
else
  echo "== nsl-opt --nsl-optimize $model =="
  "$build/bin/nsl-opt" "$model" --nsl-optimize
fi
echo "== nslc $model -o model.nslm =="
"$build/bin/nslc" "$model" ${shapes[@]+"${shapes[@]}"} -o "$work/model.nslm"
echo "== nsl-run run (random inputs, seed 0) =="
"$build/bin/nsl-run" run "$work/model.nslm" --seed 0
echo "== nsl-run check (against the reference interpreter) =="
"$build/bin/nsl-run" check "$work/model.nslm" --seed 1
echo "== nsl-run bench =="
"$build/bin/nsl-run" bench "$work/model.nslm" --warmup 3 --repeats 20
