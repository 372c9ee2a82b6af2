#!/usr/bin/env python3
"""PyTorch autograd oracle for the reference VJPs (TorchGradTest.cpp).

Usage: torch_grad_oracle.py DIR

DIR holds `manifest.txt`, one case per line:

    NAME OP key=value key=value ...

(lists are comma-separated; `inputs` names the case's operands, stored as
`NAME.OPERAND.npy`, among them `gy`, the upstream gradient of the op's
output; `wrt` names the operands to differentiate). For each case this script
computes the op's output in float64 with a differentiable PyTorch
formulation, runs `torch.autograd.grad` with `grad_outputs=gy` and writes
`NAME.grad.OPERAND.npy` for every `wrt` operand; a case that raises writes
`NAME.error.txt` instead, so that one bad case does not hide the others.

The formulations: torch's own ops and their autograd where they exist
(conv2d, torchvision's deform_conv2d with zero offsets for DNS, batch_norm,
pooling, cross_entropy, ...; reused from torch_oracle.py, the forward
oracle), F.unfold/einsum for the NSL ops (torch_oracle.py's, on this
script's similarity matrices), cholesky as tril(L) @ tril(L).T,
and shape_masked's step D = 1[d_r > alpha] as a straight-through estimator
(`d_r + (step - d_r).detach()`: D in the forward pass, the identity's
gradient to d_r, so that dd_r[t] = sum_s G[t,s] R[t,s]).
"""

import os
import sys
import traceback

sys.dont_write_bytecode = True  # importing torch_oracle leaves no __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as error:
    sys.exit(
        f"torch_grad_oracle: cannot import {error.name} with {sys.executable}: "
        "the PyTorch gradient tests need numpy, torch 1.13 and torchvision 0.14 "
        "(Debian: python3-numpy python3-torch python3-torchvision; "
        "scripts/setup.sh installs them)"
    )

import torch_oracle as forward_oracle  # noqa: E402  (the path is set above)

F64 = torch.float64


def straight_through_mask(d_r, alpha):
    """D = 1[d_r > alpha] forward, the identity's gradient to d_r."""
    step = (d_r > alpha).to(F64)
    return d_r + (step - d_r).detach()


def static_matrix(structure, t, taps, alpha):
    """The K x K matrix M of a static similarity, differentiable in its
    operands (DESIGN.md section 1)."""
    if structure == "identity":
        return torch.eye(taps, dtype=F64)
    if structure == "diagonal":
        return torch.diag(t["m"])
    if structure == "full":
        return t["mat"]
    if structure == "cholesky":
        lower = torch.tril(t["L"])
        return lower @ lower.T
    if structure == "shape_masked":
        d = straight_through_mask(t["d_r"], alpha)
        r = torch.diag(t["R"]) if t["R"].dim() == 1 else t["R"]
        return d[:, None] * r
    raise ValueError(f"unknown structure {structure}")


def dynamic_matrices(structure, t, taps, alpha):
    """M_p as [N, K, K, P] from the [N, K or K*K, Ho, Wo] operands."""

    def expand(op):
        n, channels = op.shape[:2]
        flat = op.reshape(n, channels, -1)
        if channels == taps * taps:
            return flat.reshape(n, taps, taps, -1)
        # [N, K, P] -> diagonal matrices [N, P, K, K] -> [N, K, K, P]
        return torch.diag_embed(flat.transpose(1, 2)).permute(0, 2, 3, 1)

    if structure == "diagonal":
        return expand(t["m"])
    if structure == "full":
        return expand(t["mat"])
    if structure == "shape_masked":
        d = straight_through_mask(t["d_r"], alpha)
        return d[None, :, None, None] * expand(t["R"])
    raise ValueError(f"structure {structure} cannot be dynamic")


