//===- LowerConvGradients.cpp - VJPs of the convolution family → linalg ---===//
//
// The vector-Jacobian products of sim_conv2d (plain, DNS, UNS, dynamic
// shape_masked), sphere_conv2d, patch_norm, predicted_similarity and
// fold_similarity as linalg on tensors (f32), following DESIGN.md §1 and the
// conventions of runtime/reference/Gradients.cpp. Only the gradients listed
// in `wrt` are built. Every sum is a linalg.generic reduction: one fixed
// sequential order, so the same inputs give the same bits.
//
// Windows: Xp is the zero-padded input, read through (n, c, y·sh + ky·dh,
// x·sw + kx·dw). The input gradient is a gather: the upstream gradient (and
// a dynamic similarity) is zero-upsampled by the stride into a tensor Gu with
// G[n,o,y,x] at (A + y·sh, B + x·sw), A = (kh−1)·dh, B = (kw−1)·dw, so that
// pixel iy of the input receives tap ky from Gu[iy + ph + (kh−1−ky)·dh]: an
// affine "transposed convolution" over (o, taps) for each input pixel.
// The weight gradient reads the padded input through the window map (no
// unfolded input). UNS routes ∂X and ∂M through the gradient of the mixed
// taps Q[n,c,t,p] = Σ_o G·W[o,c,t] (K times fewer products). Small outputs
// of long sums (∂bias, ∂k', ∂γ, ∂d_r, SphereConv's Σ u·cos θ) accumulate in
// f64, so that sums that cancel keep their relative accuracy.
//
//===----------------------------------------------------------------------===//
#include "codegen/common/ConvVectorKernels.h"
#include "codegen/common/LinalgBuilder.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

lowering::ConvVectorKernels::~ConvVectorKernels() = default;

ConvWindow mlir::nsl::lowering::makeWindow(Value input,
                                           ArrayRef<int64_t> kernel,
                                           ArrayRef<int64_t> stride,
                                           ArrayRef<int64_t> padding,
                                           ArrayRef<int64_t> dilation) {
  ArrayRef<int64_t> in = shapeOf(input);
  ConvWindow w;
  w.stride.assign(stride.begin(), stride.end());
  w.padding.assign(padding.begin(), padding.end());
  w.dilation.assign(dilation.begin(), dilation.end());
  w.kernel.assign(kernel.begin(), kernel.end());
  w.hp = in[2] + 2 * padding[0];
  w.wp = in[3] + 2 * padding[1];
  return w;
}

/// Σ of `term(inputs)` over the reduction loops into `shape`, computed and
/// accumulated in f64 (the inputs widened first), then rounded to f32: a
/// sum that cancels, such as the gradient of a scalar, keeps its relative
/// accuracy. Without `widenInputs` the term is computed in f32.
Value mlir::nsl::lowering::preciseSum(LoweringBuilder &g,
                                      ArrayRef<int64_t> shape,
                                      ValueRange inputs,
                                      ArrayRef<AffineMap> maps,
                                      ArrayRef<IteratorType> iterators,
                                      Body term, bool widenInputs) {
  Type f64 = g.b.getF64Type();
  Value zero = arith::ConstantOp::create(g.b, g.loc, g.b.getF64FloatAttr(0.0));
  Value init = linalg::FillOp::create(
                   g.b, g.loc, zero,
                   ValueRange{tensor::EmptyOp::create(g.b, g.loc, shape, f64)})
                   .getResult(0);
  Value sum =
      g.generic(init, inputs, maps, iterators,
                [&](OpBuilder &b, Location l, ValueRange a) {
                  if (!widenInputs)
                    return addf(b, l, a.back(),
                                arith::ExtFOp::create(
                                    b, l, f64, term(b, l, a.drop_back())));
                  SmallVector<Value> wide;
                  for (Value v : a.drop_back())
                    wide.push_back(arith::ExtFOp::create(b, l, f64, v));
                  return addf(b, l, a.back(), term(b, l, wide));
                });
  unsigned rank = shape.size();
  return g.generic(g.empty(shape), {sum}, {g.identity(rank), g.identity(rank)},
                   SmallVector<IteratorType>(rank, kParallel),
                   [](OpBuilder &b, Location l, ValueRange a) -> Value {
                     return arith::TruncFOp::create(b, l, b.getF32Type(), a[0]);
                   });
}

namespace {

using Grads = FailureOr<SmallVector<Value>>;

// The target's vector loops where it has them (ConvVectorKernels.h).
std::optional<Value> vectorInputGradient(LoweringBuilder &g, Value gu,
                                         Value weight, Value maskU,
                                         ArrayRef<int64_t> inputShape,
                                         const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->inputGradient(g, gu, weight, maskU, inputShape, w);
}
std::optional<Value> vectorConvolution(LoweringBuilder &g, Value xp,
                                       Value weight, ArrayRef<int64_t> outShape,
                                       const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->convolution(g, xp, weight, outShape, w);
}
std::optional<Value> vectorMixedTapGradient(LoweringBuilder &g, Value gOut,
                                            Value weight) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->mixedTapGradient(g, gOut, weight);
}
std::optional<Value> vectorUnsContraction(LoweringBuilder &g, Value q, Value m7,
                                          Value xp, const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->unsContraction(g, q, m7, xp, w);
}
std::optional<Value> vectorWeightGradient(LoweringBuilder &g, Value gOut,
                                          Value xp, Value mask,
                                          ArrayRef<int64_t> ws,
                                          const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->weightGradient(g, gOut, xp, mask, ws, w);
}
std::optional<Value> vectorMaskGradient(LoweringBuilder &g, Value gOut,
                                        Value xp, Value weight,
                                        const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->maskGradient(g, gOut, xp, weight, w);
}
std::optional<Value> vectorMixedTaps(LoweringBuilder &g, Value m7, Value xp,
                                     int64_t channels, const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  return g.vectors->mixedTaps(g, m7, xp, channels, w);
}

/// Zero-upsamples the spatial dimensions (the last two) of `v` [.., Ho, Wo]
/// by the stride: [.., Hu, Wu] with v[.., y, x] at (A + y·sh, B + x·sw).
Value upsample(LoweringBuilder &g, Value v, const ConvWindow &w) {
  ArrayRef<int64_t> shape = shapeOf(v);
  unsigned rank = shape.size();
  SmallVector<int64_t> upShape(shape);
  upShape[rank - 2] = w.hu();
  upShape[rank - 1] = w.wu();
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (unsigned i = 0; i < rank; ++i) {
    int64_t offset = 0, step = 1;
    if (i == rank - 2) {
      offset = (w.kernel[0] - 1) * w.dilation[0];
      step = w.stride[0];
    } else if (i == rank - 1) {
      offset = (w.kernel[1] - 1) * w.dilation[1];
      step = w.stride[1];
    }
    offsets.push_back(g.b.getIndexAttr(offset));
    sizes.push_back(g.b.getIndexAttr(shape[i]));
    strides.push_back(g.b.getIndexAttr(step));
  }
  return tensor::InsertSliceOp::create(g.b, g.loc, v, g.filled(upShape, 0.0),
                                       offsets, sizes, strides);
}

