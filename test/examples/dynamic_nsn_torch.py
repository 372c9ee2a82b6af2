"""PyTorch re-implementation of examples/dynamic_nsn.mlir.

Usage: dynamic_nsn_torch.py INPUT_DIR REFERENCE_OUTPUT.npy [TOLERANCE]

Loads the arguments the reference interpreter drew (INPUT_DIR/<name>.npy),
computes the network with PyTorch and torchvision in float64 — the DNS layer
as torchvision's deform_conv2d with zero offsets, an oracle independent of
ours — and compares with the interpreter's output. Exits 1 when the relative
error ‖y − r‖₂/‖r‖₂ exceeds TOLERANCE (default 1e-6; both sides are computed
in double from the same float32 inputs).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision


def sphere_conv(x, w, variant, padding, eps=1e-4):
    """SphereConv (DESIGN.md §1) through F.unfold."""
    kh, kw = w.shape[2:]
    n, c, h, wd = x.shape
    patches = F.unfold(x, (kh, kw), padding=padding)  # [N, C·K, P]
    dot = torch.einsum("of,nfp->nop", w.reshape(w.shape[0], -1), patches)
    w_norm = torch.sqrt((w.reshape(w.shape[0], -1) ** 2).sum(1) + eps)
    x_norm = torch.sqrt((patches ** 2).sum(1) + eps)
    cos = dot / (w_norm.view(1, -1, 1) * x_norm.unsqueeze(1))
    if variant == "cosine":
        out = cos
    elif variant == "linear":
        theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
        out = 1 - 2 * theta / math.pi
    else:
        raise ValueError(variant)
    ho = h + 2 * padding - kh + 1
    wo = wd + 2 * padding - kw + 1
    return out.reshape(n, -1, ho, wo)


def forward(a):
    x = a["x"]
    # conv1: static DNS, W'[o,c,t] = W[o,c,t]·m[t].
    w1 = a["conv1.weight"] * a["conv1.similarity"].view(1, 1, 3, 3)
    y = F.conv2d(x, w1, padding=1)
    y = F.batch_norm(y, a["bn1.running_mean"], a["bn1.running_var"],
                     a["bn1.weight"], a["bn1.bias"], training=False, eps=1e-5)
    h1 = F.max_pool2d(F.relu(y), 2, 2)
    # conv2: dynamic DNS with a SphereNet predictor, M_p = γ·P + I.
    p = F.relu(sphere_conv(h1, a["conv2.predictor.0.weight"], "linear", 1))
    p = sphere_conv(p, a["conv2.predictor.2.weight"], "cosine", 0)
    mask = a["conv2.gamma"].reshape(()) * p + 1
    offset = torch.zeros(x.shape[0], 2 * 9, 14, 14, dtype=x.dtype)
    y = torchvision.ops.deform_conv2d(h1, offset, a["conv2.weight"],
                                      a["conv2.bias"], padding=1, mask=mask)
    y = F.batch_norm(y, a["bn2.running_mean"], a["bn2.running_var"],
                     a["bn2.weight"], a["bn2.bias"], training=False, eps=1e-5)
    f = torch.flatten(F.adaptive_avg_pool2d(F.relu(y), 1), 1)
    # Similarity linear head: groups of 4 features share M (full).
    w = a["fc.weight"].reshape(10, 4, 4)  # [O, G, B]
    w = torch.einsum("ogt,ts->ogs", w, a["fc.similarity"]).reshape(10, 16)
    return F.linear(f, w, a["fc.bias"])


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    inputs, reference = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) == 4 else 1e-6
    args = {}
    for file in os.listdir(inputs):
        if file.endswith(".npy"):
            args[file[:-4]] = torch.from_numpy(
                np.load(os.path.join(inputs, file)).astype(np.float64))
    with torch.no_grad():
        y = forward(args).numpy()
    r = np.load(reference).astype(np.float64)
    if y.shape != r.shape:
        sys.exit(f"shape mismatch: PyTorch {y.shape}, reference {r.shape}")
    rel = np.linalg.norm(y - r) / np.linalg.norm(r)
    print(f"dynamic_nsn: PyTorch vs reference interpreter: relative error "
          f"{rel:.3e}, max abs error {np.abs(y - r).max():.3e} "
          f"(tolerance {tolerance:g})")
    sys.exit(0 if rel <= tolerance else 1)


if __name__ == "__main__":
    main()
