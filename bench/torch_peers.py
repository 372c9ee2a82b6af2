"""PyTorch peers of bench/run.py, timed in their own process.

Usage: torch_peers.py --threads T --warmup W --repeats R --out FILE.json

Runs each formulation of the benchmark layers in PyTorch (float32, CPU,
torch.set_num_threads(T)) on batch 32, 64→64 channels, 32×32, 3×3, padding
1, and writes {name: {"median_ms": …, "min_ms": …}} to FILE.json.
Matrix products go through the process's BLAS (bench/run.py points it at
OpenBLAS); convolutions through oneDNN.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision

N, C, O, H, W, K = 32, 64, 64, 32, 32, 3
EPS = 1e-4


def sphere_predictor(x, pw):
    """SphereConv (cosine) predictor P of DESIGN.md §1 with F.conv2d: the
    dot product, ‖x_p‖ as a convolution of x² with ones, and ‖w_o‖."""
    dot = F.conv2d(x, pw, padding=1)
    ones = torch.ones(1, x.shape[1], K, K)
    x_norm = torch.sqrt(F.conv2d(x * x, ones, padding=1) + EPS)
    w_norm = torch.sqrt((pw * pw).sum((1, 2, 3)) + EPS).view(1, -1, 1, 1)
    return dot / (x_norm * w_norm)


def cases():
    torch.manual_seed(0)
    x = torch.rand(N, C, H, W) * 2 - 1
    w = torch.rand(O, C, K, K) * 2 - 1
    m = torch.rand(K * K) * 2 - 1
    mm = torch.rand(K * K, K * K) * 2 - 1
    p9 = torch.rand(K * K, C, K, K) * 2 - 1
    p81 = torch.rand(K * K * K * K, C, K, K) * 2 - 1
    gamma = torch.tensor(0.5)
    x_cl = x.to(memory_format=torch.channels_last)
    w_cl = w.to(memory_format=torch.channels_last)
    offset = torch.zeros(N, 2 * K * K, H, W)

    def conv_nchw():
        return F.conv2d(x, w, padding=1)

    def conv_channels_last():
        return F.conv2d(x_cl, w_cl, padding=1)

    def static_dns_fold_conv():
        return F.conv2d(x, w * m.view(1, 1, K, K), padding=1)

    def static_uns_fold_conv():
        folded = torch.einsum("oct,ts->ocs", w.reshape(O, C, K * K), mm)
        return F.conv2d(x, folded.reshape(O, C, K, K), padding=1)

    def dns_unfold():
        mask = gamma * sphere_predictor(x, p9) + 1  # M_p = γ·P + I: [N, K, H, W]
        cols = F.unfold(x, K, padding=1).view(N, C, K * K, H * W)
        cols = cols * mask.view(N, 1, K * K, H * W)
        y = torch.matmul(w.view(O, C * K * K), cols.view(N, C * K * K, H * W))
        return y.view(N, O, H, W)

    def dns_deform_conv():
        mask = gamma * sphere_predictor(x, p9) + 1
        return torchvision.ops.deform_conv2d(x, offset, w, padding=1, mask=mask)

    def uns_unfold():
        eye = torch.eye(K * K).view(1, K * K, K * K, 1)
        mix = gamma * sphere_predictor(x, p81).view(N, K * K, K * K, H * W) + eye
        cols = F.unfold(x, K, padding=1).view(N, C, K * K, H * W)
        mixed = torch.einsum("ntsl,ncsl->nctl", mix, cols)
        y = torch.matmul(w.view(O, C * K * K), mixed.reshape(N, C * K * K, H * W))
        return y.view(N, O, H, W)

    def sphere_conv():
        dot = F.conv2d(x, w, padding=1)
        ones = torch.ones(1, C, K, K)
        x_norm = torch.sqrt(F.conv2d(x * x, ones, padding=1) + EPS)
        w_norm = torch.sqrt((w * w).sum((1, 2, 3)) + EPS).view(1, -1, 1, 1)
        return dot / (x_norm * w_norm)

    return {
        "conv NCHW": conv_nchw,
        "conv channels_last": conv_channels_last,
        "static DNS (fold + conv2d)": static_dns_fold_conv,
        "static UNS (fold + conv2d)": static_uns_fold_conv,
        "dynamic DNS + predictor (F.unfold)": dns_unfold,
        "dynamic DNS + predictor (deform_conv2d)": dns_deform_conv,
        "dynamic UNS + predictor (F.unfold)": uns_unfold,
        "SphereConv cosine (conv2d + norms)": sphere_conv,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.no_grad():
        for name, fn in cases().items():
            for _ in range(args.warmup):
                fn()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                fn()
                times.append((time.perf_counter() - start) * 1e3)
            results[name] = {"median_ms": statistics.median(times),
                             "min_ms": min(times)}
            print(f"  {name}: median {results[name]['median_ms']:.2f} ms",
                  flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