/// The row of an upsampled tensor that input pixel `pixel` (a loop
/// dimension, unpadded coordinates) reads for tap `tap` along axis `axis`.
AffineExpr transposedIndex(LoweringBuilder &g, const ConvWindow &w,
                           unsigned pixel, unsigned tap, unsigned axis) {
  int64_t shift = w.padding[axis] + (w.kernel[axis] - 1) * w.dilation[axis];
  return g.d(pixel) + shift - g.d(tap) * w.dilation[axis];
}

Value product(OpBuilder &b, Location l, ValueRange a) {
  return mulf(b, l, a[0], a[1]);
}

Value sumOfProducts(OpBuilder &b, Location l, ValueRange a) {
  Value product = a[0];
  for (Value v : a.drop_front().drop_back())
    product = mulf(b, l, product, v);
  return addf(b, l, a.back(), product);
}

/// ∂X[n,c,iy,ix] = Σ_{o,t} Gu[n,o,·]·W[o,c,t]·mu[n,t,·] over the taps t
/// whose window covers the pixel. `maskU` is null (M = I) or the upsampled
/// DNS mask [N, kh, kw, Hu, Wu]. Loops (n, c, iy, ix, o, ky, kx).
Value inputGradient(LoweringBuilder &g, Value gu, Value weight, Value maskU,
                    ArrayRef<int64_t> inputShape, const ConvWindow &w,
                    int64_t groups = 1) {
  AffineExpr row = transposedIndex(g, w, 2, 5, 0);
  AffineExpr col = transposedIndex(g, w, 3, 6, 1);
  SmallVector<Value> inputs = {gu, weight};
  SmallVector<AffineMap> maps = {g.map(7, {g.d(0), g.d(4), row, col}),
                                 g.dims(7, {4, 1, 5, 6})};
  if (groups != 1) {
    // Gu as [N, G, Og, Hu, Wu], W as [G, Og, Cg, kh, kw]; o' (loop 4)
    // runs over the Og outputs of input channel c's group.
    ArrayRef<int64_t> us = shapeOf(gu), ws = shapeOf(weight);
    int64_t perGroup = ws[0] / groups, channels = ws[1];
    inputs = {g.expand(gu, {us[0], groups, perGroup, us[2], us[3]},
                       {{0}, {1, 2}, {3}, {4}}),
              g.expand(weight, {groups, perGroup, channels, ws[2], ws[3]},
                       {{0, 1}, {2}, {3}, {4}})};
    AffineExpr group = g.d(1).floorDiv(channels);
    maps = {g.map(7, {g.d(0), group, g.d(4), row, col}),
            g.map(7, {group, g.d(4), g.d(1) % channels, g.d(5), g.d(6)})};
  }
  if (maskU) {
    inputs.push_back(maskU);
    maps.push_back(g.map(7, {g.d(0), g.d(5), g.d(6), row, col}));
  }
  maps.push_back(g.dims(7, {0, 1, 2, 3}));
  return g.generic(g.filled(inputShape, 0.0), inputs, maps,
                   {kParallel, kParallel, kParallel, kParallel, kReduction,
                    kReduction, kReduction},
                   sumOfProducts);
}

/// UNS: the gradient of the mixed taps, Q[n,c,t,p] = Σ_o G[n,o,p]·W[o,c,t],
/// as [N, C, kh, kw, Ho, Wo] (the size of the forward's mixed patches). Both
/// UNS gradients of X and M go through it: K times fewer products than
/// contracting G·W·M (or G·W·Xp) directly. Loops (n, c, ty, tx, y, x, o).
Value mixedTapGradient(LoweringBuilder &g, Value gOut, Value weight,
                       int64_t groups = 1) {
  ArrayRef<int64_t> gs = shapeOf(gOut), ws = shapeOf(weight);
  SmallVector<Value> inputs = {gOut, weight};
  SmallVector<AffineMap> maps = {g.dims(7, {0, 6, 4, 5}),
                                 g.dims(7, {6, 1, 2, 3})};
  if (groups != 1) {
    // G as [N, G, Og, Ho, Wo], W as [G, Og, Cg, kh, kw]; o' (loop 6) runs
    // over the outputs of channel c's group.
    int64_t perGroup = ws[0] / groups, channels = ws[1];
    inputs = {g.expand(gOut, {gs[0], groups, perGroup, gs[2], gs[3]},
                       {{0}, {1, 2}, {3}, {4}}),
              g.expand(weight, {groups, perGroup, channels, ws[2], ws[3]},
                       {{0, 1}, {2}, {3}, {4}})};
    AffineExpr group = g.d(1).floorDiv(channels);
    maps = {g.map(7, {g.d(0), group, g.d(6), g.d(4), g.d(5)}),
            g.map(7, {group, g.d(6), g.d(1) % channels, g.d(2), g.d(3)})};
  }
  maps.push_back(g.dims(7, {0, 1, 2, 3, 4, 5}));
  return g.generic(
      g.filled({gs[0], ws[1] * groups, ws[2], ws[3], gs[2], gs[3]}, 0.0),
      inputs, maps,
      {kParallel, kParallel, kParallel, kParallel, kParallel, kParallel,
       kReduction},
      sumOfProducts);
}

/// UNS ∂X: R[n,c,s,p] = Σ_t Q[n,c,t,p]·M_p[t,s], then each input pixel
/// gathers R from the positions and source taps s whose window covers it.
/// `m7` is M_p as [N, kh, kw, kh, kw, Ho, Wo].
Value mixedInputGradient(LoweringBuilder &g, Value q, Value m7,
                         ArrayRef<int64_t> inputShape, const ConvWindow &w) {
  // Loops (n, c, sy, sx, y, x, ty, tx).
  std::optional<Value> fast = vectorUnsContraction(g, q, m7, Value(), w);
  Value r = fast ? *fast
                 : g.generic(g.filled(shapeOf(q), 0.0), {q, m7},
                             {g.dims(8, {0, 1, 6, 7, 4, 5}),
                              g.dims(8, {0, 6, 7, 2, 3, 4, 5}),
                              g.dims(8, {0, 1, 2, 3, 4, 5})},
                             {kParallel, kParallel, kParallel, kParallel,
                              kParallel, kParallel, kReduction, kReduction},
                             sumOfProducts);
  // Loops (n, c, iy, ix, sy, sx).
  return g.generic(
      g.filled(inputShape, 0.0), {upsample(g, r, w)},
      {g.map(6, {g.d(0), g.d(1), g.d(4), g.d(5), transposedIndex(g, w, 2, 4, 0),
                 transposedIndex(g, w, 3, 5, 1)}),
       g.dims(6, {0, 1, 2, 3})},
      {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction},
      [](OpBuilder &b, Location l, ValueRange a) {
        return addf(b, l, a[1], a[0]);
      });
}

