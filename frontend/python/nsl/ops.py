"""The ``nsl::`` custom ops: their registration and PyTorch implementations.

The schemas come from ``frontend/schemas/nsl_ops.txt``, the file the C++
TorchScript importer reads too. Importing this module defines every op in
the ``nsl`` namespace and registers one Python implementation, built of
differentiable PyTorch ops, at two dispatch keys:

* ``Autograd``: reached on every call outside ``torch.inference_mode``; the
  implementation's own ops record the backward graph, so gradients (and
  double backward) need no hand-written VJP.
* ``CompositeExplicitAutograd``: every backend (CPU, CUDA, Meta), reached
  when autograd is skipped (``torch.inference_mode``).

The JIT tracer sits above both keys: it records one ``nsl::<op>`` node and
runs the implementation with tracing off, so traced graphs, like scripted
ones, hold one node per op (tests/test_torchscript.py checks both on
PyTorch 1.13). The alternatives are worse: a kernel at ``CPU`` alone gets
its gradients only through the autograd fallthrough, which PyTorch 2.x
deprecates (it warns that such gradients may be silently wrong); a
``CompositeImplicitAutograd`` kernel is decomposed into its aten ops by
PyTorch 2's AOT tracing and export.

The math is DESIGN.md §1 (notation there): taps ``t = ky·kw + kx``, input
patches ``X_p[c, s]`` as ``F.unfold`` numbers them, a static ``M`` folded into
the weight (``W'[o,c,s] = Σ_t W[o,c,t]·M[t,s]``, then ``F.conv2d``), a dynamic
``M_p`` applied to the unfolded input. ``sim_conv2d``'s ``groups`` split the
channels into consecutive groups, all sharing the layer's ``M``.
"""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.library import Library

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "nsl_ops.txt"

STRUCTURES = ("identity", "diagonal", "full", "cholesky", "shape_masked")
DYNAMIC_STRUCTURES = ("diagonal", "full", "shape_masked")
PREDICTED_STRUCTURES = ("diagonal", "full")
SPHERE_VARIANTS = ("cosine", "linear", "sigmoid", "learned_sigmoid")

# Clamp of cos θ for the linear SphereConv (DESIGN.md §1): acos' is infinite
# at ±1; the clamp applies to the forward pass and, through autograd, to the
# gradient alike.
LINEAR_COS_LIMIT = 1.0 - 1e-6
# k = |k'| + LEARNED_K_OFFSET for the learned sigmoid.
LEARNED_K_OFFSET = 0.05


