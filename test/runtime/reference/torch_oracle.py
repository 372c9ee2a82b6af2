#!/usr/bin/env python3
"""PyTorch oracle for the reference implementation (TorchOracleTest.cpp).

Usage: torch_oracle.py DIR

DIR holds `manifest.txt`, one case per line:

    NAME OP key=value key=value ...

(lists are comma-separated, `inputs` names the case's operands) and the
operands as `NAME.OPERAND.npy`. For each case this script computes the
output(s) with PyTorch/torchvision in float64 and writes them as
`NAME.out0.npy`, `NAME.out1.npy`, ...; a case that raises writes
`NAME.error.txt` instead, so that one bad case does not hide the others. It
also writes a few arrays with NumPy itself (f64, i32, format 2.0, Fortran
order) for the C++ .npy reader to check. Torch is imported once for all
cases because the import is slow.
"""

import math
import sys
import traceback

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as error:
    sys.exit(
        f"torch_oracle: cannot import {error.name} with {sys.executable}: "
        "the PyTorch oracle tests need numpy, torch 1.13 and torchvision 0.14 "
        "(Debian: python3-numpy python3-torch python3-torchvision; "
        "scripts/setup.sh installs them)"
    )

F64 = torch.float64


def ints(attrs, key):
    return tuple(int(v) for v in attrs[key].split(","))


def window(attrs):
    return dict(
        stride=ints(attrs, "stride"),
        padding=ints(attrs, "padding"),
        dilation=ints(attrs, "dilation"),
    )


def output_size(size, kernel, win):
    return [
        (size[i] + 2 * win["padding"][i] - win["dilation"][i] * (kernel[i] - 1) - 1)
        // win["stride"][i]
        + 1
        for i in range(2)
    ]


def static_matrix(structure, t, taps, alpha):
    """The K x K matrix M of a static similarity (DESIGN.md section 1)."""
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
        mask = (t["d_r"] > alpha).to(F64)
        r = torch.diag(t["R"]) if t["R"].dim() == 1 else t["R"]
        return mask[:, None] * r
    raise ValueError(f"unknown structure {structure}")


def dynamic_matrices(structure, t, taps, alpha):
    """M_p as [N, K, K, P] from the [N, K or K*K, Ho, Wo] operands."""

    def expand(op):
        n, channels = op.shape[:2]
        flat = op.reshape(n, channels, -1)
        if channels == taps * taps:
            return flat.reshape(n, taps, taps, -1)
        matrices = torch.zeros(n, taps, taps, flat.shape[2], dtype=F64)
        index = torch.arange(taps)
        matrices[:, index, index, :] = flat
        return matrices

    if structure == "diagonal":
        return expand(t["m"])
    if structure == "full":
        return expand(t["mat"])
    if structure == "shape_masked":
        mask = (t["d_r"] > alpha).to(F64)
        return mask[None, :, None, None] * expand(t["R"])
    raise ValueError(f"structure {structure} cannot be dynamic")


def unfold_sim_conv2d(t, a, static=static_matrix, dynamic=dynamic_matrices):
    """unfold -> [N, C, K, P] -> mix taps with M or M_p -> contract with W.

    `static` and `dynamic` make M and M_p (torch_grad_oracle.py passes its
    differentiable ones); so for the other NSL ops below."""
    x, w = t["x"], t["w"]
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    taps = kh * kw
    win = window(a)
    cols = F.unfold(x, (kh, kw), **win).reshape(n, c, taps, -1)
    alpha = float(a["alpha"])
    if a["dynamic"] == "1":
        mixed = torch.einsum(
            "ntsp,ncsp->nctp", dynamic(a["structure"], t, taps, alpha), cols
        )
    else:
        mixed = torch.einsum(
            "ts,ncsp->nctp", static(a["structure"], t, taps, alpha), cols
        )
    y = torch.einsum("oct,nctp->nop", w.reshape(o, c, taps), mixed)
    if "b" in t:
        y = y + t["b"][None, :, None]
    return [y.reshape(n, o, *output_size(x.shape[2:], (kh, kw), win))]


def fold(w, m, taps):
    """W'[..., s] = sum_t W[..., t] M[t, s] over rows of K taps."""
    return torch.einsum("rt,ts->rs", w.reshape(-1, taps), m).reshape(w.shape)


def folded_conv2d(t, a, static=static_matrix):
    w = t["w"]
    taps = w.shape[2] * w.shape[3]
    m = static(a["structure"], t, taps, float(a["alpha"]))
    return [F.conv2d(t["x"], fold(w, m, taps), t.get("b"), **window(a))]


def fold_similarity(t, a, static=static_matrix):
    w = t["w"]
    group = int(a["group_size"])
    taps = group if group else w.shape[2] * w.shape[3]
    return [fold(w, static(a["structure"], t, taps, float(a["alpha"])), taps)]


