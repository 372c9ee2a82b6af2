#!/usr/bin/env python3
"""The paper's experiment (§7.1, Table 4) on Fashion-MNIST with nsl-run fit
→ docs/results.md.

Usage: /usr/bin/python3 bench/results.py [--work-dir build/results]
           [--epochs 2] [--train-subset 10000] [--seeds 0,1,2]
           [--variants cnn,cnn++,static-dns,static-uns,dynamic-dns,dynamic-uns]
           [--threads 2] [--skip-timing] [--write docs/results.md]

The paper's CIFAR network (nsl.paper_cifar_net: root conv 32; 3 × conv 32,
pool; 3 × conv 64, pool; 3 × conv 128, pool; 4×4 conv head; BN + ReLU) on
Fashion-MNIST padded to 32×32, in six variants: the baseline CNN; CNN++
(the same network widened until it has at least the parameters of the
largest NSN); static DNS and static UNS (nsl.to_static_nsn, diagonal and
full M); dynamic DNS and dynamic UNS (nsl.to_dynamic_nsn: a SphereNet
predictor per layer, M = γ·P + I). Every run: batch 64 and lr 0.05 (the
paper's batch 128 and lr 0.1 scaled linearly: twice the steps in the same
images, which a budget of two epochs needs), SGD momentum 0.9, weight
decay 5e-4, the rate divided by 10 at 50 % and 75 % of the steps (the
paper's schedule, compressed) after a linear warm-up over the first 50
steps (without one this network's loss explodes to 10–20 in its first
steps at lr 0.1 and batch 128, in PyTorch as in ours), random crop with padding 2 and horizontal
flips, the first --train-subset training images, all 10 000 test images
evaluated after every epoch. Each (variant, seed) trains in its own folder
under --work-dir; a run killed at any point continues where it stopped
when the command is run again (finished runs are kept, unfinished ones
resumed with nsl-run fit --resume). Then one training step of the batch is
timed on each side in a process of its own: ours (nsl-run bench --entry
train_step) and PyTorch eager (the same model from the nsl package, 2
threads, OpenBLAS); --skip-timing leaves that for a quiet machine. Writes
the table and the curves (docs/results-curves.png) with --write.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "frontend", "python"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import machine, write_section  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
BATCH = 64
VARIANTS = ["cnn", "cnn++", "static-dns", "static-uns", "dynamic-dns",
            "dynamic-uns"]
TEST_IMAGES = 10000


def build_model(variant, seed, wide):
    import torch
    import nsl
    torch.manual_seed(seed)
    model = nsl.paper_cifar_net(in_channels=1, num_classes=10,
                                widths=wide if variant == "cnn++"
                                else (32, 64, 128))
    kind, _, structure = variant.partition("-")
    full = {"dns": "diagonal", "uns": "full"}.get(structure)
    if kind == "static":
        nsl.to_static_nsn(model, structure=full)
    elif kind == "dynamic":
        nsl.to_dynamic_nsn(model, structure=full)
    return model


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def widened(largest):
    """CNN++'s widths: the baseline's, grown in steps of 8·(1, 2, 4)
    channels until the network has at least `largest` parameters."""
    import nsl
    step = 0
    while True:
        wide = (32 + 8 * step, 64 + 16 * step, 128 + 32 * step)
        if parameter_count(nsl.paper_cifar_net(1, 10, wide)) >= largest:
            return wide
        step += 1


def call(cmd, log=None):
    if log:
        with open(log, "a") as out:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    else:
        result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (open(log).read() if log else result.stdout + result.stderr)[
            -3000:]
        sys.exit(f"results: `{' '.join(cmd)}` failed ({result.returncode})"
                 f"\n{tail}")


def train(args, variant, seed, wide):
    """Trains (or resumes) one run; returns its folder."""
    import torch
    folder = os.path.join(args.work_dir, variant, f"seed{seed}")
    os.makedirs(folder, exist_ok=True)
    fit = os.path.join(folder, "fit")
    if os.path.exists(os.path.join(fit, "model.safetensors")):
        return folder
    artifact = os.path.join(folder, "train.nslm")
    if not os.path.exists(os.path.join(artifact, "manifest.json")):
        model_pt = os.path.join(folder, "model.pt")
        torch.jit.script(build_model(variant, seed, wide).eval()).save(
            model_pt)
        partial = artifact + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        call([os.path.join(args.build, "bin", "nslc"), model_pt,
              "--input-shape", f"{BATCH}x1x32x32", "--train", "--momentum",
              "0.9", "--weight-decay", "5e-4", "-o", partial])
        os.rename(partial, artifact)
    steps = (args.train_subset // BATCH) * args.epochs
    command = [os.path.join(args.build, "bin", "nsl-run"), "fit", artifact,
               "--data", DATA, "--train-subset", str(args.train_subset),
               "--epochs", str(args.epochs), "--lr", "0.05", "--schedule",
               "step", "--milestones", f"{steps // 2},{steps * 3 // 4}",
               "--warmup-steps", "50",
               "--crop-padding", "2", "--flip", "--seed", str(seed),
               "--threads", str(args.threads), "--progress", "lines",
               "--output-dir", fit]
    if os.path.exists(os.path.join(fit, "checkpoint.safetensors")):
        command.append("--resume")
    print(f"results: training {variant} seed {seed}"
          f"{' (resumed)' if '--resume' in command else ''}", flush=True)
    call(command, os.path.join(folder, "fit.log"))
    return folder


def run_metrics(folder):
    steps, epochs = [], []
    with open(os.path.join(folder, "fit", "metrics.jsonl")) as f:
        for record in map(json.loads, f):
            (steps if record["kind"] == "step" else epochs).append(record)
    return steps, epochs


PYTORCH_TIMING = r"""
import json, statistics, sys, time
import torch
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from results import build_model
torch.set_num_threads(int(sys.argv[4]))
variant, wide = sys.argv[3], tuple(json.loads(sys.argv[5]))
model = build_model(variant, 0, wide).train()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                            weight_decay=5e-4)
x = torch.randn(64, 1, 32, 32)
y = torch.randint(0, 10, (64,))
times = []
for i in range(2 + int(sys.argv[6])):
    start = time.perf_counter()
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    if i >= 2:
        times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def our_step_seconds(args, variant, cache):
    """nsl-run bench of train_step (seed 0's artifact)."""
    if variant in cache:
        return cache[variant]
    artifact = os.path.join(args.work_dir, variant, "seed0", "train.nslm")
    out = subprocess.run(
        [os.path.join(args.build, "bin", "nsl-run"), "bench", artifact,
         "--entry", "train_step", "--warmup", "2", "--repeats", "5",
         "--threads", str(args.threads)],
        capture_output=True, text=True, check=True).stdout
    median = out.split("median ", 1)[1].split(" ms", 1)[0]
    cache[variant] = float(median) / 1000
    return cache[variant]