def read_schemas(path=SCHEMA_FILE):
    """The schemas of ``path``, one per line, comments and blank lines dropped."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise RuntimeError(
            f"nsl: cannot read the op schema file {path}: {error.strerror}; it "
            "ships in the repository as frontend/schemas/nsl_ops.txt, beside "
            "frontend/python (import nsl from that checkout)"
        ) from None
    schemas = []
    for number, line in enumerate(text.splitlines(), 1):
        schema = line.split("#", 1)[0].strip()
        if not schema:
            continue
        if not schema.startswith("nsl::") or "(" not in schema:
            raise RuntimeError(
                f"{path}:{number}: expected a schema 'nsl::name(...) -> Tensor', "
                f"got {schema!r}"
            )
        schemas.append(schema)
    return schemas


def op_name(schema):
    """``sim_conv2d`` for ``nsl::sim_conv2d(...) -> Tensor``."""
    return schema.split("(", 1)[0][len("nsl::"):]


# --------------------------------------------------------------------------
# Argument checks (messages name the op, the operand and the fix)
# --------------------------------------------------------------------------


def _check_choice(op, what, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"nsl::{op}: unknown {what} {value!r}; expected one of "
            + ", ".join(allowed)
        )


def _pair(op, what, values):
    """A (height, width) pair from an ``int[]`` of one or two values."""
    values = list(values)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise ValueError(
            f"nsl::{op}: {what} must have two values (height, width), got {values}"
        )
    return values


def _check_shape(op, what, tensor, shape, meaning):
    if tuple(tensor.shape) != tuple(shape):
        raise ValueError(
            f"nsl::{op}: {what} must have shape {list(shape)} {meaning}, "
            f"got {list(tensor.shape)}"
        )


def _window(op, input, kernel, stride, padding, dilation):
    """Stride, padding, dilation pairs and the output size (Ho, Wo)."""
    if input.dim() != 4:
        raise ValueError(
            f"nsl::{op}: input must be [N, C, H, W], got {list(input.shape)}"
        )
    stride = _pair(op, "stride", stride)
    padding = _pair(op, "padding", padding)
    dilation = _pair(op, "dilation", dilation)
    size = []
    for i in range(2):
        extent = input.shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1)
        if stride[i] < 1 or dilation[i] < 1 or padding[i] < 0 or extent < 1:
            raise ValueError(
                f"nsl::{op}: kernel {list(kernel)}, stride {stride}, padding "
                f"{padding} and dilation {dilation} do not fit the input "
                f"{list(input.shape)}"
            )
        size.append((extent - 1) // stride[i] + 1)
    return stride, padding, dilation, size


def _check_operand_count(op, structure, similarity, count):
    if len(similarity) != count:
        names = {
            "identity": "none",
            "diagonal": "[m]",
            "full": "[M]",
            "cholesky": "[L]",
            "shape_masked": "[d_r, R]",
        }[structure]
        raise ValueError(
            f"nsl::{op}: structure {structure} takes the similarity operands "
            f"{names}, got {len(similarity)} tensors"
        )


# --------------------------------------------------------------------------
# Similarity matrices
# --------------------------------------------------------------------------


def _shape_mask(d_r, alpha):
    """D[t] = 1[d_r[t] > α] with a straight-through gradient (∂d_r = ∂D).

    The value is exactly D (d_r − d_r.detach() is zero); the gradient flows
    to d_r as if D were the identity function of d_r, which gives
    ∂d_r[t] = Σ_s G[t,s]·R[t,s] and ∂R[t,s] = D[t]·G[t,s] for M = diag(D)·R.
    """
    mask = (d_r > alpha).to(d_r.dtype)
    return mask + (d_r - d_r.detach())


def _static_similarity(op, structure, similarity, taps, alpha):
    """M of a static similarity: a [K] vector when M is diagonal (M = diag of
    it), a [K, K] matrix otherwise; None for the identity."""
    _check_choice(op, "structure", structure, STRUCTURES)
    if structure == "identity":
        _check_operand_count(op, structure, similarity, 0)
        return None
    if structure == "shape_masked":
        _check_operand_count(op, structure, similarity, 2)
        d_r, r = similarity
        _check_shape(op, "d_r", d_r, [taps], "(one threshold input per tap)")
        mask = _shape_mask(d_r, alpha)
        if r.dim() == 1:
            _check_shape(op, "R", r, [taps], "(a diagonal R)")
            return mask * r
        _check_shape(op, "R", r, [taps, taps], "(or [K] for a diagonal R)")
        return mask[:, None] * r
    _check_operand_count(op, structure, similarity, 1)
    (parameter,) = similarity
    if structure == "diagonal":
        _check_shape(op, "m", parameter, [taps], "(K taps)")
        return parameter
    _check_shape(op, "M" if structure == "full" else "L", parameter,
                 [taps, taps], "(K x K, K taps)")
    if structure == "full":
        return parameter
    lower = torch.tril(parameter)
    return lower @ lower.t()


def _fold(rows, m):
    """Σ_t rows[..., t]·M[t, s] for M given as by ``_static_similarity``."""
    return rows * m if m.dim() == 1 else rows @ m


def _dynamic_similarity(op, structure, similarity, taps, batch, size, alpha):
    """M_p as [N, K, P] (its diagonal) or [N, K, K, P], P = Ho·Wo positions."""
    _check_choice(op, "dynamic structure", structure, DYNAMIC_STRUCTURES)
    if structure == "shape_masked":
        _check_operand_count(op, structure, similarity, 2)
        d_r, r = similarity
        _check_shape(op, "d_r", d_r, [taps], "(static, one threshold per tap)")
        channels = taps * taps if r.dim() == 4 and r.shape[1] == taps * taps else taps
        name = "R"
    else:
        _check_operand_count(op, structure, similarity, 1)
        (r,) = similarity
        channels = taps if structure == "diagonal" else taps * taps
        name = "m" if structure == "diagonal" else "M"
    _check_shape(
        op, f"dynamic {name}", r, [batch, channels, size[0], size[1]],
        "([N, K, Ho, Wo] for a diagonal M_p, [N, K*K, Ho, Wo] with channel "
        "t*K + s holding M_p[t, s] for a full one; Ho, Wo as the output's)",
    )
    positions = size[0] * size[1]
    if channels == taps:
        m = r.reshape(batch, taps, positions)
    else:
        m = r.reshape(batch, taps, taps, positions)
    if structure == "shape_masked":
        # diag(D)·R_p scales row t of R_p by D[t].
        mask = _shape_mask(d_r, alpha)
        m = m * mask.reshape((1, taps) + (1,) * (m.dim() - 2))
    return m


# --------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------


def _check_groups(op, input, weight, bias, groups):
    """O, C/G, kh, kw of the weight of a grouped convolution, checked
    against the input [N, C, H, W], the bias [O] and groups G."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(
            f"nsl::{op}: groups must be a positive int, got {groups!r}")
    if weight.dim() != 4 or input.dim() != 4:
        raise ValueError(
            f"nsl::{op}: weight [O, C/groups, kh, kw] {list(weight.shape)} "
            f"and input [N, C, H, W] {list(input.shape)} must both have four "
            "dimensions")
    out_channels, group_channels = weight.shape[:2]
    channels = input.shape[1]
    if groups == 1 and group_channels != channels:
        raise ValueError(
            f"nsl::{op}: weight [O, C, kh, kw] {list(weight.shape)} does not "
            f"match the input [N, C, H, W] {list(input.shape)}"
        )
    if channels % groups or out_channels % groups:
        raise ValueError(
            f"nsl::{op}: groups {groups} must divide the {channels} input "
            f"channels and the {out_channels} output channels (weight "
            f"{list(weight.shape)}, input {list(input.shape)})"
        )
    if group_channels * groups != channels:
        raise ValueError(
            f"nsl::{op}: weight [O, C/groups, kh, kw] {list(weight.shape)} "
            f"does not match the input [N, C, H, W] {list(input.shape)} with "
            f"groups {groups}: expected {channels // groups} channels per "
            "group"
        )
    if bias is not None:
        _check_shape(op, "bias", bias, [out_channels],
                     "(one per output channel)")
    return weight.shape


