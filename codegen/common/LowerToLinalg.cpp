//===- LowerToLinalg.cpp - nsl ops to linalg on tensors -------------------===//
//
// Each nsl op becomes linalg (named convolutions where they exist,
// linalg.generic otherwise), tensor, arith and math ops computing its ODS
// description in f32. Windows read a zero-padded input (tensor.pad) through
// the affine map (n, c, y·sh + ky·dh, x·sw + kx·dw); loop bounds of window
// dimensions come from a [kh, kw] operand (the kernel, or an unread
// tensor.empty as linalg's pooling ops do).
//
//===----------------------------------------------------------------------===//
#include "codegen/common/ConvVectorKernels.h"
#include "codegen/common/LinalgBuilder.h"
#include "codegen/common/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/TypeSwitch.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

namespace mlir::nsl {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "codegen/common/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace {
//===----------------------------------------------------------------------===//
// Similarity
//===----------------------------------------------------------------------===//

/// The static K×K matrix M of a similarity (DESIGN.md §1 table).
} // namespace

Value mlir::nsl::lowering::similarityMatrix(LoweringBuilder &g,
                                            Structure structure,
                                            ValueRange operands, int64_t k,
                                            double alpha) {
  switch (structure) {
  case Structure::Identity:
  case Structure::Diagonal:
    // M[t,s] = δ_ts · (m[t] or 1).
    if (structure == Structure::Identity)
      return g.elementwise(g.filled({k, k}, 0.0),
                           [](OpBuilder &b, Location l, ValueRange) {
                             return kronecker(b, l, 0, 1);
                           });
    return g.generic(g.empty({k, k}), operands, {g.dims(2, {0}), g.identity(2)},
                     {kParallel, kParallel},
                     [](OpBuilder &b, Location l, ValueRange a) {
                       return mulf(b, l, a[0], kronecker(b, l, 0, 1));
                     });
  case Structure::Full:
    return operands[0];
  case Structure::Cholesky:
    // M[t,s] = Σ_j L[t,j]·L[s,j] over j ≤ min(t, s): the lower triangle.
    return g.generic(
        g.filled({k, k}, 0.0), {operands[0], operands[0]},
        {g.dims(3, {0, 2}), g.dims(3, {1, 2}), g.dims(3, {0, 1})},
        {kParallel, kParallel, kReduction},
        [](OpBuilder &b, Location l, ValueRange a) {
          Value j = linalg::IndexOp::create(b, l, 2);
          auto le = [&](unsigned dim) {
            return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, j,
                                         linalg::IndexOp::create(b, l, dim));
          };
          Value inside = arith::AndIOp::create(b, l, le(0), le(1));
          Value product = mulf(b, l, a[0], a[1]);
          Value term =
              arith::SelectOp::create(b, l, inside, product, cstf(b, l, 0.0));
          return addf(b, l, a[2], term);
        });
  case Structure::ShapeMasked: {
    // M[t,s] = D[t]·R[t,s], D[t] = 1[d_r[t] > α]; an R of K elements is
    // diagonal.
    bool diagonalR = shapeOf(operands[1]).size() == 1;
    AffineMap rMap = diagonalR ? g.dims(2, {0}) : g.identity(2);
    return g.generic(
        g.empty({k, k}), operands, {g.dims(2, {0}), rMap, g.identity(2)},
        {kParallel, kParallel}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value keep = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                             a[0], cstf(b, l, alpha));
          Value r = diagonalR ? mulf(b, l, a[1], kronecker(b, l, 0, 1)) : a[1];
          return arith::SelectOp::create(b, l, keep, r, cstf(b, l, 0.0));
        });
  }
  }
  llvm_unreachable("unknown structure");
}

namespace {

/// W'[o,c,s] = Σ_t W[o,c,t]·M[t,s] on a weight viewed as [R, K] rows
/// (conv [O, C, kh, kw] → [O·C, K]; linear [O, F] → [O·G, B]).
Value foldSimilarity(LoweringBuilder &g, FoldSimilarityOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  int64_t k = op.getGroupSize() ? static_cast<int64_t>(*op.getGroupSize())
                                : shape[2] * shape[3];
  int64_t rows = op.getType().getNumElements() / k;
  Value m = similarityMatrix(g, op.getStructure(), op.getSimilarity(), k,
                             op.getAlpha().convertToDouble());
  Value w = op.getWeight();
  // Conv [O, C, kh, kw] → [O·C, K]; linear [O, F] → [O, G, B] → [O·G, B].
  SmallVector<ReassociationIndices> toRows = {{0, 1}, {2, 3}};
  SmallVector<int64_t> grouped = {shape[0], shape.back() / k, k};
  Value rowsView =
      shape.size() == 4
          ? g.collapse(w, toRows)
          : g.collapse(g.expand(w, grouped, {{0}, {1, 2}}), {{0, 1}, {2}});
  Value folded =
      g.generic(g.filled({rows, k}, 0.0), {rowsView, m},
                {g.dims(3, {0, 2}), g.dims(3, {2, 1}), g.dims(3, {0, 1})},
                {kParallel, kParallel, kReduction},
                [](OpBuilder &b, Location l, ValueRange a) {
                  return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                });
  if (shape.size() == 4)
    return g.expand(folded, shape, toRows);
  return g.collapse(g.expand(folded, grouped, {{0, 1}, {2}}), {{0}, {1, 2}});
}

/// Plain convolution of a padded input.
} // namespace

