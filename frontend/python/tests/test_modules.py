"""The nsl.nn modules: parameters, initialisation, math and training."""

import torch
from torch import nn
from torch.nn import functional as F

import nsl
from tests import brute_force, models
from tests.common import F64, TestCase, randn

STATIC_KEYS = {
    "identity": set(),
    "diagonal": {"similarity"},
    "full": {"similarity"},
    "cholesky": {"cholesky"},
    "shape_masked": {"shape", "similarity"},
}


class SimConv2dTest(TestCase):
    def test_starts_as_the_plain_convolution(self):
        x = torch.randn(2, 3, 7, 6)
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                layer = nsl.SimConv2d(3, 5, (3, 2), stride=(2, 1),
                                      padding=(1, 0), dilation=(1, 2),
                                      structure=structure)
                self.assertEqual(set(layer.state_dict()),
                                 {"weight", "bias"} | STATIC_KEYS[structure])
                expected = F.conv2d(x, layer.weight, layer.bias, (2, 1), (1, 0),
                                    (1, 2))
                self.assertTrue(torch.equal(layer(x), expected))

    def test_loads_a_pretrained_conv2d(self):
        conv = nn.Conv2d(3, 4, 3, padding=1)
        layer = nsl.SimConv2d(3, 4, 3, padding=1, structure="full")
        missing, unexpected = layer.load_state_dict(conv.state_dict(),
                                                    strict=False)
        self.assertEqual((missing, unexpected), (["similarity"], []))
        x = torch.randn(2, 3, 5, 5)
        self.assertTrue(torch.equal(layer(x), conv(x)))

    def test_shape_masked_options(self):
        layer = nsl.SimConv2d(2, 3, 3, structure="shape_masked",
                              r_structure="diagonal", alpha=0.5)
        self.assertEqual(layer.similarity.shape, (9,))
        self.assertTrue(torch.equal(layer.shape, torch.full((9,), 1.5)))
        x = torch.randn(1, 2, 5, 5)
        self.assertTrue(torch.equal(layer(x), F.conv2d(x, layer.weight,
                                                       layer.bias)))
        with torch.no_grad():
            layer.shape[4] = 0.5  # not > α: the centre tap is masked out
        mask = torch.ones(1, 1, 3, 3)
        mask[0, 0, 1, 1] = 0
        expected = F.conv2d(x, layer.weight * mask, layer.bias)
        self.assertRelativeError(layer(x), expected, 1e-6)

    def test_bad_options_are_named(self):
        with self.assertRaisesRegex(ValueError, "unknown structure 'dns'; "
                                    "expected one of identity, diagonal"):
            nsl.SimConv2d(2, 3, 3, structure="dns")
        with self.assertRaisesRegex(ValueError, "r_structure"):
            nsl.SimConv2d(2, 3, 3, structure="shape_masked", r_structure="x")
        with self.assertRaisesRegex(ValueError, "kernel_size"):
            nsl.SimConv2d(2, 3, (3, 3, 3))


