#!/usr/bin/env python3
"""Generates the end-to-end op tests test/e2e/*.mlir.

Each case is a one-op (or few-op) model compiled by nslc and checked by
`nsl-run check` against the reference interpreter on fresh random inputs,
with relative error ≤ 1e-5. Shapes cover odd sizes, stride 2, padding
0/1/2, dilation 2, batch 1 and channel counts that are not multiples of the
vector width. Run it after changing the cases: python3 generate.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def ty(shape, element="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def out_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(size, kernel, stride, padding, dilation=1, ceil=False):
    """PyTorch's pooling output size (ceil_mode: rounded up, less a last
    window that would start in the right padding)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def pool_attrs(op, kernel, stride, padding, dilation, ceil, include_pad):
    parts = [f"kernel_size = array<i64: {kernel[0]}, {kernel[1]}>"]
    parts += window_attrs(stride, padding, dilation if op == "max_pool2d" else (1, 1))
    if not include_pad:
        parts.append("count_include_pad = false")
    if ceil:
        parts.append("ceil_mode = true")
    return parts


def pool_case(name, op, shape, kernel, stride=(1, 1), padding=(0, 0),
              dilation=(1, 1), ceil=True, include_pad=True, vjp=False):
    """nsl.max_pool2d or nsl.avg_pool2d (ceil_mode by default), or its VJP."""
    n, c, h, w = shape
    out = [n, c] + [pool_out([h, w][i], kernel[i], stride[i], padding[i],
                             dilation[i], ceil) for i in range(2)]
    parts = pool_attrs(op, kernel, stride, padding, dilation, ceil, include_pad)
    return unary_case(name, op, shape, out, parts, vjp)


def adaptive_case(name, op, shape, size, vjp=False):
    """nsl.adaptive_avg_pool2d or nsl.adaptive_max_pool2d, or its VJP."""
    out = shape[:2] + list(size)
    parts = [f"output_size = array<i64: {size[0]}, {size[1]}>"]
    return unary_case(name, op, shape, out, parts, vjp)


def unary_case(name, op, shape, out, parts, vjp):
    """One op of one input %x (attributes `parts`, result shape `out`), or
    its VJP."""
    if vjp:
        return vjp_case(name, [("x", shape, "input", "f32")], op + "_vjp", "%x",
                        out, [0], parts, ty(shape))
    return simple(name, [("x", shape, "input")],
                  [f"%y = nsl.{op} %x{attr_dict(parts)} : {ty(shape)} -> {ty(out)}"],
                  [("%y", out, "f32")])


def pool_cases(vjp):
    """Ceil mode's partial last windows (in the padding too, dilated, a
    kernel taller than the input, one window dropped) and adaptive pools to
    sizes that do not divide the input, larger than it, and dividing it."""
    suffix = "_vjp" if vjp else ""
    return [
        pool_case("max_pool_ceil" + suffix, "max_pool2d", [2, 3, 8, 9], (3, 3), (2, 2), vjp=vjp),
        pool_case("max_pool_ceil_dilated" + suffix, "max_pool2d", [1, 4, 8, 9], (3, 2), (2, 3), (1, 1), (2, 1), vjp=vjp),
        pool_case("max_pool_ceil_dropped" + suffix, "max_pool2d", [2, 3, 7, 5], (2, 2), (2, 2), (1, 1), vjp=vjp),
        pool_case("avg_pool_ceil_include_pad" + suffix, "avg_pool2d", [1, 5, 6, 7], (3, 3), (2, 2), (1, 1), vjp=vjp),
        pool_case("avg_pool_ceil_exclude_pad" + suffix, "avg_pool2d", [2, 3, 6, 5], (3, 3), (2, 2), (1, 1), include_pad=False, vjp=vjp),
        pool_case("avg_pool_ceil_tall_kernel" + suffix, "avg_pool2d", [1, 3, 2, 5], (3, 3), (2, 2), vjp=vjp),
        adaptive_case("adaptive_avg_uneven" + suffix, "adaptive_avg_pool2d", [2, 3, 7, 5], (3, 2), vjp=vjp),
        adaptive_case("adaptive_avg_larger" + suffix, "adaptive_avg_pool2d", [1, 5, 2, 1], (7, 7), vjp=vjp),
        adaptive_case("adaptive_avg_dividing" + suffix, "adaptive_avg_pool2d", [2, 3, 8, 6], (4, 3), vjp=vjp),
        adaptive_case("adaptive_max_uneven" + suffix, "adaptive_max_pool2d", [1, 4, 13, 10], (4, 5), vjp=vjp),
        adaptive_case("adaptive_max_larger" + suffix, "adaptive_max_pool2d", [2, 5, 2, 3], (7, 4), vjp=vjp),
        adaptive_case("adaptive_max_mixed" + suffix, "adaptive_max_pool2d", [1, 3, 3, 9], (5, 2), vjp=vjp),
    ]


class Case:
    def __init__(self, name):
        self.name = name
        self.args = []  # (ssa, shape, role, element)
        self.body = []
        self.results = []  # (ssa, shape, element)
        self.tolerance = "1e-5"
        self.atol = None  # nsl-run check --atol, where rounding dominates

    def arg(self, ssa, shape, role="parameter", element="f32"):
        self.args.append((ssa, shape, role, element))
        return "%" + ssa

    def text(self):
        args = ",\n    ".join(
            f'%{ssa}: {ty(shape, el)} {{nsl.name = "{ssa}", nsl.role = "{role}"}}'
            for ssa, shape, role, el in self.args)
        results = ", ".join(ty(s, el) for _, s, el in self.results)
        ret = ", ".join(v for v, _, _ in self.results)
        lines = [f"func.func @{self.name}(\n    {args})\n    -> ({results}) {{"]
        lines += ["  " + line for line in self.body]
        lines.append(f"  return {ret} : {results}")
        lines.append("}")
        return "\n".join(lines)


def window_attrs(stride, padding, dilation):
    parts = []
    if stride != (1, 1):
        parts.append(f"stride = array<i64: {stride[0]}, {stride[1]}>")
    if padding != (0, 0):
        parts.append(f"padding = array<i64: {padding[0]}, {padding[1]}>")
    if dilation != (1, 1):
        parts.append(f"dilation = array<i64: {dilation[0]}, {dilation[1]}>")
    return parts


def attr_dict(parts):
    return " {" + ", ".join(parts) + "}" if parts else ""


