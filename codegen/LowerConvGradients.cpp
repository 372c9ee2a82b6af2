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
#include "codegen/LinalgBuilder.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace {

using Grads = FailureOr<SmallVector<Value>>;

/// The constants and reads shared by the vector gradient loops:
/// vectors of `lanes` f32, zero padding past the end of a row.
struct VectorLoops {
  VectorLoops(LoweringBuilder &g, int64_t lanes)
      : b(g.b), loc(g.loc), vec(VectorType::get({lanes}, g.b.getF32Type())),
        zero(cstf(g.b, g.loc, 0.0)),
        zeros(arith::ConstantOp::create(
            g.b, g.loc,
            DenseElementsAttr::get(vec, g.b.getF32FloatAttr(0.0f)))) {}

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  /// `lanes` elements from `indices` on; `inBounds` false masks the lanes
  /// past the end of the last dimension (they read zero).
  Value read(OpBuilder &nb, Value source, ValueRange indices, bool inBounds) {
    return vector::TransferReadOp::create(nb, loc, vec, source, indices, zero,
                                          ArrayRef<bool>{inBounds});
  }
  /// `value` into `dest` from `indices` on, lanes past the end of the last
  /// dimension dropped unless `inBounds`.
  Value write(OpBuilder &nb, Value value, Value dest, ValueRange indices,
              bool inBounds) {
    return vector::TransferWriteOp::create(nb, loc, value, dest, indices,
                                           ArrayRef<bool>{inBounds})
        .getResult();
  }

  using NestBody =
      function_ref<SmallVector<Value>(OpBuilder &, ValueRange, ValueRange)>;
  /// Nested scf.for loops, outermost first, over [0, counts[i]) by
  /// steps[i], carrying `init` through every level; `body` gets the
  /// induction variables and the carried values and returns their new
  /// values. Returns the values after the loops.
  SmallVector<Value> nest(OpBuilder &nb, ArrayRef<int64_t> counts,
                          ArrayRef<int64_t> steps, ValueRange init,
                          NestBody body) {
    SmallVector<Value> ivs;
    return nestFrom(nb, counts, steps, init, body, ivs);
  }

  OpBuilder &b;
  Location loc;
  VectorType vec;
  Value zero, zeros;

private:
  SmallVector<Value> nestFrom(OpBuilder &nb, ArrayRef<int64_t> counts,
                              ArrayRef<int64_t> steps, ValueRange init,
                              NestBody body, SmallVectorImpl<Value> &ivs) {
    if (counts.empty())
      return body(nb, ivs, init);
    auto forOp = scf::ForOp::create(
        nb, loc, index(0), index(counts.front()), index(steps.front()), init,
        [&](OpBuilder &inner, Location, Value iv, ValueRange iter) {
          ivs.push_back(iv);
          SmallVector<Value> next = nestFrom(
              inner, counts.drop_front(), steps.drop_front(), iter, body, ivs);
          ivs.pop_back();
          scf::YieldOp::create(inner, loc, next);
        });
    return SmallVector<Value>(forOp.getResults());
  }
};

/// The geometry of one 2-D window.
struct ConvWindow {
  SmallVector<int64_t, 2> stride, padding, dilation, kernel;
  /// Size of the padded input.
  int64_t hp, wp;
  int64_t taps() const { return kernel[0] * kernel[1]; }
  /// Size of the upsampled upstream gradient.
  int64_t hu() const { return hp + (kernel[0] - 1) * dilation[0]; }
  int64_t wu() const { return wp + (kernel[1] - 1) * dilation[1]; }
};