Value mlir::nsl::lowering::convolution(LoweringBuilder &g, Value paddedInput,
                                       Value weight,
                                       ArrayRef<int64_t> resultShape,
                                       ArrayRef<int64_t> stride,
                                       ArrayRef<int64_t> dilation) {
  auto attr = [&](ArrayRef<int64_t> values) {
    return DenseIntElementsAttr::get(
        RankedTensorType::get({2}, g.b.getI64Type()), values);
  };
  NamedAttribute attrs[] = {g.b.getNamedAttr("strides", attr(stride)),
                            g.b.getNamedAttr("dilations", attr(dilation))};
  return linalg::Conv2DNchwFchwOp::create(
             g.b, g.loc, TypeRange{g.f32(resultShape)},
             ValueRange{paddedInput, weight},
             ValueRange{g.filled(resultShape, 0.0)}, attrs)
      .getResult(0);
}

namespace {

/// DNS: Y[n,o,y,x] = Σ_{c,ky,kx} W[o,c,ky,kx]·m[n,t,y,x]·Xp[n,c,window].
/// Loops (n, o, y, x, c, ky, kx).
Value maskedConvolution(LoweringBuilder &g, Value xp, Value w, Value mask,
                        ArrayRef<int64_t> resultShape, ArrayRef<int64_t> stride,
                        ArrayRef<int64_t> dilation, int64_t groups) {
  ArrayRef<int64_t> ws = shapeOf(w), ms = shapeOf(mask);
  Value mask5 = g.expand(mask, {ms[0], ws[2], ws[3], ms[2], ms[3]},
                         {{0}, {1, 2}, {3}, {4}});
  AffineMap window = windowMap(g, 7, 0, 4, 2, 3, 5, 6, stride, dilation);
  if (groups != 1) {
    // Output o reads input channel ⌊o/Og⌋·Cg + c (loop 4 is c).
    SmallVector<AffineExpr> exprs(window.getResults());
    exprs[1] = g.d(1).floorDiv(ws[0] / groups) * ws[1] + g.d(4);
    window = g.map(7, exprs);
  }
  return g.generic(g.filled(resultShape, 0.0), {xp, w, mask5},
                   {window, g.dims(7, {1, 4, 5, 6}), g.dims(7, {0, 5, 6, 2, 3}),
                    g.dims(7, {0, 1, 2, 3})},
                   {kParallel, kParallel, kParallel, kParallel, kReduction,
                    kReduction, kReduction},
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[3],
                                 mulf(b, l, mulf(b, l, a[0], a[2]), a[1]));
                   });
}

/// UNS: Z[n,c,ky,kx,y,x] = Σ_s M_p[t,s]·Xp[n,c,window(s)], then
/// Y[n,o,y,x] = Σ_{c,t} W[o,c,t]·Z[n,c,t,y,x].
Value mixedConvolution(LoweringBuilder &g, Value xp, Value w, Value mixing,
                       ArrayRef<int64_t> resultShape, ArrayRef<int64_t> stride,
                       ArrayRef<int64_t> dilation, int64_t groups) {
  ArrayRef<int64_t> ws = shapeOf(w), ms = shapeOf(mixing);
  int64_t n = ms[0], kh = ws[2], kw = ws[3], ho = ms[2], wo = ms[3];
  int64_t c = shapeOf(xp)[1];
  Value m7 = g.expand(mixing, {n, kh, kw, kh, kw, ho, wo},
                      {{0}, {1, 2, 3, 4}, {5}, {6}});
  // Loops (n, c, ky, kx, y, x, sy, sx).
  Value z = g.generic(g.filled({n, c, kh, kw, ho, wo}, 0.0), {xp, m7},
                      {windowMap(g, 8, 0, 1, 4, 5, 6, 7, stride, dilation),
                       g.dims(8, {0, 2, 3, 6, 7, 4, 5}),
                       g.dims(8, {0, 1, 2, 3, 4, 5})},
                      {kParallel, kParallel, kParallel, kParallel, kParallel,
                       kParallel, kReduction, kReduction},
                      [](OpBuilder &b, Location l, ValueRange a) {
                        return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                      });
  // Loops (n, o, y, x, c, ky, kx); grouped, output o reads the mixed taps
  // of input channel ⌊o/Og⌋·Cg + c.
  AffineMap mixed = g.dims(7, {0, 4, 5, 6, 2, 3});
  if (groups != 1)
    mixed = g.map(7, {g.d(0), g.d(1).floorDiv(ws[0] / groups) * ws[1] + g.d(4),
                      g.d(5), g.d(6), g.d(2), g.d(3)});
  return g.generic(g.filled(resultShape, 0.0), {z, w},
                   {mixed, g.dims(7, {1, 4, 5, 6}), g.dims(7, {0, 1, 2, 3})},
                   {kParallel, kParallel, kParallel, kParallel, kReduction,
                    kReduction, kReduction},
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                   });
}

/// A grouped convolution: output channel o reads the Cg = C/G input
/// channels of its group, c = ⌊o/Og⌋·Cg + c'. Loops (n, o, y, x, c', ky, kx).
Value groupedConvolution(LoweringBuilder &g, Value xp, Value w,
                         ArrayRef<int64_t> resultShape,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> dilation,
                         int64_t groups) {
  ArrayRef<int64_t> ws = shapeOf(w);
  int64_t perGroup = ws[0] / groups, channels = ws[1];
  AffineMap input =
      g.map(7, {g.d(0), g.d(1).floorDiv(perGroup) * channels + g.d(4),
                g.d(2) * stride[0] + g.d(5) * dilation[0],
                g.d(3) * stride[1] + g.d(6) * dilation[1]});
  return g.generic(g.filled(resultShape, 0.0), {xp, w},
                   {input, g.dims(7, {1, 4, 5, 6}), g.dims(7, {0, 1, 2, 3})},
                   {kParallel, kParallel, kParallel, kParallel, kReduction,
                    kReduction, kReduction},
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                   });
}

