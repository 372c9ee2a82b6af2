#!/usr/bin/env python3
r"""Small TorchScript models for the importer's tests (test/frontend).

Usage: make_test_models.py --out DIR

For each NAME it writes DIR/NAME.pt (scripted), DIR/NAME.traced.pt (traced,
where tracing applies), DIR/NAME.x.npy (the seeded input) and
DIR/NAME.outK.npy (the eager outputs that are tensors). Models the importer
must refuse, and models tracing cannot record (a None output), are scripted
only; DIR/corrupt.pt is not a TorchScript file at all.
"""

import argparse
import os
import sys

from typing import Optional, Tuple

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

import nsl


class ResidualBlock(nn.Module):
    """A ResNet basic block with a static NSL conv, dropout and view."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nsl.SimConv2d(4, 4, 3, padding=1, structure="full")
        self.bn2 = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nsl.SimLinear(64, 6, group_size=8, structure="diagonal")

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)), inplace=True)
        h = self.bn2(self.conv2(h))
        h = F.relu(h + x)
        h = F.avg_pool2d(h, 2)
        h = self.drop(h.view(h.size(0), -1))
        return self.head(h)


class GroupedNsn(nn.Module):
    """Static NSL layers with groups: a depthwise 3×3 with a channel
    multiplier of 2 (full M), batch norm, relu, and a strided 3×3 with two
    groups (diagonal M); every group shares its layer's M."""

    def __init__(self):
        super().__init__()
        self.depthwise = nsl.SimConv2d(4, 8, 3, padding=1, groups=4,
                                       bias=False, structure="full")
        self.bn = nn.BatchNorm2d(8)
        self.grouped = nsl.SimConv2d(8, 6, 3, stride=2, padding=1, groups=2,
                                     structure="diagonal")

    def forward(self, x):
        return self.grouped(F.relu(self.bn(self.depthwise(x))))


class TwoInputs(nn.Module):
    """Two inputs and a tuple output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)

    def forward(self, a, b):
        y = self.conv(a) + self.conv(b)
        return y, F.relu(y)


class LegacyLinear(nn.Module):
    """Linear layers written as addmm and matmul with a transposed weight."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.w1 = nn.Parameter(torch.empty(5, 12))
        self.b1 = nn.Parameter(torch.empty(5))
        self.w2 = nn.Parameter(torch.empty(4, 5))

    def forward(self, x):
        h = torch.flatten(self.conv(x), 1)
        h = F.relu(torch.addmm(self.b1, h, self.w1.t()))
        return torch.matmul(h, self.w2.t())


class Elementwise(nn.Module):
    """Elementwise rows with broadcasting: per-channel and per-column
    parameters, Python numbers, in-place forms."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.empty(4, 1, 1))
        self.shift = nn.Parameter(torch.empty(1, 4, 1, 8))

    def forward(self, x):
        y = self.conv(x) * self.scale + self.shift
        y = 0.5 * y + 2
        y.mul_(y)
        y = torch.sigmoid(y + (-3.0))
        return y.add_(self.scale).sigmoid_()


class Activations(nn.Module):
    """Every activation the importer maps, scripted and traced: the
    in-place forms, hardtanh/relu6/clamp as clamp_min + clamp_max, gelu's
    two forms, elu, leaky_relu with its slope."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = F.relu6(self.bn(self.conv(x)) * 4.0)
        y = F.hardtanh(y - 3.0, -2.0, 2.5)
        a = F.silu(y) + F.hardswish(y * 2.0) + F.hardsigmoid(y * 2.0)
        b = F.gelu(y) - F.gelu(y, approximate="tanh") * 0.5
        c = F.elu(y, 0.7) + F.leaky_relu(y, 0.2)
        d = torch.clamp(y, min=-1.0, max=1.5) + torch.clamp_min(y, 0.5)
        e = torch.tanh(y).clamp_max(0.25) + torch.sigmoid(y)
        y = a + b + c + d + e
        F.leaky_relu_(y, 0.1)
        F.hardtanh_(y, -1.0, 3.0)
        return y.clamp_(max=2.75)