ConvWindow makeWindow(Value input, ArrayRef<int64_t> kernel,
                      ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
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
                    ArrayRef<int64_t> inputShape, const ConvWindow &w) {
  AffineExpr row = transposedIndex(g, w, 2, 5, 0);
  AffineExpr col = transposedIndex(g, w, 3, 6, 1);
  SmallVector<Value> inputs = {gu, weight};
  SmallVector<AffineMap> maps = {g.map(7, {g.d(0), g.d(4), row, col}),
                                 g.dims(7, {4, 1, 5, 6})};
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

/// Σ_o G[n, o, y, chunk]·W[o, c0 + j, ky, kx] for a block of `block` input
/// channels, the kw taps of kernel row ky and the row's chunks, as
/// block × kw × chunks vectors (index (j·kw + kx)·chunks + chunk): the
/// product D = Wᵀ·G that the UNS and DNS gradients contract further.
SmallVector<Value> sumOverOutputs(VectorLoops &kit, OpBuilder &b, Value gOut,
                                  Value weight, Value n, Value y, Value c0,
                                  Value ky, int64_t block, int64_t kw,
                                  int64_t chunks) {
  int64_t lanes = kit.vec.getNumElements();
  int64_t outputs = shapeOf(gOut)[1], wo = shapeOf(gOut)[3];
  Location loc = kit.loc;
  return kit.nest(
      b, {outputs}, {1}, SmallVector<Value>(block * kw * chunks, kit.zeros),
      [&](OpBuilder &nb, ValueRange ivs, ValueRange iter) {
        Value o = ivs[0];
        SmallVector<Value> acc(iter);
        SmallVector<Value> gv;
        for (int64_t ch = 0; ch < chunks; ++ch)
          gv.push_back(kit.read(nb, gOut, {n, o, y, kit.index(ch * lanes)},
                                (ch + 1) * lanes <= wo));
        for (int64_t j = 0; j < block; ++j) {
          Value c = arith::AddIOp::create(nb, loc, c0, kit.index(j));
          for (int64_t kx = 0; kx < kw; ++kx) {
            Value wv = vector::BroadcastOp::create(
                nb, loc, kit.vec,
                tensor::ExtractOp::create(nb, loc, weight,
                                          ValueRange{o, c, ky, kit.index(kx)}));
            for (int64_t ch = 0; ch < chunks; ++ch) {
              Value &a = acc[(j * kw + kx) * chunks + ch];
              a = vector::FMAOp::create(nb, loc, gv[ch], wv, a);
            }
          }
        }
        return acc;
      });
}

/// The padded input split into its `stride` column phases, so that the
/// columns x·s + off a strided window reads are contiguous: phase r holds
/// columns r, r + s, r + 2s, … and column x·s + off is element
/// x + off / s of phase off mod s. Stride 1: the input itself.
struct ColumnPhases {
  ColumnPhases(LoweringBuilder &g, Value xp, int64_t stride) : stride(stride) {
    ArrayRef<int64_t> shape = shapeOf(xp);
    for (int64_t r = 0; r < stride; ++r) {
      if (stride == 1) {
        phases.push_back(xp);
        widths.push_back(shape[3]);
        break;
      }
      int64_t width = llvm::divideCeil(shape[3] - r, stride);
      SmallVector<OpFoldResult> offsets = {
          g.b.getIndexAttr(0), g.b.getIndexAttr(0), g.b.getIndexAttr(0),
          g.b.getIndexAttr(r)};
      SmallVector<OpFoldResult> sizes = {
          g.b.getIndexAttr(shape[0]), g.b.getIndexAttr(shape[1]),
          g.b.getIndexAttr(shape[2]), g.b.getIndexAttr(width)};
      SmallVector<OpFoldResult> strides = {
          g.b.getIndexAttr(1), g.b.getIndexAttr(1), g.b.getIndexAttr(1),
          g.b.getIndexAttr(stride)};
      Value slice = tensor::ExtractSliceOp::create(
          g.b, g.loc, g.f32({shape[0], shape[1], shape[2], width}), xp, offsets,
          sizes, strides);
      // A contiguous copy: vector reads need unit-stride rows.
      phases.push_back(
          linalg::CopyOp::create(g.b, g.loc, slice,
                                 g.empty({shape[0], shape[1], shape[2], width}))
              .getResult(0));
      widths.push_back(width);
    }
  }
  /// The phase and first element of output column x0's window column
  /// x0·s + off.
  std::pair<Value, int64_t> at(int64_t x0, int64_t off) const {
    return {phases[off % stride], x0 + off / stride};
  }
  int64_t width(int64_t off) const { return widths[off % stride]; }

  int64_t stride;
  SmallVector<Value> phases;
  SmallVector<int64_t> widths;
};

/// ∂X of a plain or DNS convolution as explicit vector loops over the
/// gradient `gu` and mask `maskU` upsampled by the stride (at stride 1:
/// padded):
///
///   for n, c0 in 0..C step CB, iy:               (CB rows of ∂X)
///     acc[j][chunk] = 0                          (VL pixels of the row each)
///     for o, ky, kx:
///       gv = Gu[n, o, iy + sh − ky·dh, ix0 + sw − kx·dw : VL] (· mu[...])
///       acc[j][chunk] += gv · W[o, c0 + j, ky, kx]
///     ∂X[n, c0 + j, iy, ix0 : VL] = acc[j][chunk]
///
/// with sh, sw the shifts of transposedIndex. With `forward`, the same loops
/// compute the convolution itself: Y[n, o, y, x] = Σ_{c,ky,kx}
/// W[o, c, ky, kx]·Xp[n, c, y + ky·dh, x + kx·dw] (gu = Xp).
/// std::nullopt otherwise.
std::optional<Value> vectorCorrelation(LoweringBuilder &g, Value gu,
                                       Value weight, Value maskU,
                                       ArrayRef<int64_t> inputShape,
                                       const ConvWindow &w, bool forward) {
  // ∂X reads the gradient upsampled by the stride (zero rows and columns
  // where no output lands), so any stride works; the forward product reads
  // the input itself and needs stride 1.
  if (forward && (w.stride[0] != 1 || w.stride[1] != 1))
    return std::nullopt;
  constexpr int64_t lanes = 16, registers = 24;
  ArrayRef<int64_t> ws = shapeOf(weight);
  // `outputs` is the summed channel dimension of `gu`, `channels` the one
  // of the result: W[outputs, channels, ·] for ∂X, W[channels, outputs, ·]
  // for the forward product.
  int64_t outputs = forward ? ws[1] : ws[0];
  int64_t channels = forward ? ws[0] : ws[1];
  int64_t kh = ws[2], kw = ws[3];
  int64_t batch = inputShape[0], height = inputShape[2], width = inputShape[3];
  int64_t wu = shapeOf(gu)[3];
  int64_t chunks = llvm::divideCeil(width, lanes);
  if (chunks > registers)
    return std::nullopt;
  int64_t block = 1;
  for (int64_t candidate : {4, 2})
    if (channels % candidate == 0 && candidate * chunks <= registers) {
      block = candidate;
      break;
    }
  // Row of `gu` for result row iy and tap ky: iy + shiftH ∓ ky·dh.
  int64_t shiftH = forward ? 0 : w.padding[0] + (kh - 1) * w.dilation[0];
  int64_t shiftW = forward ? 0 : w.padding[1] + (kw - 1) * w.dilation[1];
  int64_t sign = forward ? 1 : -1;
  Location loc = g.loc;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  Value dh = index(w.dilation[0]);
  SmallVector<Value> out = kit.nest(
      g.b, {batch, channels, height}, {1, block, 1}, {g.empty(inputShape)},
      [&](OpBuilder &b3, ValueRange ivs, ValueRange iter) {
        Value n = ivs[0], c0 = ivs[1], iy = ivs[2];
        Value rowBase = arith::AddIOp::create(b3, loc, iy, index(shiftH));
        SmallVector<Value> acc = kit.nest(
            b3, {outputs, kh}, {1, 1},
            SmallVector<Value>(block * chunks, kit.zeros),
            [&](OpBuilder &b5, ValueRange taps, ValueRange sums) {
              Value o = taps[0], ky = taps[1];
              SmallVector<Value> acc(sums);
              Value step = arith::MulIOp::create(b5, loc, ky, dh);
              Value row =
                  forward
                      ? Value(arith::AddIOp::create(b5, loc, rowBase, step))
                      : Value(arith::SubIOp::create(b5, loc, rowBase, step));
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t colBase = shiftW + sign * kx * w.dilation[1];
                SmallVector<Value> gv;
                for (int64_t ch = 0; ch < chunks; ++ch) {
                  int64_t col = ch * lanes + colBase;
                  bool inside = col + lanes <= wu;
                  Value v = kit.read(b5, gu, {n, o, row, index(col)}, inside);
                  if (maskU)
                    v = arith::MulFOp::create(
                        b5, loc, v,
                        kit.read(b5, maskU, {n, ky, index(kx), row, index(col)},
                                 inside));
                  gv.push_back(v);
                }
                for (int64_t j = 0; j < block; ++j) {
                  Value c = arith::AddIOp::create(b5, loc, c0, index(j));
                  Value scalar = tensor::ExtractOp::create(
                      b5, loc, weight,
                      forward ? ValueRange{c, o, ky, index(kx)}
                              : ValueRange{o, c, ky, index(kx)});
                  Value wv =
                      vector::BroadcastOp::create(b5, loc, kit.vec, scalar);
                  for (int64_t ch = 0; ch < chunks; ++ch)
                    acc[j * chunks + ch] = vector::FMAOp::create(
                        b5, loc, gv[ch], wv, acc[j * chunks + ch]);
                }
              }
              return acc;
            });
        Value result = iter.front();
        for (int64_t j = 0; j < block; ++j) {
          Value c = arith::AddIOp::create(b3, loc, c0, index(j));
          for (int64_t ch = 0; ch < chunks; ++ch)
            result = kit.write(b3, acc[j * chunks + ch], result,
                               {n, c, iy, index(ch * lanes)},
                               (ch + 1) * lanes <= width);
        }
        return SmallVector<Value>{result};
      });
  return out.front();
}