/// ∂W[o,c,t] = Σ_{n,p} G[n,o,p]·Σ_s M_p[t,s]·Xp[n,c,window(p,s)], straight
/// from the padded input. `mask` is null (M = I), the DNS mask
/// [N, kh, kw, Ho, Wo] or the UNS similarity [N, kh, kw, kh, kw, Ho, Wo].
Value weightGradient(LoweringBuilder &g, Value gOut, Value xp, Value mask,
                     ArrayRef<int64_t> weightShape, const ConvWindow &w,
                     int64_t groups = 1) {
  SmallVector<Value> inputs = {gOut, xp};
  SmallVector<AffineMap> maps;
  SmallVector<IteratorType> iterators(4, kParallel);
  // Grouped: output o reads input channel ⌊o/Og⌋·Cg + c (loop 1 is c).
  auto grouped = [&](AffineMap window) {
    if (groups == 1)
      return window;
    SmallVector<AffineExpr> exprs(window.getResults());
    exprs[1] =
        g.d(0).floorDiv(weightShape[0] / groups) * weightShape[1] + exprs[1];
    return g.map(window.getNumDims(), exprs);
  };
  if (!mask || shapeOf(mask).size() == 5) {
    // Loops (o, c, ky, kx, n, y, x).
    maps = {g.dims(7, {4, 0, 5, 6}),
            grouped(windowMap(g, 7, 4, 1, 5, 6, 2, 3, w.stride, w.dilation))};
    if (mask) {
      inputs.push_back(mask);
      maps.push_back(g.dims(7, {4, 2, 3, 5, 6}));
    }
    maps.push_back(g.dims(7, {0, 1, 2, 3}));
    iterators.append(3, kReduction);
  } else {
    // Loops (o, c, ty, tx, n, y, x, sy, sx).
    inputs.push_back(mask);
    maps = {g.dims(9, {4, 0, 5, 6}),
            grouped(windowMap(g, 9, 4, 1, 5, 6, 7, 8, w.stride, w.dilation)),
            g.dims(9, {4, 2, 3, 7, 8, 5, 6}), g.dims(9, {0, 1, 2, 3})};
    iterators.append(5, kReduction);
  }
  return g.generic(g.filled(weightShape, 0.0), inputs, maps, iterators,
                   sumOfProducts);
}

/// UNS ∂W through the mixed taps Z[n,c,t,p] = Σ_s M_p[t,s]·Xp[n,c,window(p,s)]
/// (K² products per pixel, as the forward's mixing): ∂W[o,c,t] =
/// Σ_{n,p} G[n,o,p]·Z[n,c,t,p] is then the weight gradient of a 1×1
/// convolution over C·K channels, in the vector loops. `m7` is M_p as
/// [N, kh, kw, kh, kw, Ho, Wo]. std::nullopt when those loops do not apply.
std::optional<Value> mixedWeightGradient(LoweringBuilder &g, Value gOut,
                                         Value xp, Value m7,
                                         ArrayRef<int64_t> ws,
                                         const ConvWindow &w) {
  if (!g.vectors)
    return std::nullopt;
  ArrayRef<int64_t> gs = shapeOf(gOut);
  int64_t n = gs[0], ho = gs[2], wo = gs[3];
  int64_t outputs = ws[0], channels = ws[1], kh = ws[2], kw = ws[3];
  // Loops (n, c, ty, tx, y, x, sy, sx).
  std::optional<Value> fastZ = vectorMixedTaps(g, m7, xp, channels, w);
  Value z =
      fastZ
          ? *fastZ
          : g.generic(g.filled({n, channels, kh, kw, ho, wo}, 0.0), {m7, xp},
                      {g.dims(8, {0, 2, 3, 6, 7, 4, 5}),
                       windowMap(g, 8, 0, 1, 4, 5, 6, 7, w.stride, w.dilation),
                       g.dims(8, {0, 1, 2, 3, 4, 5})},
                      {kParallel, kParallel, kParallel, kParallel, kParallel,
                       kParallel, kReduction, kReduction},
                      sumOfProducts);
  Value flat = g.collapse(z, {{0}, {1, 2, 3}, {4}, {5}});
  ConvWindow pointwise = w;
  pointwise.stride = {1, 1};
  pointwise.padding = {0, 0};
  pointwise.dilation = {1, 1};
  pointwise.kernel = {1, 1};
  pointwise.hp = ho;
  pointwise.wp = wo;
  std::optional<Value> dw = vectorWeightGradient(
      g, gOut, flat, Value(), {outputs, channels * kh * kw, 1, 1}, pointwise);
  if (!dw)
    return std::nullopt;
  return g.expand(g.collapse(*dw, {{0}, {1, 2, 3}}), ws, {{0}, {1, 2, 3}});
}

/// The gradient of a dynamic similarity, G_M, in the operand's layout:
/// DNS ∂m[n,t,p] = Σ_{o,c} G[n,o,p]·W[o,c,t]·Xp[n,c,window(p,t)] as
/// [N, K, Ho, Wo] (loops (n, ky, kx, y, x, o, c)); UNS
/// ∂M[n,t·K+s,p] = Σ_c Q[n,c,t,p]·Xp[n,c,window(p,s)] as [N, K·K, Ho, Wo]
/// from the mixed-tap gradient Q (loops (n, ty, tx, sy, sx, y, x, c)).
Value similarityGradient(LoweringBuilder &g, Value gOut, Value xp, Value weight,
                         Value q, const ConvWindow &w, int64_t groups = 1) {
  ArrayRef<int64_t> gs = shapeOf(gOut);
  int64_t n = gs[0], ho = gs[2], wo = gs[3];
  int64_t kh = w.kernel[0], kw = w.kernel[1];
  if (!q) {
    if (std::optional<Value> fast = vectorMaskGradient(g, gOut, xp, weight, w))
      return g.collapse(*fast, {{0}, {1, 2}, {3}, {4}});
    // Grouped: output o reads input channel ⌊o/Og⌋·Cg + c (loop 6 is c).
    AffineMap window = windowMap(g, 7, 0, 6, 3, 4, 1, 2, w.stride, w.dilation);
    if (groups != 1) {
      ArrayRef<int64_t> ws = shapeOf(weight);
      SmallVector<AffineExpr> exprs(window.getResults());
      exprs[1] = g.d(5).floorDiv(ws[0] / groups) * ws[1] + g.d(6);
      window = g.map(7, exprs);
    }
    Value dm = g.generic(g.filled({n, kh, kw, ho, wo}, 0.0), {gOut, weight, xp},
                         {g.dims(7, {0, 5, 3, 4}), g.dims(7, {5, 6, 1, 2}),
                          window, g.dims(7, {0, 1, 2, 3, 4})},
                         {kParallel, kParallel, kParallel, kParallel, kParallel,
                          kReduction, kReduction},
                         sumOfProducts);
    return g.collapse(dm, {{0}, {1, 2}, {3}, {4}});
  }
  if (std::optional<Value> fast = vectorUnsContraction(g, q, Value(), xp, w))
    return g.collapse(*fast, {{0}, {1, 2, 3, 4}, {5}, {6}});
  Value dm = g.generic(g.filled({n, kh, kw, kh, kw, ho, wo}, 0.0), {q, xp},
                       {g.dims(8, {0, 7, 1, 2, 5, 6}),
                        windowMap(g, 8, 0, 7, 5, 6, 3, 4, w.stride, w.dilation),
                        g.dims(8, {0, 1, 2, 3, 4, 5, 6})},
                       {kParallel, kParallel, kParallel, kParallel, kParallel,
                        kParallel, kParallel, kReduction},
                       sumOfProducts);
  return g.collapse(dm, {{0}, {1, 2, 3, 4}, {5}, {6}});
}

