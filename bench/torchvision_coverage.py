#!/usr/bin/env python3
"""Imports torchvision's classification models with nslc and compares them
with eager PyTorch: the coverage table of docs/import.md.

Each model gets random weights and randomised batch-norm statistics and
affine parameters (running mean and bias from U(-0.5, 0.5), running
variance and weight from U(0.5, 1.5)), is scripted and traced, compiled by
`nslc --input-shape 2x3xSxS`, run by `nsl-run run` on a random batch of 2,
and compared with the eager output (relative error ||y - r|| / ||r||).
Prints one Markdown row per model and size.

    /usr/bin/python3 bench/torchvision_coverage.py [--models a,b] [--sizes 64,224]
        [--variants plain,static_nsn,dynamic_nsn] [--train]
"""
import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("resnet18,resnet50,resnext50_32x4d,wide_resnet50_2,vgg11_bn,alexnet,"
          "squeezenet1_1,densenet121,googlenet,mobilenet_v2,mobilenet_v3_small,"
          "shufflenet_v2_x1_0,mnasnet1_0,efficientnet_b0,regnet_x_400mf,"
          "convnext_tiny")


def randomized(name, variant="plain"):
    """torchvision's `name` with random weights, batch-norm statistics and
    affine parameters; `variant` static_nsn or dynamic_nsn converts it
    (nsl.to_static_nsn / to_dynamic_nsn, DNS) first, and its similarities
    and γ are drawn from U(0.5, 1.5) too."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    if variant != "plain":
        sys.path.insert(0, os.path.join(ROOT, "frontend", "python"))
        import nsl
        convert = {"static_nsn": nsl.to_static_nsn,
                   "dynamic_nsn": nsl.to_dynamic_nsn}[variant]
        model = convert(model, structure="diagonal").eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            v = torch.rand(t.shape, generator=g)
            # ... and the NSN layers' diagonal similarities and γ, so that
            # M (and M_p = γ·P + I) are far from the identity.
            if key.endswith("running_var") or key.endswith("similarity") or \
                    key.endswith("gamma") or (key.endswith(".weight")
                                              and t.dim() == 1):
                t.copy_(0.5 + v)
            elif key.endswith("running_mean") or key.endswith(".bias"):
                t.copy_(v - 0.5)
    return model, g


def first_error(text):
    line = next((l for l in text.splitlines() if "error" in l), text.strip())
    line = re.sub(r"^nslc: error: '[^']*': ", "", line)
    line = re.sub(r"^\S+:\d+:\d+: ", "", line)
    line = re.sub(r"; the importer supports.*", "", line)
    return re.sub(r"unsupported TorchScript node '([^']+)'", r"`\1`", line)


def check(args, work, name, size, variant="plain"):
    model, g = randomized(name, variant)
    x = torch.randn(2, 3, size, size, generator=g)
    with torch.no_grad():
        expected = model(x).numpy().astype(np.float64)
    np.save(os.path.join(work, "x.npy"), x.numpy())
    archives = {"traced": torch.jit.trace(model, x)}
    try:
        archives["scripted"] = torch.jit.script(model)
    except Exception as error:  # torchvision code TorchScript cannot compile
        archives["scripted"] = str(error).splitlines()[0]
    cells, errors, seconds = {}, [], []
    for kind, archive in archives.items():
        if isinstance(archive, str):
            cells[kind] = "no (torch.jit.script: " + archive + ")"
            continue
        pt, nslm = (os.path.join(work, f"{kind}.{e}") for e in ("pt", "nslm"))
        torch.jit.save(archive, pt)
        start = time.perf_counter()
        compiled = subprocess.run(
            [os.path.join(args.build, "bin", "nslc"), pt, "--input-shape",
             f"2x3x{size}x{size}", "-o", nslm], capture_output=True, text=True)
        if compiled.returncode != 0:
            cells[kind] = "no: " + first_error(compiled.stderr)
            continue
        seconds.append(time.perf_counter() - start)
        out = os.path.join(work, kind + ".out")
        subprocess.run([os.path.join(args.build, "bin", "nsl-run"), "run", nslm,
                        "--input", "x=" + os.path.join(work, "x.npy"),
                        "--output-dir", out], check=True, capture_output=True)
        y = np.load(os.path.join(out, "output.npy")).astype(np.float64)
        error = np.linalg.norm(y - expected) / np.linalg.norm(expected)
        errors.append(error)
        cells[kind] = "matches" if error <= 1e-5 else f"differs ({error:.2g})"
    scripted, traced = cells["scripted"], cells["traced"]
    if scripted == traced and scripted.startswith("no"):
        traced = "same"
    label = name if variant == "plain" else f"{name}, {variant}"
    return (f"| {label} | 3×{size}×{size} | {scripted} | {traced} | "
            f"{max(errors):.2g} | {max(seconds):.0f} |" if errors else
            f"| {label} | 3×{size}×{size} | {scripted} | {traced} |  |  |")


def without_dropout(model):
    """Dropout and stochastic depth off (p = 0): nslc's train_step has no
    random masks, so both sides train the same function."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) or \
                type(module).__name__ == "StochasticDepth":
            module.p = 0.0
    return model