def sim_conv2d(input, weight, similarity, bias, structure, dynamic, stride,
               padding, dilation, alpha, groups=1):
    """Y[n,o,p] = Σ_{c of o's group} Σ_t Σ_s W[o,c',t]·M[t,s]·X_p[c,s] (+ b[o]).

    With ``groups`` G the C input channels split into G consecutive groups:
    ``weight`` is [O, C/G, kh, kw] and output channel o reads the channels
    ``c = g·C/G + c'`` of its group ``g = ⌊o·G/O⌋``. M acts on the taps, so
    every group shares it: a static M folds per tap exactly as for G = 1.
    """
    op = "sim_conv2d"
    out_channels, group_channels, kh, kw = _check_groups(op, input, weight,
                                                         bias, groups)
    taps = kh * kw
    stride, padding, dilation, size = _window(op, input, (kh, kw), stride,
                                              padding, dilation)
    if not dynamic:
        m = _static_similarity(op, structure, similarity, taps, alpha)
        if m is not None:
            rows = weight.reshape(out_channels, group_channels, taps)
            weight = _fold(rows, m).reshape(weight.shape)
        return F.conv2d(input, weight, bias, stride, padding, dilation, groups)

    batch, channels = input.shape[:2]
    positions = size[0] * size[1]
    m = _dynamic_similarity(op, structure, similarity, taps, batch, size,
                            alpha)
    # X_p[n, c, s, p] (F.unfold numbers the taps s = ky·kw + kx).
    patches = F.unfold(input, (kh, kw), dilation, padding, stride).reshape(
        batch, channels, taps, positions)
    if m.dim() == 3:  # diagonal M_p: a per-position tap mask
        mixed = patches * m[:, None]
    else:  # Σ_s M_p[t, s]·X_p[c, s]
        mixed = torch.einsum("ntsp,ncsp->nctp", m, patches)
    # Group g: Σ_{c', t} W[g·O/G + o', c', t]·mixed[n, g·C/G + c', t, p].
    rows = group_channels * taps
    y = torch.matmul(weight.reshape(groups, out_channels // groups, rows),
                     mixed.reshape(batch, groups, rows, positions))
    y = y.reshape(batch, out_channels, size[0], size[1])
    if bias is not None:
        y = y + bias.reshape(1, out_channels, 1, 1)
    return y


def _box_norm(op, input, kernel, epsilon, stride, padding, dilation):
    """‖x_p‖ = sqrt(Σ_{c,s} X_p[c,s]² + ε) as [N, 1, Ho, Wo]: a box filter of x²."""
    if epsilon < 0:
        raise ValueError(f"nsl::{op}: epsilon must be >= 0, got {epsilon}")
    box = input.new_ones(1, input.shape[1], kernel[0], kernel[1])
    return torch.sqrt(F.conv2d(input * input, box, None, stride, padding, dilation)
                      + epsilon)


def patch_norm(input, kernel_size, epsilon, stride, padding, dilation):
    """Y[n,0,p] = sqrt(Σ_{c,s} X_p[n,c,s]² + ε)."""
    op = "patch_norm"
    kernel = _pair(op, "kernel_size", kernel_size)
    stride, padding, dilation, _ = _window(op, input, kernel, stride, padding,
                                           dilation)
    return _box_norm(op, input, kernel, epsilon, stride, padding, dilation)


def sphere_conv2d(input, weight, k_param, variant, input_only, epsilon,
                  sigmoid_k, stride, padding, dilation):
    """SphereConv g(θ), cos θ = Σ W[o,c,t]·X_p[c,t] / (‖w_o‖·‖x_p‖).

    ``input_only`` (cosine only) divides by ‖x_p‖ alone. The sigmoid
    variants use κ·(1 − e^u)/(1 + e^u) = −κ·tanh(u/2), u = θ/k − π/(2k),
    and κ = 1/tanh(π/(4k)): the same function, without overflow.
    """
    op = "sphere_conv2d"
    _check_choice(op, "variant", variant, SPHERE_VARIANTS)
    if weight.dim() != 4 or input.dim() != 4 or weight.shape[1] != input.shape[1]:
        raise ValueError(
            f"nsl::{op}: weight [O, C, kh, kw] {list(weight.shape)} does not "
            f"match the input [N, C, H, W] {list(input.shape)}"
        )
    learned = variant == "learned_sigmoid"
    if learned != (k_param is not None):
        raise ValueError(
            f"nsl::{op}: k_param [O] is required with the learned_sigmoid "
            f"variant and only with it (variant {variant})"
        )
    if input_only and variant != "cosine":
        raise ValueError(
            f"nsl::{op}: input_only is only allowed with the cosine variant, "
            f"not {variant}"
        )
    if variant == "sigmoid" and not (0 < sigmoid_k < math.inf):
        raise ValueError(
            f"nsl::{op}: sigmoid_k must be positive and finite, got {sigmoid_k}"
        )
    out_channels = weight.shape[0]
    kernel = weight.shape[2:]
    stride, padding, dilation, _ = _window(op, input, kernel, stride, padding,
                                           dilation)
    dot = F.conv2d(input, weight, None, stride, padding, dilation)
    x_norm = _box_norm(op, input, kernel, epsilon, stride, padding, dilation)
    if input_only:
        return dot / x_norm
    w_norm = torch.sqrt((weight * weight).sum((1, 2, 3)) + epsilon)
    cos = dot / (w_norm.reshape(1, out_channels, 1, 1) * x_norm)
    if variant == "cosine":
        return cos
    if variant == "linear":
        cos = cos.clamp(-LINEAR_COS_LIMIT, LINEAR_COS_LIMIT)
        return 1 - (2 / math.pi) * torch.acos(cos)
    # |cos θ| < 1 thanks to ε; the clamp only guards acos against rounding.
    theta = torch.acos(cos.clamp(-1.0, 1.0))
    if learned:
        _check_shape(op, "k_param", k_param, [out_channels], "(one k' per filter)")
        k = (k_param.abs() + LEARNED_K_OFFSET).reshape(1, out_channels, 1, 1)
    else:
        k = torch.full((), sigmoid_k, dtype=cos.dtype, device=cos.device)
    return -torch.tanh((theta - math.pi / 2) / (2 * k)) / torch.tanh(math.pi / (4 * k))


def predicted_similarity(prediction, gamma, structure):
    """M_p = γ·P + I: diagonal γ·P[n,t,p] + 1, full γ·P[n,t·K+s,p] + δ_ts."""
    op = "predicted_similarity"
    _check_choice(op, "structure", structure, PREDICTED_STRUCTURES)
    if prediction.dim() != 4:
        raise ValueError(
            f"nsl::{op}: prediction must be [N, channels, Ho, Wo], got "
            f"{list(prediction.shape)}"
        )
    if gamma.numel() != 1 or gamma.dim() > 1:
        raise ValueError(
            f"nsl::{op}: gamma must be a scalar of shape [] or [1], got "
            f"{list(gamma.shape)}"
        )
    gain = gamma.reshape(())
    if structure == "diagonal":
        return gain * prediction + 1
    channels = prediction.shape[1]
    taps = math.isqrt(channels)
    if taps * taps != channels:
        raise ValueError(
            f"nsl::{op}: a full prediction must have K*K channels (channel "
            f"t*K + s is P[t, s]), got {list(prediction.shape)}"
        )
    eye = torch.eye(taps, dtype=prediction.dtype, device=prediction.device)
    return gain * prediction + eye.reshape(1, channels, 1, 1)


def sim_linear(input, weight, similarity, bias, structure, group_size, alpha):
    """y[n,o] = Σ_g Σ_t Σ_s W[o, g·B+t]·M[t,s]·x[n, g·B+s] (+ b[o]), B = group_size."""
    op = "sim_linear"
    if input.dim() != 2 or weight.dim() != 2 or weight.shape[1] != input.shape[1]:
        raise ValueError(
            f"nsl::{op}: weight [O, F] {list(weight.shape)} does not match the "
            f"input [N, F] {list(input.shape)}"
        )
    out_features, features = weight.shape
    if group_size < 1 or features % group_size:
        raise ValueError(
            f"nsl::{op}: group_size {group_size} must be positive and divide "
            f"the {features} input features"
        )
    m = _static_similarity(op, structure, similarity, group_size, alpha)
    if m is not None:
        rows = weight.reshape(out_features, features // group_size, group_size)
        weight = _fold(rows, m).reshape(out_features, features)
    return F.linear(input, weight, bias)


IMPLEMENTATIONS = {
    "sim_conv2d": sim_conv2d,
    "sphere_conv2d": sphere_conv2d,
    "patch_norm": patch_norm,
    "predicted_similarity": predicted_similarity,
    "sim_linear": sim_linear,
}


def _register():
    library = Library("nsl", "DEF")
    for schema in read_schemas():
        name = op_name(schema)
        if name not in IMPLEMENTATIONS:
            raise RuntimeError(
                f"nsl: {SCHEMA_FILE} defines nsl::{name}, which has no Python "
                "implementation in nsl/ops.py"
            )
        # The library supplies the namespace.
        library.define(schema[len("nsl::"):])
        for key in ("Autograd", "CompositeExplicitAutograd"):
            library.impl(name, IMPLEMENTATIONS[name], key)
    return library


# Registrations last as long as this object (PyTorch 2 removes them when the
# Library is garbage collected).
_LIBRARY = _register()