Value lowerSimConv2d(LoweringBuilder &g, SimConv2dOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  Value w = op.getWeight();
  Value xp = g.padSpatial(op.getInput(), op.getPadding(), 0.0);
  Structure structure = op.getStructure();
  int64_t groups = static_cast<int64_t>(op.getGroups());
  Value y;
  if (!op.getDynamic()) {
    if (structure != Structure::Identity) {
      auto fold = FoldSimilarityOp::create(g.b, g.loc, w, op.getSimilarity(),
                                           op.getStructureAttr(), IntegerAttr(),
                                           op.getAlphaAttr());
      w = foldSimilarity(g, fold);
      fold.erase();
    }
    y = groups == 1
            ? convolution(g, xp, w, shape, op.getStride(), op.getDilation())
            : groupedConvolution(g, xp, w, shape, op.getStride(),
                                 op.getDilation(), groups);
  } else {
    ValueRange sim = op.getSimilarity();
    Value mask = sim.back();
    int64_t k = shapeOf(w)[2] * shapeOf(w)[3];
    bool diagonal = shapeOf(mask)[1] == k;
    if (structure == Structure::ShapeMasked) {
      // M_p = diag(D)·R_p: zero the rows t of R_p where D[t] = 0. Channel
      // t·K+s of a full R_p belongs to row t = channel floordiv K.
      double alpha = op.getAlpha().convertToDouble();
      AffineExpr row = diagonal ? g.d(1) : g.d(1).floorDiv(k);
      mask = g.generic(
          g.empty(shapeOf(mask)), {sim[0], mask},
          {g.map(4, {row}), g.identity(4), g.identity(4)},
          SmallVector<IteratorType>(4, kParallel),
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value keep = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                               a[0], cstf(b, l, alpha));
            return arith::SelectOp::create(b, l, keep, a[1], cstf(b, l, 0.0));
          });
    }
    y = diagonal ? maskedConvolution(g, xp, w, mask, shape, op.getStride(),
                                     op.getDilation(), groups)
                 : mixedConvolution(g, xp, w, mask, shape, op.getStride(),
                                    op.getDilation(), groups);
  }
  return addBias(g, y, op.getBias());
}

//===----------------------------------------------------------------------===//
// SphereConv and patch norm
//===----------------------------------------------------------------------===//

/// ‖x_p‖ = sqrt(Σ_{c,ky,kx} Xp[n,c,window]² + ε) as [N, Ho, Wo].
/// Loops (n, y, x, c, ky, kx).
} // namespace

Value mlir::nsl::lowering::patchNorm(
    LoweringBuilder &g, Value input, ArrayRef<int64_t> kernel,
    ArrayRef<int64_t> padding, ArrayRef<int64_t> stride,
    ArrayRef<int64_t> dilation, ArrayRef<int64_t> outShape, double epsilon) {
  Value xp = g.padSpatial(input, padding, 0.0);
  Value sum = g.generic(
      g.filled(outShape, 0.0), {xp, g.empty({kernel[0], kernel[1]})},
      {windowMap(g, 6, 0, 3, 1, 2, 4, 5, stride, dilation), g.dims(6, {4, 5}),
       g.dims(6, {0, 1, 2})},
      {kParallel, kParallel, kParallel, kReduction, kReduction, kReduction},
      [](OpBuilder &b, Location l, ValueRange a) {
        return addf(b, l, a[2], mulf(b, l, a[0], a[0]));
      });
  return g.elementwise({sum}, [&](OpBuilder &b, Location l, ValueRange a) {
    return math::SqrtOp::create(b, l, addf(b, l, a[0], cstf(b, l, epsilon)));
  });
}

namespace {

/// `value` (an f32 scalar) in the type of `like`: itself for a scalar,
/// broadcast for a vector.
Value shapedLike(OpBuilder &b, Location l, Value like, Value value) {
  if (auto vector = dyn_cast<VectorType>(like.getType()))
    return vector::BroadcastOp::create(b, l, vector, value);
  return value;
}

/// g(θ) of the sigmoid variants for cos θ and k (of θ's type).
Value sphereSigmoid(OpBuilder &b, Location l, Value theta, Value k) {
  auto c = [&](double v) { return shapedLike(b, l, theta, cstf(b, l, v)); };
  Value halfPi = c(llvm::numbers::pi / 2);
  // e = exp(θ/k − π/(2k)); κ = (1 + e^{−π/(2k)}) / (1 − e^{−π/(2k)}).
  Value e = math::ExpOp::create(b, l, divf(b, l, subf(b, l, theta, halfPi), k));
  Value e0 = math::ExpOp::create(
      b, l, divf(b, l, arith::NegFOp::create(b, l, halfPi), k));
  Value one = c(1.0);
  Value kappa = divf(b, l, addf(b, l, one, e0), subf(b, l, one, e0));
  return mulf(b, l, kappa, divf(b, l, subf(b, l, one, e), addf(b, l, one, e)));
}

} // namespace

Value mlir::nsl::lowering::sphereOutput(OpBuilder &b, Location l, Value cos,
                                        SphereVariant variant, double sigmoidK,
                                        Value kParam) {
  if (variant == SphereVariant::Cosine)
    return cos;
  auto c = [&](double v) { return shapedLike(b, l, cos, cstf(b, l, v)); };
  Value clamped = arith::MinimumFOp::create(
      b, l, arith::MaximumFOp::create(b, l, cos, c(-1.0 + 1e-6)),
      c(1.0 - 1e-6));
  Value theta = math::AcosOp::create(b, l, clamped);
  if (variant == SphereVariant::Linear)
    return subf(b, l, c(1.0), mulf(b, l, theta, c(2.0 / llvm::numbers::pi)));
  Value k =
      variant == SphereVariant::Sigmoid
          ? c(sigmoidK)
          : addf(b, l,
                 math::AbsFOp::create(b, l, shapedLike(b, l, cos, kParam)),
                 c(0.05));
  return sphereSigmoid(b, l, theta, k);
}

