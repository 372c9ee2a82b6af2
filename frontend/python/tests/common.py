"""Helpers shared by the tests: seeded random tensors and error measures."""

import unittest

import torch

import nsl  # noqa: F401  (registers the nsl:: ops)

# The shapes are tiny: one thread is fastest, and with two, OpenMP's
# spin-waiting makes the suite several times slower when ctest runs other
# tests beside it on a 2-core machine.
torch.set_num_threads(1)

F64 = torch.float64


class TestCase(unittest.TestCase):
    """Seeds every test and compares tensors by DESIGN.md's relative error."""

    seed = 0

    def setUp(self):
        torch.manual_seed(self.seed)

    def assertRelativeError(self, actual, expected, tolerance):
        """‖actual − expected‖₂ / ‖expected‖₂ ≤ tolerance."""
        actual = torch.as_tensor(actual).detach().to(F64)
        expected = torch.as_tensor(expected).detach().to(F64)
        self.assertEqual(tuple(actual.shape), tuple(expected.shape))
        error = (actual - expected).norm() / expected.norm()
        self.assertLessEqual(
            error.item(), tolerance,
            f"relative error {error.item():.3e} > {tolerance:.1e} (max "
            f"absolute error {(actual - expected).abs().max().item():.3e})")


def randn(*shape, dtype=F64, requires_grad=False):
    return torch.randn(shape, dtype=dtype).requires_grad_(requires_grad)
