"""NSL layers as ``torch.nn`` modules.

Notation of DESIGN.md §1: input ``X[n,c,y,x]``, kernel ``W[o,c,t]`` with
``K = kh·kw`` taps ``t = ky·kw + kx``, ``X_p[c,s]`` the zero-padded input
patch at output position ``p``, similarity ``M ∈ R^{K×K}`` shared by all
channels and kernels of a layer. The convolutions take ``groups`` as
``nn.Conv2d`` does (``G`` consecutive channel groups, ``weight``
[O, C/G, kh, kw], depthwise for ``G = C``); every group shares ``M``.

Every layer calls one ``nsl::`` op per NSL operation (``nsl.ops``), with
plain PyTorch ops (``F.relu``) in between, so ``torch.jit.script`` and
``torch.jit.trace`` give one ``nsl::<op>`` node each. Parameters are
``state_dict`` entries (``weight``, ``bias``, ``similarity``, ``gamma``,
``predictor.layers.0.weight``, ...), never baked into the graph.
"""

import math
from typing import List

import torch
from torch import Tensor, nn

from .ops import (
    DYNAMIC_STRUCTURES,
    LEARNED_K_OFFSET,
    SPHERE_VARIANTS,
    STRUCTURES,
)

R_STRUCTURES = ("diagonal", "full")


def _pair(name, value):
    """(height, width) from an int or a pair of ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _check_choice(what, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"unknown {what} {value!r}; expected one of " + ", ".join(allowed)
        )


def _check_groups(groups, in_channels, out_channels):
    """``groups`` as nn.Conv2d takes it: a positive int dividing both
    channel counts."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(
            f"groups must be a positive int, got {groups!r} (bias is the "
            "keyword or 8th positional argument, after groups, as in "
            "nn.Conv2d)")
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups {groups} must divide in_channels {in_channels} and "
            f"out_channels {out_channels}")
    return groups


def _reset_like_conv(weight, bias):
    """nn.Conv2d's / nn.Linear's default initialisation."""
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight[0].numel()
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(bias, -bound, bound)


class _StaticSimilarity(nn.Module):
    """The parameters of a static similarity M, initialised so that M = I."""

    def _init_similarity(self, structure, taps, r_structure, alpha, factory):
        _check_choice("structure", structure, STRUCTURES)
        _check_choice("r_structure", r_structure, R_STRUCTURES)
        self.structure = structure
        self.alpha = float(alpha)
        eye = torch.eye(taps, **factory)
        ones = torch.ones(taps, **factory)
        similarity = cholesky = shape = None
        if structure == "diagonal":
            similarity = ones
        elif structure == "full":
            similarity = eye
        elif structure == "cholesky":
            cholesky = eye
        elif structure == "shape_masked":
            shape = ones * (self.alpha + 1)
            similarity = eye if r_structure == "full" else ones
        for name, value in (("similarity", similarity), ("cholesky", cholesky),
                            ("shape", shape)):
            self.register_parameter(
                name, None if value is None else nn.Parameter(value))

    def _similarity_operands(self) -> List[Tensor]:
        """The op's similarity operands: [], [m], [M], [L] or [d_r, R]."""
        shape = self.shape
        similarity = self.similarity
        cholesky = self.cholesky
        if shape is not None and similarity is not None:
            return [shape, similarity]
        if cholesky is not None:
            return [cholesky]
        if similarity is not None:
            return [similarity]
        return []