Value mlir::nsl::lowering::batchNormValue(OpBuilder &b, Location l, Value x,
                                          Value mean, Value var, Value weight,
                                          Value bias, double epsilon) {
  Value inv = math::RsqrtOp::create(b, l, addf(b, l, var, cstf(b, l, epsilon)));
  Value centred = subf(b, l, x, mean);
  return addf(b, l, mulf(b, l, mulf(b, l, centred, inv), weight), bias);
}

namespace {

Value lowerSphereConv2d(LoweringBuilder &g, SphereConv2dOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  ArrayRef<int64_t> ws = shapeOf(op.getWeight());
  double epsilon = op.getEpsilon().convertToDouble();
  Value dot =
      convolution(g, g.padSpatial(op.getInput(), op.getPadding(), 0.0),
                  op.getWeight(), shape, op.getStride(), op.getDilation());
  Value xNorm = patchNorm(g, op.getInput(), ws.drop_front(2), op.getPadding(),
                          op.getStride(), op.getDilation(),
                          {shape[0], shape[2], shape[3]}, epsilon);
  // ‖w_o‖ = sqrt(Σ W² + ε); 1 with input_only. Loops (o, c, ky, kx).
  Value wNorm = g.filled({ws[0]}, 1.0);
  if (!op.getInputOnly()) {
    Value sum = g.generic(g.filled({ws[0]}, 0.0), {op.getWeight()},
                          {g.identity(4), g.dims(4, {0})},
                          {kParallel, kReduction, kReduction, kReduction},
                          [](OpBuilder &b, Location l, ValueRange a) {
                            return addf(b, l, a[1], mulf(b, l, a[0], a[0]));
                          });
    wNorm = g.elementwise({sum}, [&](OpBuilder &b, Location l, ValueRange a) {
      return math::SqrtOp::create(b, l, addf(b, l, a[0], cstf(b, l, epsilon)));
    });
  }
  SphereVariant variant = op.getVariant();
  SmallVector<Value> inputs = {dot, wNorm, xNorm};
  SmallVector<AffineMap> maps = {g.identity(4), g.dims(4, {1}),
                                 g.dims(4, {0, 2, 3})};
  if (Value kParam = op.getKParam()) {
    inputs.push_back(kParam);
    maps.push_back(g.dims(4, {1}));
  }
  maps.push_back(g.identity(4));
  double sigmoidK = op.getSigmoidK().convertToDouble();
  return g.generic(g.empty(shape), inputs, maps,
                   SmallVector<IteratorType>(4, kParallel),
                   [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                     Value cos = divf(b, l, a[0], mulf(b, l, a[1], a[2]));
                     return sphereOutput(b, l, cos, variant, sigmoidK,
                                         a.size() > 4 ? a[3] : Value());
                   });
}

Value lowerPatchNorm(LoweringBuilder &g, PatchNormOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  Value norm = patchNorm(g, op.getInput(), op.getKernelSize(), op.getPadding(),
                         op.getStride(), op.getDilation(),
                         {shape[0], shape[2], shape[3]},
                         op.getEpsilon().convertToDouble());
  return g.expand(norm, shape, {{0, 1}, {2}, {3}});
}

Value lowerPredictedSimilarity(LoweringBuilder &g, PredictedSimilarityOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  bool full = op.getStructure() == Structure::Full;
  int64_t k =
      full ? static_cast<int64_t>(std::llround(std::sqrt(shape[1]))) : shape[1];
  AffineMap gammaMap = shapeOf(op.getGamma()).empty()
                           ? g.map(4, {})
                           : g.map(4, {getAffineConstantExpr(0, g.ctx())});
  return g.generic(g.empty(shape), {op.getPrediction(), op.getGamma()},
                   {g.identity(4), gammaMap, g.identity(4)},
                   SmallVector<IteratorType>(4, kParallel),
                   [&](OpBuilder &b, Location l, ValueRange a) {
                     Value scaled = mulf(b, l, a[1], a[0]);
                     if (!full)
                       return addf(b, l, scaled, cstf(b, l, 1.0));
                     // + δ_ts at channel t·K + s: the diagonal channels are
                     // multiples of K + 1.
                     Value channel = linalg::IndexOp::create(b, l, 1);
                     Value step = arith::ConstantIndexOp::create(b, l, k + 1);
                     Value rem = arith::RemUIOp::create(b, l, channel, step);
                     Value onDiagonal = arith::CmpIOp::create(
                         b, l, arith::CmpIPredicate::eq, rem,
                         arith::ConstantIndexOp::create(b, l, 0));
                     Value identity = arith::UIToFPOp::create(
                         b, l, b.getF32Type(), onDiagonal);
                     return addf(b, l, scaled, identity);
                   });
}

//===----------------------------------------------------------------------===//
// Ordinary layers
//===----------------------------------------------------------------------===//

/// y[n,o] = Σ_f x[n,f]·W[o,f] (+ b[o]). Loops (n, o, f).
} // namespace

Value mlir::nsl::lowering::linearLayer(LoweringBuilder &g, Value x, Value w,
                                       Value bias, ArrayRef<int64_t> shape) {
  Value y = g.generic(g.filled(shape, 0.0), {x, w},
                      {g.dims(3, {0, 2}), g.dims(3, {1, 2}), g.dims(3, {0, 1})},
                      {kParallel, kParallel, kReduction},
                      [](OpBuilder &b, Location l, ValueRange a) {
                        return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                      });
  return addBias(g, y, bias);
}