def deform_conv2d(t, a):
    x, w, m = t["x"], t["w"], t["m"]
    n, taps, ho, wo = m.shape
    offset = torch.zeros(n, 2 * taps, ho, wo, dtype=F64)
    return [
        torchvision.ops.deform_conv2d(
            x, offset, w, t.get("b"), mask=m, **window(a)
        )
    ]


def sphere_conv2d(t, a):
    x, w = t["x"], t["w"]
    n = x.shape[0]
    o, _, kh, kw = w.shape
    win = window(a)
    eps = float(a["epsilon"])
    cols = F.unfold(x, (kh, kw), **win)  # [N, C*K, P]
    flat = w.reshape(o, -1)
    dot = torch.einsum("of,nfp->nop", flat, cols)
    x_norm = torch.sqrt((cols**2).sum(1) + eps)[:, None, :]
    if a["input_only"] == "1":
        cos = dot / x_norm
    else:
        w_norm = torch.sqrt((flat**2).sum(1) + eps)[None, :, None]
        cos = dot / (w_norm * x_norm)
    variant = a["variant"]
    if variant == "cosine":
        y = cos
    elif variant == "linear":
        y = 1 - 2 * torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6)) / math.pi
    else:
        if variant == "sigmoid":
            k = torch.tensor(float(a["sigmoid_k"]), dtype=F64)
        else:
            k = (t["k"].abs() + 0.05)[None, :, None]
        theta = torch.acos(cos.clamp(-1, 1))
        edge = torch.exp(-math.pi / (2 * k))
        kappa = (1 + edge) / (1 - edge)
        e = torch.exp(theta / k - math.pi / (2 * k))
        y = kappa * (1 - e) / (1 + e)
    return [y.reshape(n, o, *output_size(x.shape[2:], (kh, kw), win))]


def patch_norm(t, a):
    x = t["x"]
    kernel = ints(a, "kernel")
    win = window(a)
    cols = F.unfold(x, kernel, **win)
    norm = torch.sqrt((cols**2).sum(1) + float(a["epsilon"]))
    return [norm.reshape(x.shape[0], 1, *output_size(x.shape[2:], kernel, win))]


def predicted_similarity(t, a):
    p, gamma = t["p"], t["gamma"].reshape(())
    if a["structure"] == "diagonal":
        return [gamma * p + 1]
    taps = math.isqrt(p.shape[1])
    eye = torch.eye(taps, dtype=F64).reshape(1, taps * taps, 1, 1)
    return [gamma * p + eye]


def sim_linear(t, a, static=static_matrix):
    x, w = t["x"], t["w"]
    group = int(a["group_size"])
    m = static(a["structure"], t, group, float(a["alpha"]))
    y = torch.einsum(
        "ogt,ts,ngs->no",
        w.reshape(w.shape[0], -1, group),
        m,
        x.reshape(x.shape[0], -1, group),
    )
    return [y + t["b"] if "b" in t else y]


def batch_norm(t, a):
    return [
        F.batch_norm(
            t["x"], t["mean"], t["var"], t["weight"], t["bias"],
            training=False, eps=float(a["epsilon"]),
        )
    ]


def batch_norm_train(t, a):
    x = t["x"]
    running_mean, running_var = t["mean"].clone(), t["var"].clone()
    y = F.batch_norm(
        x, running_mean, running_var, t["weight"], t["bias"], training=True,
        momentum=float(a["momentum"]), eps=float(a["epsilon"]),
    )
    dims = [0] + list(range(2, x.dim()))
    return [
        y,
        x.mean(dims),
        x.var(dims, unbiased=False),
        running_mean,
        running_var,
    ]


