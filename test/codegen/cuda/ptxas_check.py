#!/usr/bin/env python3
"""Compiles every model function of the given .mlir files for CUDA with
nslc --target cuda:<arch> and runs `ptxas -arch=<arch> -v` on each PTX:
every kernel must assemble with no spills. Prints one line per kernel
(registers, spills) and a summary; exits 1 on the first problem.
"""
import argparse
import os
import re
import subprocess
import sys


def functions(path):
    with open(path) as f:
        return re.findall(r"^func\.func @([A-Za-z_][A-Za-z0-9_]*)\(", f.read(),
                          re.M)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nslc", required=True)
    parser.add_argument("--ptxas", required=True)
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--match", metavar="REGEX",
                        help="only the functions whose names match")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    kernels = 0
    for model in args.models:
        for function in functions(model):
            if args.match and not re.search(args.match, function):
                continue
            name = os.path.splitext(os.path.basename(model))[0] + "." + function
            out = os.path.join(args.work_dir, name + ".nslm")
            compiled = subprocess.run(
                [args.nslc, model, "--function", function, "--target",
                 "cuda:" + args.arch, "-o", out],
                capture_output=True, text=True, timeout=600)
            if compiled.returncode != 0:
                print(f"FAIL {name}: nslc failed:\n{compiled.stderr}")
                return 1
            ptx = os.path.join(out, f"kernels.{args.arch}.ptx")
            assembled = subprocess.run(
                [args.ptxas, "-arch=" + args.arch, "-v", ptx, "-o",
                 os.devnull], capture_output=True, text=True, timeout=600)
            log = assembled.stdout + assembled.stderr
            if assembled.returncode != 0:
                print(f"FAIL {name}: ptxas failed:\n{log}")
                return 1
            current = None
            for line in log.splitlines():
                m = re.search(r"Compiling entry function '([^']+)'", line)
                if m:
                    current = m.group(1)
                m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill "
                              r"loads", line)
                if m and (m.group(1) != "0" or m.group(2) != "0"):
                    print(f"FAIL {name}: kernel {current} spills: {line.strip()}")
                    return 1
                m = re.search(r"Used (\d+) registers", line)
                if m:
                    kernels += 1
                    print(f"{name} {current}: {m.group(1)} registers, "
                          f"no spills")
    print(f"ptxas -arch={args.arch}: {kernels} kernels, no spills")
    return 0 if kernels else 1


if __name__ == "__main__":
    sys.exit(main())