namespace {

/// (x − mean[c]) / sqrt(var[c] + ε)·weight[c] + bias[c].
Value normalize(LoweringBuilder &g, Value x, Value mean, Value var,
                Value weight, Value bias, double epsilon) {
  unsigned rank = shapeOf(x).size();
  AffineMap channel = g.dims(rank, {1});
  return g.generic(
      g.empty(shapeOf(x)), {x, mean, var, weight, bias},
      {g.identity(rank), channel, channel, channel, channel, g.identity(rank)},
      SmallVector<IteratorType>(rank, kParallel),
      [&](OpBuilder &b, Location l, ValueRange a) {
        return batchNormValue(b, l, a[0], a[1], a[2], a[3], a[4], epsilon);
      });
}

/// Σ over all dimensions but 1 of f(x, stat[c]) → [C].
} // namespace

Value mlir::nsl::lowering::channelSum(LoweringBuilder &g, ValueRange full,
                                      ValueRange perChannel, Body term) {
  // Accumulated in f64 and rounded once (as PyTorch's CPU batch norm, whose
  // accumulation type for float is double): a batch statistic sums many
  // terms, and its VJP's sums cancel.
  unsigned rank = shapeOf(full.front()).size();
  int64_t channels = shapeOf(full.front())[1];
  SmallVector<IteratorType> iterators(rank, kReduction);
  iterators[1] = kParallel;
  SmallVector<Value> inputs(full.begin(), full.end());
  inputs.append(perChannel.begin(), perChannel.end());
  SmallVector<AffineMap> maps(full.size(), g.identity(rank));
  maps.append(perChannel.size() + 1, g.dims(rank, {1}));
  Type f64 = g.b.getF64Type();
  Value zero = arith::ConstantOp::create(g.b, g.loc, g.b.getF64FloatAttr(0.0));
  Value init =
      linalg::FillOp::create(g.b, g.loc, zero,
                             ValueRange{tensor::EmptyOp::create(
                                 g.b, g.loc, ArrayRef<int64_t>{channels}, f64)})
          .getResult(0);
  Value wide = g.generic(
      init, inputs, maps, iterators,
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value value =
            arith::ExtFOp::create(b, l, f64, term(b, l, a.drop_back()));
        return arith::AddFOp::create(b, l, a.back(), value).getResult();
      });
  return g.generic(
      g.empty({channels}), {wide}, {g.identity(1), g.identity(1)}, {kParallel},
      [&](OpBuilder &b, Location l, ValueRange a) {
        return arith::TruncFOp::create(b, l, b.getF32Type(), a[0]).getResult();
      });
}

namespace {

SmallVector<Value> lowerBatchNormTrain(LoweringBuilder &g,
                                       BatchNormTrainOp op) {
  ArrayRef<int64_t> shape = shapeOf(op.getInput());
  double count = static_cast<double>(ShapedType::getNumElements(shape)) /
                 static_cast<double>(shape[1]);
  auto scale = [&](Value v, double factor) {
    return g.elementwise({v}, [&](OpBuilder &b, Location l, ValueRange a) {
      return mulf(b, l, a[0], cstf(b, l, factor));
    });
  };
  Value mean = scale(
      channelSum(g, {op.getInput()}, {},
                 [](OpBuilder &, Location, ValueRange a) { return a[0]; }),
      1.0 / count);
  Value squares = channelSum(g, {op.getInput()}, {mean},
                             [](OpBuilder &b, Location l, ValueRange a) {
                               Value centred = subf(b, l, a[0], a[1]);
                               return mulf(b, l, centred, centred);
                             });
  Value var = scale(squares, 1.0 / count);
  double epsilon = op.getEpsilon().convertToDouble();
  double momentum = op.getMomentum().convertToDouble();
  Value y = normalize(g, op.getInput(), mean, var, op.getWeight(), op.getBias(),
                      epsilon);
  // running = (1 − momentum)·running + momentum·statistic.
  auto update = [&](Value running, Value statistic, double statisticScale) {
    return g.elementwise(
        {running, statistic}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value kept = mulf(b, l, a[0], cstf(b, l, 1.0 - momentum));
          Value added = mulf(b, l, a[1], cstf(b, l, momentum * statisticScale));
          return addf(b, l, kept, added);
        });
  };
  return {y, mean, var, update(op.getRunningMean(), mean, 1.0),
          update(op.getRunningVar(), squares, 1.0 / (count - 1.0))};
}

/// Max or sum over a window; loops (n, c, y, x, ky, kx). Ceil mode's partial
/// last windows read the padding value past the padded input too.
Value pool(LoweringBuilder &g, Value input, ArrayRef<int64_t> kernel,
           ArrayRef<int64_t> padding, ArrayRef<int64_t> stride,
           ArrayRef<int64_t> dilation, ArrayRef<int64_t> outShape, bool max) {
  double identity = max ? -std::numeric_limits<double>::infinity() : 0.0;
  SmallVector<int64_t, 2> high = windowOverhang(
      shapeOf(input), outShape, kernel, stride, padding, dilation);
  for (int i = 0; i < 2; ++i)
    high[i] += padding[i];
  Value xp = g.padSpatial(input, padding, high, g.b.getF32FloatAttr(identity));
  return g.generic(
      g.filled(outShape, identity), {xp, g.empty({kernel[0], kernel[1]})},
      {windowMap(g, 6, 0, 1, 2, 3, 4, 5, stride, dilation), g.dims(6, {4, 5}),
       g.dims(6, {0, 1, 2, 3})},
      {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction},
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        if (max)
          return arith::MaximumFOp::create(b, l, a[2], a[0]);
        return addf(b, l, a[2], a[0]);
      });
}