/// A dynamic similarity operand [N, K, Ho, Wo] or [N, K·K, Ho, Wo] viewed
/// with its taps split: [N, kh, kw, Ho, Wo] or [N, kh, kw, kh, kw, Ho, Wo].
Value splitTaps(LoweringBuilder &g, Value mask, const ConvWindow &w) {
  ArrayRef<int64_t> ms = shapeOf(mask);
  int64_t kh = w.kernel[0], kw = w.kernel[1];
  if (ms[1] == w.taps())
    return g.expand(mask, {ms[0], kh, kw, ms[2], ms[3]},
                    {{0}, {1, 2}, {3}, {4}});
  return g.expand(mask, {ms[0], kh, kw, kh, kw, ms[2], ms[3]},
                  {{0}, {1, 2, 3, 4}, {5}, {6}});
}

/// ∂bias[o] = Σ_{n,p} G[n,o,p]. Loops (n, o, y, x).
Value biasGradient(LoweringBuilder &g, Value gOut) {
  return preciseSum(g, {shapeOf(gOut)[1]}, {gOut},
                    {g.identity(4), g.dims(4, {1})},
                    {kReduction, kParallel, kReduction, kReduction},
                    [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

Value greater(OpBuilder &b, Location l, Value x, double bound) {
  return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                               cstf(b, l, bound));
}

//===----------------------------------------------------------------------===//
// sim_conv2d
//===----------------------------------------------------------------------===//

/// The gradients of a grouped plain convolution (G groups; a grouped
/// dynamic layer takes the dynamic path with the group in its maps): with
/// Og = O/G, Cg = C/G and
/// output channel o = ⌊c/Cg⌋·Og + o' of input channel c's group,
///   ∂X[n,c,iy,ix] = Σ_{o',t} Gu[n,o,·]·W[o, c mod Cg, t],
///   ∂W[o,c',t]    = Σ_{n,p} G[n,o,p]·Xp[n, ⌊o/Og⌋·Cg + c', window(p,t)].
Grads groupedConvGradients(LoweringBuilder &g, SimConv2dVJPOp op,
                           const ConvWindow &w, int64_t groups) {
  Value x = op.getInput(), weight = op.getWeight(), gOut = op.getGradOutput();
  ArrayRef<int64_t> ws = shapeOf(weight);
  int64_t perGroup = ws[0] / groups, channels = ws[1];
  int64_t biasIndex = 2 + static_cast<int64_t>(op.getSimilarity().size());
  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0) {
      // Loops (n, c, iy, ix, o', ky, kx) over Gu [N, G, Og, Hu, Wu] and
      // W [G, Og, Cg, kh, kw].
      Value gu = upsample(g, gOut, w);
      ArrayRef<int64_t> us = shapeOf(gu);
      Value gu5 = g.expand(gu, {us[0], groups, perGroup, us[2], us[3]},
                           {{0}, {1, 2}, {3}, {4}});
      Value w5 = g.expand(weight, {groups, perGroup, channels, ws[2], ws[3]},
                          {{0, 1}, {2}, {3}, {4}});
      AffineExpr group = g.d(1).floorDiv(channels);
      grads.push_back(g.generic(
          g.filled(shapeOf(x), 0.0), {gu5, w5},
          {g.map(7, {g.d(0), group, g.d(4), transposedIndex(g, w, 2, 5, 0),
                     transposedIndex(g, w, 3, 6, 1)}),
           g.map(7, {group, g.d(4), g.d(1) % channels, g.d(5), g.d(6)}),
           g.dims(7, {0, 1, 2, 3})},
          {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction,
           kReduction},
          sumOfProducts));
    } else if (index == 1) {
      // Loops (o, c', ky, kx, n, y, x).
      Value xp = g.padSpatial(x, w.padding, 0.0);
      AffineMap input =
          g.map(7, {g.d(4), g.d(0).floorDiv(perGroup) * channels + g.d(1),
                    g.d(5) * w.stride[0] + g.d(2) * w.dilation[0],
                    g.d(6) * w.stride[1] + g.d(3) * w.dilation[1]});
      grads.push_back(
          g.generic(g.filled(ws, 0.0), {gOut, xp},
                    {g.dims(7, {4, 0, 5, 6}), input, g.dims(7, {0, 1, 2, 3})},
                    {kParallel, kParallel, kParallel, kParallel, kReduction,
                     kReduction, kReduction},
                    sumOfProducts));
    } else if (index == biasIndex && op.getBias()) {
      grads.push_back(biasGradient(g, gOut));
    } else {
      return op.emitError("no gradient of operand ")
             << index << " of a grouped convolution";
    }
  }
  return grads;
}

/// shape_masked's straight-through ∂d_r[t] = Σ_{n,p,s} G_M[t,s]·R_p[t,s]
/// from the similarity gradient G_M and R_p, both [N, K, Ho, Wo] (diagonal
/// R) or [N, K·K, Ho, Wo].
Value thresholdGradient(LoweringBuilder &g, Value gradM, Value raw, int64_t k) {
  ArrayRef<int64_t> rs = shapeOf(raw);
  if (rs[1] == k) {
    // Loops (t, n, y, x).
    return preciseSum(
        g, {k}, {gradM, raw},
        {g.dims(4, {1, 0, 2, 3}), g.dims(4, {1, 0, 2, 3}), g.dims(4, {0})},
        {kParallel, kReduction, kReduction, kReduction}, product);
  }
  SmallVector<int64_t> split = {rs[0], k, k, rs[2], rs[3]};
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
  // Loops (t, n, y, x, s).
  AffineMap at = g.dims(5, {1, 0, 4, 2, 3});
  return preciseSum(
      g, {k}, {g.expand(gradM, split, groups), g.expand(raw, split, groups)},
      {at, at, g.dims(5, {0})},
      {kParallel, kReduction, kReduction, kReduction, kReduction}, product);
}

