"""to_static_nsn and to_dynamic_nsn keep (or nearly keep) the CNN's function."""

import warnings

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

import nsl
from tests import models
from tests.common import TestCase


def convs(model):
    return {name: m for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d)}


class ToStaticNsnTest(TestCase):
    def test_keeps_outputs_and_parameters(self):
        for structure in nsl.ops.STRUCTURES:
            for make, shape in ((models.PlainCNN, (2, 3, 8, 8)),
                                (models.ResidualBlock, (2, 4, 9, 9))):
                with self.subTest(structure=structure, model=make.__name__):
                    model = models.randomize_batch_norm(make()).eval()
                    x = torch.randn(shape)
                    expected = model(x)
                    before = convs(model)
                    converted = nsl.to_static_nsn(model, structure)
                    self.assertIs(converted, model)
                    self.assertEqual(convs(model), {})
                    for name, conv in before.items():
                        layer = model.get_submodule(name)
                        self.assertIsInstance(layer, nsl.SimConv2d)
                        self.assertEqual(layer.structure, structure)
                        self.assertIs(layer.weight, conv.weight)
                        self.assertIs(layer.bias, conv.bias)
                    self.assertTrue(torch.equal(model(x), expected))

    def test_leaves_convolutions_it_cannot_express(self):
        model = nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1, groups=2),  # grouped: converted
            nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
            nn.Conv2d(4, 4, 2, padding="same"),  # asymmetric padding
            nn.Conv2d(4, 4, 3, padding="same", dilation=2),
            nn.Conv2d(4, 4, 3, padding="valid"))
        x = torch.randn(1, 4, 8, 8)
        with warnings.catch_warnings():  # PyTorch's note on 'same' padding
            warnings.simplefilter("ignore", UserWarning)
            expected = model(x)
            nsl.to_static_nsn(model, "full")
            self.assertEqual([type(m).__name__ for m in model],
                             ["SimConv2d"] + ["Conv2d"] * 2 + ["SimConv2d"] * 2)
            self.assertEqual(model[0].groups, 2)
            self.assertEqual(model[3].padding, (2, 2))
            self.assertEqual(model[4].padding, (0, 0))
            self.assertTrue(torch.equal(model(x), expected))

    def test_converts_grouped_and_depthwise_convolutions(self):
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                model = models.randomize_batch_norm(models.GroupedCNN()).eval()
                x = torch.randn(2, 3, 8, 8)
                expected = model(x)
                before = convs(model)
                self.assertEqual(sorted(c.groups for c in before.values()),
                                 [1, 1, 1, 4, 12, 16])
                nsl.to_static_nsn(model, structure)
                self.assertEqual(convs(model), {})
                for name, conv in before.items():
                    layer = model.get_submodule(name)
                    self.assertIsInstance(layer, nsl.SimConv2d)
                    self.assertEqual(layer.groups, conv.groups)
                    self.assertIs(layer.weight, conv.weight)
                    self.assertIs(layer.bias, conv.bias)
                self.assertTrue(torch.equal(model(x), expected))

    def test_converts_torchvision_grouped_networks(self):
        """Every conv of MobileNetV2 (17 depthwise) and of a ResNeXt
        bottleneck (32 groups of 4 channels) becomes a SimConv2d; the
        output is the unconverted model's."""
        networks = {
            "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(
                num_classes=10), (2, 3, 64, 64), 52, 17),
            "resnext_bottleneck": (lambda: torchvision.models.resnet.Bottleneck(
                256, 64, groups=32, base_width=4), (2, 256, 8, 8), 3, 1),
        }
        for name, (make, shape, count, grouped) in networks.items():
            for structure in ("diagonal", "full", "cholesky", "shape_masked"):
                with self.subTest(network=name, structure=structure):
                    model = models.randomize_batch_norm(make()).eval()
                    x = torch.randn(shape)
                    with torch.no_grad():
                        expected = model(x)
                    before = convs(model)
                    self.assertEqual(len(before), count)
                    self.assertEqual(
                        sum(c.groups > 1 for c in before.values()), grouped)
                    nsl.to_static_nsn(model, structure)
                    self.assertEqual(convs(model), {})
                    for module_name, conv in before.items():
                        layer = model.get_submodule(module_name)
                        self.assertIsInstance(layer, nsl.SimConv2d)
                        self.assertEqual(layer.groups, conv.groups)
                    with torch.no_grad():
                        self.assertRelativeError(model(x), expected, 1e-5)

    def test_converts_a_bare_convolution(self):
        conv = nn.Conv2d(3, 5, 3, stride=2, dilation=2, bias=False)
        layer = nsl.to_static_nsn(conv, "cholesky")
        self.assertIsInstance(layer, nsl.SimConv2d)
        self.assertIsNone(layer.bias)
        x = torch.randn(2, 3, 9, 9)
        self.assertTrue(torch.equal(layer(x), conv(x)))


