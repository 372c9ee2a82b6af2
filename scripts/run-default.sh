#!/usr/bin/env bash
# The main job. Sets up and builds, then, without arguments, trains a small
# static NSN (nsl.small_cnn with diagonal similarities) on Fashion-MNIST
# with compiled code end to end:
#   the model in PyTorch (the nsl package) → TorchScript → nslc --train →
#   nsl-run fit (3 epochs, checkpoints, metrics) → the plot of its curves →
#   nslc --weights CHECKPOINT (the inference artifact) → nsl-run check
#   (against the reference interpreter) → nsl-run evaluate (test accuracy of
#   the inference artifact) → the checkpoint loaded into the PyTorch model
#   with load_state_dict(strict=True).
# The outputs stay in $NSL_MAIN_JOB_DIR (default build/main-job).
#
# With a model, it takes that model through compile, run, check and bench:
#   scripts/run-default.sh MODEL.mlir
#   scripts/run-default.sh MODEL.pt NxCxHxW [NxCxHxW…]   (a TorchScript model
#                                                         and its input shapes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
if [ $# -eq 0 ]; then
  # Only the tools the job runs (scripts/test.sh builds everything).
  "$root/scripts/build.sh" nslc nsl-run >/dev/null
  exec "$root/scripts/train-fashion-mnist.sh"
fi
"$root/scripts/build.sh" nslc nsl-run nsl-opt nsl-import >/dev/null

model=$1
[ -f "$model" ] || { echo "run-default: error: no model file '$model'" >&2; exit 2; }
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
shapes=()
if [[ "$model" == *.pt ]]; then
  shift
  [ $# -gt 0 ] || { echo "run-default: error: a .pt model needs its input shapes, e.g. $0 model.pt 1x1x28x28" >&2; exit 2; }
  for shape in "$@"; do shapes+=(--input-shape "$shape"); done
fi

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