def gradient_errors(grads, truth, largest):
    """The worst per-parameter relative error (a tensor whose gradient is
    below 1e-3 of the largest gradient norm is measured against that
    floor) and the error of all gradients together."""
    worst, ours_all, truth_all = (0.0, ""), [], []
    for name, param in truth.named_parameters():
        ours, expected = grads[name], param.grad.numpy()
        ours_all.append(ours.ravel())
        truth_all.append(expected.ravel())
        scale = max(np.linalg.norm(expected), 1e-3 * largest)
        worst = max(worst, (np.linalg.norm(ours - expected) / scale, name))
    a, b = np.concatenate(ours_all), np.concatenate(truth_all)
    return worst, np.linalg.norm(a - b) / np.linalg.norm(b)


def check_training(args, work, name, size):
    """nslc --train --return-gradients: the first step's loss and parameter
    gradients against autograd in float64 (training-mode batch norm), with
    PyTorch's own float32 gradients measured the same way for scale."""
    import torch.nn.functional as F
    model, g = randomized(name)
    without_dropout(model)
    x = torch.randn(2, 3, size, size, generator=g)
    labels = torch.randint(0, 1000, (2,), generator=g)
    for key, value in (("x", x.numpy()), ("labels", labels.numpy()),
                       ("lr", np.array(0.01, dtype=np.float32))):
        np.save(os.path.join(work, key + ".npy"), value)
    pt, nslm = os.path.join(work, "m.pt"), os.path.join(work, "m.nslm")
    torch.jit.save(torch.jit.script(model), pt)
    start = time.perf_counter()
    compiled = subprocess.run(
        [os.path.join(args.build, "bin", "nslc"), pt, "--input-shape",
         f"2x3x{size}x{size}", "--train", "--optimizer", "sgd",
         "--return-gradients", "-o", nslm], capture_output=True, text=True)
    if compiled.returncode != 0:
        return f"| {name} | 3×{size}×{size} | no: {first_error(compiled.stderr)} | | | | |"
    seconds = time.perf_counter() - start
    out = os.path.join(work, "step")
    subprocess.run([os.path.join(args.build, "bin", "nsl-run"), "run", nslm,
                    "--entry", "train_step", "--output-dir", out] +
                   [a for k in ("x", "labels", "lr") for a in
                    ("--input", f"{k}={os.path.join(work, k + '.npy')}")],
                   check=True, capture_output=True)
    truth = copy.deepcopy(model).double().train()
    loss = F.cross_entropy(truth(x.double()), labels)
    loss.backward()
    torch32 = copy.deepcopy(model).train()
    F.cross_entropy(torch32(x), labels).backward()
    largest = max(np.linalg.norm(p.grad.numpy()) for p in truth.parameters())
    ours = {n: np.load(os.path.join(out, n + ".grad.npy"))
            for n, _ in truth.named_parameters()}
    theirs = {n: p.grad.numpy() for n, p in torch32.named_parameters()}
    (worst, where), together = gradient_errors(ours, truth, largest)
    (worst32, _), together32 = gradient_errors(theirs, truth, largest)
    loss_error = abs(float(np.load(os.path.join(out, "loss.npy"))) -
                     loss.item()) / abs(loss.item())
    return (f"| {name} | 3×{size}×{size} | {seconds:.0f} | {loss_error:.1e} | "
            f"{worst:.1e} (`{where}`) | {together:.1e} | "
            f"{worst32:.1e} / {together32:.1e} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--sizes", default="64,224")
    parser.add_argument("--variants", default="plain",
                        help="comma-separated: plain, static_nsn, dynamic_nsn")
    parser.add_argument("--train", action="store_true",
                        help="check the first training step's gradients "
                        "(nslc --train --return-gradients) against autograd "
                        "in float64 instead of the forward")
    args = parser.parse_args()
    for tool in ("nslc", "nsl-run"):
        if not os.path.exists(os.path.join(args.build, "bin", tool)):
            sys.exit(f"torchvision_coverage: no {tool} in {args.build}/bin "
                     "(scripts/build.sh nslc nsl-run)")
    if args.train:
        print("| model | input | nslc --train s | loss error | worst gradient "
              "error | all gradients | PyTorch f32: worst / all |")
        print("|---|---|---|---|---|---|---|")
        for size in (int(s) for s in args.sizes.split(",")):
            for name in args.models.split(","):
                with tempfile.TemporaryDirectory() as work:
                    print(check_training(args, work, name, size), flush=True)
        return
    print("| model | input | scripted | traced | relative error | nslc s |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for name in args.models.split(","):
            for variant in args.variants.split(","):
                with tempfile.TemporaryDirectory() as work:
                    print(check(args, work, name, size, variant), flush=True)


if __name__ == "__main__":
    main()
