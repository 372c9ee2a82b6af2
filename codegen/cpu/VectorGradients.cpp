//===- VectorGradients.cpp - CPU vector loops for conv gradients ----------===//
#include "codegen/cpu/VectorGradients.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace {

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
std::optional<Value> vectorCorrelation(const VectorIsa &isa, LoweringBuilder &g,
                                       Value gu, Value weight, Value maskU,
                                       ArrayRef<int64_t> inputShape,
                                       const ConvWindow &w, bool forward) {
  // ∂X reads the gradient upsampled by the stride (zero rows and columns
  // where no output lands), so any stride works; the forward product reads
  // the input itself and needs stride 1.
  if (forward && (w.stride[0] != 1 || w.stride[1] != 1))
    return std::nullopt;
  const int64_t lanes = isa.lanes, registers = isa.registers;
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

std::optional<Value> vectorInputGradient(const VectorIsa &isa,
                                         LoweringBuilder &g, Value gu,
                                         Value weight, Value maskU,
                                         ArrayRef<int64_t> inputShape,
                                         const ConvWindow &w) {
  return vectorCorrelation(isa, g, gu, weight, maskU, inputShape, w,
                           /*forward=*/false);
}

/// The plain convolution Σ W·Xp of a padded input at stride 1 as the same
/// vector loops (`outShape` [N, O, Ho, Wo]).
std::optional<Value> vectorConvolution(const VectorIsa &isa, LoweringBuilder &g,
                                       Value xp, Value weight,
                                       ArrayRef<int64_t> outShape,
                                       const ConvWindow &w) {
  return vectorCorrelation(isa, g, xp, weight, Value(), outShape, w,
                           /*forward=*/true);
}

/// Q of mixedTapGradient as explicit vector loops: for n, y, a block of
/// input channels and a kernel row, accumulators over the row's chunks sum
/// G[n, o, y, x0 : VL]·W[o, c, ky, kx] over o. std::nullopt when the blocks
/// do not fit the registers.
std::optional<Value> vectorMixedTapGradient(const VectorIsa &isa,
                                            LoweringBuilder &g, Value gOut,
                                            Value weight) {
  const int64_t lanes = isa.lanes, registers = isa.registers;
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
std::optional<Value> vectorUnsContraction(const VectorIsa &isa,
                                          LoweringBuilder &g, Value q, Value m7,
                                          Value xp, const ConvWindow &w) {
  const int64_t lanes = isa.lanes, registers = isa.registers;
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
std::optional<Value> vectorWeightGradient(const VectorIsa &isa,
                                          LoweringBuilder &g, Value gOut,
                                          Value xp, Value mask,
                                          ArrayRef<int64_t> ws,
                                          const ConvWindow &w) {
  if (mask && shapeOf(mask).size() != 5)
    return std::nullopt;
  const int64_t lanes = isa.lanes, registers = isa.registers;
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
std::optional<Value> vectorMaskGradient(const VectorIsa &isa,
                                        LoweringBuilder &g, Value gOut,
                                        Value xp, Value weight,
                                        const ConvWindow &w) {
  const int64_t lanes = isa.lanes, registers = isa.registers;
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
std::optional<Value> vectorMixedTaps(const VectorIsa &isa, LoweringBuilder &g,
                                     Value m7, Value xp, int64_t channels,
                                     const ConvWindow &w) {
  const int64_t lanes = isa.lanes, registers = isa.registers;
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

} // namespace

std::optional<Value>
CpuConvVectorKernels::inputGradient(LoweringBuilder &g, Value gu, Value weight,
                                    Value maskU, ArrayRef<int64_t> inputShape,
                                    const ConvWindow &w) const {
  return vectorInputGradient(isa, g, gu, weight, maskU, inputShape, w);
}

std::optional<Value>
CpuConvVectorKernels::convolution(LoweringBuilder &g, Value xp, Value weight,
                                  ArrayRef<int64_t> outShape,
                                  const ConvWindow &w) const {
  return vectorConvolution(isa, g, xp, weight, outShape, w);
}

std::optional<Value>
CpuConvVectorKernels::mixedTapGradient(LoweringBuilder &g, Value gOut,
                                       Value weight) const {
  return vectorMixedTapGradient(isa, g, gOut, weight);
}

std::optional<Value>
CpuConvVectorKernels::unsContraction(LoweringBuilder &g, Value q, Value m7,
                                     Value xp, const ConvWindow &w) const {
  return vectorUnsContraction(isa, g, q, m7, xp, w);
}

std::optional<Value>
CpuConvVectorKernels::weightGradient(LoweringBuilder &g, Value gOut, Value xp,
                                     Value mask, ArrayRef<int64_t> weightShape,
                                     const ConvWindow &w) const {
  return vectorWeightGradient(isa, g, gOut, xp, mask, weightShape, w);
}

std::optional<Value>
CpuConvVectorKernels::maskGradient(LoweringBuilder &g, Value gOut, Value xp,
                                   Value weight, const ConvWindow &w) const {
  return vectorMaskGradient(isa, g, gOut, xp, weight, w);
}

std::optional<Value>
CpuConvVectorKernels::mixedTaps(LoweringBuilder &g, Value m7, Value xp,
                                int64_t channels, const ConvWindow &w) const {
  return vectorMixedTaps(isa, g, m7, xp, channels, w);
}
