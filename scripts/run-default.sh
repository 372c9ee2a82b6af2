#!/usr/bin/env bash
# The main job on the built-in default model: sets up, builds, runs the
# default nsl pipeline (nsl-optimize) over examples/dynamic_nsn.mlir and
# prints the optimised IR, then runs the exported network in the reference
# interpreter on fresh random inputs and prints its outputs.
# Usage: scripts/run-default.sh [MODEL.mlir]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}
model=${1:-$root/examples/dynamic_nsn.mlir}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== nsl-opt --nsl-optimize $model =="
"$build/bin/nsl-opt" "$model" --nsl-optimize \
  --nsl-export-graph="output=$work/graph.json"
echo "== nsl-reference run (graph.json, random inputs, seed 0) =="
"$build/bin/nsl-reference" run "$work/graph.json" --seed 0