class SimConv2d(_StaticSimilarity):
    """Static similarity convolution (static NSL).

    ::

        Y[n,o,p] = Σ_c Σ_t Σ_s W[o,c,t] · M[t,s] · X_p[c,s]   (+ bias[o])

    with a learned ``M`` of the given ``structure`` (see the table below),
    stride, padding, dilation and groups as in ``nn.Conv2d``. With
    ``groups`` G the sum over ``c`` runs over the C/G input channels of the
    group of ``o`` (``⌊o·G/O⌋``; depthwise for G = C), and all groups share
    ``M``. ``M`` starts at the identity, so a pretrained ``nn.Conv2d``'s
    ``weight`` and ``bias`` load unchanged and give the same function. The
    op folds ``M`` into the weight (``W'[o,c,s] = Σ_t W[o,c,t]·M[t,s]``)
    and runs ``F.conv2d``.

    Parameters: ``weight`` [O, C/G, kh, kw], ``bias`` [O] (if ``bias``), and
    those of the structure, initialised so that M = I:

    ================  ==================================  ===============
    structure         parameters                          initial value
    ================  ==================================  ===============
    ``identity``      none (a plain convolution)          M = I
    ``diagonal``      ``similarity`` m [K], M = diag(m)   m = 1
    ``full``          ``similarity`` M [K, K]             M = I
    ``cholesky``      ``cholesky`` L [K, K], M = L·Lᵀ     L = I
    ``shape_masked``  ``shape`` d_r [K], ``similarity``   d_r = α + 1,
                      R [K, K] (``r_structure='full'``)   R = I
                      or [K] (``'diagonal'``)
    ================  ==================================  ===============

    Cholesky uses L's lower triangle only. Shape-masked:
    ``M = diag(D)·R``, ``D[t] = 1[d_r[t] > α]`` (``alpha``), trained
    straight-through: ``∂R[t,s] = D[t]·G[t,s]``,
    ``∂d_r[t] = Σ_s G[t,s]·R[t,s]`` for ``G = ∂M``. d_r starts at α + 1
    (DESIGN.md's d_r = 1 for the default α = 0), so that D = 1.
    """

    __constants__ = ["structure", "stride", "padding", "dilation", "alpha",
                     "groups"]

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, bias=True,
                 structure="diagonal", r_structure="full", alpha=0.0,
                 device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.stride = _pair("stride", stride)
        self.padding = _pair("padding", padding)
        self.dilation = _pair("dilation", dilation)
        self.groups = _check_groups(groups, in_channels, out_channels)
        self.weight = nn.Parameter(torch.empty(
            out_channels, in_channels // self.groups, *self.kernel_size,
            **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        _reset_like_conv(self.weight, self.bias)
        taps = self.kernel_size[0] * self.kernel_size[1]
        self._init_similarity(structure, taps, r_structure, alpha, factory)

    def forward(self, input: Tensor) -> Tensor:
        return torch.ops.nsl.sim_conv2d(
            input, self.weight, self._similarity_operands(), self.bias,
            self.structure, False, self.stride, self.padding, self.dilation,
            self.alpha, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}, "
                f"structure={self.structure}")


class SimLinear(_StaticSimilarity):
    """Similarity fully connected layer (NSL for linear layers).

    The ``F`` input features form ``G`` groups of ``B = group_size``
    (``F = G·B``) sharing one static ``M ∈ R^{B×B}``::

        y[n,o] = Σ_g Σ_t Σ_s W[o, g·B+t] · M[t,s] · x[n, g·B+s]   (+ b[o])

    the similarity convolution of a 1×1 image with ``K = B``. ``weight``
    [O, F] and ``bias`` [O] are ``nn.Linear``'s (so a pretrained linear
    layer loads unchanged: ``M`` starts at the identity); the structure's
    parameters and their initial values are those of :class:`SimConv2d`
    with ``K = B``.
    """

    __constants__ = ["structure", "group_size", "alpha"]

    def __init__(self, in_features, out_features, group_size, bias=True,
                 structure="diagonal", r_structure="full", alpha=0.0,
                 device=None, dtype=None):
        super().__init__()
        if group_size < 1 or in_features % group_size:
            raise ValueError(
                f"group_size {group_size} must be positive and divide "
                f"in_features {in_features}")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.out_features = out_features
        self.group_size = group_size
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        _reset_like_conv(self.weight, self.bias)
        self._init_similarity(structure, group_size, r_structure, alpha, factory)

    def forward(self, input: Tensor) -> Tensor:
        return torch.ops.nsl.sim_linear(
            input, self.weight, self._similarity_operands(), self.bias,
            self.structure, self.group_size, self.alpha)

    def extra_repr(self):
        return (f"in_features={self.in_features}, "
                f"out_features={self.out_features}, "
                f"group_size={self.group_size}, bias={self.bias is not None}, "
                f"structure={self.structure}")


class SphereConv2d(nn.Module):
    """Hyperspherical convolution (SphereConv), the predictor's building block.

    ::

        ‖w_o‖ = sqrt(Σ_{c,t} W[o,c,t]² + ε)    ‖x_p‖ = sqrt(Σ_{c,s} X_p[c,s]² + ε)
        cos θ = Σ_{c,t} W[o,c,t]·X_p[c,t] / (‖w_o‖·‖x_p‖),   Y[n,o,p] = g(θ)

    ========================  ==================================================
    ``variant``               g(θ)
    ========================  ==================================================
    ``cosine``                cos θ
    ``linear``                1 − 2θ/π (cos θ clamped to ±(1 − 1e-6))
    ``sigmoid``               κ·(1 − e^{θ/k − π/(2k)}) / (1 + e^{θ/k − π/(2k)}),
                              κ = (1 + e^{−π/(2k)}) / (1 − e^{−π/(2k)}),
                              k = ``sigmoid_k``
    ``learned_sigmoid``       as ``sigmoid`` with k = |k'[o]| + 0.05, k' the
                              parameter ``k`` [O], initialised to
                              ``sigmoid_k`` − 0.05
    ========================  ==================================================

    Every output lies in [−1, 1]. ``input_only`` (cosine only) gives
    ``Σ W·X_p / ‖x_p‖``: a convolution normalised by its input, ``W`` left
    unnormalised. There is no bias. g depends on ``W`` only through its
    direction (up to ε), so scaling ``W`` does not change the output.
    """

    __constants__ = ["variant", "input_only", "epsilon", "sigmoid_k",
                     "stride", "padding", "dilation"]

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, dilation=1, variant="cosine", input_only=False,
                 epsilon=1e-4, sigmoid_k=0.3, device=None, dtype=None):
        super().__init__()
        _check_choice("SphereConv variant", variant, SPHERE_VARIANTS)
        if input_only and variant != "cosine":
            raise ValueError(
                f"input_only is only allowed with the cosine variant, not {variant}")
        if variant == "learned_sigmoid" and not sigmoid_k > LEARNED_K_OFFSET:
            raise ValueError(
                f"sigmoid_k must exceed {LEARNED_K_OFFSET} for learned_sigmoid "
                f"(k = |k'| + {LEARNED_K_OFFSET}), got {sigmoid_k}")
        if variant == "sigmoid" and not sigmoid_k > 0:
            raise ValueError(f"sigmoid_k must be positive, got {sigmoid_k}")
        factory = {"device": device, "dtype": dtype}
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.stride = _pair("stride", stride)
        self.padding = _pair("padding", padding)
        self.dilation = _pair("dilation", dilation)
        self.variant = variant
        self.input_only = bool(input_only)
        self.epsilon = float(epsilon)
        self.sigmoid_k = float(sigmoid_k)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size, **factory))
        _reset_like_conv(self.weight, None)
        if variant == "learned_sigmoid":
            self.k = nn.Parameter(
                torch.full((out_channels,), sigmoid_k - LEARNED_K_OFFSET, **factory))
        else:
            self.register_parameter("k", None)

    def forward(self, input: Tensor) -> Tensor:
        return torch.ops.nsl.sphere_conv2d(
            input, self.weight, self.k, self.variant, self.input_only,
            self.epsilon, self.sigmoid_k, self.stride, self.padding,
            self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"variant={self.variant}, input_only={self.input_only}")