/// x [N, C, Ho, Wo] divided by a compile-time divisor per output position
/// ([Ho·Wo], row-major).
Value divideSpatially(LoweringBuilder &g, Value x, ArrayRef<float> divisor) {
  ArrayRef<int64_t> shape = shapeOf(x);
  Value divisors = arith::ConstantOp::create(
      g.b, g.loc, DenseElementsAttr::get(g.f32({shape[2], shape[3]}), divisor));
  return g.generic(g.empty(shape), {x, divisors},
                   {g.identity(4), g.dims(4, {2, 3}), g.identity(4)},
                   SmallVector<IteratorType>(4, kParallel),
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return divf(b, l, a[0], a[1]);
                   });
}

} // namespace

Value mlir::nsl::lowering::divideByPoolCounts(LoweringBuilder &g, Value x,
                                              ArrayRef<int64_t> inputShape,
                                              ArrayRef<int64_t> kernel,
                                              ArrayRef<int64_t> stride,
                                              ArrayRef<int64_t> padding,
                                              bool countIncludePad) {
  ArrayRef<int64_t> shape = shapeOf(x);
  // PyTorch's AvgPool2d divisor: the window clipped to the padded input
  // [−p, size + p), then (without count_include_pad) to the image.
  auto taps = [&](int64_t pos, int i) {
    int64_t size = inputShape[2 + i];
    int64_t start = pos * stride[i] - padding[i];
    int64_t end = std::min<int64_t>(start + kernel[i], size + padding[i]);
    if (countIncludePad)
      return end - start;
    return std::min(end, size) - std::max<int64_t>(start, 0);
  };
  SmallVector<float> divisor;
  for (int64_t y = 0; y < shape[2]; ++y)
    for (int64_t x = 0; x < shape[3]; ++x)
      divisor.push_back(static_cast<float>(taps(y, 0) * taps(x, 1)));
  return divideSpatially(g, x, divisor);
}