Grads lowerSimConv2dVJP(LoweringBuilder &g, SimConv2dVJPOp op) {
  Structure structure = op.getStructure();
  bool dynamic = op.getDynamic();
  if (!dynamic && structure != Structure::Identity)
    return op.emitError("a static similarity must be folded into the weights "
                        "before its gradient is lowered");
  if (dynamic && structure != Structure::Diagonal &&
      structure != Structure::Full && structure != Structure::ShapeMasked)
    return op.emitError("no gradient lowering for this dynamic structure");
  Value x = op.getInput(), weight = op.getWeight(), gOut = op.getGradOutput();
  ArrayRef<int64_t> ws = shapeOf(weight);
  ConvWindow w = makeWindow(x, ws.drop_front(2), op.getStride(),
                            op.getPadding(), op.getDilation());
  int64_t groups = static_cast<int64_t>(op.getGroups());
  if (groups != 1 && !dynamic)
    return groupedConvGradients(g, op, w, groups);
  // A grouped dynamic layer takes the linalg contractions below, with the
  // group in their maps; the target's vector loops are ungrouped.
  if (groups != 1 && g.vectors) {
    LoweringBuilder generic(g.b, g.loc);
    return lowerSimConv2dVJP(generic, op);
  }
  ValueRange sim = op.getSimilarity();
  double alpha = op.getAlpha().convertToDouble();
  int64_t k = w.taps();
  // The dynamic similarity operand and the effective M_p (shape_masked
  // zeroes the rows t with D[t] = 0, as the forward lowering does).
  Value raw = dynamic ? sim.back() : Value();
  bool full = raw && shapeOf(raw)[1] != k;
  AffineExpr row = full ? g.d(1).floorDiv(k) : g.d(1);
  Value effective = raw;
  if (raw && structure == Structure::ShapeMasked)
    effective = g.generic(g.empty(shapeOf(raw)), {sim[0], raw},
                          {g.map(4, {row}), g.identity(4), g.identity(4)},
                          SmallVector<IteratorType>(4, kParallel),
                          [&](OpBuilder &b, Location l, ValueRange a) {
                            return select(b, l, greater(b, l, a[0], alpha),
                                          a[1], cstf(b, l, 0.0));
                          });

  Value xp, gradM, q;
  auto padded = [&] {
    if (!xp)
      xp = g.padSpatial(x, w.padding, 0.0);
    return xp;
  };
  auto mixedTaps = [&] {
    if (!q) {
      std::optional<Value> fast = vectorMixedTapGradient(g, gOut, weight);
      q = fast ? *fast : mixedTapGradient(g, gOut, weight, groups);
    }
    return q;
  };
  auto similarityGrad = [&] {
    if (!gradM)
      gradM = similarityGradient(g, gOut, padded(), weight,
                                 full ? mixedTaps() : Value(), w, groups);
    return gradM;
  };

  SmallVector<Value> grads;
  int64_t biasIndex = 2 + static_cast<int64_t>(sim.size());
  for (int64_t index : op.getWrt()) {
    if (index == 0 && full) {
      grads.push_back(mixedInputGradient(
          g, mixedTaps(), splitTaps(g, effective, w), shapeOf(x), w));
    } else if (index == 0) {
      Value maskU =
          effective ? upsample(g, splitTaps(g, effective, w), w) : Value();
      Value gu = upsample(g, gOut, w);
      if (std::optional<Value> fast =
              vectorInputGradient(g, gu, weight, maskU, shapeOf(x), w))
        grads.push_back(*fast);
      else
        grads.push_back(
            inputGradient(g, gu, weight, maskU, shapeOf(x), w, groups));
    } else if (index == 1) {
      Value mask = effective ? splitTaps(g, effective, w) : Value();
      if (std::optional<Value> fast =
              full ? mixedWeightGradient(g, gOut, padded(), mask, ws, w)
                   : vectorWeightGradient(g, gOut, padded(), mask, ws, w))
        grads.push_back(*fast);
      else
        grads.push_back(weightGradient(g, gOut, padded(), mask, ws, w, groups));
    } else if (index == biasIndex && op.getBias()) {
      grads.push_back(biasGradient(g, gOut));
    } else if (structure != Structure::ShapeMasked && index == 2) {
      grads.push_back(similarityGrad());
    } else if (structure == Structure::ShapeMasked && index == 3) {
      // ∂R = D[t]·G_M.
      grads.push_back(
          g.generic(g.empty(shapeOf(raw)), {sim[0], similarityGrad()},
                    {g.map(4, {row}), g.identity(4), g.identity(4)},
                    SmallVector<IteratorType>(4, kParallel),
                    [&](OpBuilder &b, Location l, ValueRange a) {
                      return select(b, l, greater(b, l, a[0], alpha), a[1],
                                    cstf(b, l, 0.0));
                    }));
    } else if (structure == Structure::ShapeMasked && index == 2) {
      grads.push_back(thresholdGradient(g, similarityGrad(), raw, k));
    } else {
      return op.emitError("unexpected operand index ") << index << " in wrt";
    }
  }
  return grads;
}

//===----------------------------------------------------------------------===//
// SphereConv and patch norm
//===----------------------------------------------------------------------===//

/// Σ_{ky,kx} βu[n,0,·] over the taps whose window covers input pixel
/// (iy, ix), for β [N, 1, Ho, Wo]: the adjoint of a box filter, [N, H, W].
Value boxAdjoint(LoweringBuilder &g, Value beta, ArrayRef<int64_t> inputShape,
                 const ConvWindow &w) {
  Value betaU = upsample(g, beta, w);
  // Loops (n, iy, ix, ky, kx).
  AffineExpr zero = getAffineConstantExpr(0, g.ctx());
  return g.generic(g.filled({inputShape[0], inputShape[2], inputShape[3]}, 0.0),
                   {betaU, g.empty({w.kernel[0], w.kernel[1]})},
                   {g.map(5, {g.d(0), zero, transposedIndex(g, w, 1, 3, 0),
                              transposedIndex(g, w, 2, 4, 1)}),
                    g.dims(5, {3, 4}), g.dims(5, {0, 1, 2})},
                   {kParallel, kParallel, kParallel, kReduction, kReduction},
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[2], a[0]);
                   });
}

/// X[n,c,iy,ix]·B[n,iy,ix] (+ T[n,c,iy,ix]).
Value scaleInput(LoweringBuilder &g, Value x, Value box, Value plus) {
  SmallVector<Value> inputs = {x, box};
  SmallVector<AffineMap> maps = {g.identity(4), g.dims(4, {0, 2, 3})};
  if (plus) {
    inputs.push_back(plus);
    maps.push_back(g.identity(4));
  }
  maps.push_back(g.identity(4));
  return g.generic(g.empty(shapeOf(x)), inputs, maps,
                   SmallVector<IteratorType>(4, kParallel),
                   [&](OpBuilder &b, Location l, ValueRange a) {
                     Value scaled = mulf(b, l, a[0], a[1]);
                     return plus ? addf(b, l, a[2], scaled) : scaled;
                   });
}

constexpr double kPi = llvm::numbers::pi;

/// The sigmoid variants' e = exp(θ/k − π/(2k)), q = exp(−π/(2k)) and
/// κ = (1 + q)/(1 − q).
struct SigmoidTerms {
  Value e, q, kappa;
};
SigmoidTerms sigmoidTerms(OpBuilder &b, Location l, Value theta, Value k) {
  Value halfPi = cstf(b, l, kPi / 2);
  Value one = cstf(b, l, 1.0);
  Value e = math::ExpOp::create(b, l, divf(b, l, subf(b, l, theta, halfPi), k));
  Value q = math::ExpOp::create(
      b, l, divf(b, l, arith::NegFOp::create(b, l, halfPi), k));
  Value kappa = divf(b, l, addf(b, l, one, q), subf(b, l, one, q));
  return {e, q, kappa};
}

/// θ = acos(clamp(cos θ, −1, 1)) (the reference's guard of acos).
Value sigmoidTheta(OpBuilder &b, Location l, Value cos) {
  Value clamped = arith::MinimumFOp::create(
      b, l, arith::MaximumFOp::create(b, l, cos, cstf(b, l, -1.0)),
      cstf(b, l, 1.0));
  return math::AcosOp::create(b, l, clamped);
}