def conv_case(name, n, c, h, w, o, kh, kw, stride=(1, 1), padding=(0, 0),
              dilation=(1, 1), structure="identity", dynamic=False,
              r_full=True, bias=False, alpha=None, groups=1):
    case = Case(name)
    x = case.arg("x", [n, c, h, w], "input")
    wt = case.arg("w", [o, c // groups, kh, kw])
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    k = kh * kw
    sim = []
    if structure == "diagonal":
        sim = [case.arg("m", [n, k, ho, wo] if dynamic else [k],
                        "input" if dynamic else "parameter")]
    elif structure in ("full", "cholesky"):
        sim = [case.arg("m", [n, k * k, ho, wo] if dynamic else [k, k],
                        "input" if dynamic else "parameter")]
    elif structure == "shape_masked":
        sim = [case.arg("d", [k])]
        channels = k * k if r_full else k
        r_shape = ([n, channels, ho, wo] if dynamic
                   else ([k, k] if r_full else [k]))
        sim.append(case.arg("r", r_shape, "input" if dynamic else "parameter"))
    text = f"%y = nsl.sim_conv2d {structure}{' dynamic' if dynamic else ''} {x}, {wt}"
    if sim:
        shapes = [a[1] for a in case.args[2:2 + len(sim)]]
        text += " similarity(" + ", ".join(sim) + " : " + ", ".join(
            ty(s) for s in shapes) + ")"
    if bias:
        b = case.arg("b", [o])
        text += f" bias({b} : {ty([o])})"
    parts = window_attrs(stride, padding, dilation)
    if alpha is not None:
        parts.append(f"alpha = {alpha} : f32")
    if groups != 1:
        parts.append(f"groups = {groups}")
    text += attr_dict(parts)
    text += f" : {ty([n, c, h, w])}, {ty([o, c // groups, kh, kw])} -> {ty([n, o, ho, wo])}"
    case.body.append(text)
    case.results.append(("%y", [n, o, ho, wo], "f32"))
    return case


def sphere_case(name, variant, n, c, h, w, o, kh, kw, stride=(1, 1),
                padding=(0, 0), dilation=(1, 1), input_only=False):
    case = Case(name)
    x = case.arg("x", [n, c, h, w], "input")
    wt = case.arg("w", [o, c, kh, kw])
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    text = f"%y = nsl.sphere_conv2d {variant}{' input_only' if input_only else ''} {x}, {wt}"
    if variant == "learned_sigmoid":
        k = case.arg("k", [o])
        text += f" k_param({k} : {ty([o])})"
    text += attr_dict(window_attrs(stride, padding, dilation))
    text += f" : {ty([n, c, h, w])}, {ty([o, c, kh, kw])} -> {ty([n, o, ho, wo])}"
    case.body.append(text)
    case.results.append(("%y", [n, o, ho, wo], "f32"))
    return case


def simple(name, args, body, results):
    case = Case(name)
    for ssa, shape, role, *element in args:
        case.arg(ssa, shape, role, *(element or ["f32"]))
    case.body += body
    case.results += [(v, s, e) for v, s, e in results]
    return case


def conv_cases():
    return [
        conv_case("identity_odd", 2, 3, 9, 7, 5, 3, 3, padding=(1, 1), bias=True),
        conv_case("identity_stride2_pad2", 1, 5, 11, 10, 7, 3, 3, stride=(2, 2), padding=(2, 2)),
        conv_case("identity_dilation2", 2, 13, 10, 9, 3, 3, 3, dilation=(2, 2), padding=(2, 2)),
        conv_case("identity_rect", 3, 4, 8, 9, 6, 2, 3, stride=(1, 2), padding=(1, 0)),
        # Rows of two full vectors and a partial one; 7 output channels.
        conv_case("identity_wide", 2, 5, 5, 40, 7, 3, 3, padding=(1, 1), bias=True),
        conv_case("identity_wide_dilated", 1, 3, 9, 37, 10, 2, 3, padding=(2, 0), dilation=(2, 2)),
        # Grouped and depthwise (groups = C), plain and static.
        conv_case("grouped", 2, 6, 9, 7, 4, 3, 3, padding=(1, 1), groups=2, bias=True),
        conv_case("grouped_stride2_dilation2", 1, 9, 11, 10, 6, 3, 3, stride=(2, 2), padding=(2, 2), dilation=(2, 2), groups=3),
        conv_case("depthwise", 2, 5, 8, 9, 5, 3, 3, padding=(1, 1), groups=5),
        conv_case("depthwise_multiplier2_stride2", 1, 4, 9, 9, 8, 5, 5, stride=(2, 2), padding=(2, 2), groups=4, bias=True),
        conv_case("grouped_static_full", 2, 6, 7, 7, 6, 3, 3, padding=(1, 1), structure="full", groups=3),
        conv_case("depthwise_static_diagonal", 1, 4, 8, 8, 4, 3, 3, padding=(1, 1), structure="diagonal", groups=4),
        conv_case("static_diagonal", 2, 3, 8, 8, 5, 3, 3, padding=(1, 1), structure="diagonal", bias=True),
        conv_case("static_full", 1, 7, 7, 7, 4, 3, 3, stride=(2, 2), structure="full"),
        conv_case("static_cholesky", 2, 3, 9, 9, 5, 3, 3, padding=(1, 1), dilation=(2, 2), structure="cholesky"),
        conv_case("static_shape_masked_full", 2, 5, 7, 8, 3, 3, 3, padding=(1, 1), structure="shape_masked", alpha=0.1),
        conv_case("static_shape_masked_diag", 1, 4, 6, 6, 6, 2, 2, structure="shape_masked", r_full=False),
        conv_case("dynamic_dns", 2, 5, 9, 9, 7, 3, 3, padding=(1, 1), structure="diagonal", dynamic=True, bias=True),
        conv_case("dynamic_dns_stride2", 1, 3, 10, 9, 5, 3, 3, stride=(2, 2), padding=(2, 2), dilation=(2, 2), structure="diagonal", dynamic=True),
        conv_case("dynamic_uns", 2, 3, 7, 7, 5, 3, 3, padding=(1, 1), structure="full", dynamic=True),
        conv_case("dynamic_uns_stride2", 1, 4, 8, 9, 3, 2, 3, stride=(2, 2), structure="full", dynamic=True, bias=True),
        conv_case("dynamic_shape_masked_diag", 2, 3, 6, 6, 4, 3, 3, padding=(1, 1), structure="shape_masked", dynamic=True, r_full=False),
        conv_case("dynamic_shape_masked_full", 1, 3, 6, 7, 4, 2, 2, structure="shape_masked", dynamic=True, alpha=-0.2),
        # Grouped and depthwise dynamic layers: every group shares M_p.
        conv_case("dynamic_dns_grouped", 2, 6, 7, 8, 4, 3, 3, padding=(1, 1), structure="diagonal", dynamic=True, bias=True, groups=2),
        conv_case("dynamic_dns_depthwise_stride2", 1, 4, 9, 9, 8, 3, 3, stride=(2, 2), padding=(2, 2), dilation=(2, 2), structure="diagonal", dynamic=True, groups=4),
        conv_case("dynamic_uns_depthwise", 2, 3, 6, 7, 3, 3, 3, padding=(1, 1), structure="full", dynamic=True, groups=3),
        conv_case("dynamic_shape_masked_grouped", 1, 4, 6, 6, 6, 2, 2, structure="shape_masked", dynamic=True, alpha=-0.2, groups=2),
    ]


def sphere_cases():
    return [
        sphere_case("sphere_cosine", "cosine", 2, 3, 9, 9, 5, 3, 3, padding=(1, 1)),
        sphere_case("sphere_cosine_input_only", "cosine", 1, 5, 8, 7, 3, 3, 3, stride=(2, 2), padding=(1, 1), input_only=True),
        sphere_case("sphere_linear", "linear", 2, 3, 7, 7, 9, 3, 3, padding=(2, 2), dilation=(2, 2)),
        sphere_case("sphere_sigmoid", "sigmoid", 1, 4, 6, 6, 9, 1, 1),
        sphere_case("sphere_learned_sigmoid", "learned_sigmoid", 2, 3, 8, 8, 7, 3, 3, stride=(2, 2), padding=(1, 1)),
    ]


def other_cases():
    cases = []
    cases.append(simple("patch_norm", [("x", [2, 5, 9, 8], "input")],
                        ["%y = nsl.patch_norm %x {kernel_size = array<i64: 3, 2>, stride = array<i64: 2, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 2>} : tensor<2x5x9x8xf32> -> tensor<2x1x5x8xf32>"],
                        [("%y", [2, 1, 5, 8], "f32")]))
    cases.append(simple("predicted_diagonal", [("p", [2, 9, 5, 5], "input"), ("g", [1], "parameter")],
                        ["%y = nsl.predicted_similarity diagonal %p, %g : tensor<2x9x5x5xf32>, tensor<1xf32> -> tensor<2x9x5x5xf32>"],
                        [("%y", [2, 9, 5, 5], "f32")]))
    cases.append(simple("predicted_full", [("p", [1, 16, 3, 4], "input"), ("g", [], "parameter")],
                        ["%y = nsl.predicted_similarity full %p, %g : tensor<1x16x3x4xf32>, tensor<f32> -> tensor<1x16x3x4xf32>"],
                        [("%y", [1, 16, 3, 4], "f32")]))
    for structure, sim in [("identity", []), ("diagonal", [("m", [4])]),
                           ("full", [("m", [4, 4])]), ("cholesky", [("m", [4, 4])]),
                           ("shape_masked", [("d", [4]), ("r", [4, 4])])]:
        sim_text = ""
        if sim:
            sim_text = " similarity(" + ", ".join("%" + s for s, _ in sim) + " : " + \
                ", ".join(ty(sh) for _, sh in sim) + ")"
        cases.append(simple(
            f"sim_linear_{structure}",
            [("x", [3, 12], "input"), ("w", [5, 12], "parameter")] +
            [(s, sh, "parameter") for s, sh in sim] + [("b", [5], "parameter")],
            [f"%y = nsl.sim_linear {structure} %x, %w{sim_text} bias(%b : tensor<5xf32>) {{group_size = 4 : i64}} : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>"],
            [("%y", [3, 5], "f32")]))
    cases.append(simple("fold_conv_cholesky", [("w", [5, 3, 3, 3], "parameter"), ("l", [9, 9], "parameter")],
                        ["%y = nsl.fold_similarity cholesky %w similarity(%l : tensor<9x9xf32>) : tensor<5x3x3x3xf32> -> tensor<5x3x3x3xf32>"],
                        [("%y", [5, 3, 3, 3], "f32")]))
    cases.append(simple("fold_linear_shape_masked", [("w", [3, 10], "parameter"), ("d", [5], "parameter"), ("r", [5], "parameter")],
                        ["%y = nsl.fold_similarity shape_masked %w similarity(%d, %r : tensor<5xf32>, tensor<5xf32>) {group_size = 5 : i64} : tensor<3x10xf32> -> tensor<3x10xf32>"],
                        [("%y", [3, 10], "f32")]))
    bn_args = [("g", [7], "parameter"), ("b", [7], "parameter"), ("mean", [7], "buffer"), ("var", [7], "buffer")]
    cases.append(simple("batch_norm_4d", [("x", [2, 7, 5, 3], "input")] + bn_args,
                        ["%y = nsl.batch_norm %x, %g, %b, %mean, %var {epsilon = 1.0e-3 : f32} : tensor<2x7x5x3xf32>, tensor<7xf32> -> tensor<2x7x5x3xf32>"],
                        [("%y", [2, 7, 5, 3], "f32")]))
    cases.append(simple("batch_norm_2d", [("x", [3, 7], "input")] + bn_args,
                        ["%y = nsl.batch_norm %x, %g, %b, %mean, %var : tensor<3x7xf32>, tensor<7xf32> -> tensor<3x7xf32>"],
                        [("%y", [3, 7], "f32")]))
    cases.append(simple("batch_norm_train", [("x", [3, 7, 4, 5], "input")] + bn_args,
                        ["%y:5 = nsl.batch_norm_train %x, %g, %b, %mean, %var {momentum = 0.3 : f32} : tensor<3x7x4x5xf32>, tensor<7xf32> -> tensor<3x7x4x5xf32>, tensor<7xf32>, tensor<7xf32>, tensor<7xf32>, tensor<7xf32>"],
                        [("%y#0", [3, 7, 4, 5], "f32"), ("%y#1", [7], "f32"), ("%y#2", [7], "f32"),
                         ("%y#3", [7], "f32"), ("%y#4", [7], "f32")]))
    # A convolution with batch norm and relu in one kernel (the fused
    # epilogue of the direct convolution), and a DNS layer with relu.
    cases.append(simple("conv_bn_relu", [("x", [2, 7, 6, 21], "input"), ("w", [7, 7, 3, 3], "parameter"), ("cb", [7], "parameter")] + bn_args,
                        ["%0 = nsl.sim_conv2d identity %x, %w bias(%cb : tensor<7xf32>) {padding = array<i64: 1, 1>} : tensor<2x7x6x21xf32>, tensor<7x7x3x3xf32> -> tensor<2x7x6x21xf32>",
                         "%1 = nsl.batch_norm %0, %g, %b, %mean, %var : tensor<2x7x6x21xf32>, tensor<7xf32> -> tensor<2x7x6x21xf32>",
                         "%y = nsl.relu %1 : tensor<2x7x6x21xf32>"],
                        [("%y", [2, 7, 6, 21], "f32")]))
    cases.append(simple("dns_relu", [("x", [2, 3, 7, 18], "input"), ("w", [5, 3, 3, 3], "parameter"), ("m", [2, 9, 7, 18], "input")],
                        ["%0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x7x18xf32>) {padding = array<i64: 1, 1>} : tensor<2x3x7x18xf32>, tensor<5x3x3x3xf32> -> tensor<2x5x7x18xf32>",
                         "%y = nsl.relu %0 : tensor<2x5x7x18xf32>"],
                        [("%y", [2, 5, 7, 18], "f32")]))
    # Predicted masks fused into the direct DNS / UNS convolutions.
    for structure, channels in [("diagonal", 9), ("full", 81)]:
        pred = f"tensor<2x{channels}x6x19xf32>"
        cases.append(simple(f"predicted_{structure}_conv",
                            [("x", [2, 3, 6, 19], "input"), ("w", [4, 3, 3, 3], "parameter"),
                             ("p", [2, channels, 6, 19], "input"), ("g", [1], "parameter")],
                            [f"%m = nsl.predicted_similarity {structure} %p, %g : {pred}, tensor<1xf32> -> {pred}",
                             f"%y = nsl.sim_conv2d {structure} dynamic %x, %w similarity(%m : {pred}) {{padding = array<i64: 1, 1>}} : tensor<2x3x6x19xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x19xf32>"],
                            [("%y", [2, 4, 6, 19], "f32")]))
    # A SphereConv predictor fused into the DNS layer it drives, with BN.
    for only in ["", " input_only"]:
        cases.append(simple(f"fused_predictor_dns{only.replace(' ', '_')}",
                            [("x", [2, 5, 7, 21], "input"), ("p", [9, 5, 3, 3], "parameter"),
                             ("g", [], "parameter"), ("w", [6, 5, 3, 3], "parameter")] +
                            [("g2", [6], "parameter"), ("b2", [6], "parameter"), ("mean", [6], "buffer"), ("var", [6], "buffer")],
                            [f"%q = nsl.sphere_conv2d cosine{only} %x, %p {{padding = array<i64: 1, 1>}} : tensor<2x5x7x21xf32>, tensor<9x5x3x3xf32> -> tensor<2x9x7x21xf32>",
                             "%m = nsl.predicted_similarity diagonal %q, %g : tensor<2x9x7x21xf32>, tensor<f32> -> tensor<2x9x7x21xf32>",
                             "%0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x7x21xf32>) {padding = array<i64: 1, 1>} : tensor<2x5x7x21xf32>, tensor<6x5x3x3xf32> -> tensor<2x6x7x21xf32>",
                             "%y = nsl.batch_norm %0, %g2, %b2, %mean, %var : tensor<2x6x7x21xf32>, tensor<6xf32> -> tensor<2x6x7x21xf32>"],
                            [("%y", [2, 6, 7, 21], "f32")]))
    cases.append(simple("relu_add_flatten", [("x", [2, 3, 5, 5], "input"), ("z", [2, 3, 5, 5], "input")],
                        ["%0 = nsl.relu %x : tensor<2x3x5x5xf32>",
                         "%1 = nsl.add %0, %z : tensor<2x3x5x5xf32>",
                         "%y = nsl.flatten %1 : tensor<2x3x5x5xf32> -> tensor<2x75xf32>"],
                        [("%y", [2, 75], "f32")]))
    # Concatenation along channels (a conv's output and the input, as in
    # DenseNet), along a spatial dimension, and of 2-D features.
    cases.append(simple("concat_channels", [("x", [2, 3, 5, 6], "input"), ("w", [4, 3, 3, 3], "parameter")],
                        ["%0 = nsl.sim_conv2d identity %x, %w {padding = array<i64: 1, 1>} : tensor<2x3x5x6xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x6xf32>",
                         "%1 = nsl.relu %0 : tensor<2x4x5x6xf32>",
                         "%y = nsl.concat %x, %1, %x {dim = 1} : tensor<2x3x5x6xf32>, tensor<2x4x5x6xf32>, tensor<2x3x5x6xf32> -> tensor<2x10x5x6xf32>"],
                        [("%y", [2, 10, 5, 6], "f32")]))
    cases.append(simple("concat_width", [("x", [1, 3, 5, 6], "input"), ("z", [1, 3, 5, 2], "input")],
                        ["%y = nsl.concat %x, %z {dim = 3} : tensor<1x3x5x6xf32>, tensor<1x3x5x2xf32> -> tensor<1x3x5x8xf32>"],
                        [("%y", [1, 3, 5, 8], "f32")]))
    cases.append(simple("concat_features", [("x", [3, 4], "input"), ("z", [3, 7], "input")],
                        ["%y = nsl.concat %x, %z {dim = 1} : tensor<3x4xf32>, tensor<3x7xf32> -> tensor<3x11xf32>"],
                        [("%y", [3, 11], "f32")]))
    cases.append(simple("max_pool", [("x", [2, 3, 9, 8], "input")],
                        ["%y = nsl.max_pool2d %x {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 2, 1>} : tensor<2x3x9x8xf32> -> tensor<2x3x4x4xf32>"],
                        [("%y", [2, 3, 4, 4], "f32")]))
    cases.append(simple("avg_pool_include_pad", [("x", [1, 5, 7, 7], "input")],
                        ["%y = nsl.avg_pool2d %x {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<1x5x7x7xf32> -> tensor<1x5x4x4xf32>"],
                        [("%y", [1, 5, 4, 4], "f32")]))
    cases.append(simple("avg_pool_exclude_pad", [("x", [2, 3, 6, 5], "input")],
                        ["%y = nsl.avg_pool2d %x {kernel_size = array<i64: 2, 3>, stride = array<i64: 2, 1>, padding = array<i64: 1, 1>, count_include_pad = false} : tensor<2x3x6x5xf32> -> tensor<2x3x4x5xf32>"],
                        [("%y", [2, 3, 4, 5], "f32")]))
    cases.append(simple("global_pool_linear", [("x", [3, 11, 5, 7], "input"), ("w", [4, 11], "parameter"), ("b", [4], "parameter")],
                        ["%0 = nsl.global_avg_pool2d %x : tensor<3x11x5x7xf32> -> tensor<3x11x1x1xf32>",
                         "%1 = nsl.flatten %0 : tensor<3x11x1x1xf32> -> tensor<3x11xf32>",
                         "%y = nsl.linear %1, %w bias(%b : tensor<4xf32>) : tensor<3x11xf32>, tensor<4x11xf32> -> tensor<3x4xf32>",
                         "%z = nsl.linear %1, %w : tensor<3x11xf32>, tensor<4x11xf32> -> tensor<3x4xf32>"],
                        [("%y", [3, 4], "f32"), ("%z", [3, 4], "f32")]))
    for smoothing in ["0.0", "0.1"]:
        cases.append(simple(f"cross_entropy_{smoothing.replace('.', '_')}",
                            [("logits", [5, 7], "input"), ("labels", [5], "label", "i64")],
                            [f"%y = nsl.softmax_cross_entropy %logits, %labels {{label_smoothing = {smoothing} : f32}} : tensor<5x7xf32>, tensor<5xi64> -> tensor<f32>"],
                            [("%y", [], "f32")]))
    # Ceil mode and adaptive pools.
    cases += pool_cases(vjp=False)
    return cases


# ---------------------------------------------------------------------------
# Training ops: VJPs, penalties, accuracy count and optimizer updates. The
# upstream gradients are arguments with role "input".
# ---------------------------------------------------------------------------

def results_of(case, op_text, types):
    """Binds op_text's results (types: [(shape, element)]) and returns them."""
    if len(types) == 1:
        case.body.append(f"%res = {op_text}")
        case.results.append(("%res", types[0][0], types[0][1]))
    else:
        case.body.append(f"%res:{len(types)} = {op_text}")
        case.results += [(f"%res#{i}", s, e) for i, (s, e) in enumerate(types)]


def grads_text(case, types):
    return ", ".join(ty(s, e) for s, e in types)


def wrt_text(wrt):
    return "wrt [" + ", ".join(str(i) for i in wrt) + "]"


def vjp_case(name, operands, op, head, grad_shape, wrt, attrs=(), tail="",
             grad_element="f32"):
    """A one-op VJP case. operands: [(ssa, shape, role, element)] in forward
    operand order (flattened as `wrt` numbers them); head: the op text
    between the mnemonic and `grad(...)`; tail: the types after the colon
    (before the arrow)."""
    case = Case(name)
    shapes = []
    for ssa, shape, role, element in operands:
        case.arg(ssa, shape, role, element)
        shapes.append((shape, element))
    gy = case.arg("gy", grad_shape, "input", grad_element)
    types = [shapes[i] for i in wrt]
    text = (f"nsl.{op} {head} grad({gy} : {ty(grad_shape, grad_element)}) "
            f"{wrt_text(wrt)}{attr_dict(list(attrs))} : {tail} -> "
            f"{grads_text(case, types)}")
    results_of(case, text, types)
    return case


def conv_vjp_case(name, n, c, h, w, o, kh, kw, wrt, stride=(1, 1),
                  padding=(0, 0), dilation=(1, 1), structure="identity",
                  bias=False, groups=1):
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    k = kh * kw
    operands = [("x", [n, c, h, w], "input", "f32"),
                ("w", [o, c // groups, kh, kw], "parameter", "f32")]
    head = f"{structure}{'' if structure == 'identity' else ' dynamic'} %x, %w"
    if structure != "identity":
        channels = k if structure == "diagonal" else k * k
        operands.append(("m", [n, channels, ho, wo], "input", "f32"))
        head += f" similarity(%m : {ty([n, channels, ho, wo])})"
    if bias:
        operands.append(("b", [o], "parameter", "f32"))
        head += f" bias(%b : {ty([o])})"
    attrs = window_attrs(stride, padding, dilation)
    if groups != 1:
        attrs.append(f"groups = {groups}")
    return vjp_case(name, operands, "sim_conv2d_vjp", head, [n, o, ho, wo], wrt,
                    attrs, f"{ty([n, c, h, w])}, {ty([o, c // groups, kh, kw])}")


def sphere_vjp_case(name, variant, n, c, h, w, o, kh, kw, wrt, stride=(1, 1),
                    padding=(0, 0), dilation=(1, 1), input_only=False,
                    sigmoid_k=None):
    ho = out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = out_size(w, kw, stride[1], padding[1], dilation[1])
    operands = [("x", [n, c, h, w], "input", "f32"),
                ("w", [o, c, kh, kw], "parameter", "f32")]
    head = f"{variant}{' input_only' if input_only else ''} %x, %w"
    if variant == "learned_sigmoid":
        operands.append(("k", [o], "parameter", "f32"))
        head += f" k_param(%k : {ty([o])})"
    attrs = window_attrs(stride, padding, dilation)
    if sigmoid_k is not None:
        attrs.append(f"sigmoid_k = {sigmoid_k} : f32")
    return vjp_case(name, operands, "sphere_conv2d_vjp", head, [n, o, ho, wo],
                    wrt, attrs, f"{ty([n, c, h, w])}, {ty([o, c, kh, kw])}")


def fold_vjp_case(name, weight, structure, sim, wrt, group_size=None,
                  alpha=None):
    operands = [("w", weight, "parameter", "f32")] + \
        [(s, shape, "parameter", "f32") for s, shape in sim]
    head = f"{structure} %w similarity(" + ", ".join("%" + s for s, _ in sim) + \
        " : " + ", ".join(ty(shape) for _, shape in sim) + ")"
    attrs = []
    if group_size is not None:
        attrs.append(f"group_size = {group_size} : i64")
    if alpha is not None:
        attrs.append(f"alpha = {alpha} : f32")
    return vjp_case(name, operands, "fold_similarity_vjp", head, weight, wrt,
                    attrs, ty(weight))


def loose(case, tolerance="1e-4"):
    """A case whose output is one f32 sum of many products that cancel (a
    rank-0 gradient of γ): f32 accumulation cannot reach 1e-5 relative."""
    case.tolerance = tolerance
    return case


def grad_conv_cases():
    return [
        # Plain convolutions: odd sizes, stride 2, padding 0/1, dilation 2.
        conv_vjp_case("conv_vjp_all", 2, 3, 9, 7, 5, 3, 3, [0, 1, 2], padding=(1, 1), bias=True),
        conv_vjp_case("conv_vjp_grouped", 2, 6, 9, 7, 4, 3, 3, [0, 1, 2], padding=(1, 1), bias=True, groups=2),
        conv_vjp_case("conv_vjp_grouped_stride2_dilation2", 1, 9, 13, 12, 6, 3, 3, [0, 1], stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=3),
        conv_vjp_case("conv_vjp_depthwise", 2, 5, 8, 9, 5, 3, 3, [0, 1], padding=(1, 1), groups=5),
        conv_vjp_case("conv_vjp_depthwise_multiplier2", 1, 4, 9, 9, 8, 5, 5, [0, 1], stride=(2, 2), padding=(2, 2), groups=4),
        conv_vjp_case("conv_vjp_input_only", 1, 5, 11, 10, 7, 3, 3, [0], stride=(2, 2), padding=(1, 1)),
        conv_vjp_case("conv_vjp_weight_only", 2, 13, 10, 9, 3, 3, 3, [1], dilation=(2, 2), padding=(2, 2)),
        conv_vjp_case("conv_vjp_rect_bias", 3, 4, 8, 9, 6, 2, 3, [1, 2], stride=(1, 2), padding=(1, 0), bias=True),
        conv_vjp_case("conv_vjp_stride2_dilation2", 1, 3, 13, 12, 4, 3, 3, [0, 1], stride=(2, 2), dilation=(2, 2)),
        conv_vjp_case("conv_vjp_wide", 2, 5, 5, 37, 7, 3, 3, [0, 1], padding=(1, 1)),
        # Dynamic DNS (diagonal) and UNS (full).
        conv_vjp_case("dns_vjp_all", 2, 5, 9, 9, 7, 3, 3, [0, 1, 2, 3], padding=(1, 1), structure="diagonal", bias=True),
        conv_vjp_case("dns_vjp_stride2", 1, 3, 10, 9, 5, 3, 3, [0, 2], stride=(2, 2), padding=(1, 1), dilation=(2, 2), structure="diagonal"),
        # Grouped and depthwise dynamic layers (the linalg path with the
        # group in its maps).
        conv_vjp_case("dns_vjp_grouped", 2, 6, 7, 8, 4, 3, 3, [0, 1, 2, 3], padding=(1, 1), structure="diagonal", bias=True, groups=2),
        conv_vjp_case("dns_vjp_depthwise_stride2", 1, 4, 9, 9, 8, 3, 3, [0, 1, 2], stride=(2, 2), padding=(2, 2), dilation=(2, 2), structure="diagonal", groups=4),
        conv_vjp_case("uns_vjp_depthwise", 2, 3, 6, 7, 3, 3, 3, [0, 1, 2], padding=(1, 1), structure="full", groups=3),
        conv_vjp_case("uns_vjp_grouped_stride2", 1, 4, 8, 9, 6, 2, 3, [0, 1, 2], stride=(2, 2), structure="full", groups=2),
        conv_vjp_case("dns_vjp_mask_only", 2, 3, 7, 8, 4, 3, 3, [2], structure="diagonal"),
        conv_vjp_case("dns_vjp_weight_only", 1, 4, 8, 7, 5, 2, 3, [1], padding=(1, 1), structure="diagonal"),
        conv_vjp_case("uns_vjp_all", 2, 3, 7, 7, 5, 3, 3, [0, 1, 2], padding=(1, 1), structure="full"),
        conv_vjp_case("uns_vjp_stride2_bias", 1, 4, 8, 9, 3, 2, 3, [1, 2, 3], stride=(2, 2), structure="full", bias=True),
        conv_vjp_case("uns_vjp_input_only", 2, 3, 9, 6, 4, 3, 3, [0], padding=(1, 1), dilation=(2, 2), structure="full"),
        # SphereConv, all four variants.
        sphere_vjp_case("sphere_cosine_vjp", "cosine", 2, 3, 9, 9, 5, 3, 3, [0, 1], padding=(1, 1)),
        sphere_vjp_case("sphere_cosine_input_only_vjp", "cosine", 1, 5, 8, 7, 3, 3, 3, [0, 1], stride=(2, 2), padding=(1, 1), input_only=True),
        sphere_vjp_case("sphere_cosine_input_only_x", "cosine", 2, 3, 7, 9, 4, 3, 3, [0], padding=(1, 1), input_only=True),
        sphere_vjp_case("sphere_linear_vjp", "linear", 2, 3, 7, 7, 9, 3, 3, [0, 1], padding=(2, 2), dilation=(2, 2)),
        sphere_vjp_case("sphere_linear_weight_only", "linear", 1, 4, 6, 7, 5, 3, 3, [1]),
        sphere_vjp_case("sphere_sigmoid_vjp", "sigmoid", 1, 4, 6, 6, 9, 1, 1, [0, 1], sigmoid_k=0.5),
        sphere_vjp_case("sphere_learned_sigmoid_vjp", "learned_sigmoid", 2, 3, 8, 8, 7, 3, 3, [0, 1, 2], stride=(2, 2), padding=(1, 1)),
        sphere_vjp_case("sphere_learned_sigmoid_k_only", "learned_sigmoid", 1, 3, 7, 6, 5, 3, 3, [2], padding=(1, 1)),
        # The patch norm and the predicted similarity of the dynamic layers.
        vjp_case("patch_norm_vjp", [("x", [2, 5, 9, 8], "input", "f32")], "patch_norm_vjp", "%x",
                 [2, 1, 5, 8], [0],
                 ["kernel_size = array<i64: 3, 2>", "stride = array<i64: 2, 1>", "padding = array<i64: 1, 1>", "dilation = array<i64: 1, 2>"],
                 ty([2, 5, 9, 8])),
        vjp_case("predicted_diagonal_vjp", [("p", [2, 9, 5, 5], "input", "f32"), ("g", [1], "parameter", "f32")],
                 "predicted_similarity_vjp", "diagonal %p, %g", [2, 9, 5, 5], [0, 1], (),
                 f"{ty([2, 9, 5, 5])}, {ty([1])}"),
        loose(vjp_case("predicted_full_vjp", [("p", [1, 16, 3, 4], "input", "f32"), ("g", [], "parameter", "f32")],
                       "predicted_similarity_vjp", "full %p, %g", [1, 16, 3, 4], [1], (),
                       f"{ty([1, 16, 3, 4])}, {ty([])}")),
        # Folding a static similarity into conv and linear weights.
        fold_vjp_case("fold_diagonal_vjp", [5, 3, 3, 3], "diagonal", [("m", [9])], [0, 1]),
        fold_vjp_case("fold_full_vjp", [4, 7, 3, 3], "full", [("m", [9, 9])], [0, 1]),
        fold_vjp_case("fold_full_similarity_only", [3, 5, 2, 3], "full", [("m", [6, 6])], [1]),
        fold_vjp_case("fold_cholesky_vjp", [5, 3, 3, 3], "cholesky", [("l", [9, 9])], [0, 1]),
        fold_vjp_case("fold_shape_masked_vjp", [6, 4, 3, 3], "shape_masked", [("d", [9]), ("r", [9, 9])], [0, 1, 2], alpha=0.1),
        fold_vjp_case("fold_shape_masked_diag_vjp", [3, 5, 2, 2], "shape_masked", [("d", [4]), ("r", [4])], [1, 2]),
        fold_vjp_case("fold_linear_full_vjp", [5, 12], "full", [("m", [4, 4])], [0, 1], group_size=4),
        fold_vjp_case("fold_linear_cholesky_vjp", [3, 10], "cholesky", [("l", [5, 5])], [0, 1], group_size=5),
        fold_vjp_case("fold_linear_shape_masked_vjp", [3, 10], "shape_masked", [("d", [5]), ("r", [5])], [0, 1, 2], group_size=5, alpha=-0.2),
        fold_vjp_case("fold_linear_diagonal_vjp", [7, 9], "diagonal", [("m", [3])], [1], group_size=3),
    ]


def grad_other_cases():
    cases = []
    f = "f32"
    # Linear layers with and without bias.
    cases.append(vjp_case("linear_vjp_bias", [("x", [3, 11], "input", f), ("w", [5, 11], "parameter", f), ("b", [5], "parameter", f)],
                          "linear_vjp", "%x, %w bias(%b : tensor<5xf32>)", [3, 5], [0, 1, 2], (),
                          f"{ty([3, 11])}, {ty([5, 11])}"))
    cases.append(vjp_case("linear_vjp_no_bias", [("x", [7, 13], "input", f), ("w", [4, 13], "parameter", f)],
                          "linear_vjp", "%x, %w", [7, 4], [0, 1], (), f"{ty([7, 13])}, {ty([4, 13])}"))
    cases.append(vjp_case("linear_vjp_weight_only", [("x", [2, 9], "input", f), ("w", [6, 9], "parameter", f), ("b", [6], "parameter", f)],
                          "linear_vjp", "%x, %w bias(%b : tensor<6xf32>)", [2, 6], [1, 2], (),
                          f"{ty([2, 9])}, {ty([6, 9])}"))
    # Training batch norm (4-D and 2-D).
    bn = lambda c: [("g", [c], "parameter", f), ("b", [c], "parameter", f), ("mean", [c], "buffer", f), ("var", [c], "buffer", f)]
    cases.append(vjp_case("batch_norm_train_vjp_4d", [("x", [3, 7, 4, 5], "input", f)] + bn(7),
                          "batch_norm_train_vjp", "%x, %g, %b, %mean, %var", [3, 7, 4, 5], [0, 1, 2],
                          ["momentum = 0.3 : f32"], f"{ty([3, 7, 4, 5])}, {ty([7])}"))
    cases.append(vjp_case("batch_norm_train_vjp_2d", [("x", [5, 6], "input", f)] + bn(6),
                          "batch_norm_train_vjp", "%x, %g, %b, %mean, %var", [5, 6], [0],
                          ["epsilon = 1.0e-3 : f32"], f"{ty([5, 6])}, {ty([6])}"))
    # Elementwise, pooling, flatten.
    cases.append(vjp_case("relu_vjp", [("x", [2, 3, 5, 7], "input", f)], "relu_vjp", "%x", [2, 3, 5, 7], [0], (), ty([2, 3, 5, 7])))
    cases.append(vjp_case("max_pool_vjp", [("x", [2, 3, 9, 8], "input", f)], "max_pool2d_vjp", "%x", [2, 3, 4, 4], [0],
                          ["kernel_size = array<i64: 3, 3>", "stride = array<i64: 2, 2>", "padding = array<i64: 1, 1>", "dilation = array<i64: 2, 1>"],
                          ty([2, 3, 9, 8])))
    cases.append(vjp_case("max_pool_vjp_2x2", [("x", [1, 5, 7, 6], "input", f)], "max_pool2d_vjp", "%x", [1, 5, 3, 3], [0],
                          ["kernel_size = array<i64: 2, 2>", "stride = array<i64: 2, 2>"], ty([1, 5, 7, 6])))
    cases.append(vjp_case("avg_pool_vjp_include_pad", [("x", [1, 5, 7, 7], "input", f)], "avg_pool2d_vjp", "%x", [1, 5, 4, 4], [0],
                          ["kernel_size = array<i64: 3, 3>", "stride = array<i64: 2, 2>", "padding = array<i64: 1, 1>"],
                          ty([1, 5, 7, 7])))
    cases.append(vjp_case("avg_pool_vjp_exclude_pad", [("x", [2, 3, 6, 5], "input", f)], "avg_pool2d_vjp", "%x", [2, 3, 4, 5], [0],
                          ["kernel_size = array<i64: 2, 3>", "stride = array<i64: 2, 1>", "padding = array<i64: 1, 1>", "count_include_pad = false"],
                          ty([2, 3, 6, 5])))
    cases.append(vjp_case("global_avg_pool_vjp", [("x", [3, 11, 5, 7], "input", f)], "global_avg_pool2d_vjp", "%x", [3, 11, 1, 1], [0],
                          (), ty([3, 11, 5, 7])))
    cases.append(vjp_case("flatten_vjp", [("x", [2, 3, 5, 5], "input", f)], "flatten_vjp", "%x", [2, 75], [0], (), ty([2, 3, 5, 5])))
    concat_operands = [("a", [2, 3, 5, 6], "input", f), ("b", [2, 4, 5, 6], "input", f), ("c", [2, 1, 5, 6], "input", f)]
    for wrt in ([0, 1, 2], [1], [0, 2]):
        cases.append(vjp_case(f"concat_vjp_{''.join(map(str, wrt))}", concat_operands, "concat_vjp", "%a, %b, %c", [2, 8, 5, 6], wrt,
                              ["dim = 1"], ", ".join(ty(s) for _, s, _, _ in concat_operands)))
    cases.append(vjp_case("concat_vjp_width", [("a", [1, 3, 5, 6], "input", f), ("b", [1, 3, 5, 2], "input", f)], "concat_vjp", "%a, %b",
                          [1, 3, 5, 8], [0, 1], ["dim = 3"], f"{ty([1, 3, 5, 6])}, {ty([1, 3, 5, 2])}"))
    # Cross-entropy with and without label smoothing (rank-0 upstream).
    for smoothing in ["0.0", "0.1"]:
        cases.append(vjp_case(f"cross_entropy_vjp_{smoothing.replace('.', '_')}",
                              [("logits", [5, 7], "input", f), ("labels", [5], "label", "i64")],
                              "softmax_cross_entropy_vjp", "%logits, %labels", [], [0],
                              [f"label_smoothing = {smoothing} : f32"], f"{ty([5, 7])}, {ty([5], 'i64')}"))
    # Regularisers and their VJPs (rank-0 results and upstream gradients).
    cases.append(simple("l1_penalty", [("m", [2, 9, 5, 4], "parameter")],
                        ["%y = nsl.l1_penalty %m {strength = 0.01 : f32} : tensor<2x9x5x4xf32> -> tensor<f32>"],
                        [("%y", [], "f32")]))
    cases.append(simple("orthogonality_penalty", [("w", [7, 3, 3, 3], "parameter")],
                        ["%y = nsl.orthogonality_penalty %w {strength = 0.5 : f32} : tensor<7x3x3x3xf32> -> tensor<f32>"],
                        [("%y", [], "f32")]))
    cases.append(simple("orthogonality_penalty_linear", [("w", [5, 13], "parameter")],
                        ["%y = nsl.orthogonality_penalty %w {strength = 0.1 : f32} : tensor<5x13xf32> -> tensor<f32>"],
                        [("%y", [], "f32")]))
    cases.append(vjp_case("l1_penalty_vjp", [("m", [9, 9], "parameter", f)], "l1_penalty_vjp", "%m", [], [0],
                          ["strength = 0.01 : f32"], ty([9, 9])))
    cases.append(vjp_case("orthogonality_penalty_vjp", [("w", [7, 3, 3, 3], "parameter", f)], "orthogonality_penalty_vjp", "%w",
                          [], [0], ["strength = 0.5 : f32"], ty([7, 3, 3, 3])))
    cases.append(vjp_case("orthogonality_penalty_vjp_linear", [("w", [5, 13], "parameter", f)], "orthogonality_penalty_vjp", "%w",
                          [], [0], ["strength = 0.1 : f32"], ty([5, 13])))
    # Accuracy: an i64 rank-0 result.
    cases.append(simple("count_correct", [("logits", [7, 5], "input"), ("labels", [7], "label", "i64")],
                        ["%y = nsl.count_correct %logits, %labels : tensor<7x5xf32>, tensor<7xi64> -> tensor<i64>"],
                        [("%y", [], "i64")]))
    # A loss, its gradient and the count in one function: several results
    # of several dtypes, rank 0 included.
    cases.append(simple("loss_grad_count", [("logits", [6, 4], "input"), ("labels", [6], "label", "i64"), ("gy", [], "input")],
                        ["%loss = nsl.softmax_cross_entropy %logits, %labels {label_smoothing = 0.1 : f32} : tensor<6x4xf32>, tensor<6xi64> -> tensor<f32>",
                         "%g = nsl.softmax_cross_entropy_vjp %logits, %labels grad(%gy : tensor<f32>) wrt [0] {label_smoothing = 0.1 : f32} : tensor<6x4xf32>, tensor<6xi64> -> tensor<6x4xf32>",
                         "%n = nsl.count_correct %logits, %labels : tensor<6x4xf32>, tensor<6xi64> -> tensor<i64>"],
                        [("%loss", [], "f32"), ("%g", [6, 4], "f32"), ("%n", [], "i64")]))
    # SGD: plain, momentum with dampening, nesterov, weight decay.
    def sgd(name, shape, momentum=None, dampening=None, weight_decay=None, nesterov=False):
        args = [("p", shape, "parameter"), ("g", shape, "input")]
        buf = momentum is not None
        if buf:
            args.append(("buf", shape, "optimizer_state"))
        args += [("step", [], "optimizer_state"), ("lr", [], "learning_rate")]
        attrs = []
        if momentum is not None:
            attrs.append(f"momentum = {momentum} : f32")
        if dampening is not None:
            attrs.append(f"dampening = {dampening} : f32")
        if weight_decay is not None:
            attrs.append(f"weight_decay = {weight_decay} : f32")
        if nesterov:
            attrs.append("nesterov")
        t = ty(shape)
        text = f"nsl.sgd_update %p, %g"
        if buf:
            text += f" momentum_buffer(%buf : {t})"
        text += f" step(%step) lr(%lr){attr_dict(attrs)} : {t}, tensor<f32> -> {t}"
        if buf:
            text += f", {t}"
            body = [f"%res:2 = {text}"]
            results = [("%res#0", shape, "f32"), ("%res#1", shape, "f32")]
        else:
            body = [f"%res = {text}"]
            results = [("%res", shape, "f32")]
        return simple(name, args, body, results)
    cases.append(sgd("sgd_plain", [5, 3, 3, 3]))
    cases.append(sgd("sgd_momentum_dampening", [7, 11], momentum=0.9, dampening=0.1))
    cases.append(sgd("sgd_nesterov", [13], momentum=0.9, nesterov=True))
    cases.append(sgd("sgd_weight_decay", [4, 5, 2, 3], momentum=0.5, weight_decay=0.01))
    cases.append(sgd("sgd_weight_decay_no_momentum", [9, 9], weight_decay=0.001))
    # Adam with and without amsgrad, with weight decay.
    def adam(name, shape, amsgrad=False, weight_decay=None, betas=None):
        args = [("p", shape, "parameter"), ("g", shape, "input"),
                ("m", shape, "optimizer_state"), ("v", shape, "optimizer_state")]
        if amsgrad:
            args.append(("vmax", shape, "optimizer_state"))
        args += [("step", [], "optimizer_state"), ("lr", [], "learning_rate")]
        attrs = []
        if betas:
            attrs += [f"beta1 = {betas[0]} : f32", f"beta2 = {betas[1]} : f32"]
        if weight_decay is not None:
            attrs.append(f"weight_decay = {weight_decay} : f32")
        if amsgrad:
            attrs.append("amsgrad")
        t = ty(shape)
        text = f"nsl.adam_update %p, %g, %m, %v"
        if amsgrad:
            text += f" max_exp_avg_sq(%vmax : {t})"
        count = 4 if amsgrad else 3
        text += f" step(%step) lr(%lr){attr_dict(attrs)} : {t}, tensor<f32> -> " + \
            ", ".join([t] * count)
        return simple(name, args, [f"%res:{count} = {text}"],
                      [(f"%res#{i}", shape, "f32") for i in range(count)])
    cases.append(adam("adam_plain", [6, 3, 3, 3]))
    cases.append(adam("adam_amsgrad", [7, 11], amsgrad=True))
    cases.append(adam("adam_weight_decay", [17], weight_decay=0.01, betas=(0.8, 0.99)))
    cases.append(adam("adam_amsgrad_weight_decay", [3, 4, 5], amsgrad=True, weight_decay=0.05))
    # The VJPs of ceil mode and the adaptive pools.
    cases += pool_cases(vjp=True)
    return cases


HEADER = """// Generated by test/e2e/generate.py; edit that script, not this file.
// {what}: each model is compiled by nslc for the host CPU and checked by
// `nsl-run check` against the reference interpreter on fresh random inputs
// and weights (relative error ≤ 1e-5).
"""


# ---------------------------------------------------------------------------
# The elementwise rows (dialect/NSLElementwise.td), every row read from the
# table: forward and VJP, equal shapes and broadcasting (per channel, a
# scalar, leading size-1 dimensions), batch 1.
# ---------------------------------------------------------------------------

def elementwise_rows():
    """(mnemonic, arity) of every row of dialect/NSLElementwise.td."""
    import re
    with open(os.path.join(HERE, "..", "..", "dialect", "NSLElementwise.td")) as f:
        text = f.read()
    return [(name, 1 if kind == "Unary" else 2) for kind, name in
            re.findall(r'^defm NSL_\w+ : NSL_(Unary|Binary)<"(\w+)"', text, re.M)]


def broadcast_shape(a, b):
    rank = max(len(a), len(b))
    a, b = [1] * (rank - len(a)) + a, [1] * (rank - len(b)) + b
    return [x if y == 1 else y for x, y in zip(a, b)]


# Where a row's operands are drawn (nsl-run check draws uniform [-1, 1)):
# "wide" spreads x over [-4, 4) to reach the kinks and tails (hardswish's
# ±3, sigmoid's saturation); "positive" maps x to |x| + 0.5 (log, sqrt,
# pow's base; a divisor away from zero). By row, one entry per operand.
ELEMENTWISE_DOMAINS = {
    "div": [None, "positive"],
    "pow": ["positive", None],
    "reciprocal": ["positive"],
    "sqrt": ["positive"],
    "rsqrt": ["positive"],
    "log": ["positive"],
    "exp": ["wide"],
    "tanh": ["wide"],
    "sigmoid": ["wide"],
    "silu": ["wide"],
    "gelu": ["wide"],
    "gelu_tanh": ["wide"],
    "hardswish": ["wide"],
    "hardsigmoid": ["wide"],
    "elu": ["wide", None],
    "leaky_relu": ["wide", None],
    "clamp_min": ["wide", None],
    "clamp_max": ["wide", None],
}


def domain_body(name, operand_shapes, names):
    """Lines mapping the raw arguments into each operand's domain, and the
    operands' SSA names."""
    body, operands = [], []
    for k, (n, shape) in enumerate(zip(names, operand_shapes)):
        domain = ELEMENTWISE_DOMAINS.get(name, [None, None])[k]
        if domain is None:
            operands.append("%" + n)
            continue
        t = ty(shape)
        scalar = "tensor<f32>"
        both = t if shape == [] else f"{t}, {scalar}"
        if domain == "wide":
            body += [f"%{n}_c = arith.constant dense<4.0> : {scalar}",
                     f"%{n}_d = nsl.mul %{n}, %{n}_c : {both}"]
        else:
            body += [f"%{n}_c = arith.constant dense<0.5> : {scalar}",
                     f"%{n}_abs = nsl.abs %{n} : {t}",
                     f"%{n}_d = nsl.add %{n}_abs, %{n}_c : {both}"]
        operands.append(f"%{n}_d")
    return body, ", ".join(operands)


def elementwise_cases(arities):
    cases = []
    unary_shapes = [[2, 3, 5, 7], [1, 9], []]
    binary_shapes = [([2, 3, 5, 7], [2, 3, 5, 7]), ([2, 3, 5, 7], [3, 1, 1]),
                     ([2, 3, 5, 7], []), ([1, 3, 1, 7], [2, 1, 5, 1]),
                     ([1, 6], [6])]
    for name, arity in elementwise_rows():
        if arity not in arities:
            continue
        shapes = ([(s,) for s in unary_shapes] if arity == 1 else binary_shapes)
        for i, operand_shapes in enumerate(shapes):
            names = ["a"] if arity == 1 else ["a", "b"]
            roles = ["input", "parameter"]
            args = [(n, s, roles[k]) for k, (n, s) in enumerate(zip(names, operand_shapes))]
            result = operand_shapes[0] if arity == 1 else broadcast_shape(*operand_shapes)
            types = ", ".join(ty(s) for s in operand_shapes)
            if arity == 2 and operand_shapes[0] == operand_shapes[1]:
                types = ty(operand_shapes[0])
            body, operands = domain_body(name, operand_shapes, names)
            cases.append(simple(f"{name}_{i}", args,
                                body + [f"%y = nsl.{name} {operands} : {types}"],
                                [("%y", result, "f32")]))
            for wrt in ([[0]] if arity == 1 else [[0], [1], [0, 1]]):
                operands_spec = [(n, s, r, "f32") for n, s, r in args]
                case = vjp_case(f"{name}_vjp_{i}_{''.join(map(str, wrt))}", operands_spec,
                                f"{name}_vjp", operands, result, wrt, (),
                                ", ".join(ty(s) for s in operand_shapes))
                case.body = body + case.body
                cases.append(case)
    for case in cases:
        # A one-element result is one value's relative error: where a
        # derivative crosses zero (gelu's near x = -0.75) f32 cancellation
        # leaves a few 1e-8 absolute, accepted as such.
        if case.results[0][1] == []:
            case.atol = "1e-7"
    return cases


def layout_cases():
    """Reshapes, transposes, slices and reductions: alone, behind a
    convolution (the outliner's per-sample kernels), across the batch, and
    their VJPs."""
    cases = []
    f = "f32"
    conv = ("%c = nsl.sim_conv2d identity %x, %w {padding = array<i64: 1, 1>} "
            ": tensor<2x8x5x6xf32>, tensor<8x8x3x3xf32> -> tensor<2x8x5x6xf32>")
    conv_args = [("x", [2, 8, 5, 6], "input"), ("w", [8, 8, 3, 3], "parameter")]
    # ShuffleNet's channel shuffle: 5-D reshape, transpose, reshape back.
    cases.append(simple("channel_shuffle", conv_args,
                        [conv,
                         "%0 = nsl.reshape %c {shape = array<i64: 2, 2, 4, 5, 6>} : tensor<2x8x5x6xf32> -> tensor<2x2x4x5x6xf32>",
                         "%1 = nsl.transpose %0 {permutation = array<i64: 0, 2, 1, 3, 4>} : tensor<2x2x4x5x6xf32> -> tensor<2x4x2x5x6xf32>",
                         "%y = nsl.reshape %1 {shape = array<i64: 2, 8, 5, 6>} : tensor<2x4x2x5x6xf32> -> tensor<2x8x5x6xf32>"],
                        [("%y", [2, 8, 5, 6], f)]))
    # ConvNeXt's channels-last detour and a reshape across the batch.
    cases.append(simple("channels_last", conv_args,
                        [conv,
                         "%0 = nsl.transpose %c {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x8x5x6xf32> -> tensor<2x5x6x8xf32>",
                         "%1 = nsl.relu %0 : tensor<2x5x6x8xf32>",
                         "%y = nsl.reshape %1 {shape = array<i64: 60, 8>} : tensor<2x5x6x8xf32> -> tensor<60x8xf32>"],
                        [("%y", [60, 8], f)]))
    # ShuffleNet's split: both halves of the channels, and a slice of the
    # batch and of the width.
    cases.append(simple("slices", conv_args,
                        [conv,
                         "%0 = nsl.slice %c {dim = 1, start = 0, size = 4} : tensor<2x8x5x6xf32> -> tensor<2x4x5x6xf32>",
                         "%1 = nsl.slice %c {dim = 1, start = 4, size = 4} : tensor<2x8x5x6xf32> -> tensor<2x4x5x6xf32>",
                         "%2 = nsl.mul %0, %1 : tensor<2x4x5x6xf32>",
                         "%3 = nsl.slice %2 {dim = 0, start = 1, size = 1} : tensor<2x4x5x6xf32> -> tensor<1x4x5x6xf32>",
                         "%y = nsl.slice %3 {dim = 3, start = 2, size = 3} : tensor<1x4x5x6xf32> -> tensor<1x4x5x3xf32>"],
                        [("%y", [1, 4, 5, 3], f)]))
    # Reductions over the channels (kept), the spatial dimensions, and the
    # batch.
    for op in ["reduce_sum", "reduce_mean", "reduce_max"]:
        cases.append(simple(op, conv_args,
                            [conv,
                             f"%0 = nsl.{op} %c {{dims = array<i64: 1>, keepdim}} : tensor<2x8x5x6xf32> -> tensor<2x1x5x6xf32>",
                             "%1 = nsl.sub %c, %0 : tensor<2x8x5x6xf32>, tensor<2x1x5x6xf32>",
                             f"%y = nsl.{op} %1 {{dims = array<i64: 2, 3>}} : tensor<2x8x5x6xf32> -> tensor<2x8xf32>",
                             f"%z = nsl.{op} %1 {{dims = array<i64: 0, 2>}} : tensor<2x8x5x6xf32> -> tensor<8x6xf32>"],
                            [("%y", [2, 8], f), ("%z", [8, 6], f)]))
    # Softmax over the channels, as the importer composes it.
    cases.append(simple("softmax", [("x", [3, 7, 2, 3], "input")],
                        ["%m = nsl.reduce_max %x {dims = array<i64: 1>, keepdim} : tensor<3x7x2x3xf32> -> tensor<3x1x2x3xf32>",
                         "%0 = nsl.sub %x, %m : tensor<3x7x2x3xf32>, tensor<3x1x2x3xf32>",
                         "%1 = nsl.exp %0 : tensor<3x7x2x3xf32>",
                         "%2 = nsl.reduce_sum %1 {dims = array<i64: 1>, keepdim} : tensor<3x7x2x3xf32> -> tensor<3x1x2x3xf32>",
                         "%y = nsl.div %1, %2 : tensor<3x7x2x3xf32>, tensor<3x1x2x3xf32>"],
                        [("%y", [3, 7, 2, 3], f)]))
    # The VJPs (the reshape's and the transpose's are those ops themselves).
    for dim, out in [(0, [1, 3, 5, 6]), (1, [2, 2, 5, 6]), (3, [2, 3, 5, 3])]:
        start = 1 if dim != 3 else 2
        size = out[dim]
        cases.append(vjp_case(f"slice_vjp_dim{dim}", [("x", [2, 3, 5, 6], "input", f)], "slice_vjp", "%x", out, [0],
                              [f"dim = {dim}", f"start = {start}", f"size = {size}"], ty([2, 3, 5, 6])))
    for op in ["reduce_sum", "reduce_mean", "reduce_max"]:
        for dims, keep, out in [([1], True, [2, 1, 5, 6]), ([2, 3], False, [2, 3]), ([0, 1, 2, 3], False, [])]:
            tag = "_".join(map(str, dims)) + ("_keep" if keep else "")
            attrs = [f"dims = array<i64: {', '.join(map(str, dims))}>"] + (["keepdim"] if keep else [])
            cases.append(vjp_case(f"{op}_vjp_{tag}", [("x", [2, 3, 5, 6], "input", f)], f"{op}_vjp", "%x", out, [0],
                                  attrs, ty([2, 3, 5, 6])))
    return cases


def write(file, what, cases):
    lines = [HEADER.format(what=what)]
    for i, case in enumerate(cases):
        lines.append(f"// RUN: nslc %s --function {case.name} --seed {i} -o %t.{case.name} > /dev/null")
        lines.append(f"// RUN: nsl-run check %t.{case.name} --seed {i + 100} --tolerance {case.tolerance}{f' --atol {case.atol}' if case.atol else ''} | FileCheck %s --check-prefix=OK")
    lines.append("// OK: {{all|every}}")
    lines.append("")
    lines += [case.text() + "\n" for case in cases]
    with open(os.path.join(HERE, file), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    write("conv-ops.mlir", "The similarity convolution, every structure", conv_cases())
    write("sphere-ops.mlir", "SphereConv, every variant", sphere_cases())
    write("other-ops.mlir", "The other nsl ops", other_cases())
    write("grad-conv-ops.mlir", "The VJPs of the convolutions, similarities and SphereConv", grad_conv_cases())
    write("elementwise-binary-ops.mlir", "The binary elementwise rows (dialect/NSLElementwise.td), forward and VJP", elementwise_cases([2]))
    write("elementwise-unary-ops.mlir", "The unary elementwise rows (dialect/NSLElementwise.td), forward and VJP", elementwise_cases([1]))
    write("layout-ops.mlir", "Reshapes, transposes, slices and reductions, forward and VJP", layout_cases())
    write("grad-other-ops.mlir", "The other training ops: VJPs, penalties, count_correct, SGD and Adam", grad_other_cases())
