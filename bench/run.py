#!/usr/bin/env python3
"""Benchmarks our compiled NSL layers against PyTorch in one run.

Usage: /usr/bin/python3 bench/run.py [--build DIR] [--threads 2] [--warmup 5] [--repeats 30]
                    [--write docs/performance.md]

For batch 32, 64→64 channels, 32×32, 3×3, padding 1 (forward, float32):
compiles each layer with nslc, times it with `nsl-run bench` (median of
--repeats after --warmup), checks it against the reference interpreter,
then times the PyTorch formulations (bench/torch_peers.py) in a separate
process (so the two thread pools never share the cores) with OpenBLAS as
PyTorch's BLAS. Prints the table and, with --write, puts it into
docs/performance.md between the bench markers, with the command and the
machine.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, C, O, H, W, K = 32, 64, 64, 32, 32, 3
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
CONV_FLOPS = 2 * N * O * C * K * K * H * W
PREDICT_DNS = 2 * N * (K * K) * C * K * K * H * W
PREDICT_UNS = 2 * N * (K ** 4) * C * K * K * H * W


def ty(*shape):
    return "tensor<" + "x".join(map(str, shape)) + "xf32>"


def model(args, body, result=None):
    result = result or ty(N, O, H, W)
    params = ",\n    ".join(
        f'%{name}: {t} {{nsl.name = "{name}", nsl.role = "{role}"}}'
        for name, t, role in args)
    lines = "\n  ".join(body)
    return (f"func.func @forward(\n    {params}) -> {result} {{\n  {lines}\n"
            f"  return %y : {result}\n}}\n")


X = ("x", ty(N, C, H, W), "input")
WT = ("w", ty(O, C, K, K), "parameter")
CONV = f"{ty(N, C, H, W)}, {ty(O, C, K, K)} -> {ty(N, O, H, W)}"
PAD = "{padding = array<i64: 1, 1>}"


def dynamic(structure, channels):
    pred = ty(N, channels, H, W)
    return model(
        [X, WT, ("p", ty(channels, C, K, K), "parameter"),
         ("g", "tensor<f32>", "parameter")],
        [f"%p0 = nsl.sphere_conv2d cosine %x, %p {PAD} : {ty(N, C, H, W)}, {ty(channels, C, K, K)} -> {pred}",
         f"%m = nsl.predicted_similarity {structure} %p0, %g : {pred}, tensor<f32> -> {pred}",
         f"%y = nsl.sim_conv2d {structure} dynamic %x, %w similarity(%m : {pred}) {PAD} : {CONV}"])


# name, model text, FLOPs, PyTorch peers (names in torch_peers.py)
CASES = [
    ("plain conv", model([X, WT], [f"%y = nsl.sim_conv2d identity %x, %w {PAD} : {CONV}"]),
     CONV_FLOPS, ["conv NCHW", "conv channels_last"]),
    ("static DNS", model([X, WT, ("m", ty(K * K), "parameter")],
                         [f"%y = nsl.sim_conv2d diagonal %x, %w similarity(%m : {ty(K * K)}) {PAD} : {CONV}"]),
     CONV_FLOPS, ["static DNS (fold + conv2d)", "conv channels_last", "conv NCHW"]),
    ("static UNS", model([X, WT, ("m", ty(K * K, K * K), "parameter")],
                         [f"%y = nsl.sim_conv2d full %x, %w similarity(%m : {ty(K * K, K * K)}) {PAD} : {CONV}"]),
     CONV_FLOPS, ["static UNS (fold + conv2d)", "conv channels_last", "conv NCHW"]),
    ("dynamic DNS + predictor", dynamic("diagonal", K * K), CONV_FLOPS + PREDICT_DNS,
     ["dynamic DNS + predictor (F.unfold)", "dynamic DNS + predictor (deform_conv2d)"]),
    ("dynamic UNS + predictor", dynamic("full", K ** 4), CONV_FLOPS + PREDICT_UNS,
     ["dynamic UNS + predictor (F.unfold)"]),
    ("SphereConv 64→64 cosine", model([X, WT], [f"%y = nsl.sphere_conv2d cosine %x, %w {PAD} : {CONV}"]),
     CONV_FLOPS, ["SphereConv cosine (conv2d + norms)"]),
]


def run(cmd, env=None):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"bench: `{' '.join(cmd)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ours(build, name, text, work, args):
    source = os.path.join(work, re.sub(r"\W+", "_", name) + ".mlir")
    artifact = source[:-5] + ".nslm"
    with open(source, "w") as f:
        f.write(text)
    run([os.path.join(build, "bin", "nslc"), source, "-o", artifact])
    check = run([os.path.join(build, "bin", "nsl-run"), "check", artifact,
                 "--threads", str(args.threads)])
    error = float(re.search(r"relative error ([0-9.e+-]+)", check).group(1))
    best = None
    for _ in range(args.rounds):
        out = run([os.path.join(build, "bin", "nsl-run"), "bench", artifact,
                   "--threads", str(args.threads), "--warmup", str(args.warmup),
                   "--repeats", str(args.repeats)])
        median, low = map(float, re.search(
            r"median ([0-9.]+) ms, min ([0-9.]+) ms", out).groups())
        if best is None or median < best[0]:
            best = (median, low)
    return best[0], best[1], error


def write_section(path, marker, text):
    """Replaces what stands between <!-- MARKER:begin --> and
    <!-- MARKER:end --> in the file at `path` by `text`."""
    with open(path) as f:
        doc = f.read()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if begin not in doc or end not in doc:
        sys.exit(f"bench: {path} has no {begin} ... {end} section")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)
    print(f"\nwrote the table into {path}")


def machine():
    model_name = "unknown CPU"
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model_name == "unknown CPU":
                model_name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    isa = "AVX-512" if " avx512f" in flags else ("AVX2" if " avx2" in flags else "SSE")
    return f"{model_name}, {os.cpu_count()} cores, {isa}, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3,
                        help="separate timing runs per layer; the lowest median "
                             "counts (the machine is shared: a round can be disturbed)")
    parser.add_argument("--write", metavar="FILE",
                        help="put the table into FILE between the bench markers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        measured = {}
        for name, text, flops, _ in CASES:
            print(f"ours: {name} ...", flush=True)
            measured[name] = ours(args.build, name, text, work, args)
        env = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
        peers = {}
        for round in range(args.rounds):
            print(f"PyTorch round {round + 1} (own process, OpenBLAS):", flush=True)
            peers_file = os.path.join(work, "peers.json")
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_peers.py"),
                            "--threads", str(args.threads), "--warmup", str(args.warmup),
                            "--repeats", str(args.repeats), "--out", peers_file],
                           check=True, env=env)
            with open(peers_file) as f:
                for key, value in json.load(f).items():
                    if not isinstance(value, dict):
                        peers[key] = value
                    elif key not in peers or value["median_ms"] < peers[key]["median_ms"]:
                        peers[key] = value

    plain = measured["plain conv"][0]
    rows = ["| layer | ours: median (min) ms | ours GFLOP/s | rel. error vs reference | PyTorch formulation | PyTorch median ms | ours / PyTorch |",
            "|---|---|---|---|---|---|---|"]
    for name, _, flops, peer_names in CASES:
        median, low, error = measured[name]
        for i, peer in enumerate(peer_names):
            first = i == 0
            rows.append(
                f"| {name if first else ''} | {f'{median:.2f} ({low:.2f})' if first else ''} | "
                f"{f'{flops / median / 1e6:.0f}' if first else ''} | {f'{error:.1e}' if first else ''} | "
                f"{peer} | {peers[peer]['median_ms']:.2f} | {median / peers[peer]['median_ms']:.2f} |")
    ratios = {
        "static DNS / PyTorch channels_last (target ≤ 1.2)": measured["static DNS"][0] / peers["conv channels_last"]["median_ms"],
        "static DNS / PyTorch NCHW (target ≤ 1.0)": measured["static DNS"][0] / peers["conv NCHW"]["median_ms"],
        "static UNS / PyTorch channels_last (target ≤ 1.2)": measured["static UNS"][0] / peers["conv channels_last"]["median_ms"],
        "dynamic DNS + predictor / our plain conv (target ≤ 1.3)": measured["dynamic DNS + predictor"][0] / plain,
        "PyTorch unfold DNS / our dynamic DNS (target ≥ 6)": peers["dynamic DNS + predictor (F.unfold)"]["median_ms"] / measured["dynamic DNS + predictor"][0],
        "SphereConv / our plain conv (target ≤ 1.2)": measured["SphereConv 64→64 cosine"][0] / plain,
    }
    targets = ["| ratio | measured |", "|---|---|"] + [f"| {k} | {v:.2f} |" for k, v in ratios.items()]
    command = "/usr/bin/python3 bench/run.py " + " ".join(
        f"--{k} {v}" for k, v in [("threads", args.threads), ("warmup", args.warmup),
                                  ("repeats", args.repeats), ("rounds", args.rounds)])
    text = "\n".join([
        f"Measured {datetime.date.today().isoformat()} with `{command}` on {machine()};",
        f"PyTorch {peers['torch']} with {peers['threads']} threads and OpenBLAS, in its own process.",
        "Each time is the median of the repeats after warm-up, the lowest of the rounds on each side.",
        "Batch 32, 64→64 channels, 32×32, 3×3, padding 1, forward, float32; FLOPs of the",
        "convolution(s) counted as 2·N·O·C·K·Ho·Wo (the predictor's included for dynamic layers).",
        "", *rows, "", *targets])
    print()
    print(text)
    if args.write:
        write_section(args.write, "bench", text)


if __name__ == "__main__":
    main()
