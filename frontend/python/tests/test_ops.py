"""The nsl:: ops against independent float64 formulations and finite
differences (DESIGN.md §1)."""

import itertools

import torch
import torchvision

from nsl import ops
from tests import brute_force
from tests.common import F64, TestCase, randn

sim_conv2d = torch.ops.nsl.sim_conv2d
sphere_conv2d = torch.ops.nsl.sphere_conv2d
patch_norm = torch.ops.nsl.patch_norm
predicted_similarity = torch.ops.nsl.predicted_similarity
sim_linear = torch.ops.nsl.sim_linear

# (kernel, stride, padding, dilation) on a 2×3×6×5 input: "same" 3×3, and a
# non-square kernel with unequal stride, padding and dilation.
WINDOWS = [
    ((3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3), (2, 1), (1, 0), (1, 2)),
]
INPUT_SHAPE = (2, 3, 6, 5)
ALPHA = 0.1
FORWARD_TOLERANCE = 1e-12


def static_operands(structure, taps, diagonal_r=False):
    if structure == "identity":
        return []
    if structure == "shape_masked":
        d_r = randn(taps)
        d_r[0], d_r[1] = ALPHA + 0.5, ALPHA - 0.5  # both sides of α
        return [d_r, randn(taps) if diagonal_r else randn(taps, taps)]
    if structure == "diagonal":
        return [randn(taps)]
    return [randn(taps, taps)]


def dynamic_operands(structure, taps, batch, size, diagonal_r=False):
    channels = taps if structure == "diagonal" or diagonal_r else taps * taps
    r = randn(batch, channels, *size)
    if structure != "shape_masked":
        return [r]
    d_r = randn(taps)
    d_r[0], d_r[1] = ALPHA + 0.5, ALPHA - 0.5
    return [d_r, r]


def numpy(tensors):
    return [t.detach().numpy() for t in tensors]


class SimConv2dForwardTest(TestCase):
    def test_static_structures_match_loops(self):
        cases = [(s, False) for s in ops.STRUCTURES] + [("shape_masked", True)]
        for (structure, diagonal_r), window in itertools.product(cases, WINDOWS):
            kernel, stride, padding, dilation = window
            with self.subTest(structure=structure, diagonal_r=diagonal_r,
                              window=window):
                x = randn(*INPUT_SHAPE)
                w = randn(4, 3, *kernel)
                b = randn(4)
                sims = static_operands(structure, kernel[0] * kernel[1], diagonal_r)
                y = sim_conv2d(x, w, sims, b, structure, False, stride, padding,
                               dilation, ALPHA)
                expected = brute_force.sim_conv2d(
                    x.numpy(), w.numpy(), structure, numpy(sims), b.numpy(),
                    False, stride, padding, dilation, ALPHA)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_dynamic_structures_match_loops(self):
        cases = [("diagonal", False), ("full", False), ("shape_masked", False),
                 ("shape_masked", True)]
        for (structure, diagonal_r), window in itertools.product(cases, WINDOWS):
            kernel, stride, padding, dilation = window
            with self.subTest(structure=structure, diagonal_r=diagonal_r,
                              window=window):
                x = randn(*INPUT_SHAPE)
                w = randn(4, 3, *kernel)
                size = brute_force.output_size(INPUT_SHAPE[2:], kernel, stride,
                                               padding, dilation)
                sims = dynamic_operands(structure, kernel[0] * kernel[1],
                                        INPUT_SHAPE[0], size, diagonal_r)
                y = sim_conv2d(x, w, sims, None, structure, True, stride,
                               padding, dilation, ALPHA)
                expected = brute_force.sim_conv2d(
                    x.numpy(), w.numpy(), structure, numpy(sims), None, True,
                    stride, padding, dilation, ALPHA)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_dns_equals_deform_conv2d_with_zero_offsets(self):
        for kernel, stride, padding, dilation in WINDOWS:
            with self.subTest(kernel=kernel, stride=stride):
                x = randn(*INPUT_SHAPE)
                w = randn(4, 3, *kernel)
                b = randn(4)
                taps = kernel[0] * kernel[1]
                size = brute_force.output_size(INPUT_SHAPE[2:], kernel, stride,
                                               padding, dilation)
                m = randn(INPUT_SHAPE[0], taps, *size)
                y = sim_conv2d(x, w, [m], b, "diagonal", True, stride, padding,
                               dilation, 0.0)
                offset = torch.zeros(INPUT_SHAPE[0], 2 * taps, *size, dtype=F64)
                expected = torchvision.ops.deform_conv2d(
                    x, offset, w, b, stride=stride, padding=padding,
                    dilation=dilation, mask=m)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_float32_matches_float64(self):
        x = randn(*INPUT_SHAPE)
        w = randn(4, 3, 3, 3)
        m = randn(2, 81, 6, 5)
        args = ("full", True, [1, 1], [1, 1], [1, 1], 0.0)
        y32 = sim_conv2d(x.float(), w.float(), [m.float()], None, *args)
        self.assertEqual(y32.dtype, torch.float32)
        self.assertRelativeError(y32, sim_conv2d(x, w, [m], None, *args), 1e-6)

    def test_inference_mode_uses_the_same_math(self):
        x = randn(*INPUT_SHAPE)
        w = randn(4, 3, 3, 3)
        lower = randn(9, 9)
        args = ([lower], None, "cholesky", False, [1, 1], [1, 1], [1, 1], 0.0)
        expected = sim_conv2d(x, w, *args)
        with torch.inference_mode():
            y = sim_conv2d(x, w, *args)
        self.assertTrue(torch.equal(y, expected))


