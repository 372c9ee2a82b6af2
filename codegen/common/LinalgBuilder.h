//===- LinalgBuilder.h - Helpers of the nsl → linalg lowerings ---*- C++
//-*-===//
//
// The small IR-building vocabulary shared by the forward lowering
// (LowerToLinalg.cpp) and the lowerings of the training ops
// (LowerConvGradients.cpp, LowerTrainingOps.cpp): linalg.generic builders,
// scalar arithmetic for their bodies, window maps, and the forward pieces the
// gradients reuse.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_LINALGBUILDER_H
#define NSL_CODEGEN_COMMON_LINALGBUILDER_H

#include "dialect/NSLOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <optional>

namespace mlir::nsl::lowering {

using utils::IteratorType;
constexpr IteratorType kParallel = IteratorType::parallel;
constexpr IteratorType kReduction = IteratorType::reduction;
using Body = function_ref<Value(OpBuilder &, Location, ValueRange)>;

inline ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

class ConvVectorKernels;

/// Builds the IR of one op's lowering at the op's position.
class LoweringBuilder {
public:
  LoweringBuilder(OpBuilder &b, Location loc,
                  const ConvVectorKernels *vectors = nullptr)
      : b(b), loc(loc), vectors(vectors) {}

  OpBuilder &b;
  Location loc;
  /// The target's vector loops for the heaviest gradient contractions, or
  /// null (linalg only).
  const ConvVectorKernels *vectors;

  MLIRContext *ctx() { return b.getContext(); }
  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }
  AffineExpr d(unsigned i) { return getAffineDimExpr(i, ctx()); }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, ctx());
  }
  /// The identity map of `dims` dimensions restricted to `which`.
  AffineMap dims(unsigned count, ArrayRef<unsigned> which) {
    SmallVector<AffineExpr> exprs;
    for (unsigned i : which)
      exprs.push_back(d(i));
    return map(count, exprs);
  }
  AffineMap identity(unsigned count) {
    return AffineMap::getMultiDimIdentityMap(count, ctx());
  }

  Value constant(double value) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  Value filled(ArrayRef<int64_t> shape, double value) {
    Value empty = tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
    return linalg::FillOp::create(b, loc, constant(value), empty).getResult(0);
  }
  Value empty(ArrayRef<int64_t> shape) {
    return tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  }

  /// Pads the spatial dimensions (2, 3) of an NCHW tensor on both sides.
  Value padSpatial(Value x, ArrayRef<int64_t> padding, double value) {
    return padSpatial(x, padding, padding, b.getF32FloatAttr(value));
  }
  /// Pads the spatial dimensions (2, 3) of an NCHW tensor with `low`/`high`
  /// elements of `value` (of the tensor's element type).
  Value padSpatial(Value x, ArrayRef<int64_t> low, ArrayRef<int64_t> high,
                   TypedAttr value) {
    if (low[0] == 0 && low[1] == 0 && high[0] == 0 && high[1] == 0)
      return x;
    auto type = cast<RankedTensorType>(x.getType());
    ArrayRef<int64_t> s = type.getShape();
    auto attrs = [&](ArrayRef<int64_t> v) {
      return SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                                       b.getIndexAttr(v[0]),
                                       b.getIndexAttr(v[1])};
    };
    auto padded = RankedTensorType::get(
        {s[0], s[1], s[2] + low[0] + high[0], s[3] + low[1] + high[1]},
        type.getElementType());
    Value scalar = arith::ConstantOp::create(b, loc, value);
    return tensor::PadOp::create(b, loc, padded, x, attrs(low), attrs(high),
                                 scalar);
  }
  /// A constant i32 tensor of `shape` holding `values`.
  Value i32Constant(ArrayRef<int64_t> shape, ArrayRef<int32_t> values) {
    auto type = RankedTensorType::get(shape, b.getI32Type());
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, values));
  }

  /// A linalg.generic with one output.
  Value generic(Value init, ValueRange inputs, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators, Body body) {
    auto op = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
          linalg::YieldOp::create(nested, nestedLoc,
                                  body(nested, nestedLoc, args));
        });
    return op.getResult(0);
  }
  /// An elementwise generic over `shape` whose inputs all have that shape.
  Value elementwise(ValueRange inputs, Body body) {
    ArrayRef<int64_t> shape = shapeOf(inputs.front());
    unsigned rank = shape.size();
    SmallVector<AffineMap> maps(inputs.size() + 1, identity(rank));
    return generic(empty(shape), inputs, maps,
                   SmallVector<IteratorType>(rank, kParallel), body);
  }

  Value expand(Value x, ArrayRef<int64_t> shape,
               ArrayRef<ReassociationIndices> groups) {
    return tensor::ExpandShapeOp::create(b, loc, f32(shape), x, groups);
  }
  Value collapse(Value x, ArrayRef<ReassociationIndices> groups) {
    return tensor::CollapseShapeOp::create(b, loc, x, groups);
  }
};