std::optional<Value> vectorInputGradient(LoweringBuilder &g, Value gu,
                                         Value weight, Value maskU,
                                         ArrayRef<int64_t> inputShape,
                                         const ConvWindow &w) {
  return vectorCorrelation(g, gu, weight, maskU, inputShape, w,
                           /*forward=*/false);
}

/// The plain convolution Σ W·Xp of a padded input at stride 1 as the same
/// vector loops (`outShape` [N, O, Ho, Wo]).
std::optional<Value> vectorConvolution(LoweringBuilder &g, Value xp,
                                       Value weight, ArrayRef<int64_t> outShape,
                                       const ConvWindow &w) {
  return vectorCorrelation(g, xp, weight, Value(), outShape, w,
                           /*forward=*/true);
}

/// UNS: the gradient of the mixed taps, Q[n,c,t,p] = Σ_o G[n,o,p]·W[o,c,t],
/// as [N, C, kh, kw, Ho, Wo] (the size of the forward's mixed patches). Both
/// UNS gradients of X and M go through it: K times fewer products than
/// contracting G·W·M (or G·W·Xp) directly. Loops (n, c, ty, tx, y, x, o).
Value mixedTapGradient(LoweringBuilder &g, Value gOut, Value weight) {
  ArrayRef<int64_t> gs = shapeOf(gOut), ws = shapeOf(weight);
  return g.generic(g.filled({gs[0], ws[1], ws[2], ws[3], gs[2], gs[3]}, 0.0),
                   {gOut, weight},
                   {g.dims(7, {0, 6, 4, 5}), g.dims(7, {6, 1, 2, 3}),
                    g.dims(7, {0, 1, 2, 3, 4, 5})},
                   {kParallel, kParallel, kParallel, kParallel, kParallel,
                    kParallel, kReduction},
                   sumOfProducts);
}

/// Q of mixedTapGradient as explicit vector loops: for n, y, a block of
/// input channels and a kernel row, accumulators over the row's chunks sum
/// G[n, o, y, x0 : VL]·W[o, c, ky, kx] over o. std::nullopt when the blocks
/// do not fit the registers.
std::optional<Value> vectorMixedTapGradient(LoweringBuilder &g, Value gOut,
                                            Value weight) {
  constexpr int64_t lanes = 16, registers = 24;
  ArrayRef<int64_t> gs = shapeOf(gOut), ws = shapeOf(weight);
  int64_t batch = gs[0], ho = gs[2], wo = gs[3];
  int64_t channels = ws[1], kh = ws[2], kw = ws[3];
  int64_t chunks = llvm::divideCeil(wo, lanes);
  int64_t block = 0;
  for (int64_t candidate : {4, 2, 1})
    if (channels % candidate == 0 && candidate * kw * chunks <= registers) {
      block = candidate;
      break;
    }
  if (block == 0)
    return std::nullopt;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  SmallVector<Value> out = kit.nest(
      g.b, {batch, ho, channels, kh}, {1, 1, block, 1},
      {g.empty({batch, channels, kh, kw, ho, wo})},
      [&](OpBuilder &b4, ValueRange ivs, ValueRange iter) {
        Value n = ivs[0], y = ivs[1], c0 = ivs[2], ky = ivs[3];
        SmallVector<Value> sums = sumOverOutputs(kit, b4, gOut, weight, n, y,
                                                 c0, ky, block, kw, chunks);
        Value result = iter.front();
        for (int64_t j = 0; j < block; ++j) {
          Value c = arith::AddIOp::create(b4, g.loc, c0, index(j));
          for (int64_t kx = 0; kx < kw; ++kx)
            for (int64_t ch = 0; ch < chunks; ++ch)
              result = kit.write(b4, sums[(j * kw + kx) * chunks + ch], result,
                                 {n, c, ky, index(kx), y, index(ch * lanes)},
                                 (ch + 1) * lanes <= wo);
        }
        return SmallVector<Value>{result};
      });
  return out.front();
}