# (groups, in channels, out channels): two groups, depthwise, depthwise
# with a channel multiplier of 2.
GROUPED = [(2, 4, 6), (4, 4, 4), (4, 4, 8)]


class GroupedSimConv2dTest(TestCase):
    """groups: output channel o reads the C/G input channels of its group
    ⌊o·G/O⌋, every group sharing the layer's M."""

    def test_static_structures_match_loops(self):
        cases = [(s, False) for s in ops.STRUCTURES] + [("shape_masked", True)]
        for (structure, diagonal_r), window, (groups, channels, outputs) in (
                itertools.product(cases, WINDOWS, GROUPED)):
            kernel, stride, padding, dilation = window
            with self.subTest(structure=structure, diagonal_r=diagonal_r,
                              window=window, groups=groups, outputs=outputs):
                x = randn(2, channels, 6, 5)
                w = randn(outputs, channels // groups, *kernel)
                b = randn(outputs)
                sims = static_operands(structure, kernel[0] * kernel[1],
                                       diagonal_r)
                y = sim_conv2d(x, w, sims, b, structure, False, stride,
                               padding, dilation, ALPHA, groups)
                expected = brute_force.sim_conv2d(
                    x.numpy(), w.numpy(), structure, numpy(sims), b.numpy(),
                    False, stride, padding, dilation, ALPHA, groups)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_dynamic_structures_match_loops(self):
        cases = [("diagonal", False), ("full", False), ("shape_masked", False),
                 ("shape_masked", True)]
        for (structure, diagonal_r), window, (groups, channels, outputs) in (
                itertools.product(cases, WINDOWS, GROUPED)):
            kernel, stride, padding, dilation = window
            with self.subTest(structure=structure, diagonal_r=diagonal_r,
                              window=window, groups=groups, outputs=outputs):
                x = randn(2, channels, 6, 5)
                w = randn(outputs, channels // groups, *kernel)
                b = randn(outputs)
                size = brute_force.output_size((6, 5), kernel, stride,
                                               padding, dilation)
                sims = dynamic_operands(structure, kernel[0] * kernel[1], 2,
                                        size, diagonal_r)
                y = sim_conv2d(x, w, sims, b, structure, True, stride,
                               padding, dilation, ALPHA, groups)
                expected = brute_force.sim_conv2d(
                    x.numpy(), w.numpy(), structure, numpy(sims), b.numpy(),
                    True, stride, padding, dilation, ALPHA, groups)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_groups_are_separate_layers_sharing_m(self):
        """Y's channels of group g = the ungrouped op on X's channels of
        group g with W's rows of group g, the same M (static and dynamic)."""
        kernel, stride, padding, dilation = WINDOWS[1]
        taps = kernel[0] * kernel[1]
        size = brute_force.output_size((6, 5), kernel, stride, padding,
                                       dilation)
        cases = [("full", False, [randn(taps, taps)]),
                 ("cholesky", False, [randn(taps, taps)]),
                 ("full", True, [randn(2, taps * taps, *size)]),
                 ("diagonal", True, [randn(2, taps, *size)])]
        for (structure, dynamic, sims), (groups, channels, outputs) in (
                itertools.product(cases, GROUPED)):
            with self.subTest(structure=structure, dynamic=dynamic,
                              groups=groups, outputs=outputs):
                x = randn(2, channels, 6, 5)
                w = randn(outputs, channels // groups, *kernel)
                b = randn(outputs)
                args = (structure, dynamic, stride, padding, dilation, 0.0)
                y = sim_conv2d(x, w, sims, b, *args, groups)
                xs = x.chunk(groups, 1)
                ws = w.chunk(groups, 0)
                bs = b.chunk(groups, 0)
                expected = torch.cat([sim_conv2d(xg, wg, sims, bg, *args)
                                      for xg, wg, bg in zip(xs, ws, bs)], 1)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_identity_and_dns_match_torch(self):
        """identity = F.conv2d(groups=G); DNS = deform_conv2d with zero
        offsets, mask m and a grouped weight."""
        for (kernel, stride, padding, dilation), (groups, channels, outputs) in (
                itertools.product(WINDOWS, GROUPED)):
            with self.subTest(kernel=kernel, groups=groups, outputs=outputs):
                x = randn(2, channels, 6, 5)
                w = randn(outputs, channels // groups, *kernel)
                b = randn(outputs)
                y = sim_conv2d(x, w, [], b, "identity", False, stride, padding,
                               dilation, 0.0, groups)
                expected = torch.nn.functional.conv2d(
                    x, w, b, stride, padding, dilation, groups)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)
                taps = kernel[0] * kernel[1]
                size = brute_force.output_size((6, 5), kernel, stride,
                                               padding, dilation)
                m = randn(2, taps, *size)
                y = sim_conv2d(x, w, [m], b, "diagonal", True, stride, padding,
                               dilation, 0.0, groups)
                offset = torch.zeros(2, 2 * taps, *size, dtype=F64)
                expected = torchvision.ops.deform_conv2d(
                    x, offset, w, b, stride=stride, padding=padding,
                    dilation=dilation, mask=m)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_float32_and_inference_mode(self):
        x = randn(2, 4, 6, 5)
        w = randn(8, 1, 3, 3)
        m = randn(2, 81, 6, 5)
        args = ("full", True, [1, 1], [1, 1], [1, 1], 0.0, 4)
        y32 = sim_conv2d(x.float(), w.float(), [m.float()], None, *args)
        self.assertEqual(y32.dtype, torch.float32)
        expected = sim_conv2d(x, w, [m], None, *args)
        self.assertRelativeError(y32, expected, 1e-6)
        with torch.inference_mode():
            self.assertTrue(torch.equal(
                sim_conv2d(x, w, [m], None, *args), expected))

    def test_groups_one_is_the_default(self):
        x = randn(2, 3, 6, 5)
        w = randn(4, 3, 3, 3)
        for dynamic, sims in ((False, [randn(9, 9)]),
                              (True, [randn(2, 81, 4, 3)])):
            with self.subTest(dynamic=dynamic):
                args = (x, w, sims, None, "full", dynamic, [1, 1], [0, 0],
                        [1, 1], 0.0)
                self.assertTrue(torch.equal(sim_conv2d(*args),
                                            sim_conv2d(*args, 1)))
                self.assertTrue(torch.equal(sim_conv2d(*args),
                                            sim_conv2d(*args, groups=1)))


class SphereConv2dForwardTest(TestCase):
    def test_variants_match_loops(self):
        cases = [(v, False) for v in ops.SPHERE_VARIANTS] + [("cosine", True)]
        for (variant, input_only), window in itertools.product(cases, WINDOWS):
            kernel, stride, padding, dilation = window
            with self.subTest(variant=variant, input_only=input_only,
                              window=window):
                x = randn(*INPUT_SHAPE)
                w = randn(4, 3, *kernel)
                k = randn(4) if variant == "learned_sigmoid" else None
                y = sphere_conv2d(x, w, k, variant, input_only, 1e-4, 0.3,
                                  stride, padding, dilation)
                expected = brute_force.sphere_conv2d(
                    x.numpy(), w.numpy(), variant,
                    None if k is None else k.numpy(), input_only, 1e-4, 0.3,
                    stride, padding, dilation)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_outputs_are_bounded_and_scale_invariant(self):
        x = randn(*INPUT_SHAPE)
        w = randn(4, 3, 3, 3)
        for variant in ("cosine", "linear", "sigmoid"):
            with self.subTest(variant=variant):
                args = (None, variant, False, 1e-4, 0.3, [1, 1], [1, 1], [1, 1])
                y = sphere_conv2d(x, w, *args)
                self.assertLessEqual(y.abs().max().item(), 1.0)
                # Without ε, scaling W leaves cos θ unchanged.
                unscaled = sphere_conv2d(x, w, None, variant, False, 0.0, 0.3,
                                         [1, 1], [1, 1], [1, 1])
                scaled = sphere_conv2d(x, 10 * w, None, variant, False, 0.0,
                                       0.3, [1, 1], [1, 1], [1, 1])
                self.assertRelativeError(scaled, unscaled, 1e-12)

    def test_patch_norm_matches_loops(self):
        for kernel, stride, padding, dilation in WINDOWS:
            with self.subTest(kernel=kernel):
                x = randn(*INPUT_SHAPE)
                y = patch_norm(x, kernel, 1e-3, stride, padding, dilation)
                expected = brute_force.patch_norm(x.numpy(), kernel, 1e-3,
                                                  stride, padding, dilation)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)


class PredictedSimilarityAndLinearTest(TestCase):
    def test_predicted_similarity_matches_loops(self):
        for structure, gamma_shape in itertools.product(("diagonal", "full"),
                                                        ((), (1,))):
            with self.subTest(structure=structure, gamma_shape=gamma_shape):
                p = randn(2, 9 if structure == "diagonal" else 16, 3, 4)
                gamma = randn(*gamma_shape)
                y = predicted_similarity(p, gamma, structure)
                expected = brute_force.predicted_similarity(
                    p.numpy(), gamma.item(), structure)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)

    def test_sim_linear_matches_loops(self):
        cases = [(s, False) for s in ops.STRUCTURES] + [("shape_masked", True)]
        for structure, diagonal_r in cases:
            with self.subTest(structure=structure, diagonal_r=diagonal_r):
                x = randn(3, 12)
                w = randn(5, 12)
                b = randn(5)
                sims = static_operands(structure, 4, diagonal_r)
                y = sim_linear(x, w, sims, b, structure, 4, ALPHA)
                expected = brute_force.sim_linear(
                    x.numpy(), w.numpy(), structure, numpy(sims), 4, b.numpy(),
                    ALPHA)
                self.assertRelativeError(y, expected, FORWARD_TOLERANCE)


class GradcheckTest(TestCase):
    """torch.autograd.gradcheck (float64 finite differences) for every op."""

    def gradcheck(self, function, inputs):
        self.assertTrue(torch.autograd.gradcheck(function, inputs, eps=1e-6,
                                                 atol=1e-7, rtol=1e-5))

    def test_sim_conv2d_static(self):
        for structure, diagonal_r in [(s, False) for s in ops.STRUCTURES] + [
                ("shape_masked", True)]:
            with self.subTest(structure=structure, diagonal_r=diagonal_r):
                x = randn(1, 2, 4, 3, requires_grad=True)
                w = randn(3, 2, 2, 2, requires_grad=True)
                b = randn(3, requires_grad=True)
                sims = static_operands(structure, 4, diagonal_r)
                # D is a step function of d_r: its straight-through gradient
                # is tested explicitly (StraightThroughTest), not here.
                for s in sims[-1:]:
                    s.requires_grad_(True)

                def function(x, w, b, *sims, structure=structure):
                    return sim_conv2d(x, w, list(sims), b, structure, False,
                                      [2, 1], [1, 1], [1, 1], ALPHA)

                self.gradcheck(function, (x, w, b, *sims))

    def test_sim_conv2d_dynamic(self):
        for structure, diagonal_r in [("diagonal", False), ("full", False),
                                      ("shape_masked", False),
                                      ("shape_masked", True)]:
            with self.subTest(structure=structure, diagonal_r=diagonal_r):
                x = randn(2, 2, 3, 3, requires_grad=True)
                w = randn(3, 2, 2, 2, requires_grad=True)
                b = randn(3, requires_grad=True)
                sims = dynamic_operands(structure, 4, 2, (4, 2), diagonal_r)
                sims[-1].requires_grad_(True)

                def function(x, w, b, *sims, structure=structure):
                    return sim_conv2d(x, w, list(sims), b, structure, True,
                                      [1, 2], [1, 1], [1, 2], ALPHA)

                self.gradcheck(function, (x, w, b, *sims))

    def test_sim_conv2d_grouped(self):
        """Static structures and dynamic ones with two groups and depthwise
        (with a channel multiplier)."""
        cases = [(s, False, False) for s in ops.STRUCTURES] + [
            ("shape_masked", True, False), ("diagonal", False, True),
            ("full", False, True), ("shape_masked", False, True),
            ("shape_masked", True, True)]
        for (structure, diagonal_r, dynamic), (groups, outputs) in (
                itertools.product(cases, [(2, 4), (4, 8)])):
            with self.subTest(structure=structure, diagonal_r=diagonal_r,
                              dynamic=dynamic, groups=groups):
                x = randn(2, 4, 3, 3, requires_grad=True)
                w = randn(outputs, 4 // groups, 2, 2, requires_grad=True)
                b = randn(outputs, requires_grad=True)
                if dynamic:
                    sims = dynamic_operands(structure, 4, 2, (4, 2),
                                            diagonal_r)
                else:
                    sims = static_operands(structure, 4, diagonal_r)
                # d_r's straight-through gradient: StraightThroughTest.
                for s in sims[-1:]:
                    s.requires_grad_(True)

                def function(x, w, b, *sims, structure=structure,
                             dynamic=dynamic, groups=groups):
                    return sim_conv2d(x, w, list(sims), b, structure, dynamic,
                                      [1, 2], [1, 1], [1, 2], ALPHA, groups)

                self.gradcheck(function, (x, w, b, *sims))

    def test_sphere_conv2d(self):
        for variant, input_only in [(v, False) for v in ops.SPHERE_VARIANTS] + [
                ("cosine", True)]:
            with self.subTest(variant=variant, input_only=input_only):
                x = randn(1, 2, 4, 4, requires_grad=True)
                w = randn(3, 2, 2, 3, requires_grad=True)
                inputs = [x, w]
                if variant == "learned_sigmoid":
                    # |k'| away from its kink at 0.
                    k = (0.2 + torch.rand(3, dtype=F64)) * torch.tensor(
                        [1.0, -1.0, 1.0], dtype=F64)
                    inputs.append(k.requires_grad_(True))

                def function(x, w, k=None, variant=variant,
                             input_only=input_only):
                    return sphere_conv2d(x, w, k, variant, input_only, 1e-4, 0.3,
                                         [1, 2], [1, 1], [1, 1])

                self.gradcheck(function, tuple(inputs))

    def test_patch_norm(self):
        x = randn(2, 2, 4, 3, requires_grad=True)
        self.gradcheck(
            lambda x: patch_norm(x, [2, 3], 1e-4, [1, 2], [1, 1], [2, 1]), (x,))

    def test_predicted_similarity(self):
        for structure, channels in (("diagonal", 4), ("full", 16)):
            with self.subTest(structure=structure):
                p = randn(2, channels, 2, 3, requires_grad=True)
                gamma = randn(1, requires_grad=True)
                self.gradcheck(
                    lambda p, g, s=structure: predicted_similarity(p, g, s),
                    (p, gamma))

    def test_sim_linear(self):
        for structure in ops.STRUCTURES:
            with self.subTest(structure=structure):
                x = randn(3, 6, requires_grad=True)
                w = randn(2, 6, requires_grad=True)
                b = randn(2, requires_grad=True)
                sims = static_operands(structure, 3)
                for s in sims[-1:]:
                    s.requires_grad_(True)

                def function(x, w, b, *sims, structure=structure):
                    return sim_linear(x, w, list(sims), b, structure, 3, ALPHA)

                self.gradcheck(function, (x, w, b, *sims))

    def test_double_backward(self):
        x = randn(1, 2, 3, 3, requires_grad=True)
        w = randn(2, 2, 2, 2, requires_grad=True)
        m = randn(1, 4, 2, 2, requires_grad=True)
        self.assertTrue(torch.autograd.gradgradcheck(
            lambda x, w, m: sim_conv2d(x, w, [m], None, "diagonal", True,
                                       [1, 1], [0, 0], [1, 1], 0.0),
            (x, w, m)))

    def test_double_backward_grouped(self):
        x = randn(1, 4, 3, 3, requires_grad=True)
        w = randn(4, 2, 2, 2, requires_grad=True)
        m = randn(1, 16, 2, 2, requires_grad=True)
        self.assertTrue(torch.autograd.gradgradcheck(
            lambda x, w, m: sim_conv2d(x, w, [m], None, "full", True,
                                       [1, 1], [0, 0], [1, 1], 0.0, 2),
            (x, w, m)))


class StraightThroughTest(TestCase):
    """Cholesky's and shape_masked's gradients, in terms of G = ∂M."""

    def loss_and_upstream(self, dynamic):
        x = randn(2, 2, 4, 4)
        w = randn(3, 2, 2, 2)
        upstream = randn(2, 3, 3, 3)

        def loss(structure, sims):
            y = sim_conv2d(x, w, sims, None, structure, dynamic, [1, 1], [0, 0],
                           [1, 1], ALPHA)
            return (y * upstream).sum()

        return loss

    def test_cholesky(self):
        loss = self.loss_and_upstream(dynamic=False)
        lower = randn(4, 4, requires_grad=True)
        m = torch.tril(lower) @ torch.tril(lower).t()
        m = m.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss("full", [m]), [m])
        (grad_l,) = torch.autograd.grad(loss("cholesky", [lower]), [lower])
        self.assertRelativeError(
            grad_l, torch.tril((g + g.t()) @ torch.tril(lower)), 1e-12)

    def test_shape_masked_static(self):
        loss = self.loss_and_upstream(dynamic=False)
        for diagonal_r in (False, True):
            with self.subTest(diagonal_r=diagonal_r):
                d_r, r = static_operands("shape_masked", 4, diagonal_r)
                d_r.requires_grad_(True)
                r.requires_grad_(True)
                mask = (d_r > ALPHA).to(F64).detach()
                full_r = torch.diag(r) if diagonal_r else r
                m = (mask[:, None] * full_r).detach().requires_grad_(True)
                (g,) = torch.autograd.grad(loss("full", [m]), [m])
                value = loss("shape_masked", [d_r, r])
                self.assertAlmostEqual(value.item(), loss("full", [m]).item(),
                                       places=12)
                grad_d, grad_r = torch.autograd.grad(value, [d_r, r])
                expected_r = mask[:, None] * g
                if diagonal_r:
                    expected_r = torch.diagonal(expected_r)
                self.assertRelativeError(grad_r, expected_r, 1e-12)
                # ∂d_r[t] = Σ_s G[t,s]·R[t,s], for d_r on both sides of α.
                self.assertRelativeError(grad_d, (g * full_r).sum(1), 1e-12)

    def test_shape_masked_dynamic(self):
        loss = self.loss_and_upstream(dynamic=True)
        taps = 4
        d_r, r = dynamic_operands("shape_masked", taps, 2, (3, 3))
        d_r.requires_grad_(True)
        r.requires_grad_(True)
        mask = (d_r > ALPHA).to(F64).detach()
        rows = mask.repeat_interleave(taps).reshape(1, taps * taps, 1, 1)
        m = (rows * r).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss("full", [m]), [m])
        grad_d, grad_r = torch.autograd.grad(loss("shape_masked", [d_r, r]),
                                             [d_r, r])
        self.assertRelativeError(grad_r, rows * g, 1e-12)
        expected_d = (g * r).reshape(2, taps, taps, 3, 3).sum((0, 2, 3, 4))
        self.assertRelativeError(grad_d, expected_d, 1e-12)


