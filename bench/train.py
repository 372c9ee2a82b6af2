#!/usr/bin/env python3
"""Benchmarks one training step (forward, loss, backward, SGD update) of our
compiled train_step against PyTorch's in one run.

Usage: /usr/bin/python3 bench/train.py [--build DIR] [--threads 2] [--warmup 3]
                    [--repeats 10] [--rounds 2] [--write docs/performance.md]

Two networks at batch 32, 64→64 channels, 32×32, 3×3, padding 1, float32:

* plain: conv-BN-relu, conv-BN-relu, global average pool, linear head;
* DNS:   conv-BN-relu, then a dynamic DNS conv whose mask comes from a
         cosine SphereConv predictor (M_p = γ·P + I), BN, relu, pool, head;
* UNS:   the same with a full (UNS) dynamic similarity: 81 predictor
         channels, M_p a K×K matrix per position.

Ours: `nslc --train` (SGD, momentum 0.9, weight decay 5e-4), timed with
`nsl-run bench --entry train_step` (and `--entry forward` for the ratio),
checked first with `nsl-run check --entry train_step` against the reference.
PyTorch 1.13 (OpenBLAS, its own process, torch.set_num_threads): the same
networks, with the DNS layer written as users write it today (F.unfold,
frontend/python/nsl's DynamicSimConv2d math); zero_grad + forward + loss +
backward + optimizer.step per iteration. Median of --repeats after --warmup,
the lowest of --rounds on each side. With --write, the table goes into
docs/performance.md between the train markers.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import OPENBLAS, machine, write_section  # noqa: E402

N, C, H, W, K, CLASSES = 32, 64, 32, 32, 3, 10
NETWORKS = ("plain", "DNS", "UNS")


def ty(*shape, element="f32"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{element}>"


def network(dynamic):
    """dynamic: None (plain), "diagonal" (DNS) or "full" (UNS)."""
    x, feat, wt, vec = ty(N, C, H, W), ty(N, C, H, W), ty(C, C, K, K), ty(C)
    args = [("x", feat, "input"), ("conv1.weight", wt, "parameter"),
            ("bn1.weight", vec, "parameter"), ("bn1.bias", vec, "parameter"),
            ("bn1.running_mean", vec, "buffer"), ("bn1.running_var", vec, "buffer"),
            ("conv2.weight", wt, "parameter")]
    channels = K * K if dynamic == "diagonal" else K ** 4
    if dynamic:
        args += [("conv2.predictor.weight", ty(channels, C, K, K), "parameter"),
                 ("conv2.gamma", "tensor<1xf32>", "parameter")]
    args += [("bn2.weight", vec, "parameter"), ("bn2.bias", vec, "parameter"),
             ("bn2.running_mean", vec, "buffer"), ("bn2.running_var", vec, "buffer"),
             ("fc.weight", ty(CLASSES, C), "parameter"),
             ("fc.bias", ty(CLASSES), "parameter")]
    ssa = {name: "%a" + str(i) for i, (name, _, _) in enumerate(args)}
    params = ",\n    ".join(f'{ssa[n]}: {t} {{nsl.name = "{n}", nsl.role = "{r}"}}'
                           for n, t, r in args)
    pad = "{padding = array<i64: 1, 1>}"
    conv = f"{x}, {wt} -> {feat}"
    mask = ty(N, channels, H, W)
    body = [
        f"%c1 = nsl.sim_conv2d identity {ssa['x']}, {ssa['conv1.weight']} {pad} : {conv}",
        f"%n1 = nsl.batch_norm %c1, {ssa['bn1.weight']}, {ssa['bn1.bias']}, "
        f"{ssa['bn1.running_mean']}, {ssa['bn1.running_var']} : {feat}, {vec} -> {feat}",
        f"%r1 = nsl.relu %n1 : {feat}"]
    if dynamic:
        body += [
            f"%p = nsl.sphere_conv2d cosine %r1, {ssa['conv2.predictor.weight']} {pad} : "
            f"{feat}, {ty(channels, C, K, K)} -> {mask}",
            f"%m = nsl.predicted_similarity {dynamic} %p, {ssa['conv2.gamma']} : "
            f"{mask}, tensor<1xf32> -> {mask}",
            f"%c2 = nsl.sim_conv2d {dynamic} dynamic %r1, {ssa['conv2.weight']} "
            f"similarity(%m : {mask}) {pad} : {conv}"]
    else:
        body.append(f"%c2 = nsl.sim_conv2d identity %r1, {ssa['conv2.weight']} {pad} : {conv}")
    body += [
        f"%n2 = nsl.batch_norm %c2, {ssa['bn2.weight']}, {ssa['bn2.bias']}, "
        f"{ssa['bn2.running_mean']}, {ssa['bn2.running_var']} : {feat}, {vec} -> {feat}",
        f"%r2 = nsl.relu %n2 : {feat}",
        f"%g = nsl.global_avg_pool2d %r2 : {feat} -> {ty(N, C, 1, 1)}",
        f"%f = nsl.flatten %g : {ty(N, C, 1, 1)} -> {ty(N, C)}",
        f"%y = nsl.linear %f, {ssa['fc.weight']} bias({ssa['fc.bias']} : {ty(CLASSES)}) : "
        f"{ty(N, C)}, {ty(CLASSES, C)} -> {ty(N, CLASSES)}"]
    lines = "\n  ".join(body)
    return (f"func.func @forward(\n    {params})\n    -> ({ty(N, CLASSES)} "
            f"{{nsl.name = \"logits\"}}) {{\n  {lines}\n  return %y : {ty(N, CLASSES)}\n}}\n")


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"bench: `{' '.join(cmd)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ours(args, name, work):
    source = os.path.join(work, name + ".mlir")
    artifact = os.path.join(work, name + ".nslm")
    with open(source, "w") as f:
        f.write(network({"plain": None, "DNS": "diagonal", "UNS": "full"}[name]))
    nslc, nsl_run = (os.path.join(args.build, "bin", t) for t in ("nslc", "nsl-run"))
    run([nslc, source, "--train", "--momentum", "0.9", "--weight-decay", "5e-4",
         "-o", artifact])
    check = run([nsl_run, "check", artifact, "--entry", "train_step",
                 "--tolerance", "1e-4", "--atol", "1e-6", "--threads", str(args.threads)])
    if "outputs agree" not in check:
        sys.exit("bench: train_step disagrees with the reference:\n" + check)
    times = {}
    for entry in ("train_step", "forward"):
        best = None
        for _ in range(args.rounds):
            out = run([nsl_run, "bench", artifact, "--entry", entry,
                       "--threads", str(args.threads), "--warmup", str(args.warmup),
                       "--repeats", str(args.repeats)])
            median = float(re.search(r"median ([0-9.]+) ms", out).group(1))
            best = median if best is None else min(best, median)
        times[entry] = best
    return times


PEER = r'''
import json, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
threads, warmup, repeats, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
N, C, H, W, K, CLASSES = 32, 64, 32, 32, 3, 10

class DNS(nn.Module):
    """The dynamic DNS layer as users write it today: a cosine SphereConv
    predictor, M_p = γ·P + I, the mask applied to the unfolded input."""
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(C, C, K, K) * 0.05)
        self.predictor = nn.Parameter(torch.randn(K * K, C, K, K) * 0.05)
        self.gamma = nn.Parameter(torch.full((1,), 0.1))
    def forward(self, x):
        dot = F.conv2d(x, self.predictor, padding=1)
        xn = torch.sqrt(F.conv2d(x * x, torch.ones(1, C, K, K), padding=1) + 1e-4)
        wn = torch.sqrt((self.predictor ** 2).sum((1, 2, 3)) + 1e-4).view(1, -1, 1, 1)
        m = self.gamma * (dot / (xn * wn)) + 1                      # [N, K², H, W]
        cols = F.unfold(x, K, padding=1).view(N, C, K * K, H * W)
        cols = cols * m.view(N, 1, K * K, H * W)
        y = self.weight.view(C, C * K * K) @ cols.view(N, C * K * K, H * W)
        return y.view(N, C, H, W)

class UNS(nn.Module):
    """The dynamic UNS layer with F.unfold: a cosine SphereConv predictor of
    K² × K² channels, M_p = γ·P + I per position, the unfolded input mixed by
    M_p, then the weights."""
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(C, C, K, K) * 0.05)
        self.predictor = nn.Parameter(torch.randn(K ** 4, C, K, K) * 0.05)
        self.gamma = nn.Parameter(torch.full((1,), 0.1))
    def forward(self, x):
        dot = F.conv2d(x, self.predictor, padding=1)
        xn = torch.sqrt(F.conv2d(x * x, torch.ones(1, C, K, K), padding=1) + 1e-4)
        wn = torch.sqrt((self.predictor ** 2).sum((1, 2, 3)) + 1e-4).view(1, -1, 1, 1)
        m = self.gamma * (dot / (xn * wn))                           # [N, K⁴, H, W]
        m = m.view(N, K * K, K * K, H * W) + torch.eye(K * K).view(1, K * K, K * K, 1)
        cols = F.unfold(x, K, padding=1).view(N, C, K * K, H * W)
        mixed = torch.einsum("ncsp,ntsp->nctp", cols, m)            # Σ_s M_p[t,s]·X_p[c,s]
        y = self.weight.view(C, C * K * K) @ mixed.reshape(N, C * K * K, H * W)
        return y.view(N, C, H, W)

def net(dynamic):
    second = {None: lambda: nn.Conv2d(C, C, K, padding=1, bias=False),
              "DNS": DNS, "UNS": UNS}[dynamic]
    return nn.Sequential(
        nn.Conv2d(C, C, K, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU(),
        second(),
        nn.BatchNorm2d(C), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(C, CLASSES))

result = {"torch": torch.__version__, "threads": threads}
x = torch.rand(N, C, H, W) * 2 - 1
labels = torch.randint(0, CLASSES, (N,))
for name, dynamic in (("plain", None), ("DNS", "DNS"), ("UNS", "UNS")):
    model = net(dynamic).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()
    def forward():
        with torch.no_grad():
            model(x)
    for label, fn in (("train", step), ("forward", forward)):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        result[f"{name} {label}"] = statistics.median(times)
with open(out, "w") as f:
    json.dump(result, f)
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        measured = {}
        for name in NETWORKS:
            print(f"ours: {name} ...", flush=True)
            measured[name] = ours(args, name, work)
        env = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
        peers = {}
        script = os.path.join(work, "peer.py")
        with open(script, "w") as f:
            f.write(PEER)
        for round in range(args.rounds):
            print(f"PyTorch round {round + 1} ...", flush=True)
            out = os.path.join(work, "peer.json")
            subprocess.run(["/usr/bin/python3", script, str(args.threads), str(args.warmup),
                            str(args.repeats), out], check=True, env=env)
            with open(out) as f:
                for key, value in json.load(f).items():
                    if isinstance(value, float):
                        peers[key] = min(peers.get(key, value), value)
                    else:
                        peers[key] = value
    rows = ["| network | ours: train_step ms | ours: forward ms | ours step / forward | "
            "PyTorch: training step ms | PyTorch: forward ms | ours / PyTorch (step) |",
            "|---|---|---|---|---|---|---|"]
    for name in NETWORKS:
        o, p = measured[name], (peers[f"{name} train"], peers[f"{name} forward"])
        rows.append(f"| {name} | {o['train_step']:.1f} | {o['forward']:.1f} | "
                    f"{o['train_step'] / o['forward']:.1f} | {p[0]:.1f} | {p[1]:.1f} | "
                    f"{o['train_step'] / p[0]:.2f} |")
    command = "/usr/bin/python3 bench/train.py " + " ".join(
        f"--{k} {v}" for k, v in [("threads", args.threads), ("warmup", args.warmup),
                                  ("repeats", args.repeats), ("rounds", args.rounds)])
    text = "\n".join([
        f"Measured {datetime.date.today().isoformat()} with `{command}` on {machine()};",
        f"PyTorch {peers['torch']} with {peers['threads']} threads and OpenBLAS, in its own process.",
        "One training step = forward, cross-entropy, backward, SGD (momentum 0.9, weight decay",
        "5e-4); batch 32, 64→64 channels, 32×32, 3×3. Medians after warm-up, lowest of the rounds.",
        "", *rows])
    print()
    print(text)
    if args.write:
        write_section(args.write, "train", text)

if __name__ == "__main__":
    main()