class GroupedSimConv2dTest(TestCase):
    """groups = 2 and depthwise (with and without a channel multiplier)."""

    CASES = [(2, 4, 6), (4, 4, 4), (4, 4, 8)]  # (groups, in, out)

    def test_starts_as_the_grouped_convolution(self):
        x = torch.randn(2, 4, 7, 6)
        for structure in nsl.ops.STRUCTURES:
            for groups, channels, outputs in self.CASES:
                with self.subTest(structure=structure, groups=groups,
                                  outputs=outputs):
                    layer = nsl.SimConv2d(channels, outputs, (3, 2),
                                          stride=(2, 1), padding=(1, 0),
                                          dilation=(1, 2), groups=groups,
                                          structure=structure)
                    self.assertEqual(layer.groups, groups)
                    self.assertEqual(layer.weight.shape,
                                     (outputs, channels // groups, 3, 2))
                    self.assertEqual(set(layer.state_dict()),
                                     {"weight", "bias"} | STATIC_KEYS[structure])
                    expected = F.conv2d(x, layer.weight, layer.bias, (2, 1),
                                        (1, 0), (1, 2), groups)
                    self.assertTrue(torch.equal(layer(x), expected))

    def test_initialised_and_loaded_like_conv2d(self):
        conv = nn.Conv2d(4, 8, 3, padding=1, groups=4)
        torch.manual_seed(3)
        layer = nsl.SimConv2d(4, 8, 3, padding=1, groups=4, structure="full")
        torch.manual_seed(3)
        twin = nn.Conv2d(4, 8, 3, padding=1, groups=4)
        # nn.Conv2d's initialisation, fan-in C/G·K.
        self.assertTrue(torch.equal(layer.weight, twin.weight))
        self.assertTrue(torch.equal(layer.bias, twin.bias))
        missing, unexpected = layer.load_state_dict(conv.state_dict(),
                                                    strict=False)
        self.assertEqual((missing, unexpected), (["similarity"], []))
        x = torch.randn(2, 4, 5, 5)
        self.assertTrue(torch.equal(layer(x), conv(x)))

    def test_math_matches_loops(self):
        x = randn(2, 4, 6, 5)
        cases = [(s, "full") for s in nsl.ops.STRUCTURES] + [
            ("shape_masked", "diagonal")]
        for (structure, r_structure), (groups, channels, outputs) in (
                (c, g) for c in cases for g in self.CASES):
            with self.subTest(structure=structure, r_structure=r_structure,
                              groups=groups, outputs=outputs):
                layer = nsl.SimConv2d(channels, outputs, (2, 3), stride=(2, 1),
                                      padding=1, dilation=(1, 2),
                                      groups=groups, structure=structure,
                                      r_structure=r_structure, alpha=0.2,
                                      dtype=F64)
                with torch.no_grad():  # M away from I
                    for p in layer.parameters():
                        p.add_(0.5 * torch.randn_like(p))
                operands = [t.detach().numpy()
                            for t in layer._similarity_operands()]
                expected = brute_force.sim_conv2d(
                    x.numpy(), layer.weight.detach().numpy(), structure,
                    operands, layer.bias.detach().numpy(), False, (2, 1),
                    (1, 1), (1, 2), 0.2, groups)
                self.assertRelativeError(layer(x), expected, 1e-12)

    def test_repr_shows_groups(self):
        self.assertIn("groups=4,", repr(nsl.SimConv2d(4, 8, 3, groups=4)))
        self.assertIn("groups=1,", repr(nsl.SimConv2d(4, 8, 3)))
        self.assertIn("groups=2,", repr(nsl.DynamicSimConv2d(4, 8, 3,
                                                             groups=2)))

    def test_bad_groups_are_named(self):
        for make in (nsl.SimConv2d, nsl.DynamicSimConv2d):
            with self.subTest(layer=make.__name__):
                with self.assertRaisesRegex(
                        ValueError, "groups 3 must divide in_channels 4 and "
                        "out_channels 6"):
                    make(4, 6, 3, groups=3)
                with self.assertRaisesRegex(
                        ValueError, "groups 4 must divide in_channels 4 and "
                        "out_channels 6"):
                    make(4, 6, 3, groups=4)
                with self.assertRaisesRegex(ValueError,
                                            "groups must be a positive int"):
                    make(4, 6, 3, groups=0)
                # bias comes after groups, as in nn.Conv2d.
                with self.assertRaisesRegex(
                        ValueError, r"got False \(bias is the keyword"):
                    make(4, 6, 3, 1, 0, 1, False)


class SimLinearTest(TestCase):
    def test_starts_as_the_linear_layer_and_groups_features(self):
        x = torch.randn(4, 12)
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                layer = nsl.SimLinear(12, 5, group_size=3, structure=structure)
                self.assertEqual(set(layer.state_dict()),
                                 {"weight", "bias"} | STATIC_KEYS[structure])
                self.assertTrue(torch.equal(
                    layer(x), F.linear(x, layer.weight, layer.bias)))
        layer = nsl.SimLinear(12, 5, group_size=3, structure="full",
                              dtype=F64)
        with torch.no_grad():
            layer.similarity.copy_(torch.randn(3, 3))
        x = randn(4, 12)
        expected = brute_force.sim_linear(
            x.numpy(), layer.weight.detach().numpy(), "full",
            [layer.similarity.detach().numpy()], 3,
            layer.bias.detach().numpy())
        self.assertRelativeError(layer(x), expected, 1e-12)

    def test_group_size_must_divide_the_features(self):
        with self.assertRaisesRegex(ValueError, "group_size 5 .* in_features 12"):
            nsl.SimLinear(12, 3, group_size=5)


class SphereTest(TestCase):
    def test_sphere_conv2d_parameters(self):
        learned = nsl.SphereConv2d(3, 4, 3, variant="learned_sigmoid")
        self.assertEqual(set(learned.state_dict()), {"weight", "k"})
        fixed = nsl.SphereConv2d(3, 4, 3, variant="sigmoid")
        self.assertEqual(set(fixed.state_dict()), {"weight"})
        fixed.weight = learned.weight
        x = torch.randn(2, 3, 6, 6)
        # k' starts at sigmoid_k − 0.05: the learned variant starts as the
        # fixed one.
        self.assertRelativeError(learned(x), fixed(x), 1e-6)
        with self.assertRaisesRegex(ValueError, "input_only"):
            nsl.SphereConv2d(3, 4, 3, variant="linear", input_only=True)
        with self.assertRaisesRegex(ValueError, "unknown SphereConv variant"):
            nsl.SphereConv2d(3, 4, 3, variant="tanh")

    def test_predictor_depth_width_and_alignment(self):
        x = torch.randn(2, 5, 9, 8)
        for depth in (1, 2, 3):
            with self.subTest(depth=depth):
                predictor = nsl.SphereNetPredictor(
                    5, 9, (3, 3), stride=2, padding=1, dilation=(1, 2),
                    width=7, depth=depth)
                convs = [m for m in predictor.layers
                         if isinstance(m, nsl.SphereConv2d)]
                self.assertEqual(len(convs), depth)
                self.assertEqual([c.out_channels for c in convs],
                                 [7] * (depth - 1) + [9])
                self.assertIn("layers.0.weight", predictor.state_dict())
                conv = nn.Conv2d(5, 1, 3, stride=2, padding=1, dilation=(1, 2))
                y = predictor(x)
                self.assertEqual(y.shape[:2], (2, 9))
                self.assertEqual(y.shape[2:], conv(x).shape[2:])
                self.assertLessEqual(y.abs().max().item(), 1.0)
        with self.assertRaisesRegex(ValueError, "depth"):
            nsl.SphereNetPredictor(5, 9, depth=0)


class DynamicSimConv2dTest(TestCase):
    def test_parameters(self):
        layer = nsl.DynamicSimConv2d(3, 4, 3, padding=1, structure="shape_masked")
        self.assertEqual(set(layer.state_dict()), {
            "weight", "bias", "gamma", "shape", "predictor.layers.0.weight",
            "predictor.layers.2.weight"})
        self.assertEqual(layer.gamma.tolist(), [torch.tensor(1e-3).item()])
        self.assertEqual(layer.predictor.out_channels, 81)
        with self.assertRaisesRegex(ValueError, "dynamic structure 'cholesky'"):
            nsl.DynamicSimConv2d(3, 4, 3, structure="cholesky")

    def test_math_matches_loops(self):
        """Y = Σ W·M_p·X_p with M_p = γ·P(X)_p + I, P the layer's predictor."""
        x = randn(2, 3, 6, 5)
        cases = [("diagonal", "full"), ("full", "full"),
                 ("shape_masked", "full"), ("shape_masked", "diagonal")]
        for structure, r_structure in cases:
            with self.subTest(structure=structure, r_structure=r_structure):
                layer = nsl.DynamicSimConv2d(
                    3, 4, (2, 3), stride=(2, 1), padding=1, dilation=(1, 2),
                    structure=structure, r_structure=r_structure,
                    gamma_init=0.7, predictor_variant="sigmoid", alpha=0.2,
                    dtype=F64)
                if structure == "shape_masked":
                    with torch.no_grad():
                        layer.shape.copy_(torch.rand(6, dtype=F64) * 0.4)
                m = (0.7 * layer.predictor(x)).detach().numpy()
                taps = 6
                index = range(taps) if m.shape[1] == taps else [
                    t * taps + t for t in range(taps)]
                m[:, list(index)] += 1.0
                operands = [m]
                if structure == "shape_masked":
                    operands = [layer.shape.detach().numpy(), m]
                expected = brute_force.sim_conv2d(
                    x.numpy(), layer.weight.detach().numpy(), structure,
                    operands, layer.bias.detach().numpy(), True, (2, 1), (1, 1),
                    (1, 2), 0.2)
                self.assertRelativeError(layer(x), expected, 1e-12)

    def test_gamma_zero_is_the_plain_convolution(self):
        for structure in ("diagonal", "full", "shape_masked"):
            layer = nsl.DynamicSimConv2d(3, 4, 3, padding=1, structure=structure,
                                         gamma_init=0.0)
            x = torch.randn(2, 3, 5, 5)
            expected = F.conv2d(x, layer.weight, layer.bias, padding=1)
            self.assertRelativeError(layer(x), expected, 1e-6)

    def test_grouped_math_matches_loops(self):
        """Grouped and depthwise: the groups share M_p = γ·P(X)_p + I, and
        the predictor sees every input channel as for groups = 1."""
        x = randn(2, 4, 6, 5)
        cases = [("diagonal", "full"), ("full", "full"),
                 ("shape_masked", "full"), ("shape_masked", "diagonal")]
        for (structure, r_structure), (groups, outputs) in (
                (c, g) for c in cases for g in ((2, 6), (4, 4), (4, 8))):
            with self.subTest(structure=structure, r_structure=r_structure,
                              groups=groups, outputs=outputs):
                layer = nsl.DynamicSimConv2d(
                    4, outputs, (2, 3), stride=(2, 1), padding=1,
                    dilation=(1, 2), groups=groups, structure=structure,
                    r_structure=r_structure, gamma_init=0.7,
                    predictor_variant="sigmoid", alpha=0.2, dtype=F64)
                self.assertEqual(layer.weight.shape,
                                 (outputs, 4 // groups, 2, 3))
                self.assertEqual(layer.predictor.layers[0].in_channels, 4)
                ungrouped = nsl.DynamicSimConv2d(
                    4, outputs, (2, 3), structure=structure,
                    r_structure=r_structure)
                self.assertEqual(layer.predictor.out_channels,
                                 ungrouped.predictor.out_channels)
                if structure == "shape_masked":
                    with torch.no_grad():
                        layer.shape.copy_(torch.rand(6, dtype=F64) * 0.4)
                m = (0.7 * layer.predictor(x)).detach().numpy()
                taps = 6
                index = range(taps) if m.shape[1] == taps else [
                    t * taps + t for t in range(taps)]
                m[:, list(index)] += 1.0
                operands = [m]
                if structure == "shape_masked":
                    operands = [layer.shape.detach().numpy(), m]
                expected = brute_force.sim_conv2d(
                    x.numpy(), layer.weight.detach().numpy(), structure,
                    operands, layer.bias.detach().numpy(), True, (2, 1),
                    (1, 1), (1, 2), 0.2, groups)
                self.assertRelativeError(layer(x), expected, 1e-12)

    def test_grouped_gamma_zero_is_the_grouped_convolution(self):
        for structure in ("diagonal", "full", "shape_masked"):
            for groups, outputs in ((2, 6), (4, 4), (4, 8)):
                with self.subTest(structure=structure, groups=groups,
                                  outputs=outputs):
                    layer = nsl.DynamicSimConv2d(4, outputs, 3, padding=1,
                                                 groups=groups,
                                                 structure=structure,
                                                 gamma_init=0.0)
                    x = torch.randn(2, 4, 5, 5)
                    expected = F.conv2d(x, layer.weight, layer.bias,
                                        padding=1, groups=groups)
                    self.assertRelativeError(layer(x), expected, 1e-6)

    def test_grouped_layer_with_a_shared_predictor(self):
        predictor = nsl.SharedPredictor(8, 9, 3, depth=1)
        layer = nsl.DynamicSimConv2d(6, 12, 3, padding=1, groups=6,
                                     predictor=predictor)
        self.assertEqual(layer.adapt.in_channels, 6)
        self.assertEqual(layer.weight.shape, (12, 1, 3, 3))
        x = torch.randn(2, 6, 7, 7)
        self.assertEqual(layer(x).shape, (2, 12, 7, 7))
        with torch.no_grad():
            layer.gamma.zero_()
        self.assertRelativeError(
            layer(x), F.conv2d(x, layer.weight, layer.bias, padding=1,
                               groups=6), 1e-6)

    def test_shared_predictor(self):
        net = models.SharedPredictorNet()
        self.assertIs(net.conv1.predictor, net.predictor)
        self.assertIs(net.conv2.predictor, net.predictor)
        self.assertEqual(net.conv1.adapt.kernel_size, (1, 1))
        self.assertTrue(net.conv1.adapt.input_only)
        names = {name for name, _ in net.named_parameters()}
        self.assertEqual(names, {
            "predictor.layers.0.weight", "predictor.layers.0.k",
            "conv1.weight", "conv1.gamma", "conv1.adapt.weight", "bn.weight",
            "bn.bias", "conv2.weight", "conv2.gamma", "conv2.adapt.weight"})
        self.assertEqual(net(torch.randn(2, 6, 7, 7)).shape, (2, 12, 7, 7))
        # A layer that does not pad "same" adapts with its whole window.
        strided = nsl.DynamicSimConv2d(6, 4, 3, stride=2,
                                       predictor=net.predictor)
        self.assertEqual(strided.adapt.kernel_size, (3, 3))
        self.assertEqual(strided(torch.randn(1, 6, 9, 9)).shape, (1, 4, 4, 4))
        with self.assertRaisesRegex(ValueError, "needs 81"):
            nsl.DynamicSimConv2d(6, 4, 3, structure="full",
                                 predictor=net.predictor)
        with self.assertRaisesRegex(TypeError, "SharedPredictor"):
            nsl.DynamicSimConv2d(6, 4, 3, predictor=nsl.SphereNetPredictor(8, 9))
        with self.assertRaisesRegex(ValueError, "odd"):
            nsl.SharedPredictor(8, 9, kernel_size=2)


class TrainingTest(TestCase):
    """A few SGD steps on a fixed batch reduce the loss, and every parameter
    (straight-through d_r and learned k' included) gets a gradient."""

    def train(self, model, x, labels, steps=10, lr=0.1):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), labels)
            loss.backward()
            if not losses:
                for name, p in model.named_parameters():
                    self.assertIsNotNone(p.grad, name)
                    self.assertGreater(p.grad.abs().sum().item(), 0, name)
            optimizer.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.9 * losses[0], losses)

    def test_models_train(self):
        x = torch.randn(8, 3, 8, 8)
        labels = torch.randint(0, 10, (8,))
        cases = {
            "static shape_masked": nsl.to_static_nsn(
                models.PlainCNN(), "shape_masked", alpha=0.5),
            "static cholesky": nsl.to_static_nsn(models.PlainCNN(), "cholesky"),
            "DNS": nsl.to_dynamic_nsn(models.PlainCNN(), "diagonal",
                                      gamma_init=0.1),
            "UNS": nsl.to_dynamic_nsn(models.PlainCNN(), "full",
                                      gamma_init=0.1),
            "SimLinear head": models.SimLinearHead("full"),
            "static grouped and depthwise": nsl.to_static_nsn(
                models.GroupedCNN(), "full"),
            "DNS grouped and depthwise": nsl.to_dynamic_nsn(
                models.GroupedCNN(), "diagonal", gamma_init=0.1),
            "UNS grouped and depthwise": nsl.to_dynamic_nsn(
                models.GroupedCNN(), "full", gamma_init=0.1),
        }
        for name, model in cases.items():
            with self.subTest(model=name):
                self.train(model, x, labels)

    def test_shared_predictor_trains(self):
        net = models.SharedPredictorNet()
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(12, 10))
        self.train(nn.Sequential(net, head), torch.randn(8, 6, 6, 6),
                   torch.randint(0, 10, (8,)))
