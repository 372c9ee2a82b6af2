"""The schema file and the ops registered from it."""

import tempfile

import torch

from nsl import ops
from tests.common import TestCase

# Operand and attribute names of each op, in schema order (docs/NSLDialect.md).
EXPECTED_ARGUMENTS = {
    "sim_conv2d": ["input", "weight", "similarity", "bias", "structure",
                   "dynamic", "stride", "padding", "dilation", "alpha",
                   "groups"],
    "sphere_conv2d": ["input", "weight", "k_param", "variant", "input_only",
                      "epsilon", "sigmoid_k", "stride", "padding", "dilation"],
    "patch_norm": ["input", "kernel_size", "epsilon", "stride", "padding",
                   "dilation"],
    "predicted_similarity": ["prediction", "gamma", "structure"],
    "sim_linear": ["input", "weight", "similarity", "bias", "structure",
                   "group_size", "alpha"],
}


class SchemaTest(TestCase):
    def test_every_schema_is_registered_as_written(self):
        schemas = ops.read_schemas()
        self.assertEqual(sorted(ops.op_name(s) for s in schemas),
                         sorted(EXPECTED_ARGUMENTS))
        for schema in schemas:
            name = ops.op_name(schema)
            with self.subTest(op=name):
                (registered,) = torch._C._jit_get_schemas_for_operator(
                    f"nsl::{name}")
                self.assertEqual(str(registered), schema)
                self.assertEqual([a.name for a in registered.arguments],
                                 EXPECTED_ARGUMENTS[name])
                self.assertEqual([str(r.type) for r in registered.returns],
                                 ["Tensor"])

    def test_groups_defaults_to_one(self):
        """sim_conv2d's groups came after models were saved: its default
        keeps the call without it (and so those models) valid."""
        (schema,) = torch._C._jit_get_schemas_for_operator("nsl::sim_conv2d")
        groups = schema.arguments[-1]
        self.assertEqual((groups.name, str(groups.type), groups.default_value),
                         ("groups", "int", 1))
        self.assertTrue(all(a.default_value is None
                            for a in schema.arguments[:-1]))

    def test_comments_and_errors(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("# a comment\n\nnsl::a(Tensor x) -> Tensor  # trailing\n"
                    "nsl::b(Tensor x) -> Tensor\n")
            f.flush()
            self.assertEqual(ops.read_schemas(f.name),
                             ["nsl::a(Tensor x) -> Tensor",
                              "nsl::b(Tensor x) -> Tensor"])
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("sim_conv2d(Tensor x) -> Tensor\n")
            f.flush()
            with self.assertRaisesRegex(RuntimeError, ":1: expected a schema"):
                ops.read_schemas(f.name)
        with self.assertRaisesRegex(RuntimeError, "cannot read the op schema"):
            ops.read_schemas("/nonexistent/nsl_ops.txt")