/// The two UNS contractions over a tap pair as explicit vector loops, with
/// K × chunks accumulators (one per source tap s and chunk of the row):
///  - mixing (xp null): R[n,c,s,p] = Σ_t Q[n,c,t,p]·M_p[t,s], loops n, c, y,
///    then t;
///  - similarity (xp given): ∂M[n,t,s,p] = Σ_c Q[n,c,t,p]·Xp[n,c,window(p,s)],
///    loops n, y, t, then c (a strided layer reads Xp's column phases).
/// `q` is [N, C, kh, kw, Ho, Wo], `m7` [N, kh, kw, kh, kw, Ho, Wo].
/// std::nullopt when the accumulators do not fit the registers.
std::optional<Value> vectorUnsContraction(LoweringBuilder &g, Value q, Value m7,
                                          Value xp, const ConvWindow &w) {
  constexpr int64_t lanes = 16, registers = 24;
  ArrayRef<int64_t> qs = shapeOf(q);
  int64_t batch = qs[0], channels = qs[1], kh = qs[2], kw = qs[3], ho = qs[4],
          wo = qs[5];
  int64_t chunks = llvm::divideCeil(wo, lanes), taps = kh * kw;
  if (taps * chunks > registers)
    return std::nullopt;
  bool mixing = !xp;
  OpBuilder &b = g.b;
  Location loc = g.loc;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  std::optional<ColumnPhases> columns;
  if (!mixing)
    columns.emplace(g, xp, w.stride[1]);
  Value sh = index(w.stride[0]), dh = index(w.dilation[0]);
  SmallVector<int64_t> outShape =
      mixing ? SmallVector<int64_t>(qs)
             : SmallVector<int64_t>{batch, kh, kw, kh, kw, ho, wo};
  // The accumulators of one output row block, summed over `inner`.
  auto accumulate = [&](OpBuilder &nb, Value n, Value y, Value c, Value ty,
                        Value tx, ValueRange init) {
    SmallVector<Value> acc(init);
    SmallVector<Value> qv;
    for (int64_t ch = 0; ch < chunks; ++ch)
      qv.push_back(kit.read(nb, q, {n, c, ty, tx, y, index(ch * lanes)},
                            (ch + 1) * lanes <= wo));
    for (int64_t sy = 0; sy < kh; ++sy)
      for (int64_t sx = 0; sx < kw; ++sx)
        for (int64_t ch = 0; ch < chunks; ++ch) {
          Value other;
          if (mixing) {
            other = kit.read(
                nb, m7, {n, ty, tx, index(sy), index(sx), y, index(ch * lanes)},
                (ch + 1) * lanes <= wo);
          } else {
            Value r = arith::AddIOp::create(
                nb, loc, arith::MulIOp::create(nb, loc, y, sh),
                arith::MulIOp::create(nb, loc, index(sy), dh));
            int64_t off = sx * w.dilation[1];
            auto [phase, col] = columns->at(ch * lanes, off);
            other = kit.read(nb, phase, {n, c, r, index(col)},
                             col + lanes <= columns->width(off));
          }
          Value &a = acc[(sy * kw + sx) * chunks + ch];
          a = vector::FMAOp::create(nb, loc, qv[ch], other, a);
        }
    return acc;
  };
  // Writes the accumulators to out[n, lead..., sy, sx, y, x0].
  auto store = [&](OpBuilder &nb, Value out, ValueRange acc, Value n,
                   ValueRange lead, Value y) {
    for (int64_t sy = 0; sy < kh; ++sy)
      for (int64_t sx = 0; sx < kw; ++sx)
        for (int64_t ch = 0; ch < chunks; ++ch) {
          SmallVector<Value> at = {n};
          at.append(lead.begin(), lead.end());
          at.append({index(sy), index(sx), y, index(ch * lanes)});
          out = kit.write(nb, acc[(sy * kw + sx) * chunks + ch], out, at,
                          (ch + 1) * lanes <= wo);
        }
    return out;
  };
  SmallVector<Value> zeros(taps * chunks, kit.zeros);
  Value result = g.empty(outShape);
  SmallVector<Value> out =
      mixing
          // R: n, c, y; Σ over the taps t = (ty, tx).
          ? kit.nest(b, {batch, channels, ho}, {1, 1, 1}, {result},
                     [&](OpBuilder &b3, ValueRange ivs, ValueRange iter) {
                       Value n = ivs[0], c = ivs[1], y = ivs[2];
                       SmallVector<Value> acc = kit.nest(
                           b3, {kh, kw}, {1, 1}, zeros,
                           [&](OpBuilder &b5, ValueRange t, ValueRange sums) {
                             return accumulate(b5, n, y, c, t[0], t[1], sums);
                           });
                       return SmallVector<Value>{
                           store(b3, iter.front(), acc, n, {c}, y)};
                     })
          // ∂M: n, y, ty, tx; Σ over the input channels c.
          : kit.nest(b, {batch, ho, kh, kw}, {1, 1, 1, 1}, {result},
                     [&](OpBuilder &b4, ValueRange ivs, ValueRange iter) {
                       Value n = ivs[0], y = ivs[1], ty = ivs[2], tx = ivs[3];
                       SmallVector<Value> acc = kit.nest(
                           b4, {channels}, {1}, zeros,
                           [&](OpBuilder &b5, ValueRange c, ValueRange sums) {
                             return accumulate(b5, n, y, c[0], ty, tx, sums);
                           });
                       return SmallVector<Value>{
                           store(b4, iter.front(), acc, n, {ty, tx}, y)};
                     });
  return out.front();
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
                     ArrayRef<int64_t> weightShape, const ConvWindow &w) {
  SmallVector<Value> inputs = {gOut, xp};
  SmallVector<AffineMap> maps;
  SmallVector<IteratorType> iterators(4, kParallel);
  if (!mask || shapeOf(mask).size() == 5) {
    // Loops (o, c, ky, kx, n, y, x).
    maps = {g.dims(7, {4, 0, 5, 6}),
            windowMap(g, 7, 4, 1, 5, 6, 2, 3, w.stride, w.dilation)};
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
            windowMap(g, 9, 4, 1, 5, 6, 7, 8, w.stride, w.dilation),
            g.dims(9, {4, 2, 3, 7, 8, 5, 6}), g.dims(9, {0, 1, 2, 3})};
    iterators.append(5, kReduction);
  }
  return g.generic(g.filled(weightShape, 0.0), inputs, maps, iterators,
                   sumOfProducts);
}

