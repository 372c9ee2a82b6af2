#!/usr/bin/env bash
# Trains a small static NSN on Fashion-MNIST with compiled code and checks
# the result (scripts/run-default.sh runs this after setup and build; see
# there). Needs the build and Debian's dataset-fashion-mnist.
# Environment: NSL_BUILD_DIR (default build), NSL_MAIN_JOB_DIR (default
# build/main-job), NSL_EPOCHS (default 3), NSL_THREADS (default 0: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSL_BUILD_DIR:-$root/build}
work=${NSL_MAIN_JOB_DIR:-$build/main-job}
epochs=${NSL_EPOCHS:-3}
threads=${NSL_THREADS:-0}
data=/usr/share/datasets/fashion-mnist
python=/usr/bin/python3
export PYTHONPATH=$root/frontend/python${PYTHONPATH:+:$PYTHONPATH}
[ -d "$data" ] || { echo "train-fashion-mnist: error: no $data (Debian package dataset-fashion-mnist; scripts/setup.sh installs it)" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work"
batch=64
echo "== the model: nsl.to_static_nsn(nsl.small_cnn(), 'diagonal'), seed 0 -> $work/small_nsn.pt =="
"$python" - "$work/small_nsn.pt" <<'PY'
import sys
import torch
import nsl
torch.manual_seed(0)
model = nsl.to_static_nsn(nsl.small_cnn(in_channels=1, num_classes=10), "diagonal")
torch.jit.script(model.eval()).save(sys.argv[1])
print(f"{sum(p.numel() for p in model.parameters())} parameters")
PY
echo "== nslc --train (SGD, momentum 0.9, weight decay 5e-4; batch $batch) =="
"$build/bin/nslc" "$work/small_nsn.pt" --input-shape "${batch}x1x28x28" --train \
  --momentum 0.9 --weight-decay 5e-4 -o "$work/train.nslm"
echo "== nsl-run fit: $epochs epochs, cosine schedule from lr 0.1, flips =="
"$build/bin/nsl-run" fit "$work/train.nslm" --data "$data" --epochs "$epochs" \
  --lr 0.1 --schedule cosine --warmup-steps 100 --flip --seed 0 \
  --threads "$threads" --output-dir "$work/fit"
echo "== the curves: scripts/plot-metrics.py =="
"$python" "$root/scripts/plot-metrics.py" "$work/fit" -o "$work/curves.png" \
  --labels "small static NSN (DNS)" --title "Fashion-MNIST, nsl-run fit"
echo "== nslc --weights fit/model.safetensors: the inference artifact =="
"$build/bin/nslc" "$work/small_nsn.pt" --input-shape 100x1x28x28 \
  --weights "$work/fit/model.safetensors" -o "$work/inference.nslm"
echo "== nsl-run check: the inference artifact against the reference interpreter =="
"$build/bin/nsl-run" check "$work/inference.nslm" --seed 1 --threads "$threads"
echo "== nsl-run evaluate: the inference artifact on the test split =="
"$build/bin/nsl-run" evaluate "$work/inference.nslm" --data "$data" \
  --threads "$threads" | tee "$work/evaluate.txt"
echo "== the checkpoint in PyTorch: load_state_dict(strict=True) =="
"$python" - "$work" "$data" <<'PY'
import gzip, sys
import numpy as np
import torch
import nsl
work, data = sys.argv[1], sys.argv[2]
model = nsl.to_static_nsn(nsl.small_cnn(in_channels=1, num_classes=10), "diagonal")
nsl.checkpoint.load_into(model, f"{work}/fit/model.safetensors", strict=True)
norm = nsl.checkpoint.input_normalization(f"{work}/fit/model.safetensors")
with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz") as f:
    labels = torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64))
x = (torch.from_numpy(images.astype(np.float32) / 255) - norm["mean"][0]) / norm["std"][0]
with torch.no_grad():
    correct = (model.eval()(x).argmax(1) == labels).sum().item()
print(f"PyTorch, the loaded state_dict: test accuracy {100 * correct / len(labels):.2f}%")
PY
accuracy=$(sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p' "$work/evaluate.txt")
echo "== done: test accuracy $accuracy% after $epochs epochs; checkpoint $work/fit/checkpoint.safetensors, model $work/fit/model.safetensors, curves $work/curves.png =="
awk -v a="$accuracy" 'BEGIN { exit !(a >= 85) }' ||
  { echo "train-fashion-mnist: error: test accuracy $accuracy% is below 85%" >&2; exit 1; }