def pytorch_step_seconds(args, variant, wide, cache):
    if variant in cache:
        return cache[variant]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    repeats = 3 if variant.startswith("dynamic") else 5
    out = subprocess.run(
        [sys.executable, "-c", PYTORCH_TIMING,
         os.path.join(ROOT, "frontend", "python"),
         os.path.join(ROOT, "bench"), variant, str(args.threads),
         json.dumps(list(wide)), str(repeats)],
        capture_output=True, text=True, env=env, check=True)
    cache[variant] = float(out.stdout.strip().splitlines()[-1])
    return cache[variant]


def table(args, results, wide, counts, times):
    lines = [
        f"`/usr/bin/python3 bench/results.py {' '.join(sys.argv[1:])}`, "
        f"{datetime.date.today()}, {machine()}; {args.threads} threads. "
        f"Fashion-MNIST padded to 32×32, the first {args.train_subset} "
        f"training images, {args.epochs} epochs of batch {BATCH} "
        f"({args.train_subset // BATCH} steps each; lr 0.05, 50 warm-up "
        f"steps, ÷10 at 50 % and 75 % of the steps; SGD momentum 0.9, "
        f"weight decay 5e-4; random crop with padding 2 and flips), all "
        f"{TEST_IMAGES} test images; CNN++ has widths {wide}.", "",
        "| network | parameters | test error % (mean ± std) | per seed | "
        "nsl-run fit s/epoch | ours ms/step | PyTorch eager ms/step | "
        "ours / PyTorch |",
        "|---|---|---|---|---|---|---|---|"]
    for variant in args.variants:
        runs = results.get(variant, [])
        if not runs:
            continue
        errors = [100 * (1 - r["test_accuracy"]) for r in runs]
        spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
        epoch = statistics.mean(r["seconds"] for r in runs)
        ours = times["ours"].get(variant)
        theirs = times["pytorch"].get(variant)

        def ms(t):
            return f"{1000 * t:.0f}" if t else "—"
        ratio = f"{ours / theirs:.2f}×" if ours and theirs else "—"
        lines.append(
            f"| {variant} | {counts[variant]:,} | "
            f"{statistics.mean(errors):.2f} ± {spread:.2f} "
            f"({len(errors)} seeds) | "
            f"{', '.join(f'{e:.2f}' for e in errors)} | {epoch:.0f} | "
            f"{ms(ours)} | {ms(theirs)} | {ratio} |")
    lines += ["", "nsl-run fit s/epoch: the mean over the runs of the seconds "
              "spent in train_step per epoch (evaluation excluded; other "
              "work may have shared the machine during the runs). ms/step: "
              "the step timed in one quiet period after the runs, each side "
              "in its own process — ours `nsl-run bench --entry train_step` "
              "(median of 5 after 2 warm-up), PyTorch eager with the nsl "
              "package's ops for NSL layers (zero_grad, forward, "
              "cross-entropy, backward, SGD step; median of 5, 3 for dynamic "
              "models, after 2 warm-up)."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--work-dir",
                        default=os.path.join(ROOT, "build", "results"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-subset", type=int, default=10000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-timing", action="store_true",
                        help="no step timing (a busy machine)")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    args.variants = args.variants.split(",")
    for v in args.variants:
        if v not in VARIANTS:
            sys.exit(f"results: unknown variant {v!r} (one of "
                     f"{', '.join(VARIANTS)})")
    seeds = [int(s) for s in args.seeds.split(",")]
    if not os.path.isdir(DATA):
        sys.exit(f"results: no {DATA} (scripts/setup.sh installs it)")
    counts = {v: parameter_count(build_model(v, 0, (32, 64, 128)))
              for v in VARIANTS if v != "cnn++"}
    wide = widened(max(counts.values()))
    counts["cnn++"] = parameter_count(build_model("cnn++", 0, wide))

    results = {}
    for seed in seeds:  # All variants of a seed first: a partial table
        for variant in args.variants:  # still compares them.
            folder = train(args, variant, seed, wide)
            _, epochs = run_metrics(folder)
            last = epochs[-1]
            results.setdefault(variant, []).append({
                "test_accuracy": last["test_accuracy"],
                "seconds": statistics.mean(e["seconds"] for e in epochs)})
            print(f"results: {variant} seed {seed}: test accuracy "
                  f"{100 * last['test_accuracy']:.2f}%", flush=True)
    cache_path = os.path.join(args.work_dir, "step_seconds.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    cache.setdefault("ours", {})
    cache.setdefault("pytorch", {})
    if not args.skip_timing:
        for variant in args.variants:
            our_step_seconds(args, variant, cache["ours"])
            pytorch_step_seconds(args, variant, wide, cache["pytorch"])
            with open(cache_path, "w") as f:
                json.dump(cache, f)
    text = table(args, results, wide, counts, cache)
    print(text)
    if args.write:
        write_section(args.write, "results", text)
        plot = os.path.join(os.path.dirname(os.path.abspath(args.write)),
                            "results-curves.png")
        folders = [os.path.join(args.work_dir, v, f"seed{seeds[0]}", "fit")
                   for v in args.variants]
        call([sys.executable, os.path.join(ROOT, "scripts",
                                           "plot-metrics.py")] + folders +
             ["-o", plot, "--labels", ",".join(args.variants), "--title",
              f"Fashion-MNIST, seed {seeds[0]}, nsl-run fit"])


if __name__ == "__main__":
    main()
