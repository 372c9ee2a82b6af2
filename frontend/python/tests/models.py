"""Small models for the TorchScript, conversion and training tests."""

import torch
from torch import nn
from torch.nn import functional as F

import nsl


class PlainCNN(nn.Module):
    """conv-BN-relu, max pool, conv-BN + residual add, relu, global average
    pool, linear: a plain CNN for the conversion helpers."""

    def __init__(self, in_channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = F.relu(h + self.bn2(self.conv2(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class GroupedCNN(nn.Module):
    """A MobileNetV2 inverted residual (1×1 expand, 3×3 depthwise, 1×1
    project), a ResNeXt-style grouped 3×3 (4 groups), a strided depthwise
    3×3 with a channel multiplier of 2, global average pool, linear."""

    def __init__(self, in_channels=3, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.expand = nn.Conv2d(8, 16, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.project = nn.Conv2d(16, 8, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.grouped = nn.Conv2d(8, 12, 3, padding=1, groups=4)
        self.multiplier = nn.Conv2d(12, 24, 3, stride=2, padding=1, groups=12)
        self.fc = nn.Linear(24, classes)

    def forward(self, x):
        h = F.relu(self.bn0(self.stem(x)))
        e = F.relu6(self.bn2(self.depthwise(F.relu6(self.bn1(self.expand(h))))))
        h = h + self.bn3(self.project(e))
        h = F.relu(self.multiplier(F.relu(self.grouped(h))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class ResidualBlock(nn.Module):
    """A ResNet basic block: two 3×3 convs and a strided 1×1 shortcut."""

    def __init__(self, in_channels=4, out_channels=6, stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class SharedPredictorNet(nn.Module):
    """Two DNS layers sharing one SphereNet predictor, each with its own
    adaptation conv (examples/shared_predictor.mlir in PyTorch)."""

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


class SimLinearHead(nn.Module):
    """A static NSL conv, global average pool and a SimLinear classifier."""

    def __init__(self, structure="full"):
        super().__init__()
        self.conv = nsl.SimConv2d(3, 16, 3, padding=1, structure="diagonal")
        self.fc = nsl.SimLinear(16, 10, group_size=4, structure=structure)

    def forward(self, x):
        h = F.relu(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def randomize_batch_norm(model):
    """Non-trivial BN statistics and affine parameters, for eval mode."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model