/// 1 when lo ≤ v ≤ hi (false for NaN).
Value inside(OpBuilder &b, Location l, Value v, double lo, double hi) {
  Value above =
      arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, v, cstf(b, l, lo));
  Value below =
      arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLE, v, cstf(b, l, hi));
  return arith::AndIOp::create(b, l, above, below);
}

/// dg/dcos θ (reference sphereActivationDerivative).
Value sphereDerivative(OpBuilder &b, Location l, SphereVariant variant,
                       Value cos, Value k) {
  Value one = cstf(b, l, 1.0), zero = cstf(b, l, 0.0);
  // 1/sqrt(1 − cos²).
  auto invSine = [&] {
    return math::RsqrtOp::create(b, l, subf(b, l, one, mulf(b, l, cos, cos)));
  };
  switch (variant) {
  case SphereVariant::Cosine:
    return one;
  case SphereVariant::Linear: {
    // g = 1 − 2·acos(c)/π: 2/(π·sqrt(1 − c²)) inside the clamp, else 0.
    Value d = mulf(b, l, cstf(b, l, 2.0 / kPi), invSine());
    return select(b, l, inside(b, l, cos, -1.0 + 1e-6, 1.0 - 1e-6), d, zero);
  }
  case SphereVariant::Sigmoid:
  case SphereVariant::LearnedSigmoid: {
    // dg/dθ = −2κe/(k(1 + e)²), dθ/dcos = −1/sqrt(1 − cos²).
    SigmoidTerms s = sigmoidTerms(b, l, sigmoidTheta(b, l, cos), k);
    Value onePlusE = addf(b, l, one, s.e);
    Value dTheta =
        divf(b, l, mulf(b, l, cstf(b, l, 2.0), mulf(b, l, s.kappa, s.e)),
             mulf(b, l, k, mulf(b, l, onePlusE, onePlusE)));
    // (−dTheta)·(−invSine) = dTheta·invSine.
    Value d = mulf(b, l, dTheta, invSine());
    return select(b, l, inside(b, l, cos, -1.0, 1.0), d, zero);
  }
  }
  llvm_unreachable("unknown sphere variant");
}

/// ∂g/∂k of the sigmoid variants at θ (reference sigmoidDerivativeInK).
Value sigmoidDerivativeInK(OpBuilder &b, Location l, Value theta, Value k) {
  SigmoidTerms s = sigmoidTerms(b, l, theta, k);
  Value one = cstf(b, l, 1.0);
  Value kk = mulf(b, l, k, k);
  Value oneMinusQ = subf(b, l, one, s.q);
  // dκ/dk = q·π/(k²(1 − q)²); de/dk = −e·(θ − π/2)/k².
  Value dKappa = divf(b, l, mulf(b, l, s.q, cstf(b, l, kPi)),
                      mulf(b, l, kk, mulf(b, l, oneMinusQ, oneMinusQ)));
  Value dE =
      divf(b, l,
           arith::NegFOp::create(
               b, l, mulf(b, l, s.e, subf(b, l, theta, cstf(b, l, kPi / 2)))),
           kk);
  Value onePlusE = addf(b, l, one, s.e);
  Value first = mulf(b, l, dKappa, divf(b, l, subf(b, l, one, s.e), onePlusE));
  Value second = mulf(b, l,
                      divf(b, l, mulf(b, l, s.kappa, cstf(b, l, 2.0)),
                           mulf(b, l, onePlusE, onePlusE)),
                      dE);
  return subf(b, l, first, second);
}

/// PyTorch's sign: −1, 0 or +1.
Value signOf(OpBuilder &b, Location l, Value v) {
  Value zero = cstf(b, l, 0.0);
  Value negative =
      arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, v, zero);
  return select(b, l, greater(b, l, v, 0.0), cstf(b, l, 1.0),
                select(b, l, negative, cstf(b, l, -1.0), zero));
}

/// The forward quantities of a SphereConv that its gradients read.
struct SphereTerms {
  ConvWindow w;
  /// The padded input, u = Σ W·Xp, ‖x_p‖ [N, Ho, Wo], ‖w_o‖ [O] (1 with
  /// input_only), cos θ = u/(‖w‖‖x‖).
  Value xp, dot, xNorm, wNorm, cos;
  /// u = G·g'(cos θ), ∂dot = u/(‖w‖‖x‖), u·cos θ (feeds both norms).
  Value u, dDot, uCos;
};

/// The k of the sigmoid variants for a filter from its k_param operand.
Value sphereK(OpBuilder &b, Location l, SphereConv2dVJPOp op, Value kParam) {
  if (op.getVariant() == SphereVariant::LearnedSigmoid)
    return addf(b, l, math::AbsFOp::create(b, l, kParam), cstf(b, l, 0.05));
  return cstf(b, l, op.getSigmoidK().convertToDouble());
}

SphereTerms sphereTerms(LoweringBuilder &g, SphereConv2dVJPOp op) {
  Value x = op.getInput(), weight = op.getWeight(), gOut = op.getGradOutput();
  Value kParam = op.getKParam();
  ArrayRef<int64_t> ws = shapeOf(weight), shape = shapeOf(gOut);
  SphereTerms t;
  t.w = makeWindow(x, ws.drop_front(2), op.getStride(), op.getPadding(),
                   op.getDilation());
  const ConvWindow &w = t.w;
  double epsilon = op.getEpsilon().convertToDouble();
  t.xp = g.padSpatial(x, w.padding, 0.0);
  std::optional<Value> fast = vectorConvolution(g, t.xp, weight, shape, w);
  t.dot =
      fast ? *fast : convolution(g, t.xp, weight, shape, w.stride, w.dilation);
  t.xNorm = patchNorm(g, x, w.kernel, w.padding, w.stride, w.dilation,
                      {shape[0], shape[2], shape[3]}, epsilon);
  t.wNorm = g.filled({ws[0]}, 1.0);
  if (!op.getInputOnly()) {
    Value sum = g.generic(g.filled({ws[0]}, 0.0), {weight},
                          {g.identity(4), g.dims(4, {0})},
                          {kParallel, kReduction, kReduction, kReduction},
                          [](OpBuilder &b, Location l, ValueRange a) {
                            return addf(b, l, a[1], mulf(b, l, a[0], a[0]));
                          });
    t.wNorm = g.elementwise({sum}, [&](OpBuilder &b, Location l, ValueRange a) {
      return math::SqrtOp::create(b, l, addf(b, l, a[0], cstf(b, l, epsilon)));
    });
  }
  AffineMap all = g.identity(4), perFilter = g.dims(4, {1}),
            perPosition = g.dims(4, {0, 2, 3});
  SmallVector<IteratorType> parallel(4, kParallel);
  auto normalised = [&](Value v) {
    return g.generic(g.empty(shape), {v, t.wNorm, t.xNorm},
                     {all, perFilter, perPosition, all}, parallel,
                     [](OpBuilder &b, Location l, ValueRange a) {
                       return divf(b, l, a[0], mulf(b, l, a[1], a[2]));
                     });
  };
  t.cos = normalised(t.dot);
  SmallVector<Value> inputs = {t.cos, gOut};
  SmallVector<AffineMap> maps = {all, all};
  if (kParam) {
    inputs.push_back(kParam);
    maps.push_back(perFilter);
  }
  maps.push_back(all);
  SphereVariant variant = op.getVariant();
  t.u = g.generic(g.empty(shape), inputs, maps, parallel,
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    Value k = sphereK(b, l, op, kParam ? a[2] : Value());
                    return mulf(b, l, a[1],
                                sphereDerivative(b, l, variant, a[0], k));
                  });
  t.dDot = normalised(t.u);
  t.uCos =
      g.elementwise({t.u, t.cos}, [](OpBuilder &b, Location l, ValueRange a) {
        return mulf(b, l, a[0], a[1]);
      });
  return t;
}

