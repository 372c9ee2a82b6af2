#!/usr/bin/env python3
"""`nsl-run fit` against PyTorch on the same run (issue "Train NSNs on real
data with the runtime"): the same model (the paper's CIFAR network from the
nsl package, narrowed for speed), the same initial weights (nslc imports
them from the scripted model), the same batches in the same order
(Fashion-MNIST padded to 32×32 and normalised, shuffled by the data
library's documented seeded scheme, re-implemented here), augmentation off,
SGD with momentum and weight decay. Every step's loss of nsl-run fit
(metrics.jsonl) must match PyTorch's within --tolerance (relative).

--network smooth (the default) makes the network's activations x·σ(x) and
its pooling average pooling. With ReLU and max pooling (--network paper) the
float32 trajectory is chaotic: a rounding difference flips a ReLU or a
max-pool choice, the flipped gradient perturbs the weights, and the
perturbation grows several-fold per step — PyTorch's own float32 run leaves
its float64 run by more than 1e-3 within a few steps. So for that network
only the first --paper-steps steps are held to the tolerance, and the
deviation of PyTorch's float32 run from its float64 run is printed beside
ours for scale.

Usage: fit_compare.py --nslc PATH --nsl-run PATH --work-dir DIR
                      [--steps 40] [--batch 32] [--variants plain,static,dynamic]
                      [--network smooth|paper] [--paper-steps 3]
Prints one line per variant and a summary; exits 1 if a check fails.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "frontend", "python"))

import nsl  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
SGD = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}
MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


# The data library's seeded order (runtime/data/Dataset.cpp, file comment).
def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def combine(h, v):
    return mix(h ^ mix((v + GAMMA) & MASK))


def epoch_order(count, seed, epoch):
    state = combine(mix(seed), epoch)
    order = list(range(count))

    def below(n):
        nonlocal state
        threshold = ((1 << 64) - n) % n
        while True:
            state = (state + GAMMA) & MASK
            r = mix(state)
            if r >= threshold:
                return r % n

    for i in range(count - 1, 0, -1):
        j = below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def read_idx(name, offset):
    with gzip.open(os.path.join(DATA, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


class SiLU(nn.Module):
    """x·σ(x), scripted as aten::mul and aten::sigmoid."""

    def forward(self, x):
        return x * torch.sigmoid(x)


def make_model(variant, network):
    torch.manual_seed(0)
    model = nsl.paper_cifar_net(in_channels=1, widths=(8, 16, 32))
    if network == "smooth":
        model = nn.Sequential(*[
            SiLU() if isinstance(m, nn.ReLU) else
            nn.AvgPool2d(2) if isinstance(m, nn.MaxPool2d) else m
            for m in model])
    if variant == "static":
        model = nsl.to_static_nsn(model, "diagonal")
    elif variant == "dynamic":
        model = nsl.to_dynamic_nsn(model, "diagonal", gamma_init=0.1,
                                   predictor_width=8)
    return model


def compare_trained(fresh, trained, path, steps):
    """Loads nsl-run fit's model.safetensors into `fresh` (an untrained
    model of the same architecture) with load_state_dict(strict=True) and
    compares it with `trained`, which PyTorch trained: returns the largest
    relative error (L2 per tensor) of the floating-point state and whether
    every num_batches_tracked equals the steps taken."""
    nsl.checkpoint.load_into(fresh, path, strict=True)
    worst, counted = 0.0, True
    theirs = trained.state_dict()
    for name, value in fresh.state_dict().items():
        if name.endswith("num_batches_tracked"):
            counted &= int(value) == steps == int(theirs[name])
            continue
        diff = (value.double() - theirs[name].double()).norm()
        scale = theirs[name].double().norm()
        worst = max(worst, float(diff / scale) if scale > 0 else float(diff))
    return worst, counted


def pytorch_losses(model, images, labels, order, batch, steps, mean, std):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), **SGD)
    x = torch.zeros(len(images), 1, 32, 32)
    x[:, :, 2:30, 2:30] = torch.from_numpy(images.astype(np.float32)[:, None] / 255)
    x = (x - mean) / std  # The padding is normalised too, as ours.
    y = torch.from_numpy(labels.astype(np.int64))
    losses = []
    for step in range(steps):
        index = torch.tensor(order[step * batch:(step + 1) * batch])
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def our_losses(args, variant, model, count, mean, std):
    work = os.path.join(args.work_dir, variant)
    os.makedirs(work, exist_ok=True)
    pt = os.path.join(work, "model.pt")
    torch.jit.script(model.eval()).save(pt)
    artifact = os.path.join(work, "train.nslm")
    subprocess.run([args.nslc, pt, "--input-shape", f"{args.batch}x1x32x32",
                    "--train", "--momentum", str(SGD["momentum"]),
                    "--weight-decay", str(SGD["weight_decay"]), "-o",
                    artifact], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(work, "fit")
    subprocess.run(["rm", "-rf", out], check=True)
    subprocess.run([args.nsl_run, "fit", artifact, "--data", DATA,
                    "--train-subset", str(count), "--epochs", "1",
                    "--lr", str(SGD["lr"]), "--seed", str(args.seed),
                    "--mean", repr(mean), "--std", repr(std), "--no-eval",
                    "--progress", "quiet", "--output-dir", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [r["loss"] for r in map(json.loads, f) if r["kind"] == "step"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nslc", required=True)
    parser.add_argument("--nsl-run", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--variants", default="plain,static,dynamic")
    parser.add_argument("--network", choices=("smooth", "paper"),
                        default="smooth")
    parser.add_argument("--paper-steps", type=int, default=3)
    parser.add_argument("--lr", type=float, default=SGD["lr"])
    parser.add_argument("--show-float64", action="store_true",
                        help="also print both runs' deviation from "
                        "PyTorch's float64 run")
    args = parser.parse_args()
    SGD["lr"] = args.lr
    if not os.path.isdir(DATA):
        sys.exit(f"fit_compare: error: no {DATA} (scripts/setup.sh installs "
                 "dataset-fashion-mnist)")
    torch.set_num_threads(2)
    count = args.steps * args.batch
    images = read_idx("train-images-idx3-ubyte.gz", 16).reshape(
        -1, 28, 28)[:count]
    labels = read_idx("train-labels-idx1-ubyte.gz", 8)[:count]
    # The statistics nsl-run fit would compute, given explicitly so that
    # both sides use the same numbers.
    mean = float(images.astype(np.float64).mean() / 255)
    std = float((images.astype(np.float64) / 255).std())
    order = epoch_order(count, args.seed, 0)
    failures = 0
    for variant in args.variants.split(","):
        model = make_model(variant, args.network)
        ours = our_losses(args, variant, model, count, mean, std)
        trained = make_model(variant, args.network)
        theirs = pytorch_losses(trained, images, labels, order, args.batch,
                                args.steps, mean, std)
        if len(ours) != args.steps:
            print(f"{variant}: FAILED: nsl-run fit made {len(ours)} steps, "
                  f"expected {args.steps}")
            failures += 1
            continue
        errors = np.array([abs(a - b) / abs(b) for a, b in zip(ours, theirs)])
        held = args.steps if args.network == "smooth" else args.paper_steps
        worst = int(np.argmax(errors[:held]))
        ok = errors[worst] <= args.tolerance
        failures += not ok
        print(f"{variant} ({args.network}): {args.steps} steps of batch "
              f"{args.batch}: loss {theirs[0]:.4f} -> {theirs[-1]:.4f} "
              f"(PyTorch), {ours[0]:.4f} -> {ours[-1]:.4f} (nsl-run fit); "
              f"largest relative difference in the first {held} steps "
              f"{errors[worst]:.2e} at step {worst + 1}"
              f"  {'ok' if ok else 'FAILED'}")
        if args.network == "smooth":
            state_error, counted = compare_trained(
                make_model(variant, args.network), trained,
                os.path.join(args.work_dir, variant, "fit",
                             "model.safetensors"), args.steps)
            # The dynamic layers' SphereNet predictors contain ReLUs, whose
            # rounding flips make the state drift (docs/training.md): for
            # them the loaded state must load strictly and count its steps,
            # and its difference is reported; plain and static networks are
            # smooth throughout and held to the tolerance.
            held_to_tolerance = variant != "dynamic"
            state_ok = counted and (state_error <= args.tolerance or
                                    not held_to_tolerance)
            failures += not state_ok
            print(f"  model.safetensors in PyTorch (load_state_dict strict): "
                  f"largest relative difference from PyTorch's trained "
                  f"state {state_error:.2e}, num_batches_tracked "
                  f"{'= ' + str(args.steps) if counted else 'WRONG'}"
                  f"{'' if held_to_tolerance else ' (reported, not held)'}"
                  f"  {'ok' if state_ok else 'FAILED'}")
        if args.network == "paper" or args.show_float64:
            twin = make_model(variant, args.network).double()
            torch.set_default_dtype(torch.float64)
            exact = pytorch_losses(twin, images, labels, order, args.batch,
                                   args.steps, mean, std)
            torch.set_default_dtype(torch.float32)
            drift = np.array([abs(a - b) / abs(b)
                              for a, b in zip(theirs, exact)])
            ours_drift = np.array([abs(a - b) / abs(b)
                                   for a, b in zip(ours, exact)])
            for name, d in (("PyTorch float32", drift),
                            ("nsl-run fit", ours_drift)):
                over = np.nonzero(d > args.tolerance)[0]
                print(f"  {name} vs PyTorch float64: first step over "
                      f"{args.tolerance:g}: "
                      f"{over[0] + 1 if len(over) else 'none'}; median "
                      f"over the steps {np.median(d):.1e}")
    print(f"{len(args.variants.split(',')) - failures} of "
          f"{len(args.variants.split(','))} variants within relative "
          f"{args.tolerance:g} at every step")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
