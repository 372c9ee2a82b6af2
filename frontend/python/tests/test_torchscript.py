"""Scripting, tracing and saving models: one nsl:: node per NSL op, the
same outputs as eager, and a .pt that loads back."""

import collections
import os
import tempfile

import torch

import nsl
from tests import models
from tests.common import TestCase

# Ops an NSL op would decompose into if it were not kept as one node.
DECOMPOSED = {"aten::conv2d", "aten::_convolution", "aten::im2col",
              "aten::einsum", "aten::matmul", "aten::acos", "aten::linear"}


def node_counts(module):
    """Kinds of the nodes of the module's forward, calls inlined."""
    return collections.Counter(
        node.kind() for node in module.inlined_graph.nodes())


def nsl_counts(module):
    return {kind: count for kind, count in node_counts(module).items()
            if kind.startswith("nsl::")}


def dynamic_counts(layers, predictor_depth=2):
    """Nodes of `layers` dynamic layers with their own predictors."""
    return {"nsl::sphere_conv2d": layers * predictor_depth,
            "nsl::predicted_similarity": layers, "nsl::sim_conv2d": layers}


class TorchScriptTest(TestCase):
    def check(self, model, x, expected_nsl, allowed_aten=()):
        """Script and trace model (in eval mode): the nsl:: node counts, no
        decomposed NSL op, the eager outputs, and a save/load round trip."""
        model = models.randomize_batch_norm(model).eval()
        with torch.no_grad():
            expected = model(x)
        for mode in ("script", "trace"):
            with self.subTest(mode=mode):
                if mode == "script":
                    compiled = torch.jit.script(model)
                else:
                    compiled = torch.jit.trace(model, x)
                counts = node_counts(compiled)
                self.assertEqual(nsl_counts(compiled), expected_nsl)
                self.assertFalse(
                    (set(counts) & DECOMPOSED) - set(allowed_aten),
                    f"decomposed NSL op in {sorted(counts)}")
                with torch.no_grad():
                    self.assertRelativeError(compiled(x), expected, 1e-6)
                with tempfile.TemporaryDirectory() as directory:
                    path = os.path.join(directory, "model.pt")
                    torch.jit.save(compiled, path)
                    loaded = torch.jit.load(path)
                self.assertEqual(nsl_counts(loaded), expected_nsl)
                with torch.no_grad():
                    self.assertRelativeError(loaded(x), expected, 1e-6)

    def test_plain_cnn_has_no_nsl_ops(self):
        model = models.PlainCNN()
        self.check(model, torch.randn(2, 3, 8, 8), {},
                   allowed_aten=("aten::conv2d", "aten::_convolution",
                                 "aten::linear"))

    def test_static_nsn_of_each_structure(self):
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                model = nsl.to_static_nsn(models.PlainCNN(), structure)
                with torch.no_grad():
                    for p in model.parameters():  # M away from I
                        p.add_(0.1 * torch.randn_like(p))
                self.check(model, torch.randn(2, 3, 8, 8),
                           {"nsl::sim_conv2d": 2}, ("aten::linear",))

    def test_dns_and_uns_nsn(self):
        for structure in ("diagonal", "full", "shape_masked"):
            with self.subTest(structure=structure):
                model = nsl.to_dynamic_nsn(models.PlainCNN(), structure,
                                           gamma_init=0.5)
                self.check(model, torch.randn(2, 3, 8, 8), dynamic_counts(2),
                           ("aten::linear",))

    def test_shared_predictor_nsn(self):
        model = models.SharedPredictorNet()
        # Two layers: each an adaptation conv, the shared one-layer
        # predictor, γ·P + I and the DNS conv.
        self.check(model, torch.randn(2, 6, 7, 7),
                   {"nsl::sphere_conv2d": 4, "nsl::predicted_similarity": 2,
                    "nsl::sim_conv2d": 2})

    def test_residual_block(self):
        static = nsl.to_static_nsn(models.ResidualBlock(), "cholesky")
        self.check(static, torch.randn(2, 4, 9, 9), {"nsl::sim_conv2d": 3})
        dynamic = nsl.to_dynamic_nsn(models.ResidualBlock(), "full",
                                     gamma_init=0.5, predictor_depth=3)
        self.check(dynamic, torch.randn(2, 4, 9, 9),
                   dynamic_counts(3, predictor_depth=3))
        counts = node_counts(torch.jit.script(static))
        self.assertEqual(counts["aten::add"], 1)

    def test_grouped_and_depthwise_nsn(self):
        """GroupedCNN: 3 plain, 1 grouped and 2 depthwise convs."""
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                model = nsl.to_static_nsn(models.GroupedCNN(), structure)
                with torch.no_grad():
                    for p in model.parameters():  # M away from I
                        p.add_(0.1 * torch.randn_like(p))
                self.check(model, torch.randn(2, 3, 8, 8),
                           {"nsl::sim_conv2d": 6}, ("aten::linear",))
        for structure in ("diagonal", "full", "shape_masked"):
            with self.subTest(structure=structure, dynamic=True):
                model = nsl.to_dynamic_nsn(models.GroupedCNN(), structure,
                                           gamma_init=0.5)
                self.check(model, torch.randn(2, 3, 8, 8), dynamic_counts(6),
                           ("aten::linear",))

    def test_sim_linear_head(self):
        for structure in nsl.ops.STRUCTURES:
            with self.subTest(structure=structure):
                self.check(models.SimLinearHead(structure),
                           torch.randn(3, 3, 6, 6),
                           {"nsl::sim_conv2d": 1, "nsl::sim_linear": 1})

    def test_scripted_model_trains_like_eager(self):
        model = models.SharedPredictorNet()
        scripted = torch.jit.script(model)
        x = torch.randn(2, 6, 5, 5)
        upstream = torch.randn(2, 12, 5, 5)
        eager_grads = torch.autograd.grad((model(x) * upstream).sum(),
                                          list(model.parameters()))
        scripted_grads = torch.autograd.grad((scripted(x) * upstream).sum(),
                                             list(scripted.parameters()))
        self.assertEqual(len(eager_grads), len(scripted_grads))
        for eager, script in zip(eager_grads, scripted_grads):
            self.assertRelativeError(script, eager, 1e-6)

    def test_nsl_node_attributes_are_constants(self):
        """The importer reads structure, stride, ... from constants (an
        int[] is a prim::ListConstruct of constants)."""

        def constant(value):
            node = value.node()
            if node.kind() == "prim::ListConstruct":
                return [constant(v) for v in node.inputs()]
            self.assertEqual(node.kind(), "prim::Constant")
            return value.toIValue()

        model = nsl.SimConv2d(3, 4, (3, 2), stride=2, padding=(1, 0),
                              structure="shape_masked", alpha=0.25)
        graph = torch.jit.script(model).inlined_graph
        (node,) = [n for n in graph.nodes() if n.kind() == "nsl::sim_conv2d"]
        inputs = list(node.inputs())
        self.assertEqual([constant(v) for v in inputs[4:]],
                         ["shape_masked", False, [2, 2], [1, 0], [1, 1], 0.25,
                          1])
        x = torch.randn(1, 6, 5, 5)
        for mode in ("script", "trace"):
            for dynamic in (False, True):
                with self.subTest(mode=mode, dynamic=dynamic):
                    layer = (nsl.DynamicSimConv2d if dynamic else nsl.SimConv2d)(
                        6, 12, 3, padding=1, groups=6, structure="full")
                    compiled = (torch.jit.script(layer) if mode == "script"
                                else torch.jit.trace(layer, x))
                    (node,) = [n for n in compiled.inlined_graph.nodes()
                               if n.kind() == "nsl::sim_conv2d"]
                    inputs = list(node.inputs())
                    self.assertEqual(
                        [constant(v) for v in inputs[4:]],
                        ["full", dynamic, [1, 1], [1, 1], [1, 1], 0.0, 6])

    def test_a_call_without_groups_loads_as_groups_one(self):
        """Models saved before sim_conv2d had groups call it without the
        argument: they load, with groups = 1."""

        class OldCall(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.randn(4, 3, 3, 3))
                self.m = torch.nn.Parameter(torch.randn(9))

            def forward(self, x):
                return torch.ops.nsl.sim_conv2d(
                    x, self.weight, [self.m], None, "diagonal", False, [1, 1],
                    [1, 1], [1, 1], 0.0)

        model = OldCall()
        x = torch.randn(2, 3, 5, 5)
        expected = model(x)
        for mode in ("script", "trace"):
            with self.subTest(mode=mode):
                compiled = (torch.jit.script(model) if mode == "script"
                            else torch.jit.trace(model, x))
                with tempfile.TemporaryDirectory() as directory:
                    path = os.path.join(directory, "model.pt")
                    torch.jit.save(compiled, path)
                    loaded = torch.jit.load(path)
                (node,) = [n for n in loaded.inlined_graph.nodes()
                           if n.kind() == "nsl::sim_conv2d"]
                groups = list(node.inputs())[-1]
                self.assertEqual(groups.node().kind(), "prim::Constant")
                self.assertEqual(groups.toIValue(), 1)
                self.assertTrue(torch.equal(loaded(x), expected))