/// ∂X = ∂Xp = Σ_o ∂dot·W + β·Xp, β[n,p] = −Σ_o u·cos θ / ‖x_p‖².
Value sphereInputGradient(LoweringBuilder &g, SphereConv2dVJPOp op,
                          const SphereTerms &t) {
  Value x = op.getInput(), weight = op.getWeight();
  ArrayRef<int64_t> shape = shapeOf(op.getGradOutput());
  Value sum = g.generic(g.filled({shape[0], shape[2], shape[3]}, 0.0), {t.uCos},
                        {g.identity(4), g.dims(4, {0, 2, 3})},
                        {kParallel, kReduction, kParallel, kParallel},
                        [](OpBuilder &b, Location l, ValueRange a) {
                          return addf(b, l, a[1], a[0]);
                        });
  Value beta =
      g.elementwise({sum, t.xNorm}, [](OpBuilder &b, Location l, ValueRange a) {
        return arith::NegFOp::create(b, l,
                                     divf(b, l, a[0], mulf(b, l, a[1], a[1])));
      });
  beta = g.expand(beta, {shape[0], 1, shape[2], shape[3]}, {{0, 1}, {2}, {3}});
  Value gu = upsample(g, t.dDot, t.w);
  std::optional<Value> fast =
      vectorInputGradient(g, gu, weight, Value(), shapeOf(x), t.w);
  Value conv =
      fast ? *fast : inputGradient(g, gu, weight, Value(), shapeOf(x), t.w);
  return scaleInput(g, x, boxAdjoint(g, beta, shapeOf(x), t.w), conv);
}

/// ∂W = Σ_{n,p} ∂dot·Xp − (Σ_{n,p} u·cos θ)·W/‖w‖².
Value sphereWeightGradient(LoweringBuilder &g, SphereConv2dVJPOp op,
                           const SphereTerms &t) {
  Value weight = op.getWeight();
  ArrayRef<int64_t> ws = shapeOf(weight);
  // dDot may be bufferized in place into the strided upsampled copy the
  // input gradient reads; the vector loops need unit-stride rows.
  Value dense =
      linalg::CopyOp::create(g.b, g.loc, t.dDot, g.empty(shapeOf(t.dDot)))
          .getResult(0);
  std::optional<Value> fast =
      vectorWeightGradient(g, dense, t.xp, Value(), ws, t.w);
  Value conv = fast ? *fast : weightGradient(g, t.dDot, t.xp, Value(), ws, t.w);
  if (op.getInputOnly())
    return conv;
  AffineMap all = g.identity(4);
  Value sum =
      preciseSum(g, {ws[0]}, {t.uCos}, {all, g.dims(4, {1})},
                 {kReduction, kParallel, kReduction, kReduction},
                 [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  return g.generic(g.empty(ws), {conv, weight, sum, t.wNorm},
                   {all, all, g.dims(4, {0}), g.dims(4, {0}), all},
                   SmallVector<IteratorType>(4, kParallel),
                   [](OpBuilder &b, Location l, ValueRange a) {
                     Value scale = divf(b, l, a[2], mulf(b, l, a[3], a[3]));
                     return subf(b, l, a[0], mulf(b, l, scale, a[1]));
                   });
}

/// ∂k'[o] = Σ_{n,p} G·∂g/∂k·sign(k'). Loops (n, o, y, x).
Value sphereKGradient(LoweringBuilder &g, SphereConv2dVJPOp op,
                      const SphereTerms &t) {
  Value kParam = op.getKParam();
  AffineMap all = g.identity(4), perFilter = g.dims(4, {1});
  return preciseSum(
      g, {shapeOf(op.getWeight())[0]}, {t.cos, op.getGradOutput(), kParam},
      {all, all, perFilter, perFilter},
      {kReduction, kParallel, kReduction, kReduction},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value k = sphereK(b, l, op, a[2]);
        Value dk = sigmoidDerivativeInK(b, l, sigmoidTheta(b, l, a[0]), k);
        return mulf(b, l, mulf(b, l, a[1], dk), signOf(b, l, a[2]));
      },
      /*widenInputs=*/false);
}

Grads lowerSphereConv2dVJP(LoweringBuilder &g, SphereConv2dVJPOp op) {
  SphereTerms terms = sphereTerms(g, op);
  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0)
      grads.push_back(sphereInputGradient(g, op, terms));
    else if (index == 1)
      grads.push_back(sphereWeightGradient(g, op, terms));
    else if (index == 2 && op.getKParam())
      grads.push_back(sphereKGradient(g, op, terms));
    else
      return op.emitError("unexpected operand index ") << index << " in wrt";
  }
  return grads;
}

Grads lowerPatchNormVJP(LoweringBuilder &g, PatchNormVJPOp op) {
  Value x = op.getInput(), gOut = op.getGradOutput();
  ArrayRef<int64_t> shape = shapeOf(gOut);
  ConvWindow w = makeWindow(x, op.getKernelSize(), op.getStride(),
                            op.getPadding(), op.getDilation());
  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index != 0)
      return op.emitError("unexpected operand index ") << index << " in wrt";
    // ∂Xp = G/‖x_p‖·Xp.
    Value norm = patchNorm(g, x, w.kernel, w.padding, w.stride, w.dilation,
                           {shape[0], shape[2], shape[3]},
                           op.getEpsilon().convertToDouble());
    Value beta = g.generic(g.empty(shape), {gOut, norm},
                           {g.identity(4), g.dims(4, {0, 2, 3}), g.identity(4)},
                           SmallVector<IteratorType>(4, kParallel),
                           [](OpBuilder &b, Location l, ValueRange a) {
                             return divf(b, l, a[0], a[1]);
                           });
    grads.push_back(
        scaleInput(g, x, boxAdjoint(g, beta, shapeOf(x), w), Value()));
  }
  return grads;
}

//===----------------------------------------------------------------------===//
// Similarities
//===----------------------------------------------------------------------===//