// Scalar arithmetic inside generic bodies.
inline Value mulf(OpBuilder &b, Location l, Value x, Value y) {
  return arith::MulFOp::create(b, l, x, y);
}
inline Value addf(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddFOp::create(b, l, x, y);
}
inline Value subf(OpBuilder &b, Location l, Value x, Value y) {
  return arith::SubFOp::create(b, l, x, y);
}
inline Value divf(OpBuilder &b, Location l, Value x, Value y) {
  return arith::DivFOp::create(b, l, x, y);
}
inline Value cstf(OpBuilder &b, Location l, double v) {
  return arith::ConstantOp::create(b, l, b.getF32FloatAttr(v));
}
inline Value select(OpBuilder &b, Location l, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, l, c, x, y);
}
inline Value andi(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AndIOp::create(b, l, x, y);
}
/// The index of loop dimension `dim`, and an index constant.
inline Value idx(OpBuilder &b, Location l, unsigned dim) {
  return linalg::IndexOp::create(b, l, dim);
}
inline Value cidx(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIndexOp::create(b, l, v);
}
/// 1.0 where the two loop indices are equal, else 0.0.
inline Value kronecker(OpBuilder &b, Location l, unsigned i, unsigned j) {
  Value equal = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                      linalg::IndexOp::create(b, l, i),
                                      linalg::IndexOp::create(b, l, j));
  return arith::UIToFPOp::create(b, l, b.getF32Type(), equal);
}

/// The window access (n, c, y·sh + ky·dh, x·sw + kx·dw) of a padded NCHW
/// input, for loop dimensions given by position.
inline AffineMap windowMap(LoweringBuilder &g, unsigned count, unsigned n,
                           unsigned c, unsigned y, unsigned x, unsigned ky,
                           unsigned kx, ArrayRef<int64_t> stride,
                           ArrayRef<int64_t> dilation) {
  return g.map(count,
               {g.d(n), g.d(c), g.d(y) * stride[0] + g.d(ky) * dilation[0],
                g.d(x) * stride[1] + g.d(kx) * dilation[1]});
}

inline Value addBias(LoweringBuilder &g, Value y, Value bias) {
  if (!bias)
    return y;
  unsigned rank = shapeOf(y).size();
  return g.generic(g.empty(shapeOf(y)), {y, bias},
                   {g.identity(rank), g.dims(rank, {1}), g.identity(rank)},
                   SmallVector<IteratorType>(rank, kParallel),
                   [](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[0], a[1]);
                   });
}

//===----------------------------------------------------------------------===//
// Forward pieces (LowerToLinalg.cpp) the gradients reuse.
//===----------------------------------------------------------------------===//

/// The static K×K matrix M of a similarity (DESIGN.md §1 table).
Value similarityMatrix(LoweringBuilder &g, Structure structure,
                       ValueRange operands, int64_t k, double alpha);
/// Plain convolution (linalg.conv_2d_nchw_fchw, no bias) of an already
/// padded input.
Value convolution(LoweringBuilder &g, Value paddedInput, Value weight,
                  ArrayRef<int64_t> resultShape, ArrayRef<int64_t> stride,
                  ArrayRef<int64_t> dilation);
/// ‖x_p‖ = sqrt(Σ_{c,ky,kx} Xp[n,c,window]² + ε) as `outShape` [N, Ho, Wo]
/// of an unpadded input.
Value patchNorm(LoweringBuilder &g, Value input, ArrayRef<int64_t> kernel,
                ArrayRef<int64_t> padding, ArrayRef<int64_t> stride,
                ArrayRef<int64_t> dilation, ArrayRef<int64_t> outShape,
                double epsilon);
/// SphereConv's output g(θ) of one cos θ (DESIGN.md §1 table), an f32
/// scalar or vector; `kParam` is the filter's k' (learned_sigmoid only, else
/// null), a scalar broadcast to `cos`'s type.
Value sphereOutput(OpBuilder &b, Location l, Value cos, SphereVariant variant,
                   double sigmoidK, Value kParam);
/// Inference batch norm of one value:
/// (x − mean)·rsqrt(var + ε)·weight + bias.
Value batchNormValue(OpBuilder &b, Location l, Value x, Value mean, Value var,
                     Value weight, Value bias, double epsilon);
/// y[n,o] = Σ_f x[n,f]·W[o,f] (+ b[o]) of result shape [N, O].
Value linearLayer(LoweringBuilder &g, Value x, Value w, Value bias,
                  ArrayRef<int64_t> shape);