class OpErrorTest(TestCase):
    def test_unknown_structure_names_the_allowed_ones(self):
        x = randn(1, 2, 4, 4)
        w = randn(3, 2, 3, 3)
        with self.assertRaisesRegex(ValueError, "identity, diagonal, full, "
                                    "cholesky, shape_masked"):
            sim_conv2d(x, w, [], None, "lower", False, [1], [0], [1], 0.0)
        with self.assertRaisesRegex(ValueError, "dynamic structure 'cholesky'"):
            sim_conv2d(x, w, [randn(9, 9)], None, "cholesky", True, [1], [0],
                       [1], 0.0)
        with self.assertRaisesRegex(ValueError, "cosine, linear, sigmoid, "
                                    "learned_sigmoid"):
            sphere_conv2d(x, w, None, "tanh", False, 1e-4, 0.3, [1], [0], [1])

    def test_operand_shapes_are_checked(self):
        x = randn(1, 2, 4, 4)
        w = randn(3, 2, 3, 3)
        with self.assertRaisesRegex(ValueError, r"dynamic m must have shape "
                                    r"\[1, 9, 2, 2\]"):
            sim_conv2d(x, w, [randn(1, 9, 4, 4)], None, "diagonal", True, [1],
                       [0], [1], 0.0)
        with self.assertRaisesRegex(ValueError, r"takes the similarity "
                                    r"operands \[d_r, R\]"):
            sim_conv2d(x, w, [randn(9)], None, "shape_masked", False, [1], [0],
                       [1], 0.0)
        with self.assertRaisesRegex(ValueError, "k_param"):
            sphere_conv2d(x, w, None, "learned_sigmoid", False, 1e-4, 0.3, [1],
                          [0], [1])
        with self.assertRaisesRegex(ValueError, "input_only"):
            sphere_conv2d(x, w, None, "linear", True, 1e-4, 0.3, [1], [0], [1])
        with self.assertRaisesRegex(ValueError, "K\\*K channels"):
            predicted_similarity(randn(1, 8, 2, 2), randn(1), "full")
        with self.assertRaisesRegex(ValueError, "group_size 5"):
            sim_linear(randn(2, 8), randn(3, 8), [], None, "identity", 5, 0.0)

    def test_groups_are_checked(self):
        x = randn(1, 6, 4, 4)
        cases = [
            (randn(4, 3, 3, 3), 4, None,
             r"groups 4 must divide the 6 input channels and the 4 output "
             r"channels"),
            (randn(3, 3, 3, 3), 2, None,
             r"groups 2 must divide the 6 input channels and the 3 output "
             r"channels"),
            (randn(4, 2, 3, 3), 2, None,
             r"weight \[O, C/groups, kh, kw\] \[4, 2, 3, 3\] does not match "
             r"the input \[N, C, H, W\] \[1, 6, 4, 4\] with groups 2: "
             r"expected 3 channels per group"),
            (randn(4, 3, 3, 3), 1, None,
             r"weight \[O, C, kh, kw\] \[4, 3, 3, 3\] does not match the "
             r"input"),
            (randn(4, 3, 3, 3), 0, None, "groups must be a positive int"),
            (randn(6, 1, 3, 3), 6, randn(4),
             r"bias must have shape \[6\] \(one per output channel\)"),
        ]
        for w, groups, b, message in cases:
            for dynamic, sims in ((False, [randn(9)]),
                                  (True, [randn(1, 9, 2, 2)])):
                with self.subTest(weight=list(w.shape), groups=groups,
                                  dynamic=dynamic):
                    with self.assertRaisesRegex(ValueError, message):
                        sim_conv2d(x, w, sims, b, "diagonal", dynamic, [1],
                                   [0], [1], 0.0, groups)