SmallVector<int64_t, 2> mlir::nsl::lowering::windowOverhang(
    ArrayRef<int64_t> inputShape, ArrayRef<int64_t> outShape,
    ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
    ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation) {
  SmallVector<int64_t, 2> overhang;
  for (int i = 0; i < 2; ++i) {
    int64_t reach =
        (outShape[2 + i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1;
    overhang.push_back(
        std::max<int64_t>(0, reach - (inputShape[2 + i] + 2 * padding[i])));
  }
  return overhang;
}

AdaptiveWindows mlir::nsl::lowering::adaptiveWindows(int64_t in, int64_t out) {
  AdaptiveWindows windows;
  for (int64_t i = 0; i < out; ++i) {
    int64_t begin = i * in / out, end = ((i + 1) * in + out - 1) / out;
    windows.begin.push_back(static_cast<int32_t>(begin));
    windows.length.push_back(static_cast<int32_t>(end - begin));
    windows.maxLength = std::max(windows.maxLength, end - begin);
  }
  windows.uniform = llvm::all_of(windows.length, [&](int32_t length) {
    return length == windows.maxLength;
  });
  return windows;
}

Value mlir::nsl::lowering::divideByAdaptiveCounts(
    LoweringBuilder &g, Value x, ArrayRef<int64_t> inputShape) {
  ArrayRef<int64_t> shape = shapeOf(x);
  AdaptiveWindows rows = adaptiveWindows(inputShape[2], shape[2]);
  AdaptiveWindows cols = adaptiveWindows(inputShape[3], shape[3]);
  SmallVector<float> divisor;
  for (int32_t height : rows.length)
    for (int32_t width : cols.length)
      divisor.push_back(static_cast<float>(height * width));
  return divideSpatially(g, x, divisor);
}

SmallVector<Value>
mlir::nsl::lowering::adaptiveLoops(LoweringBuilder &g, ValueRange operands,
                                   ArrayRef<TypedAttr> padValues,
                                   ValueRange inits, AdaptiveBody body) {
  ArrayRef<int64_t> in = shapeOf(operands.front());
  ArrayRef<int64_t> out = shapeOf(inits.front());
  AdaptiveWindows windows[2] = {adaptiveWindows(in[2], out[2]),
                                adaptiveWindows(in[3], out[3])};
  int64_t none[] = {0, 0}, high[2];
  SmallVector<AffineExpr> access = {g.d(0), g.d(1)};
  for (int i = 0; i < 2; ++i) {
    // The last window reaches furthest; masked taps past the input read
    // padding.
    int64_t reach = windows[i].begin.back() + windows[i].maxLength;
    high[i] = std::max<int64_t>(0, reach - in[2 + i]);
    access.push_back((g.d(2 + i) * in[2 + i]).floorDiv(out[2 + i]) +
                     g.d(4 + i));
  }
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (auto [operand, pad] : llvm::zip_equal(operands, padValues)) {
    inputs.push_back(g.padSpatial(operand, none, high, pad));
    maps.push_back(g.map(6, access));
  }
  // The window lengths along the dimensions where they differ.
  SmallVector<unsigned> masked;
  for (unsigned i = 0; i < 2; ++i) {
    if (windows[i].uniform)
      continue;
    masked.push_back(i);
    inputs.push_back(g.i32Constant({out[2 + i]}, windows[i].length));
    maps.push_back(g.dims(6, {2 + i}));
  }
  inputs.push_back(g.empty({windows[0].maxLength, windows[1].maxLength}));
  maps.push_back(g.dims(6, {4, 5}));
  maps.append(inits.size(), g.dims(6, {0, 1, 2, 3}));
  size_t count = operands.size();
  auto op = linalg::GenericOp::create(
      g.b, g.loc, inits.getTypes(), inputs, inits, maps,
      {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value inside;
        for (size_t k = 0; k < masked.size(); ++k) {
          Value offset = arith::IndexCastOp::create(b, l, b.getI32Type(),
                                                    idx(b, l, 4 + masked[k]));
          Value below = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                              offset, a[count + k]);
          inside = inside ? andi(b, l, inside, below) : below;
        }
        linalg::YieldOp::create(
            b, l,
            body(b, l, a.take_front(count), inside, a.take_back(inits.size())));
      });
  return SmallVector<Value>(op.getResults());
}

Value mlir::nsl::lowering::adaptivePool(LoweringBuilder &g, Value input,
                                        ArrayRef<int64_t> outShape, bool max) {
  double identity = max ? -std::numeric_limits<double>::infinity() : 0.0;
  TypedAttr pad = g.b.getF32FloatAttr(identity);
  return adaptiveLoops(
      g, input, pad, g.filled(outShape, identity),
      [&](OpBuilder &b, Location l, ValueRange x, Value inside,
          ValueRange acc) -> SmallVector<Value> {
        Value next = max ? arith::MaximumFOp::create(b, l, acc[0], x[0])
                         : addf(b, l, acc[0], x[0]);
        return {inside ? select(b, l, inside, next, acc[0]) : next};
      })[0];
}

namespace {

Value lowerAvgPool2d(LoweringBuilder &g, AvgPool2dOp op) {
  ArrayRef<int64_t> shape = op.getType().getShape();
  int64_t unit[] = {1, 1};
  Value sum = pool(g, op.getInput(), op.getKernelSize(), op.getPadding(),
                   op.getStride(), unit, shape, /*max=*/false);
  return divideByPoolCounts(g, sum, shapeOf(op.getInput()), op.getKernelSize(),
                            op.getStride(), op.getPadding(),
                            op.getCountIncludePad());
}

Value lowerGlobalAvgPool2d(LoweringBuilder &g, GlobalAvgPool2dOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  Value sum = g.generic(g.filled({in[0], in[1]}, 0.0), {op.getInput()},
                        {g.identity(4), g.dims(4, {0, 1})},
                        {kParallel, kParallel, kReduction, kReduction},
                        [](OpBuilder &b, Location l, ValueRange a) {
                          return addf(b, l, a[1], a[0]);
                        });
  double scale = 1.0 / static_cast<double>(in[2] * in[3]);
  Value mean =
      g.elementwise({sum}, [&](OpBuilder &b, Location l, ValueRange a) {
        return mulf(b, l, a[0], cstf(b, l, scale));
      });
  return g.expand(mean, op.getType().getShape(), {{0}, {1, 2, 3}});
}

Value lowerSoftmaxCrossEntropy(LoweringBuilder &g, SoftmaxCrossEntropyOp op) {
  Value logits = op.getLogits(), labels = op.getLabels();
  ArrayRef<int64_t> shape = shapeOf(logits);
  int64_t n = shape[0], classes = shape[1];
  auto rowReduce = [&](Value init, ValueRange extra, Body body) {
    SmallVector<Value> inputs = {logits};
    SmallVector<AffineMap> maps = {g.identity(2)};
    for (Value v : extra) {
      inputs.push_back(v);
      maps.push_back(g.dims(2, {0}));
    }
    maps.push_back(g.dims(2, {0}));
    return g.generic(init, inputs, maps, {kParallel, kReduction}, body);
  };
  Value rowMax =
      rowReduce(g.filled({n}, -std::numeric_limits<double>::infinity()), {},
                [](OpBuilder &b, Location l, ValueRange a) {
                  return arith::MaximumFOp::create(b, l, a[1], a[0]);
                });
  Value sumExp = rowReduce(
      g.filled({n}, 0.0), {rowMax}, [](OpBuilder &b, Location l, ValueRange a) {
        return addf(b, l, a[2],
                    math::ExpOp::create(b, l, subf(b, l, a[0], a[1])));
      });
  // log Σ exp(l) = max + log Σ exp(l − max).
  Value logSum = g.elementwise(
      {rowMax, sumExp}, [](OpBuilder &b, Location l, ValueRange a) {
        return addf(b, l, a[0], math::LogOp::create(b, l, a[1]));
      });
  double smoothing = op.getLabelSmoothing().convertToDouble();
  // Per row: (1 − ε)·(logSum − l[label]) + ε/C·Σ_c (logSum − l[c]).
  Value rowLoss = rowReduce(
      g.filled({n}, 0.0), {logSum, labels},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value nll = subf(b, l, a[1], a[0]);
        Value label = arith::IndexCastOp::create(b, l, b.getIndexType(), a[2]);
        Value isLabel =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                  linalg::IndexOp::create(b, l, 1), label);
        Value weight = arith::SelectOp::create(
            b, l, isLabel, cstf(b, l, 1.0 - smoothing + smoothing / classes),
            cstf(b, l, smoothing / classes));
        return addf(b, l, a[3], mulf(b, l, weight, nll));
      });
  Value total =
      g.generic(g.filled({}, 0.0), {rowLoss}, {g.identity(1), g.map(1, {})},
                {kReduction}, [](OpBuilder &b, Location l, ValueRange a) {
                  return addf(b, l, a[1], a[0]);
                });
  return g.elementwise({total}, [&](OpBuilder &b, Location l, ValueRange a) {
    return mulf(b, l, a[0], cstf(b, l, 1.0 / static_cast<double>(n)));
  });
}