/// ∂W of a plain or DNS convolution as explicit vector loops (the
/// generic above lowers to scalar loops that LLVM does not vectorise):
///
///   for n, o0 in 0..O step OB, c, ky:            (an OB × kw block of ∂W)
///     acc[i][kx] = 0                             (vectors of VL lanes)
///     for y, x0 in 0..Wo step VL:
///       xv[kx] = Xp[n, c, y·sh + ky·dh, (x0 + ·)·sw + kx·dw] (· m[n, ky, kx,
///       y, x0 : VL])
///                (a strided layer reads a column phase of Xp: contiguous)
///       acc[i][kx] += G[n, o0 + i, y, x0 : VL] · xv[kx]
///     ∂W[o0 + i, c, ky, kx] += Σ_lanes acc[i][kx]
///
/// Lanes past Wo read zeros of G (masked reads), so they add nothing. No
/// input is unfolded; the order of every sum is fixed by the code.
/// std::nullopt when the layer is not of this form.
std::optional<Value> vectorWeightGradient(LoweringBuilder &g, Value gOut,
                                          Value xp, Value mask,
                                          ArrayRef<int64_t> ws,
                                          const ConvWindow &w) {
  if (mask && shapeOf(mask).size() != 5)
    return std::nullopt;
  constexpr int64_t lanes = 16, registers = 24;
  int64_t outputs = ws[0], channels = ws[1], kh = ws[2], kw = ws[3];
  ArrayRef<int64_t> gs = shapeOf(gOut);
  int64_t batch = gs[0], ho = gs[2], wo = gs[3];
  ColumnPhases columns(g, xp, w.stride[1]);
  if (kw > registers)
    return std::nullopt;
  int64_t block = 1;
  for (int64_t candidate : {4, 2})
    if (outputs % candidate == 0 && candidate * kw <= registers) {
      block = candidate;
      break;
    }
  Location loc = g.loc;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  Value dh = index(w.dilation[0]), sh = index(w.stride[0]);
  // Sample by sample: G[n] and Xp[n] stay in cache while every block of
  // ∂W takes its share; ∂W accumulates the per-sample sums in order.
  SmallVector<Value> out = kit.nest(
      g.b, {batch, outputs, channels, kh}, {1, block, 1, 1},
      {g.filled(ws, 0.0)}, [&](OpBuilder &b3, ValueRange ivs, ValueRange iter) {
        Value n = ivs[0], o0 = ivs[1], c = ivs[2], ky = ivs[3];
        Value rowOffset = arith::MulIOp::create(b3, loc, ky, dh);
        SmallVector<Value> sums = kit.nest(
            b3, {ho}, {1}, SmallVector<Value>(block * kw, kit.zeros),
            [&](OpBuilder &b5, ValueRange rows, ValueRange partial) {
              Value y = rows[0];
              SmallVector<Value> acc(partial);
              Value row = arith::AddIOp::create(
                  b5, loc, arith::MulIOp::create(b5, loc, y, sh), rowOffset);
              for (int64_t x0 = 0; x0 < wo; x0 += lanes) {
                bool whole = x0 + lanes <= wo;
                SmallVector<Value> xv;
                for (int64_t kx = 0; kx < kw; ++kx) {
                  int64_t off = kx * w.dilation[1];
                  auto [phase, col] = columns.at(x0, off);
                  Value v = kit.read(b5, phase, {n, c, row, index(col)},
                                     col + lanes <= columns.width(off));
                  if (mask)
                    v = arith::MulFOp::create(
                        b5, loc, v,
                        kit.read(b5, mask, {n, ky, index(kx), y, index(x0)},
                                 whole));
                  xv.push_back(v);
                }
                for (int64_t i = 0; i < block; ++i) {
                  Value o = arith::AddIOp::create(b5, loc, o0, index(i));
                  Value gv = kit.read(b5, gOut, {n, o, y, index(x0)}, whole);
                  for (int64_t kx = 0; kx < kw; ++kx)
                    acc[i * kw + kx] = vector::FMAOp::create(
                        b5, loc, gv, xv[kx], acc[i * kw + kx]);
                }
              }
              return acc;
            });
        Value result = iter.front();
        for (int64_t i = 0; i < block; ++i)
          for (int64_t kx = 0; kx < kw; ++kx) {
            Value sum = vector::ReductionOp::create(
                b3, loc, vector::CombiningKind::ADD, sums[i * kw + kx]);
            Value o = arith::AddIOp::create(b3, loc, o0, index(i));
            SmallVector<Value> at = {o, c, ky, index(kx)};
            Value previous = tensor::ExtractOp::create(b3, loc, result, at);
            result = tensor::InsertOp::create(
                b3, loc, addf(b3, loc, previous, sum), result, at);
          }
        return SmallVector<Value>{result};
      });
  return out.front();
}

