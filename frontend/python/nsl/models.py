"""Networks the benchmarks and experiments share, defined once.

``paper_cifar_net`` is the CIFAR network of the paper (§7.1): a root
convolution of 32 channels; three stages of three 3×3 convolutions (32, 64,
128 channels), each stage followed by 2×2 max pooling; a 4×4 convolution as
the classifier head; batch norm and ReLU after every convolution but the
head. At 3×32×32 the head sees 4×4 pixels and gives 1×1 logits. It is a
plain CNN; ``nsl.to_static_nsn`` / ``nsl.to_dynamic_nsn`` make its NSN
variants.

``small_cnn`` is the small network of the main job (scripts/run-default.sh):
three 3×3 conv-BN-ReLU blocks (16, 32, 64 channels) with 2×2 max pooling
after the first two, global average pooling and a linear classifier; at
1×28×28 one forward pass costs ≈ 3.9 MFLOP.
"""
import torch.nn as nn


def _conv_bn_relu(in_channels, out_channels):
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def paper_cifar_net(in_channels=3, num_classes=10, widths=(32, 64, 128)):
    """The paper's CIFAR network as an ``nn.Sequential`` (see the module
    docstring); ``widths`` are the channels of the three stages, the root
    convolution has ``widths[0]``."""
    layers = _conv_bn_relu(in_channels, widths[0])
    channels = widths[0]
    for width in widths:
        for _ in range(3):
            layers += _conv_bn_relu(channels, width)
            channels = width
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Conv2d(channels, num_classes, 4), nn.Flatten()]
    return nn.Sequential(*layers)


def small_cnn(in_channels=1, num_classes=10, widths=(16, 32, 64)):
    """The main job's network (see the module docstring) as an
    ``nn.Sequential``."""
    layers = []
    channels = in_channels
    for i, width in enumerate(widths):
        layers += _conv_bn_relu(channels, width)
        channels = width
        if i + 1 < len(widths):
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