/// Lowers one nsl op; returns its replacement values.
FailureOr<SmallVector<Value>> lowerOp(OpBuilder &b, Operation *op,
                                      const ConvVectorKernels *vectors) {
  LoweringBuilder g(b, op->getLoc(), vectors);
  auto one = [](Value v) { return SmallVector<Value>{v}; };
  return llvm::TypeSwitch<Operation *, FailureOr<SmallVector<Value>>>(op)
      .Case([&](SimConv2dOp o) { return one(lowerSimConv2d(g, o)); })
      .Case([&](SphereConv2dOp o) { return one(lowerSphereConv2d(g, o)); })
      .Case([&](PatchNormOp o) { return one(lowerPatchNorm(g, o)); })
      .Case([&](PredictedSimilarityOp o) {
        return one(lowerPredictedSimilarity(g, o));
      })
      .Case([&](SimLinearOp o) {
        Value w = o.getWeight();
        if (o.getStructure() != Structure::Identity) {
          auto fold = FoldSimilarityOp::create(
              b, o.getLoc(), w, o.getSimilarity(), o.getStructureAttr(),
              o.getGroupSizeAttr(), o.getAlphaAttr());
          w = foldSimilarity(g, fold);
          fold.erase();
        }
        return one(linearLayer(g, o.getInput(), w, o.getBias(),
                               o.getType().getShape()));
      })
      .Case([&](FoldSimilarityOp o) { return one(foldSimilarity(g, o)); })
      .Case([&](BatchNormOp o) {
        return one(normalize(g, o.getInput(), o.getRunningMean(),
                             o.getRunningVar(), o.getWeight(), o.getBias(),
                             o.getEpsilon().convertToDouble()));
      })
      .Case([&](BatchNormTrainOp o) { return lowerBatchNormTrain(g, o); })
      .Case([&](ReluOp o) {
        return one(g.elementwise(
            {o.getInput()}, [](OpBuilder &b, Location l, ValueRange a) {
              return arith::MaximumFOp::create(b, l, a[0], cstf(b, l, 0.0));
            }));
      })
      .Case([&](MaxPool2dOp o) {
        return one(pool(g, o.getInput(), o.getKernelSize(), o.getPadding(),
                        o.getStride(), o.getDilation(), o.getType().getShape(),
                        /*max=*/true));
      })
      .Case([&](AvgPool2dOp o) { return one(lowerAvgPool2d(g, o)); })
      .Case(
          [&](GlobalAvgPool2dOp o) { return one(lowerGlobalAvgPool2d(g, o)); })
      .Case([&](AdaptiveAvgPool2dOp o) {
        Value sum = adaptivePool(g, o.getInput(), o.getType().getShape(),
                                 /*max=*/false);
        return one(divideByAdaptiveCounts(g, sum, shapeOf(o.getInput())));
      })
      .Case([&](AdaptiveMaxPool2dOp o) {
        return one(adaptivePool(g, o.getInput(), o.getType().getShape(),
                                /*max=*/true));
      })
      .Case([&](LinearOp o) {
        return one(linearLayer(g, o.getInput(), o.getWeight(), o.getBias(),
                               o.getType().getShape()));
      })
      .Case([&](ConcatOp o) {
        // Each input into its slice of one result.
        ArrayRef<int64_t> shape = o.getType().getShape();
        int64_t dim = static_cast<int64_t>(o.getDim()), offset = 0;
        Value result = g.empty(shape);
        for (Value input : o.getInputs()) {
          ArrayRef<int64_t> in = shapeOf(input);
          SmallVector<OpFoldResult> offsets, sizes, strides;
          for (int64_t i = 0; i < static_cast<int64_t>(in.size()); ++i) {
            offsets.push_back(g.b.getIndexAttr(i == dim ? offset : 0));
            sizes.push_back(g.b.getIndexAttr(in[i]));
            strides.push_back(g.b.getIndexAttr(1));
          }
          result = tensor::InsertSliceOp::create(g.b, g.loc, input, result,
                                                 offsets, sizes, strides);
          offset += in[dim];
        }
        return one(result);
      })
      .Case([&](FlattenOp o) {
        ArrayRef<int64_t> in = shapeOf(o.getInput());
        ReassociationIndices rest;
        for (unsigned i = 1; i < in.size(); ++i)
          rest.push_back(i);
        return one(g.collapse(o.getInput(), {{0}, rest}));
      })
      .Case([&](SoftmaxCrossEntropyOp o) {
        return one(lowerSoftmaxCrossEntropy(g, o));
      })
      .Default([&](Operation *op) -> FailureOr<SmallVector<Value>> {
        if (auto lowered = lowerElementwiseOp(g, op))
          return *lowered;
        if (auto lowered = lowerConvGradient(g, op))
          return *lowered;
        if (auto lowered = lowerTrainingOp(g, op))
          return *lowered;
        if (auto lowered = lowerLayoutOp(g, op))
          return *lowered;
        return op->emitError() << "no lowering to linalg for this op";
      });
}

struct LowerToLinalgPass : nsl::impl::LowerToLinalgBase<LowerToLinalgPass> {
  void runOnOperation() override {
    if (failed(lowerToLinalg(getOperation(), /*vectors=*/nullptr)))
      signalPassFailure();
  }
};

} // namespace

LogicalResult mlir::nsl::lowerToLinalg(Operation *root,
                                       const ConvVectorKernels *vectors) {
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (isa<NSLDialect>(op->getDialect()))
      ops.push_back(op);
  });
  IRRewriter rewriter(root->getContext());
  for (Operation *op : ops) {
    rewriter.setInsertionPoint(op);
    FailureOr<SmallVector<Value>> replacements = lowerOp(rewriter, op, vectors);
    if (failed(replacements))
      return failure();
    rewriter.replaceOp(op, *replacements);
  }
  return success();
}
