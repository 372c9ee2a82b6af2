#!/usr/bin/env python3
"""Times the PyTorch peers of the benchmark layers on the GPU and prints the
table of scripts/gpu-check.sh.

usage: gpu_peers.py --nsl-times FILE [--warmup W] [--repeats R]

FILE has lines "<layer> <size> <ms>" (layer conv or dns, size e.g. 64x32)
from `nsl-run bench --device cuda` (the kernels' CUDA event time). For each
size (batch 128, C->C, HxW, 3x3, pad 1, fp32, TF32 off) it times with CUDA
events (median of R after W warm-ups): cuDNN conv (F.conv2d), the dynamic
DNS layer in PyTorch eager (SphereConv predictor + F.unfold modulated conv),
the same under torch.compile, and torchvision's deform_conv2d with the
predicted mask; and prints ms, TFLOP/s (of the 3x3 conv, 2·N·C·C·9·H·W)
and the ratio to cuDNN.
"""
import argparse
import statistics
import sys

import torch
import torch.nn.functional as F

K, EPS = 3, 1e-4


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def predictor(x, pw):
    dot = F.conv2d(x, pw, padding=1)
    ones = torch.ones(1, x.shape[1], K, K, device=x.device)
    x_norm = torch.sqrt(F.conv2d(x * x, ones, padding=1) + EPS)
    w_norm = torch.sqrt((pw * pw).sum((1, 2, 3)) + EPS).view(1, -1, 1, 1)
    return dot / (x_norm * w_norm)


def dns_eager(x, w, pw, gamma):
    n, c, h, wd = x.shape
    mask = gamma * predictor(x, pw) + 1
    cols = F.unfold(x, K, padding=1).view(n, c, K * K, h * wd)
    cols = cols * mask.view(n, 1, K * K, h * wd)
    y = torch.matmul(w.view(w.shape[0], c * K * K), cols.view(n, c * K * K, h * wd))
    return y.view(n, w.shape[0], h, wd)


def sphere_eager(x, w):
    """SphereConv (cosine): conv / (‖w_o‖ ‖x_p‖), the patch norm by a conv of x²."""
    c = x.shape[1]
    dot = F.conv2d(x, w, padding=1)
    ones = torch.ones(1, c, K, K, device=x.device)
    x_norm = torch.sqrt(F.conv2d(x * x, ones, padding=1) + 1e-4)
    w_norm = torch.sqrt((w * w).sum((1, 2, 3)) + 1e-4).view(1, -1, 1, 1)
    return dot / (w_norm * x_norm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsl-times", required=True)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true",
                        help="skip torch.compile (slow to compile)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_peers: error: torch.cuda.is_available() is False")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    nsl = {}
    with open(args.nsl_times) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                nsl[(parts[0], parts[1])] = float(parts[2])
    try:
        import torchvision
        deform = torchvision.ops.deform_conv2d
    except Exception as error:  # noqa: BLE001
        print(f"gpu_peers: torchvision unavailable ({error}): no deform_conv2d")
        deform = None
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, fp32, "
          f"TF32 off, batch 128, 3x3, pad 1; median of {args.repeats} "
          f"(CUDA events)")
    print(f"{'layer':<10} {'implementation':<42} {'ms':>9} {'TFLOP/s':>8} "
          f"{'vs cuDNN':>9}")
    torch.manual_seed(0)
    for c, hw in [(64, 32), (128, 16), (256, 16)]:
        n = 128
        size = f"{c}x{hw}"
        flops = 2.0 * n * c * c * K * K * hw * hw
        x = torch.rand(n, c, hw, hw, device="cuda") * 2 - 1
        w = torch.rand(c, c, K, K, device="cuda") * 2 - 1
        pw = torch.rand(K * K, c, K, K, device="cuda") * 2 - 1
        gamma = torch.tensor(0.5, device="cuda")
        offset = torch.zeros(n, 2 * K * K, hw, hw, device="cuda")
        rows = []
        with torch.no_grad():
            cudnn = timed(lambda: F.conv2d(x, w, padding=1), args.warmup,
                          args.repeats)
            rows.append(("cuDNN conv (F.conv2d)", cudnn))
            if ("conv", size) in nsl:
                rows.append(("NSL conv (nsl-run --device cuda)",
                             nsl[("conv", size)]))
            if ("static", size) in nsl:
                rows.append(("NSL static DNS, folded (nsl-run)",
                             nsl[("static", size)]))
            rows.append(("SphereConv eager (3 convs)",
                         timed(lambda: sphere_eager(x, w), args.warmup,
                               args.repeats)))
            if ("sphere", size) in nsl:
                rows.append(("NSL SphereConv (nsl-run --device cuda)",
                             nsl[("sphere", size)]))
            rows.append(("DNS eager (predictor + F.unfold)",
                         timed(lambda: dns_eager(x, w, pw, gamma),
                               args.warmup, args.repeats)))
            if not args.no_compile:
                try:
                    compiled = torch.compile(dns_eager)
                    rows.append(("DNS torch.compile",
                                 timed(lambda: compiled(x, w, pw, gamma),
                                       args.warmup, args.repeats)))
                except Exception as error:  # noqa: BLE001
                    print(f"gpu_peers: torch.compile failed: {error}")
            if deform is not None:
                def deform_layer():
                    mask = gamma * predictor(x, pw) + 1
                    return deform(x, offset, w, padding=1, mask=mask)
                rows.append(("DNS deform_conv2d + predictor",
                             timed(deform_layer, args.warmup, args.repeats)))
            if ("dns", size) in nsl:
                rows.append(("NSL DNS + predictor (nsl-run --device cuda)",
                             nsl[("dns", size)]))
        for name, ms in rows:
            print(f"{size:<10} {name:<42} {ms:9.3f} "
                  f"{flops / ms / 1e9:8.2f} {ms / cudnn:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
