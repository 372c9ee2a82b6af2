#!/usr/bin/env bash
# Compiles, on a machine with the compiler (nslc), every CUDA artifact that
# scripts/gpu-check.sh runs on a GPU machine (which has no LLVM/MLIR):
#
#   OUT/models/<example>.nslm    every network of examples/
#   OUT/ops/<file>.<fn>.nslm     every forward model of test/e2e/{conv,other,sphere}-ops.mlir
#   OUT/bench/<layer>.nslm       the benchmark layers, batch 128, 3x3, pad 1:
#                                conv, static (static DNS: fold + conv),
#                                sphere (SphereConv) and dns (SphereConv
#                                predictor + dynamic DNS conv) at 64->64
#                                32x32, 128->128 16x16, 256->256 16x16
#
# usage: scripts/gpu-prepare.sh [OUT] (default gpu-artifacts/ in the repo)
# env:   NSLC (default $NSL_BUILD_DIR/bin/nslc, else build/bin/nslc),
#        NSL_CUDA_ARCH (default sm_90), NSL_PREPARE_QUICK=1 (skip the bench
#        layers, for tests)
set -euo pipefail
shopt -s nullglob
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/gpu-artifacts}
arch=${NSL_CUDA_ARCH:-sm_90}
nslc=${NSLC:-${NSL_BUILD_DIR:-$root/build}/bin/nslc}
python=${NSL_PYTHON:-python3}

die() { echo "gpu-prepare: error: $*" >&2; exit 1; }
[ -x "$nslc" ] || die "no nslc at '$nslc' (build it with scripts/build.sh, or set NSLC)"
case "$arch" in sm_[0-9][0-9]|sm_[0-9][0-9]a) ;; *) die "NSL_CUDA_ARCH '$arch' is not sm_XY";; esac

rm -rf "$out"
mkdir -p "$out/models" "$out/ops" "$out/bench/src"
count=0
compile() { # SOURCE OUTPUT [nslc options...]
  local src=$1 dst=$2; shift 2
  if ! "$nslc" "$src" --target "cuda:$arch" -o "$dst" "$@" >"$dst.log" 2>&1; then
    cat "$dst.log" >&2
    die "nslc failed on $src $*"
  fi
  rm -f "$dst.log"
  count=$((count + 1))
}

for src in "$root"/examples/*.mlir; do
  compile "$src" "$out/models/$(basename "$src" .mlir).nslm"
done
for file in conv-ops other-ops sphere-ops; do
  src=$root/test/e2e/$file.mlir
  for fn in $(sed -n 's/^func\.func @\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$src"); do
    compile "$src" "$out/ops/$file.$fn.nslm" --function "$fn"
  done
done

if [ "${NSL_PREPARE_QUICK:-0}" != 1 ]; then
  # The benchmark layers (bench/gpu_peers.py times the same layers in PyTorch).
  "$python" - "$out/bench/src" <<'PY'
import sys
out = sys.argv[1]
n = 128
for c, hw in [(64, 32), (128, 16), (256, 16)]:
    x = f"tensor<{n}x{c}x{hw}x{hw}xf32>"
    w = f"tensor<{c}x{c}x3x3xf32>"
    name = f"{c}x{hw}"
    with open(f"{out}/conv_{name}.mlir", "w") as f:
        f.write(f"""// Benchmark layer: 3x3 conv {c}->{c}, {hw}x{hw}, batch {n}, pad 1.
func.func @forward(%x: {x} {{nsl.name = "x", nsl.role = "input"}},
    %w: {w} {{nsl.name = "conv.weight", nsl.role = "parameter"}})
    -> ({x} {{nsl.name = "y"}}) {{
  %y = nsl.sim_conv2d identity %x, %w {{padding = array<i64: 1, 1>}} : {x}, {w} -> {x}
  return %y : {x}
}}
""")
    with open(f"{out}/static_{name}.mlir", "w") as f:
        f.write(f"""// Benchmark layer: static DNS {c}->{c}, {hw}x{hw}, batch {n}: the learned
// tap mask folded into the weights (fold_similarity), then the conv.
func.func @forward(%x: {x} {{nsl.name = "x", nsl.role = "input"}},
    %w: {w} {{nsl.name = "conv.weight", nsl.role = "parameter"}},
    %m: tensor<9xf32> {{nsl.name = "conv.similarity", nsl.role = "parameter"}})
    -> ({x} {{nsl.name = "y"}}) {{
  %y = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>) {{padding = array<i64: 1, 1>}} : {x}, {w} -> {x}
  return %y : {x}
}}
""")
    with open(f"{out}/sphere_{name}.mlir", "w") as f:
        f.write(f"""// Benchmark layer: SphereConv (cosine) {c}->{c}, {hw}x{hw}, batch {n}, pad 1.
func.func @forward(%x: {x} {{nsl.name = "x", nsl.role = "input"}},
    %w: {w} {{nsl.name = "sphere.weight", nsl.role = "parameter"}})
    -> ({x} {{nsl.name = "y"}}) {{
  %y = nsl.sphere_conv2d cosine %x, %w {{padding = array<i64: 1, 1>}} : {x}, {w} -> {x}
  return %y : {x}
}}
""")
    m = f"tensor<{n}x9x{hw}x{hw}xf32>"
    with open(f"{out}/dns_{name}.mlir", "w") as f:
        f.write(f"""// Benchmark layer: dynamic DNS {c}->{c}, {hw}x{hw}, batch {n}: a SphereConv
// (cosine) predictor {c}->9 3x3, M_p = gamma*P(x)_p + I, the modulated conv.
func.func @forward(%x: {x} {{nsl.name = "x", nsl.role = "input"}},
    %p: tensor<9x{c}x3x3xf32> {{nsl.name = "conv.predictor.weight", nsl.role = "parameter"}},
    %gamma: tensor<1xf32> {{nsl.name = "conv.gamma", nsl.role = "parameter"}},
    %w: {w} {{nsl.name = "conv.weight", nsl.role = "parameter"}})
    -> ({x} {{nsl.name = "y"}}) {{
  %s = nsl.sphere_conv2d cosine %x, %p {{padding = array<i64: 1, 1>}}
      : {x}, tensor<9x{c}x3x3xf32> -> {m}
  %mask = nsl.predicted_similarity diagonal %s, %gamma : {m}, tensor<1xf32> -> {m}
  %y = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%mask : {m})
      {{padding = array<i64: 1, 1>}} : {x}, {w} -> {x}
  return %y : {x}
}}
""")
PY
  for src in "$out"/bench/src/*.mlir; do
    compile "$src" "$out/bench/$(basename "$src" .mlir).nslm"
  done
fi
echo "$arch" > "$out/ARCH"
echo "gpu-prepare: wrote $count CUDA artifacts ($arch) to $out"
