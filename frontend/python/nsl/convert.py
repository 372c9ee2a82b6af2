"""Turning a CNN into a neural similarity network (NSN).

Both helpers replace, in place, every ``nn.Conv2d`` with zero padding,
grouped and depthwise ones included, by an NSL layer of the same geometry
(kernel, stride, padding, dilation, groups) that holds the convolution's
own ``weight`` and ``bias`` parameters (the same tensors, so an optimizer
built before the conversion still updates them). Every group of a layer
shares its similarity ``M``. Other padding modes and asymmetric ``'same'``
padding are left as they are: the NSL ops have no form for them.
"""

from torch import nn

from .nn import DynamicSimConv2d, SimConv2d


def _symmetric_padding(conv):
    """conv's padding as a (height, width) pair, or None if asymmetric."""
    if conv.padding == "valid":
        return (0, 0)
    if conv.padding == "same":
        total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
        if any(t % 2 for t in total):
            return None
        return tuple(t // 2 for t in total)
    return tuple(conv.padding)


def _replace_convs(model, make_layer):
    """Replaces the convertible nn.Conv2d modules of model by make_layer(conv,
    padding); returns the model (the new layer if model is itself one)."""

    def convert(conv):
        padding = _symmetric_padding(conv)
        if conv.padding_mode != "zeros" or padding is None:
            return None
        layer = make_layer(conv, padding)
        layer.weight = conv.weight
        layer.bias = conv.bias
        return layer

    if isinstance(model, nn.Conv2d):
        return convert(model) or model
    # Collect first: replacing children while iterating named_modules()
    # would visit the new layers.
    targets = [(parent, name, child)
               for parent in model.modules()
               for name, child in parent.named_children()
               if isinstance(child, nn.Conv2d)]
    for parent, name, child in targets:
        layer = convert(child)
        if layer is not None:
            setattr(parent, name, layer)
    return model


def to_static_nsn(model, structure="diagonal", **options):
    """Replaces every ``nn.Conv2d`` of ``model`` (grouped and depthwise ones
    too) by a :class:`nsl.SimConv2d` with the same ``groups``.

    The similarity ``M`` of each new layer starts at the identity, so the
    model computes exactly the same function (up to float rounding of the
    fold ``W·I``). ``structure`` is any of ``identity``, ``diagonal``,
    ``full``, ``cholesky``, ``shape_masked``; ``options`` go to
    :class:`nsl.SimConv2d` (``r_structure``, ``alpha``). Returns ``model``,
    changed in place.
    """

    def make_layer(conv, padding):
        return SimConv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
            padding, conv.dilation, groups=conv.groups,
            bias=conv.bias is not None, structure=structure,
            device=conv.weight.device,
            dtype=conv.weight.dtype, **options)

    return _replace_convs(model, make_layer)


def to_dynamic_nsn(model, structure="diagonal", gamma_init=1e-3, **options):
    """Replaces every ``nn.Conv2d`` of ``model`` (grouped and depthwise ones
    too) by a :class:`nsl.DynamicSimConv2d` with the same ``groups`` and its
    own SphereNet predictor.

    ``M_p = γ·P(X)_p + I`` with ``|P| ≤ 1`` and γ = ``gamma_init``, so each
    layer's output moves by at most ``γ·Σ_{c,t,s} |W[o,c,t]|·|X_p[c,s]|``
    (``c`` over the channels of the group of ``o``) from the convolution's:
    the model starts close to the CNN (exactly it, up to float rounding,
    for ``gamma_init=0``). ``structure`` is ``diagonal`` (DNS), ``full``
    (UNS) or ``shape_masked``; ``options`` go to
    :class:`nsl.DynamicSimConv2d` (``predictor_width``,
    ``predictor_depth``, ``predictor_variant``, ``r_structure``, ...).
    Returns ``model``, changed in place.
    """

    def make_layer(conv, padding):
        return DynamicSimConv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
            padding, conv.dilation, groups=conv.groups,
            bias=conv.bias is not None, structure=structure,
            gamma_init=gamma_init,
            device=conv.weight.device, dtype=conv.weight.dtype, **options)

    return _replace_convs(model, make_layer)