class SphereNetPredictor(nn.Module):
    """A SphereNet P predicting a dynamic similarity, P(X) ∈ [−1, 1].

    ``depth`` SphereConv layers with relu between them, in
    ``layers`` (an ``nn.Sequential``: SphereConv at the even indices,
    ``layers.0.weight``, ``layers.2.weight``, ...):

    * the first has the layer's window (``kernel_size``, ``stride``,
      ``padding``, ``dilation``), so P's output is aligned with the
      convolution's output positions ``[Ho, Wo]``;
    * the middle ones are 3×3 with padding 1 (size preserving);
    * the last is 1×1 with ``out_channels`` outputs: K for a diagonal M_p
      (DNS), K² for a full one (UNS, channel t·K+s is P[t,s]).

    Hidden layers have ``width`` channels (default: ``in_channels``) and
    use ``variant``; the last layer uses ``last_variant``. A depth of 1 is
    a single layer with the layer's window and ``last_variant``.

    SphereConv is invariant to the scale of its weights, so the predictor
    cannot start "small"; :class:`DynamicSimConv2d` puts the small initial
    value into its gain γ instead.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1,
                 padding=0, dilation=1, width=None, depth=2, variant="linear",
                 last_variant="cosine", epsilon=1e-4, sigmoid_k=0.3,
                 device=None, dtype=None):
        super().__init__()
        if depth < 1:
            raise ValueError(f"predictor depth must be at least 1, got {depth}")
        width = in_channels if width is None else width
        common = {"epsilon": epsilon, "sigmoid_k": sigmoid_k, "device": device,
                  "dtype": dtype}
        window = {"stride": stride, "padding": padding, "dilation": dilation}
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers = []
        channels = in_channels
        for index in range(depth):
            last = index == depth - 1
            outputs = out_channels if last else width
            layer_variant = last_variant if last else variant
            if index == 0:
                layers.append(SphereConv2d(channels, outputs, kernel_size,
                                           variant=layer_variant, **window, **common))
            elif last:
                layers.append(SphereConv2d(channels, outputs, 1,
                                           variant=layer_variant, **common))
            else:
                layers.append(SphereConv2d(channels, outputs, 3, padding=1,
                                           variant=layer_variant, **common))
            if not last:
                layers.append(nn.ReLU())
            channels = outputs
        self.layers = nn.Sequential(*layers)

    def forward(self, input: Tensor) -> Tensor:
        return self.layers(input)


class SharedPredictor(SphereNetPredictor):
    """A SphereNet predictor shared by several dynamic layers.

    Size preserving (stride 1, padding ``dilation·(k − 1)/2``, odd
    ``kernel_size``): each :class:`DynamicSimConv2d` built with
    ``predictor=shared`` first maps its input to ``in_channels`` channels
    at its own output size ``[Ho, Wo]`` with its own adaptation conv
    ``adapt``, then runs the shared network. Register the shared predictor
    once on the model (``model.predictor = SharedPredictor(...)``) before
    the layers that use it: ``named_parameters()`` then names its
    parameters ``predictor.layers.*``; ``state_dict()`` also lists them
    under each layer (``conv1.predictor.layers.*``), the same tensors.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, dilation=1,
                 width=None, depth=2, variant="linear", last_variant="cosine",
                 epsilon=1e-4, sigmoid_k=0.3, device=None, dtype=None):
        kh, kw = _pair("kernel_size", kernel_size)
        dh, dw = _pair("dilation", dilation)
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(
                f"a shared predictor preserves the size: kernel_size must be "
                f"odd, got {(kh, kw)}")
        super().__init__(in_channels, out_channels, (kh, kw), 1,
                         (dh * (kh - 1) // 2, dw * (kw - 1) // 2), (dh, dw),
                         width, depth, variant, last_variant, epsilon,
                         sigmoid_k, device, dtype)


class DynamicSimConv2d(nn.Module):
    """Dynamic similarity convolution (dynamic NSL: DNS or UNS).

    ::

        M_p = γ·P(X)_p + I
        Y[n,o,p] = Σ_c Σ_t Σ_s W[o,c,t] · M_p[t,s] · X_p[c,s]   (+ bias[o])

    With ``groups`` G (as in ``nn.Conv2d``; depthwise for G = C) the sum
    over ``c`` runs over the C/G input channels of the group of ``o``
    (``⌊o·G/O⌋``); ``M_p`` is shared by all groups, so the predictor is the
    same as for G = 1 (it sees every input channel).

    P is a SphereNet (:class:`SphereNetPredictor`, outputs in [−1, 1]) and
    γ (``gamma``, shape [1]) a learned gain, initialised to ``gamma_init``
    (1e-3) so that the layer starts at ``M_p ≈ I``: a pretrained
    ``nn.Conv2d``'s ``weight`` and ``bias`` load and give almost the same
    function (``|Y − conv(X)| ≤ γ·Σ_{c,t,s} |W[o,c,t]|·|X_p[c,s]|``).
    γ = 1 is the paper's form.

    ``structure``:

    * ``diagonal`` (DNS): P has K channels, ``M_p = diag(γ·P_p + 1)`` — a
      per-position mask on the taps: ``Y = Σ_c Σ_t W[o,c,t]·m[n,t,p]·X_p[c,t]``;
    * ``full`` (UNS): P has K² channels, channel t·K+s is P_p[t,s];
    * ``shape_masked``: ``M_p = diag(D)·R_p`` with the static kernel shape
      ``D[t] = 1[d_r[t] > α]`` (parameter ``shape`` = d_r, initialised to
      α + 1, trained straight-through) and ``R_p = γ·P_p + I`` diagonal or
      full (``r_structure``).

    The predictor is the layer's own (``predictor`` = None: a
    :class:`SphereNetPredictor` with the layer's window, of
    ``predictor_depth`` layers of ``predictor_width`` channels) or a
    :class:`SharedPredictor` given as ``predictor``; the layer then owns a
    small adaptation conv ``adapt`` (a cosine, input-normalised SphereConv,
    ``Σ W·X_p / ‖x_p‖``) mapping its input to the shared predictor's input
    channels at the output size: 1×1 with the layer's stride when the
    layer pads "same" (``2·padding = dilation·(k − 1)``), else with the
    layer's whole window.

    Parameters: ``weight`` [O, C/G, kh, kw], ``bias`` [O], ``gamma`` [1],
    ``shape`` [K] (shape_masked), ``predictor.layers.*`` (own predictor) or
    ``adapt.weight`` (shared).
    """

    __constants__ = ["structure", "predicted_structure", "stride", "padding",
                     "dilation", "alpha", "groups"]

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, bias=True,
                 structure="diagonal", r_structure="full", alpha=0.0,
                 gamma_init=1e-3, predictor=None, predictor_width=None,
                 predictor_depth=2, predictor_variant="linear",
                 predictor_last_variant="cosine", device=None, dtype=None):
        super().__init__()
        _check_choice("dynamic structure", structure, DYNAMIC_STRUCTURES)
        _check_choice("r_structure", r_structure, R_STRUCTURES)
        factory = {"device": device, "dtype": dtype}
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.stride = _pair("stride", stride)
        self.padding = _pair("padding", padding)
        self.dilation = _pair("dilation", dilation)
        self.groups = _check_groups(groups, in_channels, out_channels)
        self.structure = structure
        self.alpha = float(alpha)
        taps = self.kernel_size[0] * self.kernel_size[1]
        self.predicted_structure = (
            r_structure if structure == "shape_masked" else structure)
        channels = taps if self.predicted_structure == "diagonal" else taps * taps

        self.weight = nn.Parameter(torch.empty(
            out_channels, in_channels // self.groups, *self.kernel_size,
            **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        _reset_like_conv(self.weight, self.bias)
        self.gamma = nn.Parameter(torch.full((1,), float(gamma_init), **factory))
        if structure == "shape_masked":
            self.shape = nn.Parameter(torch.full((taps,), self.alpha + 1, **factory))
        else:
            self.register_parameter("shape", None)

        if predictor is None:
            self.adapt = None
            self.predictor = SphereNetPredictor(
                in_channels, channels, self.kernel_size, self.stride,
                self.padding, self.dilation, width=predictor_width,
                depth=predictor_depth, variant=predictor_variant,
                last_variant=predictor_last_variant, **factory)
        else:
            if not isinstance(predictor, SharedPredictor):
                raise TypeError(
                    "predictor must be a SharedPredictor (or None for the "
                    f"layer's own), got {type(predictor).__name__}")
            if predictor.out_channels != channels:
                raise ValueError(
                    f"the shared predictor has {predictor.out_channels} output "
                    f"channels; a {structure} layer with a "
                    f"{self.kernel_size[0]}x{self.kernel_size[1]} kernel needs "
                    f"{channels}")
            same = all(2 * p == d * (k - 1) for k, p, d in zip(
                self.kernel_size, self.padding, self.dilation))
            window = ({"kernel_size": 1, "stride": self.stride} if same else {
                "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "dilation": self.dilation})
            self.adapt = SphereConv2d(in_channels, predictor.in_channels,
                                      variant="cosine", input_only=True,
                                      **window, **factory)
            self.predictor = predictor

    def _similarity_operands(self, predicted: Tensor) -> List[Tensor]:
        shape = self.shape
        if shape is not None:
            return [shape, predicted]
        return [predicted]

    def forward(self, input: Tensor) -> Tensor:
        features = input
        if self.adapt is not None:
            features = self.adapt(input)
        predicted = torch.ops.nsl.predicted_similarity(
            self.predictor(features), self.gamma, self.predicted_structure)
        return torch.ops.nsl.sim_conv2d(
            input, self.weight, self._similarity_operands(predicted), self.bias,
            self.structure, True, self.stride, self.padding, self.dilation,
            self.alpha, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}, "
                f"structure={self.structure}")