Grads lowerPredictedSimilarityVJP(LoweringBuilder &g,
                                  PredictedSimilarityVJPOp op) {
  Value prediction = op.getPrediction(), gamma = op.getGamma(),
        gOut = op.getGradOutput();
  ArrayRef<int64_t> shape = shapeOf(prediction);
  unsigned rank = shape.size();
  bool scalar = shapeOf(gamma).empty();
  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0) {
      // ∂P = γ·G.
      AffineMap gammaMap =
          scalar ? g.map(rank, {})
                 : g.map(rank, {getAffineConstantExpr(0, g.ctx())});
      grads.push_back(g.generic(g.empty(shape), {gOut, gamma},
                                {g.identity(rank), gammaMap, g.identity(rank)},
                                SmallVector<IteratorType>(rank, kParallel),
                                [](OpBuilder &b, Location l, ValueRange a) {
                                  return mulf(b, l, a[1], a[0]);
                                }));
    } else if (index == 1) {
      // ∂γ = Σ G·P.
      Value sum =
          preciseSum(g, {}, {gOut, prediction},
                     {g.identity(rank), g.identity(rank), g.map(rank, {})},
                     SmallVector<IteratorType>(rank, kReduction), product);
      grads.push_back(scalar ? sum : g.expand(sum, {1}, {}));
    } else {
      return op.emitError("unexpected operand index ") << index << " in wrt";
    }
  }
  return grads;
}

/// The gradients of a static similarity's operands from G_M [K, K]
/// (reference staticOperandGrads), indexed by operand.
Value staticOperandGrad(LoweringBuilder &g, Structure structure,
                        ValueRange operands, unsigned which, Value gm,
                        int64_t k, double alpha) {
  switch (structure) {
  case Structure::Identity:
    break;
  case Structure::Diagonal:
    // ∂m[t] = G_M[t,t].
    return g.generic(g.empty({k}), {gm}, {g.dims(1, {0, 0}), g.identity(1)},
                     {kParallel},
                     [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  case Structure::Full:
    return gm;
  case Structure::Cholesky:
    // ∂L[t,j] = Σ_{s ≥ j} (G[t,s] + G[s,t])·L[s,j] for j ≤ t, else 0.
    // Loops (t, j, s).
    return g.generic(
        g.filled({k, k}, 0.0), {gm, gm, operands[0]},
        {g.dims(3, {0, 2}), g.dims(3, {2, 0}), g.dims(3, {2, 1}),
         g.dims(3, {0, 1})},
        {kParallel, kParallel, kReduction},
        [](OpBuilder &b, Location l, ValueRange a) {
          Value t = linalg::IndexOp::create(b, l, 0);
          Value j = linalg::IndexOp::create(b, l, 1);
          Value s = linalg::IndexOp::create(b, l, 2);
          Value lower = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, j, t),
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, s, j));
          Value term = mulf(b, l, addf(b, l, a[0], a[1]), a[2]);
          return addf(b, l, a[3], select(b, l, lower, term, cstf(b, l, 0.0)));
        });
  case Structure::ShapeMasked: {
    Value r = operands[1];
    bool diagonalR = shapeOf(r).size() == 1;
    if (which == 0) {
      // Straight-through: ∂d_r[t] = Σ_s G_M[t,s]·R[t,s].
      if (diagonalR)
        return g.generic(g.empty({k}), {gm, r},
                         {g.dims(1, {0, 0}), g.identity(1), g.identity(1)},
                         {kParallel},
                         [](OpBuilder &b, Location l, ValueRange a) {
                           return mulf(b, l, a[0], a[1]);
                         });
      return g.generic(g.filled({k}, 0.0), {gm, r},
                       {g.identity(2), g.identity(2), g.dims(2, {0})},
                       {kParallel, kReduction}, sumOfProducts);
    }
    // ∂R[t,s] = D[t]·G_M[t,s].
    AffineMap gmMap = diagonalR ? g.dims(1, {0, 0}) : g.identity(2);
    unsigned rank = diagonalR ? 1 : 2;
    return g.generic(g.empty(shapeOf(r)), {operands[0], gm},
                     {g.dims(rank, {0}), gmMap, g.identity(rank)},
                     SmallVector<IteratorType>(rank, kParallel),
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       return select(b, l, greater(b, l, a[0], alpha), a[1],
                                     cstf(b, l, 0.0));
                     });
  }
  }
  return Value();
}

Grads lowerFoldSimilarityVJP(LoweringBuilder &g, FoldSimilarityVJPOp op) {
  Value weight = op.getWeight(), gOut = op.getGradOutput();
  ArrayRef<int64_t> shape = shapeOf(weight);
  int64_t k = op.getGroupSize() ? static_cast<int64_t>(*op.getGroupSize())
                                : shape[2] * shape[3];
  int64_t rows = ShapedType::getNumElements(shape) / k;
  double alpha = op.getAlpha().convertToDouble();
  Structure structure = op.getStructure();
  ValueRange sim = op.getSimilarity();
  // The weight as [R, K] rows: conv [O, C, kh, kw] → [O·C, K]; linear
  // [O, F] → [O, G, B] → [O·G, B].
  SmallVector<ReassociationIndices> toRows = {{0, 1}, {2, 3}};
  SmallVector<int64_t> grouped = {shape[0], shape.back() / k, k};
  auto rowsView = [&](Value v) {
    return shape.size() == 4
               ? g.collapse(v, toRows)
               : g.collapse(g.expand(v, grouped, {{0}, {1, 2}}), {{0, 1}, {2}});
  };
  auto fromRows = [&](Value v) {
    if (shape.size() == 4)
      return g.expand(v, shape, toRows);
    return g.collapse(g.expand(v, grouped, {{0, 1}, {2}}), {{0}, {1, 2}});
  };
  Value gRows = rowsView(gOut);
  Value gm;
  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0) {
      // ∂W[r,t] = Σ_s G[r,s]·M[t,s]. Loops (r, t, s).
      Value m = similarityMatrix(g, structure, sim, k, alpha);
      grads.push_back(fromRows(
          g.generic(g.filled({rows, k}, 0.0), {gRows, m},
                    {g.dims(3, {0, 2}), g.dims(3, {1, 2}), g.dims(3, {0, 1})},
                    {kParallel, kParallel, kReduction}, sumOfProducts)));
      continue;
    }
    if (index < 1 || index > static_cast<int64_t>(sim.size()) ||
        structure == Structure::Identity)
      return op.emitError("unexpected operand index ") << index << " in wrt";
    if (!gm)
      // G_M[t,s] = Σ_r W[r,t]·G[r,s]. Loops (t, s, r).
      gm = g.generic(g.filled({k, k}, 0.0), {rowsView(weight), gRows},
                     {g.dims(3, {2, 0}), g.dims(3, {2, 1}), g.dims(3, {0, 1})},
                     {kParallel, kParallel, kReduction}, sumOfProducts);
    grads.push_back(staticOperandGrad(
        g, structure, sim, static_cast<unsigned>(index - 1), gm, k, alpha));
  }
  return grads;
}

} // namespace

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerConvGradient(LoweringBuilder &g, Operation *op) {
  if (auto o = dyn_cast<SimConv2dVJPOp>(op))
    return lowerSimConv2dVJP(g, o);
  if (auto o = dyn_cast<SphereConv2dVJPOp>(op))
    return lowerSphereConv2dVJP(g, o);
  if (auto o = dyn_cast<PatchNormVJPOp>(op))
    return lowerPatchNormVJP(g, o);
  if (auto o = dyn_cast<PredictedSimilarityVJPOp>(op))
    return lowerPredictedSimilarityVJP(g, o);
  if (auto o = dyn_cast<FoldSimilarityVJPOp>(op))
    return lowerFoldSimilarityVJP(g, o);
  return std::nullopt;
}
