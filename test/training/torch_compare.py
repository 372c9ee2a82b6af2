#!/usr/bin/env python3
"""Trains the example networks with nslc's compiled train_step and with
PyTorch autograd + torch.optim, from the same initial weights on the same
fixed batch, and compares (issue "Differentiate NSL networks"):

* the gradient of every parameter at the first step (nslc --return-gradients)
  against autograd in float64 on the same weights and batch (PyTorch's own
  float32 gradients are printed beside ours for scale): relative error (L2
  norm over the tensor) <= 1e-4, per tensor and for all together. A
  gradient that is mathematically zero (a convolution's bias before a batch
  norm: the norm removes any per-channel constant) is rounding noise on both
  sides, so the error is taken relative to max(|autograd's gradient|,
  1e-3 · the largest gradient norm of the network), and such floored checks
  are marked in the output;
* the losses of N optimizer steps (SGD with momentum and weight decay, and
  Adam) against PyTorch's: relative error <= 1e-3 at every step;
* determinism: two runs of the compiled step with 1 and 2 threads give
  bit-identical losses and checkpoints.

The networks are the PyTorch versions of examples/*.mlir
(examples/pytorch/make_models.py), scripted to TorchScript and compiled by
nslc from the .pt file, so both sides start from the same weights.

Usage: torch_compare.py --nslc PATH --nsl-run PATH --work-dir DIR
                        [--steps N] [--only NAME ...]
Prints one line per check and a summary; exits 1 if any check fails.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "frontend", "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "pytorch"))

import make_models  # noqa: E402

# name: number of classes of the logits.
NETWORKS = {"plain_cnn": 10, "static_nsn": 7, "dynamic_nsn": 10}

SGD = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}
ADAM = {"lr": 1e-3, "weight_decay": 1e-4}

GRADIENT_TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-3


def relative_error(actual, expected):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    norm = np.linalg.norm(expected)
    diff = np.linalg.norm(actual - expected)
    return diff / norm if norm > 0 else (0.0 if diff == 0 else np.inf)


def run(command):
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (
            result.returncode, " ".join(command), result.stdout))
    return result.stdout


class Checks:
    def __init__(self):
        self.failures = 0
        self.count = 0

    def check(self, what, error, tolerance):
        ok = error <= tolerance
        self.count += 1
        self.failures += 0 if ok else 1
        print("%-72s relative error %.3e (<= %.0e)  %s" % (
            what, error, tolerance, "ok" if ok else "FAILED"))
        sys.stdout.flush()


def torch_losses(model, x, labels, optimizer, steps):
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def nsl_losses(args, artifact, inputs, steps, lr, threads, save):
    output = run([args.nsl_run, "train", artifact, "--steps", str(steps),
                  "--lr", repr(lr), "--threads", str(threads),
                  "--save", save] + inputs)
    losses = [float(m) for m in re.findall(r"^step \d+: loss (\S+),",
                                           output, re.M)]
    if len(losses) != steps:
        raise RuntimeError("expected %d steps from nsl-run train, got:\n%s"
                           % (steps, output))
    return losses


def compare_network(name, classes, args, checks):
    make, shape, _ = make_models.MODELS[name]
    generator = torch.Generator().manual_seed(7)
    model = make().eval()
    make_models.randomize(model, generator)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(shape, generator=generator)
    labels = torch.randint(0, classes, shape[:1], generator=generator)

    work = os.path.join(args.work_dir, name)
    os.makedirs(work, exist_ok=True)
    pt = os.path.join(work, name + ".pt")
    torch.jit.save(torch.jit.script(model), pt)
    np.save(os.path.join(work, "x.npy"), x.numpy())
    np.save(os.path.join(work, "labels.npy"), labels.numpy())
    inputs = ["--input", "x=" + os.path.join(work, "x.npy"),
              "--input", "labels=" + os.path.join(work, "labels.npy")]
    shape_arg = "x".join(str(d) for d in shape)

    def fresh():
        copy = make()
        copy.load_state_dict(initial)
        return copy

    # Gradients of the first step against autograd.
    sgd_art = os.path.join(work, "sgd.nslm")
    run([args.nslc, pt, "--input-shape", shape_arg, "--train",
         "--optimizer", "sgd", "--momentum", str(SGD["momentum"]),
         "--weight-decay", str(SGD["weight_decay"]), "--return-gradients",
         "-o", sgd_art])
    lr_file = os.path.join(work, "lr.npy")
    np.save(lr_file, np.array(SGD["lr"], dtype=np.float32))
    out = os.path.join(work, "step1")
    run([args.nsl_run, "run", sgd_art, "--entry", "train_step",
         "--input", "lr=" + lr_file, "--output-dir", out] + inputs)
    # The truth: autograd in float64 on the same weights and batch. Our f32
    # gradients must be within 1e-4 of it; PyTorch's own f32 gradients are
    # printed beside them for scale.
    truth = fresh().double().train()
    loss = F.cross_entropy(truth(x.double()), labels)
    loss.backward()
    torch32 = fresh().train()
    F.cross_entropy(torch32(x), labels).backward()
    checks.check("%s: loss of step 1" % name,
                 relative_error(np.load(os.path.join(out, "loss.npy")),
                                loss.item()), GRADIENT_TOLERANCE)
    largest = max(np.linalg.norm(p.grad.numpy()) for p in truth.parameters())
    all_ours, all_truth = [], []
    for (param_name, param), (_, param32) in zip(truth.named_parameters(),
                                                 torch32.named_parameters()):
        grad = np.load(os.path.join(out, param_name + ".grad.npy"))
        expected = param.grad.numpy()
        all_ours.append(grad.ravel())
        all_truth.append(expected.ravel())
        norm = np.linalg.norm(expected)
        floor = 1e-3 * largest
        scale = max(norm, floor)
        error = np.linalg.norm(grad - expected) / scale
        theirs = np.linalg.norm(param32.grad.numpy() - expected) / scale
        checks.check("%s: gradient of %s%s [torch f32: %.1e]" % (
            name, param_name,
            " (~0: vs 1e-3 of the largest)" if norm < floor else "", theirs),
            error, GRADIENT_TOLERANCE)
    checks.check("%s: all gradients together" % name,
                 relative_error(np.concatenate(all_ours),
                                np.concatenate(all_truth)),
                 GRADIENT_TOLERANCE)

    # N optimizer steps, SGD and Adam.
    for optimizer, options, flags in (
            ("sgd", SGD, ["--momentum", str(SGD["momentum"]),
                          "--weight-decay", str(SGD["weight_decay"])]),
            ("adam", ADAM, ["--weight-decay", str(ADAM["weight_decay"])])):
        artifact = os.path.join(work, optimizer + "-train.nslm")
        run([args.nslc, pt, "--input-shape", shape_arg, "--train",
             "--optimizer", optimizer] + flags + ["-o", artifact])
        ours = nsl_losses(args, artifact, inputs, args.steps, options["lr"],
                          2, os.path.join(work, optimizer + "-2.safetensors"))
        torch_model = fresh()
        torch_optimizer = (
            torch.optim.SGD(torch_model.parameters(), **options)
            if optimizer == "sgd"
            else torch.optim.Adam(torch_model.parameters(), **options))
        theirs = torch_losses(torch_model, x, labels, torch_optimizer,
                              args.steps)
        worst = max(relative_error(a, b) for a, b in zip(ours, theirs))
        checks.check("%s: %s, worst loss of %d steps (%.4f -> %.4f)" % (
            name, optimizer, args.steps, theirs[0], theirs[-1]),
            worst, LOSS_TOLERANCE)
        # The same run on one thread: bit-identical losses and state.
        again = nsl_losses(args, artifact, inputs, args.steps,
                           options["lr"], 1,
                           os.path.join(work, optimizer + "-1.safetensors"))
        with open(os.path.join(work, optimizer + "-2.safetensors"), "rb") as a, \
                open(os.path.join(work, optimizer + "-1.safetensors"), "rb") as b:
            same_state = a.read() == b.read()
        checks.check("%s: %s, 1 vs 2 threads bit-identical" % (name, optimizer),
                     0.0 if ours == again and same_state else np.inf, 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nslc", required=True)
    parser.add_argument("--nsl-run", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--only", nargs="+", choices=sorted(NETWORKS))
    args = parser.parse_args()
    torch.manual_seed(0)
    checks = Checks()
    for name in args.only or NETWORKS:
        compare_network(name, NETWORKS[name], args, checks)
    print("%d of %d checks passed" % (checks.count - checks.failures,
                                      checks.count))
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