def orthogonality(t, a):
    """lambda * ||W_f W_f^T - I||_F^2 with W_f = W viewed as [O, C*kh*kw]."""
    w = t["w"]
    flat = w.reshape(w.shape[0], -1)
    residual = flat @ flat.T - torch.eye(w.shape[0], dtype=F64)
    return float(a["strength"]) * (residual**2).sum()


def first_output(name):
    """The first (differentiated) output of a forward-oracle op."""
    return lambda t, a: forward_oracle.OPS[name](t, a)[0]


def nsl_op(name, *matrices):
    """The first output of a forward-oracle NSL op on the differentiable M
    (and M_p) of this script."""
    return lambda t, a: getattr(forward_oracle, name)(t, a, *matrices)[0]


OPS = {
    "unfold_sim_conv2d": nsl_op("unfold_sim_conv2d", static_matrix, dynamic_matrices),
    "folded_conv2d": nsl_op("folded_conv2d", static_matrix),
    "fold_similarity": nsl_op("fold_similarity", static_matrix),
    "sim_linear": nsl_op("sim_linear", static_matrix),
    "l1": lambda t, a: float(a["strength"]) * t["m"].abs().sum(),
    "orthogonality": orthogonality,
}
for _name in [
    "conv2d",
    "deform_conv2d",
    "sphere_conv2d",
    "patch_norm",
    "predicted_similarity",
    "batch_norm",
    "batch_norm_train",  # the normalised output; the statistics are not differentiated
    "relu",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "linear",
    "flatten",
    "concat",
    "reshape",
    "transpose",
    "slice",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "cross_entropy",
]:
    OPS[_name] = first_output(_name)
for _name in forward_oracle.ELEMENTWISE:
    OPS[_name] = first_output(_name)
# torch.nn.functional.hardsigmoid's backward scales by the float constant
# 1.0f / 6.0f even in float64 (3e-8 off); relu6(x + 3) / 6 has the same
# value and the same gradient mask (-3 < x < 3, hardtanh's) with an exact
# 1/6.
OPS["hardsigmoid"] = lambda t, a: torch.nn.functional.relu6(t["a"] + 3) / 6


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_grad_oracle.py DIR")
    directory = sys.argv[1]
    print(
        f"torch_grad_oracle: torch {torch.__version__}, torchvision "
        f"{torchvision.__version__}, numpy {np.__version__}"
    )
    with open(f"{directory}/manifest.txt") as manifest:
        lines = [line.split() for line in manifest if line.strip()]
    for name, op, *pairs in lines:
        attrs = dict(pair.split("=", 1) for pair in pairs)
        try:
            wrt = list(filter(None, attrs.get("wrt", "").split(",")))
            tensors = {}
            for operand in filter(None, attrs.get("inputs", "").split(",")):
                array = np.load(f"{directory}/{name}.{operand}.npy")
                tensor = torch.from_numpy(array)
                if array.dtype.kind != "i":
                    tensor = tensor.to(F64).requires_grad_(operand in wrt)
                tensors[operand] = tensor
            gy = tensors.pop("gy")
            output = OPS[op](tensors, attrs)
            if output.shape != gy.shape:
                raise ValueError(
                    f"output shape {tuple(output.shape)} differs from the "
                    f"upstream gradient's {tuple(gy.shape)}"
                )
            grads = torch.autograd.grad(
                output, [tensors[w] for w in wrt], grad_outputs=gy, allow_unused=True
            )
            for operand, grad in zip(wrt, grads):
                if grad is None:  # the output does not depend on it
                    grad = torch.zeros_like(tensors[operand])
                np.save(
                    f"{directory}/{name}.grad.{operand}.npy",
                    grad.detach().to(F64).numpy().copy(order="C"),
                )
        except Exception:  # reported per case by the C++ test
            with open(f"{directory}/{name}.error.txt", "w") as f:
                f.write(traceback.format_exc())
    print(f"torch_grad_oracle: {len(lines)} cases done")


if __name__ == "__main__":
    main()