/// The DNS mask gradient as explicit vector loops (strided layers read the
/// column phases of Xp),
/// without the unfolded product D = Wᵀ·G in memory:
///
///   for n, y, ky:
///     accM[kx][chunk] = 0
///     for c0 in 0..C step CB:
///       accD[j][kx][chunk] = Σ_o G[n, o, y, x0 : VL]·W[o, c0 + j, ky, kx]
///       accM[kx][chunk] += Xp[n, c0 + j, y + ky·dh, x0 + kx·dw : VL]·accD
///     ∂m[n, ky, kx, y, x0 : VL] = accM[kx][chunk]
///
/// as [N, kh, kw, Ho, Wo]; std::nullopt when not applicable.
std::optional<Value> vectorMaskGradient(LoweringBuilder &g, Value gOut,
                                        Value xp, Value weight,
                                        const ConvWindow &w) {
  constexpr int64_t lanes = 16, registers = 24;
  ArrayRef<int64_t> gs = shapeOf(gOut), ws = shapeOf(weight);
  int64_t batch = gs[0], ho = gs[2], wo = gs[3];
  int64_t channels = ws[1], kh = ws[2], kw = ws[3];
  int64_t chunks = llvm::divideCeil(wo, lanes);
  int64_t block = 0;
  for (int64_t candidate : {4, 2, 1})
    if (channels % candidate == 0 &&
        (candidate + 1) * kw * chunks <= registers) {
      block = candidate;
      break;
    }
  if (block == 0)
    return std::nullopt;
  Location loc = g.loc;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  Value dh = index(w.dilation[0]), sh = index(w.stride[0]);
  ColumnPhases columns(g, xp, w.stride[1]);
  SmallVector<Value> out = kit.nest(
      g.b, {batch, ho, kh}, {1, 1, 1}, {g.empty({batch, kh, kw, ho, wo})},
      [&](OpBuilder &b3, ValueRange ivs, ValueRange iter) {
        Value n = ivs[0], y = ivs[1], ky = ivs[2];
        Value row = arith::AddIOp::create(
            b3, loc, arith::MulIOp::create(b3, loc, y, sh),
            arith::MulIOp::create(b3, loc, ky, dh));
        SmallVector<Value> accM = kit.nest(
            b3, {channels}, {block}, SmallVector<Value>(kw * chunks, kit.zeros),
            [&](OpBuilder &b4, ValueRange blocks, ValueRange partial) {
              Value c0 = blocks[0];
              SmallVector<Value> sums = sumOverOutputs(
                  kit, b4, gOut, weight, n, y, c0, ky, block, kw, chunks);
              SmallVector<Value> acc(partial);
              for (int64_t j = 0; j < block; ++j) {
                Value c = arith::AddIOp::create(b4, loc, c0, index(j));
                for (int64_t kx = 0; kx < kw; ++kx)
                  for (int64_t ch = 0; ch < chunks; ++ch) {
                    int64_t off = kx * w.dilation[1];
                    auto [phase, col] = columns.at(ch * lanes, off);
                    Value xv = kit.read(b4, phase, {n, c, row, index(col)},
                                        col + lanes <= columns.width(off));
                    Value &a = acc[kx * chunks + ch];
                    a = vector::FMAOp::create(
                        b4, loc, xv, sums[(j * kw + kx) * chunks + ch], a);
                  }
              }
              return acc;
            });
        Value result = iter.front();
        for (int64_t kx = 0; kx < kw; ++kx)
          for (int64_t ch = 0; ch < chunks; ++ch)
            result = kit.write(b3, accM[kx * chunks + ch], result,
                               {n, ky, index(kx), y, index(ch * lanes)},
                               (ch + 1) * lanes <= wo);
        return SmallVector<Value>{result};
      });
  return out.front();
}