OPS = {
    "conv2d": lambda t, a: [
        F.conv2d(t["x"], t["w"], t.get("b"), **window(a),
                 groups=int(a.get("groups", "1")))
    ],
    "folded_conv2d": folded_conv2d,
    "fold_similarity": fold_similarity,
    "deform_conv2d": deform_conv2d,
    "unfold_sim_conv2d": unfold_sim_conv2d,
    "sphere_conv2d": sphere_conv2d,
    "patch_norm": patch_norm,
    "predicted_similarity": predicted_similarity,
    "sim_linear": sim_linear,
    "batch_norm": batch_norm,
    "batch_norm_train": batch_norm_train,
    "relu": lambda t, a: [F.relu(t["x"])],
    "max_pool2d": lambda t, a: [
        F.max_pool2d(t["x"], ints(a, "kernel"), **window(a),
                     ceil_mode=a["ceil_mode"] == "1")
    ],
    "avg_pool2d": lambda t, a: [
        F.avg_pool2d(
            t["x"], ints(a, "kernel"), ints(a, "stride"), ints(a, "padding"),
            count_include_pad=a["count_include_pad"] == "1",
            ceil_mode=a["ceil_mode"] == "1",
        )
    ],
    "global_avg_pool2d": lambda t, a: [F.adaptive_avg_pool2d(t["x"], 1)],
    "adaptive_avg_pool2d": lambda t, a: [
        F.adaptive_avg_pool2d(t["x"], ints(a, "output_size"))
    ],
    "adaptive_max_pool2d": lambda t, a: [
        F.adaptive_max_pool2d(t["x"], ints(a, "output_size"))
    ],
    "linear": lambda t, a: [F.linear(t["x"], t["w"], t.get("b"))],
    "flatten": lambda t, a: [torch.flatten(t["x"], 1)],
    "concat": lambda t, a: [
        torch.cat([t[k] for k in sorted(t) if k != "gy"], int(a["dim"]))
    ],
    "reshape": lambda t, a: [t["x"].reshape(ints(a, "shape"))],
    "transpose": lambda t, a: [t["x"].permute(ints(a, "permutation"))],
    "slice": lambda t, a: [
        t["x"].narrow(int(a["dim"]), int(a["start"]), int(a["size"]))
    ],
    "reduce_sum": lambda t, a: [
        torch.sum(t["x"], ints(a, "dims"), keepdim=a["keepdim"] == "1")
    ],
    "reduce_mean": lambda t, a: [
        torch.mean(t["x"], ints(a, "dims"), keepdim=a["keepdim"] == "1")
    ],
    "reduce_max": lambda t, a: [
        torch.amax(t["x"], ints(a, "dims"), keepdim=a["keepdim"] == "1")
    ],
    "cross_entropy": lambda t, a: [
        F.cross_entropy(
            t["logits"], t["labels"], label_smoothing=float(a["label_smoothing"])
        )
    ],
}


# The elementwise rows (dialect/NSLElementwise.td) as PyTorch computes them;
# operands `a` (and `b`). leaky_relu's slope and elu's alpha are numbers in
# PyTorch: `b` is rank 0 there.
ELEMENTWISE = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": torch.pow,
    "clamp_min": lambda a, b: torch.clamp(a, min=b),
    "clamp_max": lambda a, b: torch.clamp(a, max=b),
    "leaky_relu": lambda a, b: F.leaky_relu(a, float(b)),
    "elu": lambda a, b: F.elu(a, float(b)),
    "neg": torch.neg,
    "abs": torch.abs,
    "reciprocal": torch.reciprocal,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "exp": torch.exp,
    "log": torch.log,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": lambda a: F.gelu(a, approximate="tanh"),
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
}
for _name, _f in ELEMENTWISE.items():
    OPS[_name] = (lambda f: lambda t, a: [f(t["a"], t["b"]) if "b" in t
                                          else f(t["a"])])(_f)


def write_numpy_files(directory):
    """Arrays written by NumPy itself, for the C++ .npy reader."""
    f64 = np.arange(6, dtype=np.float64).reshape(2, 3) / 7 - 0.3
    np.save(f"{directory}/numpy_f64.npy", f64)
    i32 = np.arange(-3, 3, dtype=np.int32).reshape(3, 2, 1)
    np.save(f"{directory}/numpy_i32.npy", i32)
    np.save(f"{directory}/numpy_i64_scalar.npy", np.array(-42, dtype=np.int64))
    with open(f"{directory}/numpy_v2.npy", "wb") as f:
        np.lib.format.write_array(
            f, np.arange(4, dtype=np.float32) / 4, version=(2, 0)
        )
    np.save(f"{directory}/numpy_fortran.npy", np.asfortranarray(np.ones((2, 3))))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_oracle.py DIR")
    directory = sys.argv[1]
    print(
        f"torch_oracle: torch {torch.__version__}, torchvision "
        f"{torchvision.__version__}, numpy {np.__version__}"
    )
    write_numpy_files(directory)
    with open(f"{directory}/manifest.txt") as manifest:
        lines = [line.split() for line in manifest if line.strip()]
    for name, op, *pairs in lines:
        attrs = dict(pair.split("=", 1) for pair in pairs)
        try:
            tensors = {}
            for operand in filter(None, attrs.get("inputs", "").split(",")):
                array = np.load(f"{directory}/{name}.{operand}.npy")
                tensor = torch.from_numpy(array)
                tensors[operand] = tensor if array.dtype.kind == "i" else tensor.to(F64)
            outputs = OPS[op](tensors, attrs)
            for i, output in enumerate(outputs):
                np.save(
                    f"{directory}/{name}.out{i}.npy",
                    output.detach().to(F64).numpy().copy(order="C"),
                )
        except Exception:  # reported per case by the C++ test
            with open(f"{directory}/{name}.error.txt", "w") as f:
                f.write(traceback.format_exc())
    print(f"torch_oracle: {len(lines)} cases done")


if __name__ == "__main__":
    main()