class ToDynamicNsnTest(TestCase):
    def test_layer_moves_at_most_gamma_times_the_absolute_convolution(self):
        """|Y − conv(X)| ≤ γ·Σ_{c,t,s} |W[o,c,t]|·|X_p[c,s]| since |P| ≤ 1
        (for DNS only t = s contributes: γ·conv(|X|, |W|))."""
        gamma = 1e-3
        x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
        for structure in ("diagonal", "full"):
            with self.subTest(structure=structure):
                conv = nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
                expected = conv(x)
                layer = nsl.to_dynamic_nsn(conv, structure, gamma_init=gamma,
                                           predictor_variant="sigmoid")
                self.assertIsInstance(layer, nsl.DynamicSimConv2d)
                change = (layer(x) - expected).abs()
                w = conv.weight.abs()
                if structure == "diagonal":
                    bound = gamma * F.conv2d(x.abs(), w, stride=2, padding=1)
                else:  # Σ_c (Σ_t |W[o,c,t]|)·(Σ_s |X_p[c,s]|)
                    rows = w.sum((2, 3), keepdim=True).expand_as(w)
                    bound = gamma * F.conv2d(x.abs(), rows, stride=2, padding=1)
                self.assertGreater(change.max().item(), 0)
                self.assertTrue(bool((change <= bound * (1 + 1e-9)).all()))

    def test_grouped_layer_moves_at_most_gamma_times_the_absolute_convolution(
            self):
        """The same bound with c over the channels of o's group."""
        gamma = 1e-3
        x = torch.randn(2, 6, 7, 7, dtype=torch.float64)
        for structure in ("diagonal", "full"):
            for groups, outputs in ((2, 4), (6, 6), (6, 12)):
                with self.subTest(structure=structure, groups=groups,
                                  outputs=outputs):
                    conv = nn.Conv2d(6, outputs, 3, stride=2, padding=1,
                                     groups=groups).double()
                    expected = conv(x)
                    layer = nsl.to_dynamic_nsn(conv, structure,
                                               gamma_init=gamma,
                                               predictor_variant="sigmoid")
                    self.assertIsInstance(layer, nsl.DynamicSimConv2d)
                    self.assertEqual(layer.groups, groups)
                    self.assertIs(layer.weight, conv.weight)
                    change = (layer(x) - expected).abs()
                    w = conv.weight.abs()
                    if structure == "full":
                        w = w.sum((2, 3), keepdim=True).expand_as(w)
                    bound = gamma * F.conv2d(x.abs(), w, stride=2, padding=1,
                                             groups=groups)
                    self.assertGreater(change.max().item(), 0)
                    self.assertTrue(bool((change <= bound * (1 + 1e-9)).all()))

    def test_network_starts_close_to_the_cnn(self):
        for structure in ("diagonal", "full", "shape_masked"):
            with self.subTest(structure=structure):
                model = models.randomize_batch_norm(models.ResidualBlock()).eval()
                x = torch.randn(2, 4, 9, 9)
                expected = model(x)
                before = convs(model)
                nsl.to_dynamic_nsn(model, structure, predictor_width=4)
                for name, conv in before.items():
                    layer = model.get_submodule(name)
                    self.assertIsInstance(layer, nsl.DynamicSimConv2d)
                    self.assertIs(layer.weight, conv.weight)
                    self.assertEqual(layer.predictor.layers[0].out_channels, 4)
                # γ = 1e-3 moves the output by a few 1e-4 here.
                self.assertRelativeError(model(x), expected, 3e-3)
                nsl.to_dynamic_nsn(model, structure)  # idempotent: no convs left
                with torch.no_grad():
                    for module in model.modules():
                        if isinstance(module, nsl.DynamicSimConv2d):
                            module.gamma.zero_()
                self.assertRelativeError(model(x), expected, 1e-6)

    def test_grouped_networks_start_close_to_the_cnn(self):
        """Every conv of GroupedCNN and MobileNetV2, depthwise ones included,
        becomes a DynamicSimConv2d with the conv's groups; γ = 0 gives the
        CNN's output up to float rounding."""
        networks = {
            "grouped_cnn": (models.GroupedCNN, (2, 3, 8, 8)),
            "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(
                num_classes=10), (2, 3, 64, 64)),
        }
        for (name, (make, shape)), structure in (
                (n, s) for n in networks.items()
                for s in ("diagonal", "full", "shape_masked")):
            with self.subTest(network=name, structure=structure):
                model = models.randomize_batch_norm(make()).eval()
                x = torch.randn(shape)
                with torch.no_grad():
                    expected = model(x)
                before = convs(model)
                nsl.to_dynamic_nsn(model, structure, predictor_width=4)
                self.assertEqual(convs(model), {})
                for module_name, conv in before.items():
                    layer = model.get_submodule(module_name)
                    self.assertIsInstance(layer, nsl.DynamicSimConv2d)
                    self.assertEqual(layer.groups, conv.groups)
                    self.assertIs(layer.weight, conv.weight)
                with torch.no_grad():
                    # γ = 1e-3 moves the output by a few 1e-4 here.
                    self.assertRelativeError(model(x), expected, 3e-3)
                    for module in model.modules():
                        if isinstance(module, nsl.DynamicSimConv2d):
                            module.gamma.zero_()
                    self.assertRelativeError(model(x), expected, 1e-5)