/// The UNS mixed taps Z[n,c,t,p] = Σ_s M_p[t,s]·Xp[n,c,window(p,s)] as
/// explicit vector loops: for n, c, y, the row's K × chunks accumulators
/// (one per tap t) take every source tap s, whose input row is read once
/// (column phases for strided layers). std::nullopt when they do not fit.
std::optional<Value> vectorMixedTaps(LoweringBuilder &g, Value m7, Value xp,
                                     int64_t channels, const ConvWindow &w) {
  constexpr int64_t lanes = 16, registers = 24;
  ArrayRef<int64_t> ms = shapeOf(m7);
  int64_t batch = ms[0], kh = ms[1], kw = ms[2], ho = ms[5], wo = ms[6];
  int64_t chunks = llvm::divideCeil(wo, lanes), taps = kh * kw;
  if (taps * chunks > registers)
    return std::nullopt;
  Location loc = g.loc;
  VectorLoops kit(g, lanes);
  auto index = [&](int64_t v) { return kit.index(v); };
  ColumnPhases columns(g, xp, w.stride[1]);
  Value sh = index(w.stride[0]);
  SmallVector<Value> out = kit.nest(
      g.b, {batch, channels, ho}, {1, 1, 1},
      {g.empty({batch, channels, kh, kw, ho, wo})},
      [&](OpBuilder &b3, ValueRange ivs, ValueRange iter) {
        Value n = ivs[0], c = ivs[1], y = ivs[2];
        SmallVector<Value> acc(taps * chunks, kit.zeros);
        Value base = arith::MulIOp::create(b3, loc, y, sh);
        for (int64_t sy = 0; sy < kh; ++sy) {
          Value row =
              arith::AddIOp::create(b3, loc, base, index(sy * w.dilation[0]));
          for (int64_t sx = 0; sx < kw; ++sx) {
            int64_t off = sx * w.dilation[1];
            for (int64_t ch = 0; ch < chunks; ++ch) {
              auto [phase, col] = columns.at(ch * lanes, off);
              Value xv = kit.read(b3, phase, {n, c, row, index(col)},
                                  col + lanes <= columns.width(off));
              for (int64_t ty = 0; ty < kh; ++ty)
                for (int64_t tx = 0; tx < kw; ++tx) {
                  Value mv = kit.read(b3, m7,
                                      {n, index(ty), index(tx), index(sy),
                                       index(sx), y, index(ch * lanes)},
                                      (ch + 1) * lanes <= wo);
                  Value &a = acc[(ty * kw + tx) * chunks + ch];
                  a = vector::FMAOp::create(b3, loc, mv, xv, a);
                }
            }
          }
        }
        Value result = iter.front();
        for (int64_t ty = 0; ty < kh; ++ty)
          for (int64_t tx = 0; tx < kw; ++tx)
            for (int64_t ch = 0; ch < chunks; ++ch)
              result =
                  kit.write(b3, acc[(ty * kw + tx) * chunks + ch], result,
                            {n, c, index(ty), index(tx), y, index(ch * lanes)},
                            (ch + 1) * lanes <= wo);
        return SmallVector<Value>{result};
      });
  return out.front();
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
                         Value q, const ConvWindow &w) {
  ArrayRef<int64_t> gs = shapeOf(gOut);
  int64_t n = gs[0], ho = gs[2], wo = gs[3];
  int64_t kh = w.kernel[0], kw = w.kernel[1];
  if (!q) {
    if (std::optional<Value> fast = vectorMaskGradient(g, gOut, xp, weight, w))
      return g.collapse(*fast, {{0}, {1, 2}, {3}, {4}});
    Value dm =
        g.generic(g.filled({n, kh, kw, ho, wo}, 0.0), {gOut, weight, xp},
                  {g.dims(7, {0, 5, 3, 4}), g.dims(7, {5, 6, 1, 2}),
                   windowMap(g, 7, 0, 6, 3, 4, 1, 2, w.stride, w.dilation),
                   g.dims(7, {0, 1, 2, 3, 4})},
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

/// Σ of `term(inputs)` over the reduction loops into `shape`, computed and
/// accumulated in f64 (the inputs widened first), then rounded to f32: a
/// sum that cancels, such as the gradient of a scalar, keeps its relative
/// accuracy. Without `widenInputs` the term is computed in f32.
Value preciseSum(LoweringBuilder &g, ArrayRef<int64_t> shape, ValueRange inputs,
                 ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                 Body term, bool widenInputs = true) {
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

/// ∂bias[o] = Σ_{n,p} G[n,o,p]. Loops (n, o, y, x).
Value biasGradient(LoweringBuilder &g, Value gOut) {
  return preciseSum(g, {shapeOf(gOut)[1]}, {gOut},
                    {g.identity(4), g.dims(4, {1})},
                    {kReduction, kParallel, kReduction, kReduction},
                    [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

Value select(OpBuilder &b, Location l, Value cond, Value x, Value y) {
  return arith::SelectOp::create(b, l, cond, x, y);
}
Value greater(OpBuilder &b, Location l, Value x, double bound) {
  return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                               cstf(b, l, bound));
}

//===----------------------------------------------------------------------===//
// sim_conv2d
//===----------------------------------------------------------------------===//

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
      q = fast ? *fast : mixedTapGradient(g, gOut, weight);
    }
    return q;
  };
  auto similarityGrad = [&] {
    if (!gradM)
      gradM = similarityGradient(g, gOut, padded(), weight,
                                 full ? mixedTaps() : Value(), w);
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
        grads.push_back(inputGradient(g, gu, weight, maskU, shapeOf(x), w));
    } else if (index == 1) {
      Value mask = effective ? splitTaps(g, effective, w) : Value();
      if (std::optional<Value> fast =
              full ? mixedWeightGradient(g, gOut, padded(), mask, ws, w)
                   : vectorWeightGradient(g, gOut, padded(), mask, ws, w))
        grads.push_back(*fast);
      else
        grads.push_back(weightGradient(g, gOut, padded(), mask, ws, w));
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
      // Straight-through: ∂d_r[t] = Σ_{n,p,s} G_M[t,s]·R_p[t,s].
      ArrayRef<int64_t> rs = shapeOf(raw);
      if (!full) {
        // Loops (t, n, y, x).
        grads.push_back(preciseSum(
            g, {k}, {similarityGrad(), raw},
            {g.dims(4, {1, 0, 2, 3}), g.dims(4, {1, 0, 2, 3}), g.dims(4, {0})},
            {kParallel, kReduction, kReduction, kReduction}, product));
      } else {
        SmallVector<int64_t> split = {rs[0], k, k, rs[2], rs[3]};
        SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
        // Loops (t, n, y, x, s).
        AffineMap at = g.dims(5, {1, 0, 4, 2, 3});
        grads.push_back(preciseSum(
            g, {k},
            {g.expand(similarityGrad(), split, groups),
             g.expand(raw, split, groups)},
            {at, at, g.dims(5, {0})},
            {kParallel, kReduction, kReduction, kReduction, kReduction},
            product));
      }
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

Grads lowerSphereConv2dVJP(LoweringBuilder &g, SphereConv2dVJPOp op) {
  Value x = op.getInput(), weight = op.getWeight(), gOut = op.getGradOutput();
  Value kParam = op.getKParam();
  ArrayRef<int64_t> ws = shapeOf(weight), shape = shapeOf(gOut);
  ConvWindow w = makeWindow(x, ws.drop_front(2), op.getStride(),
                            op.getPadding(), op.getDilation());
  double epsilon = op.getEpsilon().convertToDouble();
  double sigmoidK = op.getSigmoidK().convertToDouble();
  SphereVariant variant = op.getVariant();
  bool inputOnly = op.getInputOnly();

  // The forward quantities: u = Σ W·Xp, ‖x_p‖ [N, Ho, Wo], ‖w_o‖ [O].
  Value xp = g.padSpatial(x, w.padding, 0.0);
  std::optional<Value> fast = vectorConvolution(g, xp, weight, shape, w);
  Value dot =
      fast ? *fast : convolution(g, xp, weight, shape, w.stride, w.dilation);
  Value xNorm = patchNorm(g, x, w.kernel, w.padding, w.stride, w.dilation,
                          {shape[0], shape[2], shape[3]}, epsilon);
  Value wNorm = g.filled({ws[0]}, 1.0);
  if (!inputOnly) {
    Value sum = g.generic(g.filled({ws[0]}, 0.0), {weight},
                          {g.identity(4), g.dims(4, {0})},
                          {kParallel, kReduction, kReduction, kReduction},
                          [](OpBuilder &b, Location l, ValueRange a) {
                            return addf(b, l, a[1], mulf(b, l, a[0], a[0]));
                          });
    wNorm = g.elementwise({sum}, [&](OpBuilder &b, Location l, ValueRange a) {
      return math::SqrtOp::create(b, l, addf(b, l, a[0], cstf(b, l, epsilon)));
    });
  }
  AffineMap all = g.identity(4), perFilter = g.dims(4, {1}),
            perPosition = g.dims(4, {0, 2, 3});
  SmallVector<IteratorType> parallel(4, kParallel);
  // cos θ = u/(‖w‖‖x‖) (‖w‖ = 1 with input_only).
  Value cos = g.generic(g.empty(shape), {dot, wNorm, xNorm},
                        {all, perFilter, perPosition, all}, parallel,
                        [](OpBuilder &b, Location l, ValueRange a) {
                          return divf(b, l, a[0], mulf(b, l, a[1], a[2]));
                        });
  // The k of the sigmoid variants for filter o from the k_param operand.
  auto kOf = [&](OpBuilder &b, Location l, Value kp) {
    if (variant == SphereVariant::LearnedSigmoid)
      return addf(b, l, math::AbsFOp::create(b, l, kp), cstf(b, l, 0.05));
    return cstf(b, l, sigmoidK);
  };
  // u = G·g'(cos θ).
  SmallVector<Value> inputs = {cos, gOut};
  SmallVector<AffineMap> maps = {all, all};
  if (kParam) {
    inputs.push_back(kParam);
    maps.push_back(perFilter);
  }
  maps.push_back(all);
  Value u = g.generic(g.empty(shape), inputs, maps, parallel,
                      [&](OpBuilder &b, Location l, ValueRange a) {
                        Value k = kOf(b, l, kParam ? a[2] : Value());
                        return mulf(b, l, a[1],
                                    sphereDerivative(b, l, variant, a[0], k));
                      });
  // ∂dot = u/(‖w‖‖x‖); u·cos θ feeds both norms.
  Value dDot = g.generic(g.empty(shape), {u, wNorm, xNorm},
                         {all, perFilter, perPosition, all}, parallel,
                         [](OpBuilder &b, Location l, ValueRange a) {
                           return divf(b, l, a[0], mulf(b, l, a[1], a[2]));
                         });
  Value uCos =
      g.elementwise({u, cos}, [](OpBuilder &b, Location l, ValueRange a) {
        return mulf(b, l, a[0], a[1]);
      });

  SmallVector<Value> grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0) {
      // ∂Xp = Σ_o ∂dot·W + β·Xp, β[n,p] = −Σ_o u·cos θ / ‖x_p‖².
      Value sum = g.generic(g.filled({shape[0], shape[2], shape[3]}, 0.0),
                            {uCos}, {all, perPosition},
                            {kParallel, kReduction, kParallel, kParallel},
                            [](OpBuilder &b, Location l, ValueRange a) {
                              return addf(b, l, a[1], a[0]);
                            });
      Value beta = g.elementwise({sum, xNorm}, [](OpBuilder &b, Location l,
                                                  ValueRange a) {
        return arith::NegFOp::create(b, l,
                                     divf(b, l, a[0], mulf(b, l, a[1], a[1])));
      });
      beta =
          g.expand(beta, {shape[0], 1, shape[2], shape[3]}, {{0, 1}, {2}, {3}});
      Value gu = upsample(g, dDot, w);
      std::optional<Value> fast =
          vectorInputGradient(g, gu, weight, Value(), shapeOf(x), w);
      Value conv =
          fast ? *fast : inputGradient(g, gu, weight, Value(), shapeOf(x), w);
      grads.push_back(
          scaleInput(g, x, boxAdjoint(g, beta, shapeOf(x), w), conv));
    } else if (index == 1) {
      // ∂W = Σ_{n,p} ∂dot·Xp − (Σ_{n,p} u·cos θ)·W/‖w‖².
      // dDot may be bufferized in place into the strided upsampled copy the
      // input gradient reads; the vector loops need unit-stride rows.
      Value dense =
          linalg::CopyOp::create(g.b, g.loc, dDot, g.empty(shapeOf(dDot)))
              .getResult(0);
      std::optional<Value> fast =
          vectorWeightGradient(g, dense, xp, Value(), ws, w);
      Value conv = fast ? *fast : weightGradient(g, dDot, xp, Value(), ws, w);
      if (inputOnly) {
        grads.push_back(conv);
        continue;
      }
      Value sum =
          preciseSum(g, {ws[0]}, {uCos}, {all, perFilter},
                     {kReduction, kParallel, kReduction, kReduction},
                     [](OpBuilder &, Location, ValueRange a) { return a[0]; });
      grads.push_back(
          g.generic(g.empty(ws), {conv, weight, sum, wNorm},
                    {all, all, g.dims(4, {0}), g.dims(4, {0}), all}, parallel,
                    [](OpBuilder &b, Location l, ValueRange a) {
                      Value scale = divf(b, l, a[2], mulf(b, l, a[3], a[3]));
                      return subf(b, l, a[0], mulf(b, l, scale, a[1]));
                    }));
    } else if (index == 2 && kParam) {
      // ∂k'[o] = Σ_{n,p} G·∂g/∂k·sign(k'). Loops (n, o, y, x).
      grads.push_back(preciseSum(
          g, {ws[0]}, {cos, gOut, kParam}, {all, all, perFilter, perFilter},
          {kReduction, kParallel, kReduction, kReduction},
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value k = kOf(b, l, a[2]);
            Value dk = sigmoidDerivativeInK(b, l, sigmoidTheta(b, l, a[0]), k);
            return mulf(b, l, mulf(b, l, a[1], dk), signOf(b, l, a[2]));
          },
          /*widenInputs=*/false));
    } else {
      return op.emitError("unexpected operand index ") << index << " in wrt";
    }
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
