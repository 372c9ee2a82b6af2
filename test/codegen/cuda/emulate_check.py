#!/usr/bin/env python3
"""Checks the CUDA tiled convolution kernels without a GPU: every forward
model of the given .mlir files is compiled by `nslc --emulate-cuda-tiles`
(the tiled kernels' CPU emulation, docs/gpu.md) and checked by `nsl-run check`
against the reference interpreter on fresh random inputs and weights.

usage: emulate_check.py --nslc NSLC --nsl-run NSLRUN --work-dir DIR
                        [--options "nslc options"] [--tolerance 1e-5] FILE...
Prints one line per model and a summary; exits 1 if any model fails.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys


def functions(path):
    with open(path) as f:
        return re.findall(r"^func\.func @([A-Za-z_][A-Za-z0-9_]*)\(", f.read(), re.M)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nslc", required=True)
    parser.add_argument("--nsl-run", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--options", default="")
    parser.add_argument("--tolerance", default="1e-5")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    extra = shlex.split(args.options)
    count, failures = 0, 0
    for path in args.files:
        stem = os.path.splitext(os.path.basename(path))[0]
        for index, fn in enumerate(functions(path)):
            name = f"{stem}.{fn}"
            out = os.path.join(args.work_dir, name + ".nslm")
            count += 1
            compile_cmd = [args.nslc, path, "--function", fn, "--seed", str(index),
                           "--emulate-cuda-tiles", "-o", out] + extra
            compiled = subprocess.run(compile_cmd, capture_output=True, text=True)
            if compiled.returncode != 0:
                failures += 1
                print(f"FAIL {name}: nslc: {compiled.stderr.strip()}")
                continue
            check = subprocess.run(
                [args.nsl_run, "check", out, "--seed", str(100 + index),
                 "--tolerance", args.tolerance], capture_output=True, text=True)
            if check.returncode != 0:
                failures += 1
                print(f"FAIL {name}: {check.stdout.strip()} {check.stderr.strip()}")
                continue
            worst = re.findall(r"relative error ([0-9.e+-]+), max abs", check.stdout)
            print(f"{name}: ok (relative error {max(worst, key=float) if worst else '?'})")
    if failures:
        print(f"emulated CUDA tiles: {failures} of {count} models FAILED")
        return 1
    print(f"emulated CUDA tiles: {count} models, all within {args.tolerance}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