/// Σ over all dimensions but 1 of term(full..., perChannel[c]...) → [C]
/// (`full` tensors [N, C, ...], `perChannel` ones [C]), accumulated in f64
/// and rounded once.
Value channelSum(LoweringBuilder &g, ValueRange full, ValueRange perChannel,
                 Body term);

/// Σ of `term(inputs)` over the reduction loops into `shape`, computed and
/// accumulated in f64 (the inputs widened first), then rounded to f32: a
/// sum that cancels, such as the gradient of a scalar, keeps its relative
/// accuracy. Without `widenInputs` the term is computed in f32.
Value preciseSum(LoweringBuilder &g, ArrayRef<int64_t> shape, ValueRange inputs,
                 ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                 Body term, bool widenInputs = true);

/// x [N, C, Ho, Wo] divided by the element count of each average-pooling
/// window (PyTorch's divisor, ceil mode's partial windows included),
/// constants at compile time.
Value divideByPoolCounts(LoweringBuilder &g, Value x,
                         ArrayRef<int64_t> inputShape, ArrayRef<int64_t> kernel,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                         bool countIncludePad);
/// How far ceil mode's partial last windows of an output of `outShape` reach
/// past the input padded by `padding` on both sides, [bottom, right] (zero
/// in floor mode): the extra padding that keeps every window in bounds.
SmallVector<int64_t, 2>
windowOverhang(ArrayRef<int64_t> inputShape, ArrayRef<int64_t> outShape,
               ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
               ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation);

/// The windows of an adaptive pool from `in` to `out` along one dimension
/// (PyTorch's: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉) for output i). Swapping `in`
/// and `out` gives, for each input index, the outputs whose windows hold it.
struct AdaptiveWindows {
  SmallVector<int32_t> begin, length;
  int64_t maxLength = 0;
  /// Whether every window has maxLength elements (no mask needed).
  bool uniform = true;
};
AdaptiveWindows adaptiveWindows(int64_t in, int64_t out);
/// x [N, C, Ho, Wo] divided by the element counts of the adaptive average
/// pool's windows from an input of `inputShape`.
Value divideByAdaptiveCounts(LoweringBuilder &g, Value x,
                             ArrayRef<int64_t> inputShape);
/// The body of adaptiveLoops: the operands' values at the tap, whether the
/// tap lies in its window (i1; null where every tap does), the outputs'
/// values; returns the outputs' new values.
using AdaptiveBody = function_ref<SmallVector<Value>(
    OpBuilder &, Location, ValueRange, Value, ValueRange)>;
/// The loops (n, c, i, j, a, b) of an adaptive pool from `operands`
/// [N, C, H, W] (padded past their end with `padValues`, one each) to the
/// shape of `inits`: output (i, j) reads (⌊i·H/Ho⌋ + a, ⌊j·W/Wo⌋ + b) for a,
/// b below the largest window, `body` accumulating into the inits.
SmallVector<Value> adaptiveLoops(LoweringBuilder &g, ValueRange operands,
                                 ArrayRef<TypedAttr> padValues,
                                 ValueRange inits, AdaptiveBody body);
/// The max (or sum) of each window of an adaptive pool to `outShape`.
Value adaptivePool(LoweringBuilder &g, Value input, ArrayRef<int64_t> outShape,
                   bool max);

//===----------------------------------------------------------------------===//
// The lowerings of the training ops (NSLTrainingOps.td).
//===----------------------------------------------------------------------===//

/// Lowers a VJP op of the convolution family (sim_conv2d, sphere_conv2d,
/// patch_norm, predicted_similarity, fold_similarity); std::nullopt when
/// `op` is not one of them.
std::optional<FailureOr<SmallVector<Value>>>
lowerConvGradient(LoweringBuilder &g, Operation *op);
/// Lowers an elementwise row (dialect/NSLElementwise.td) or its VJP;
/// std::nullopt when `op` is not one.
std::optional<FailureOr<SmallVector<Value>>>
lowerElementwiseOp(LoweringBuilder &g, Operation *op);
/// Lowers nsl.reshape, transpose, slice, the reductions and the VJPs of the
/// slice and the reductions; std::nullopt when `op` is not one of them.
std::optional<FailureOr<SmallVector<Value>>> lowerLayoutOp(LoweringBuilder &g,
                                                           Operation *op);
/// Lowers the other VJP ops, the regularisers, count_correct and the
/// optimizer updates; std::nullopt when `op` is not one of them.
std::optional<FailureOr<SmallVector<Value>>> lowerTrainingOp(LoweringBuilder &g,
                                                             Operation *op);

} // namespace mlir::nsl::lowering

#endif // NSL_CODEGEN_COMMON_LINALGBUILDER_H
