#!/usr/bin/env python3
r"""Builds, scripts and saves the example networks as TorchScript files.

Usage (from the repository root):

    PYTHONPATH=frontend/python /usr/bin/python3 \
        examples/pytorch/make_models.py --out DIR

The networks are PyTorch versions of examples/*.mlir (same layers, shapes
and state_dict names where the modules allow). For each NAME it writes to DIR:

    NAME.pt          the scripted model (torch.jit.script), in eval mode
    NAME.traced.pt   the traced model (torch.jit.trace) on the same input
    NAME.x.npy       the seeded random input x (float32)
    NAME.labels.npy  the labels (int64), for models whose forward takes them
    NAME.out.npy     the eager output (the first output for a tuple)

Parameters are seeded random values (batch-norm statistics included), not
trained ones. Every nsl layer appears as nsl:: nodes (schemas in
frontend/schemas/nsl_ops.txt); everything else as aten:: nodes.
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import nsl


class PlainCNN(nn.Module):
    """examples/plain_cnn.mlir: conv-BN-relu, max pool, conv-BN + residual
    add, relu, global average pool, linear. Input 4×3×16×16."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.relu(self.bn2(self.conv2(h)) + h)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class StaticNSN(nn.Module):
    """examples/static_nsn.mlir: every static structure. Input 2×3×12×12."""

    def __init__(self):
        super().__init__()
        self.conv1 = nsl.SimConv2d(3, 6, 3, padding=1, structure="diagonal")
        self.conv2 = nsl.SimConv2d(6, 6, 3, stride=2, padding=1, bias=False,
                                   structure="full")
        self.conv3 = nsl.SimConv2d(6, 5, 3, padding=2, dilation=2, bias=False,
                                   structure="cholesky")
        self.conv4 = nsl.SimConv2d(5, 4, 3, padding=1, bias=False,
                                   structure="shape_masked")
        self.conv5 = nsl.SimConv2d(4, 4, (2, 3), padding=(0, 1), bias=False,
                                   structure="shape_masked",
                                   r_structure="diagonal", alpha=0.2)
        self.fc = nsl.SimLinear(16, 7, group_size=4, structure="cholesky")

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        h = self.conv5(self.conv4(h))
        h = F.max_pool2d(F.avg_pool2d(h, 2, 2, 1), (2, 3), 1)
        return self.fc(torch.flatten(h, 1))


class DynamicNSN(nn.Module):
    """examples/dynamic_nsn.mlir: a static DNS conv, then a dynamic DNS conv
    whose mask comes from a two-layer SphereNet, and a SimLinear head.
    Input 2×1×28×28."""

    def __init__(self):
        super().__init__()
        self.conv1 = nsl.SimConv2d(1, 8, 3, padding=1, bias=False,
                                   structure="diagonal")
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nsl.DynamicSimConv2d(8, 16, 3, padding=1,
                                          structure="diagonal")
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nsl.SimLinear(16, 10, group_size=4, structure="full")

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.relu(self.bn2(self.conv2(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class DynamicUNS(nn.Module):
    """examples/dynamic_uns.mlir: a dynamic UNS conv (2×2, stride 2) with a
    sigmoid/linear SphereNet predictor, average pool, a linear head and the
    label-smoothed cross-entropy. Inputs x 3×4×9×9 and labels [3]."""

    def __init__(self):
        super().__init__()
        self.conv = nsl.DynamicSimConv2d(
            4, 6, 2, stride=2, padding=1, structure="full", predictor_width=8,
            predictor_variant="sigmoid", predictor_last_variant="linear")
        self.fc = nn.Linear(96, 5)

    def forward(self, x, labels):
        h = F.avg_pool2d(F.relu(self.conv(x)), 2, 1, count_include_pad=False)
        logits = self.fc(torch.flatten(h, 1))
        return F.cross_entropy(logits, labels, label_smoothing=0.1), logits


class SharedPredictorNSN(nn.Module):
    """examples/shared_predictor.mlir: two DNS layers sharing one SphereNet
    predictor, each with its own adaptation conv. Input 2×6×10×10."""

    def __init__(self):
        super().__init__()
        self.predictor = nsl.SharedPredictor(8, 9, 3, depth=1,
                                             last_variant="learned_sigmoid")
        self.conv1 = nsl.DynamicSimConv2d(6, 12, 3, padding=1, bias=False,
                                          predictor=self.predictor)
        self.bn = nn.BatchNorm2d(12)
        self.conv2 = nsl.DynamicSimConv2d(12, 12, 3, padding=1, bias=False,
                                          predictor=self.predictor)

    def forward(self, x):
        return self.conv2(F.relu(self.bn(self.conv1(x))))


# name: (model class, input shape, number of classes for labels or None)
MODELS = {
    "plain_cnn": (PlainCNN, (4, 3, 16, 16), None),
    "static_nsn": (StaticNSN, (2, 3, 12, 12), None),
    "dynamic_nsn": (DynamicNSN, (2, 1, 28, 28), None),
    "dynamic_uns": (DynamicUNS, (3, 4, 9, 9), 5),
    "shared_predictor": (SharedPredictorNSN, (2, 6, 10, 10), None),
}


def randomize(model, generator):
    """Seeded values for every parameter and batch-norm statistic: M away
    from the identity and γ away from its small initial value, so that
    every NSL op matters."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            values = torch.rand(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + values)
            else:
                tensor.copy_(values - 0.5)


def save(name, directory, seed):
    make, shape, classes = MODELS[name]
    generator = torch.Generator().manual_seed(seed)
    model = make().eval()
    randomize(model, generator)
    inputs = [torch.randn(shape, generator=generator)]
    if classes is not None:
        inputs.append(torch.randint(0, classes, shape[:1], generator=generator))
    with torch.no_grad():
        output = model(*inputs)
    if isinstance(output, tuple):
        output = output[0]
    torch.jit.save(torch.jit.script(model), os.path.join(directory, f"{name}.pt"))
    traced = torch.jit.trace(model, tuple(inputs))
    torch.jit.save(traced, os.path.join(directory, f"{name}.traced.pt"))
    for label, tensor in zip(("x", "labels"), inputs):
        np.save(os.path.join(directory, f"{name}.{label}.npy"), tensor.numpy())
    np.save(os.path.join(directory, f"{name}.out.npy"), output.numpy())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS),
                        help="write only these models")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.only or MODELS:
        save(name, args.out, args.seed)
        print(f"make_models: wrote {os.path.join(args.out, name)}.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