class Arithmetic(nn.Module):
    """Binary and unary arithmetic with tensors and numbers on either side
    (1 - x is aten::rsub, x - y * 2 is aten::sub with alpha in traces),
    and shape arithmetic on ints folded by the importer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.empty(4, 1, 1))

    def forward(self, x):
        y = self.conv(x)
        p = torch.exp(y) + 0.5  # positive
        z = (1.0 - y) / p + torch.sub(y, self.scale, alpha=2.0)
        z = z + torch.sqrt(p) - torch.rsqrt(p) + torch.log(p)
        z = z + p ** 0.5 + torch.pow(y, 2) + torch.reciprocal(p)
        z = z - (-y).abs() + torch.neg(self.scale) / 3
        z = z * 0.25 + torch.pow(p, self.scale)
        z.div_(2.0)
        n = z.size(1) * z.size(2) * z.size(3)
        return z.view(z.size(0), n)


class GroupedBlocks(nn.Module):
    """Grouped and depthwise convolutions as torchvision uses them: a
    MobileNetV2 inverted residual (1×1 expand, 3×3 depthwise, 1×1 project,
    ReLU6), a ResNeXt 3×3 with 4 groups, a strided depthwise 5×5 with a
    channel multiplier, and a squeeze-and-excitation gate (MobileNetV3)."""

    def __init__(self):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(8, 24, 1, bias=False),
                                    nn.BatchNorm2d(24), nn.ReLU6(inplace=True))
        self.depthwise = nn.Sequential(
            nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False),
            nn.BatchNorm2d(24), nn.ReLU6(inplace=True))
        self.project = nn.Sequential(nn.Conv2d(24, 8, 1, bias=False),
                                     nn.BatchNorm2d(8))
        self.grouped = nn.Conv2d(8, 12, 3, padding=1, groups=4)
        self.strided = nn.Conv2d(12, 24, 5, stride=2, padding=2, groups=12)
        self.squeeze = nn.Conv2d(24, 6, 1)
        self.excite = nn.Conv2d(6, 24, 1)

    def forward(self, x):
        y = x + self.project(self.depthwise(self.expand(x)))
        y = F.hardswish(self.strided(F.relu(self.grouped(y))))
        s = F.adaptive_avg_pool2d(y, 1)
        s = F.hardsigmoid(self.excite(F.relu(self.squeeze(s))))
        return y * s


class Shapes(nn.Module):
    """Moving elements as torchvision does: ShuffleNet's split and channel
    shuffle (a 5-D view, transpose, contiguous, view), ConvNeXt's
    channels-last block (permute, layer_norm, linear on 4-D, a layer
    scale), slicing, (un)squeeze and a partial flatten."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.branch = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.up = nn.Linear(8, 16)
        self.down = nn.Linear(16, 8)
        self.scale = nn.Parameter(torch.full((8,), 0.5))

    def forward(self, x):
        y = self.conv(x)
        left, right = y.chunk(2, dim=1)
        y = torch.cat((left, F.relu(self.branch(right))), dim=1)
        batch, channels, height, width = y.size()
        y = y.view(batch, 2, channels // 2, height, width)
        y = torch.transpose(y, 1, 2).contiguous().view(batch, -1, height, width)
        z = y.permute(0, 2, 3, 1)
        z = self.down(F.gelu(self.up(self.norm(z)))) * self.scale
        y = y + z.permute(0, 3, 1, 2)
        parts = torch.split(y[:, :, 1:-1], [3, 5], dim=1)
        w = parts[1].narrow(3, 1, 4).unsqueeze(2).squeeze(2)
        return torch.flatten(w, 2).mean(-1) + parts[0].sum((1, 2, 3)).unsqueeze(1)


class Normalizations(nn.Module):
    """Softmax, log_softmax, layer_norm over several dimensions, sums,
    maxima and norms over dimensions with and without keepdim."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.LayerNorm([5, 6])

    def forward(self, x):
        y = self.conv(x)
        a = F.softmax(y, dim=1) + F.log_softmax(y, dim=-1)
        b = self.norm(a) * y.amax(dim=(2, 3), keepdim=True)
        c = b / torch.norm(b, dim=1, keepdim=True) + b.sum(dim=1, keepdim=True)
        return c, torch.linalg.vector_norm(c, dim=(2, 3)), c.max()


class Unfolded(nn.Module):
    """F.unfold (im2col) and a batched product: a convolution written as
    weights @ columns, then bmm with its own transpose."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 3 * 9))

    def forward(self, x):
        columns = F.unfold(x, 3, padding=1, stride=2)        # [N, 27, L]
        y = torch.matmul(self.weight, columns)              # [N, 5, L]
        return torch.bmm(y, y.transpose(1, 2))             # [N, 5, 5]


class HandWrittenPredictor(nn.Module):
    """The authors' DNS predictor written in plain PyTorch ops, feeding
    torch.ops.nsl.sim_conv2d: conv(x) / ‖x_patch‖ → BN → ReLU → 1×1 conv →
    BN → + 1, the patch norm over all channels as
    sqrt(avg_pool2d(Σ_c x²) · 9 + ε)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 4, 3, 3) * 0.3)
        self.predict = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.project = nn.Conv2d(8, 9, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(9)

    def forward(self, x):
        squares = (x * x).sum(1, keepdim=True)
        norm = torch.sqrt(F.avg_pool2d(squares, 3, stride=1, padding=1) * 9
                          + 1e-4)
        h = F.relu(self.bn1(self.predict(x) / norm))
        m = self.bn2(self.project(h)) + 1
        return torch.ops.nsl.sim_conv2d(x, self.weight, [m], None, "diagonal",
                                        True, [1, 1], [1, 1], [1, 1], 0.0)


class Concatenation(nn.Module):
    """torch.cat as torchvision uses it: a SqueezeNet fire module (1×1 and
    3×3 expansions side by side), a DenseNet layer (the input and the new
    features, dim given negative) and a dense block's list of features
    grown by append."""

    def __init__(self):
        super().__init__()
        self.squeeze = nn.Conv2d(4, 3, 1)
        self.expand1 = nn.Conv2d(3, 4, 1)
        self.expand3 = nn.Conv2d(3, 4, 3, padding=1)
        self.dense = nn.Sequential(nn.BatchNorm2d(12), nn.ReLU(),
                                   nn.Conv2d(12, 5, 3, padding=1))
        self.block = nn.ModuleList([nn.Conv2d(17 + 2 * i, 2, 1)
                                    for i in range(2)])

    def forward(self, x):
        s = F.relu(self.squeeze(x))
        f = torch.cat([F.relu(self.expand1(s)), F.relu(self.expand3(s))], 1)
        d = torch.cat([x, f], dim=1)
        d = torch.cat((d, self.dense(d)), -3)
        # A dense block as torchvision writes it: a list grown by append.
        features = [d]
        for layer in self.block:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Pooling(nn.Module):
    """Adaptive average pooling to a size dividing the input (and to the
    input's own size), x.mean([2, 3]) (MNASNet) with and without keepdim,
    and torchvision's StochasticDepth in eval mode (its scripted checks use
    `mode in [...]`)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.drop = torchvision.ops.StochasticDepth(0.2, "row")

    def forward(self, x):
        y = self.drop(self.conv(x))
        a = F.adaptive_avg_pool2d(y, (3, 2)) + F.adaptive_avg_pool2d(y, 1)
        a = F.adaptive_avg_pool2d(a, (3, 2)) * 2.0
        m = y.mean([2, 3]) * y.mean((-1, -2), keepdim=True).flatten(1)
        # ceil_mode where no window is partial (SqueezeNet's pools).
        c = F.max_pool2d(y, 2, 2, ceil_mode=True) + F.avg_pool2d(
            y, 2, ceil_mode=True)
        return torch.cat([torch.flatten(a, 1), m, torch.flatten(c, 1)], 1)


class Erfinv(nn.Module):
    """torch.erfinv has no nsl op."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.erfinv(self.conv(x))


class UnsupportedArithmetic(nn.Module):
    """Floor division and selu (elu with a scale) have no nsl row."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        z = torch.div(y, 2.0, rounding_mode="floor")
        return z + torch.ops.aten.elu(y, 1.0, 2.0, 1.0)


class PartialPools(nn.Module):
    """ceil_mode with partial last windows (GoogLeNet's 3x3/2 max pools),
    average pooling in ceil mode with and without count_include_pad,
    adaptive average and max pooling to sizes that do not divide the input
    or exceed it (VGG and AlexNet at small inputs), and the values of
    adaptive_max_pool2d with return_indices=True."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.adaptive = nn.AdaptiveAvgPool2d((7, 7))
        self.adaptive_max = nn.AdaptiveMaxPool2d((5, 3))

    def forward(self, x):
        y = self.conv(x)  # 10x11
        p = self.pool(y)  # 5x5 (floor mode: 4x5)
        a = F.avg_pool2d(y, 3, 2, 1, ceil_mode=True)  # 6x6 (floor: 5x6)
        b = F.avg_pool2d(y, 2, 2, 1, ceil_mode=True, count_include_pad=False)
        values, _ = F.adaptive_max_pool2d(p, (2, 3), return_indices=True)
        return torch.cat([
            torch.flatten(p, 1), torch.flatten(a, 1), torch.flatten(b, 1),
            torch.flatten(self.adaptive(p), 1),
            torch.flatten(self.adaptive_max(y), 1),
            torch.flatten(F.adaptive_max_pool2d(p, 1), 1),
            torch.flatten(F.adaptive_avg_pool2d(y, (3, 4)), 1),
            torch.flatten(values, 1)], 1)


class AdaptiveMaxIndices(nn.Module):
    """Uses adaptive_max_pool2d's indices."""

    def forward(self, x):
        values, indices = F.adaptive_max_pool2d(x, (2, 2), return_indices=True)
        return values + indices.float()


class OptionalOutputs(nn.Module):
    """GoogLeNet's scripted forward in miniature: an input transform that is
    the identity (inlined, it gives the input its result's name, y.1) and a
    returned tuple whose Optional element is None in eval mode (the
    auxiliary outputs)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def _transform_input(self, x):
        return x

    def forward(self, x) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        y = self._transform_input(x)
        y = F.relu(self.conv(y))
        aux: Optional[torch.Tensor] = None
        if self.training:
            aux = y.mean()
        return y, aux


class DataDependent(nn.Module):
    """A branch on tensor data."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        if bool(y.sum() > 0):
            y = F.relu(y)
        return y


# name: (model class, input shapes, whether to trace too)
MODELS = {
    "residual": (ResidualBlock, [(2, 4, 8, 8)], True),
    "two_inputs": (TwoInputs, [(1, 2, 4, 4), (1, 2, 4, 4)], True),
    "legacy_linear": (LegacyLinear, [(2, 2, 4, 4)], True),
    "elementwise": (Elementwise, [(2, 3, 8, 8)], True),
    "activations": (Activations, [(2, 3, 8, 8)], True),
    "arithmetic": (Arithmetic, [(2, 3, 8, 8)], True),
    "grouped_blocks": (GroupedBlocks, [(2, 8, 9, 9)], True),
    "grouped_nsn": (GroupedNsn, [(2, 4, 8, 8)], True),
    "concatenation": (Concatenation, [(2, 4, 7, 6)], True),
    "pooling": (Pooling, [(2, 3, 6, 8)], True),
    "shapes": (Shapes, [(2, 4, 7, 6)], True),
    "normalizations": (Normalizations, [(2, 3, 5, 6)], True),
    "unfolded": (Unfolded, [(2, 3, 7, 6)], True),
    "hand_written_predictor": (HandWrittenPredictor, [(2, 4, 7, 6)], True),
    "erfinv": (Erfinv, [(1, 1, 5, 5)], False),
    "unsupported_arithmetic": (UnsupportedArithmetic, [(1, 1, 5, 5)], False),
    "partial_pools": (PartialPools, [(2, 3, 10, 11)], True),
    "adaptive_max_indices": (AdaptiveMaxIndices, [(1, 2, 5, 5)], False),
    "optional_outputs": (OptionalOutputs, [(2, 3, 6, 7)], False),
    "data_dependent": (DataDependent, [(1, 1, 5, 5)], False),
}


def randomize(model, generator):
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            values = torch.rand(tensor.shape, generator=generator)
            tensor.copy_(0.5 + values if name.endswith("running_var")
                         else values - 0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (make, shapes, trace) in MODELS.items():
        generator = torch.Generator().manual_seed(1)
        model = make().eval()
        randomize(model, generator)
        inputs = tuple(torch.randn(s, generator=generator) for s in shapes)
        path = os.path.join(args.out, name)
        torch.jit.save(torch.jit.script(model), path + ".pt")
        with torch.no_grad():
            output = model(*inputs)
        if trace:
            torch.jit.save(torch.jit.trace(model, inputs), path + ".traced.pt")
        for label, tensor in zip("xyz", inputs):
            np.save(f"{path}.{label}.npy", tensor.numpy())
        # The outputs the importer keeps: the tensors (a returned None is
        # left out).
        outputs = output if isinstance(output, tuple) else (output,)
        outputs = [tensor for tensor in outputs if tensor is not None]
        for index, tensor in enumerate(outputs):
            np.save(f"{path}.out{index}.npy", tensor.numpy())
    with open(os.path.join(args.out, "corrupt.pt"), "wb") as f:
        f.write(b"PK\x03\x04 this is not a TorchScript archive")
    return 0


if __name__ == "__main__":
    sys.exit(main())
