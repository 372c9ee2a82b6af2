//===- LowerLayout.cpp - Reshapes, transposes, slices, reductions ---------===//
//
// nsl.reshape, nsl.transpose, nsl.slice and nsl.reduce_sum/mean/max, with
// the VJPs of the slice and the reductions, to tensor and linalg ops. The
// reshape and the slice are views where bufferization allows; the sums
// accumulate in f64 like every other reduction of the lowering.
//
//===----------------------------------------------------------------------===//
#include "codegen/common/LinalgBuilder.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace {

/// The same elements in `shape`: collapsed to one dimension, then expanded.
Value reshape(LoweringBuilder &g, Value x, ArrayRef<int64_t> shape) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (in == shape)
    return x;
  auto all = [](size_t rank) {
    ReassociationIndices indices;
    for (size_t i = 0; i < rank; ++i)
      indices.push_back(static_cast<int64_t>(i));
    return SmallVector<ReassociationIndices>{indices};
  };
  Value flat = in.size() > 1 ? g.collapse(x, all(in.size())) : x;
  if (shape.size() == 1 && !in.empty())
    return flat;
  return g.expand(flat, shape,
                  in.empty() ? SmallVector<ReassociationIndices>{}
                             : all(shape.size()));
}

/// (offsets, sizes, strides) of the range [start, start + size) along `dim`
/// of a tensor of `shape`, whole along the other dimensions.
struct SliceRange {
  SmallVector<OpFoldResult> offsets, sizes, strides;
};
SliceRange rangeOf(LoweringBuilder &g, ArrayRef<int64_t> shape, int64_t dim,
                   int64_t start, int64_t size) {
  SliceRange r;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    r.offsets.push_back(g.b.getIndexAttr(i == dim ? start : 0));
    r.sizes.push_back(g.b.getIndexAttr(i == dim ? size : shape[i]));
    r.strides.push_back(g.b.getIndexAttr(1));
  }
  return r;
}

/// The map from the input's loop dimensions to the reduction's result:
/// reduced dimensions dropped, or 0 with keepdim.
AffineMap reducedMap(LoweringBuilder &g, unsigned rank, ArrayRef<int64_t> dims,
                     bool keepdim) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < rank; ++i) {
    if (!llvm::is_contained(dims, static_cast<int64_t>(i)))
      exprs.push_back(g.d(i));
    else if (keepdim)
      exprs.push_back(getAffineConstantExpr(0, g.ctx()));
  }
  return g.map(rank, exprs);
}

SmallVector<IteratorType> reduceIterators(unsigned rank,
                                          ArrayRef<int64_t> dims) {
  SmallVector<IteratorType> iterators(rank, kParallel);
  for (int64_t dim : dims)
    iterators[dim] = kReduction;
  return iterators;
}

/// Σ (or max) of x over `dims` into `shape`; the sum in f64.
Value reduce(LoweringBuilder &g, Value x, ArrayRef<int64_t> dims, bool keepdim,
             ArrayRef<int64_t> shape, bool max) {
  unsigned rank = shapeOf(x).size();
  SmallVector<AffineMap> maps = {g.identity(rank),
                                 reducedMap(g, rank, dims, keepdim)};
  SmallVector<IteratorType> iterators = reduceIterators(rank, dims);
  if (!max)
    return preciseSum(g, shape, {x}, maps, iterators,
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  return g.generic(g.filled(shape, -INFINITY), {x}, maps, iterators,
                   [](OpBuilder &b, Location l, ValueRange a) -> Value {
                     return arith::MaximumFOp::create(b, l, a[0], a[1]);
                   });
}

/// The number of reduced elements per result element.
int64_t reducedCount(Value x, ArrayRef<int64_t> dims) {
  int64_t count = 1;
  for (int64_t dim : dims)
    count *= shapeOf(x)[dim];
  return count;
}

template <typename OpTy>
Value lowerReduce(LoweringBuilder &g, OpTy op, bool max, bool mean) {
  Value y = reduce(g, op.getInput(), op.getDims(), op.getKeepdim(),
                   op.getType().getShape(), max);
  if (!mean)
    return y;
  double scale =
      1.0 / static_cast<double>(reducedCount(op.getInput(), op.getDims()));
  return g.elementwise({y}, [&](OpBuilder &b, Location l, ValueRange a) {
    return mulf(b, l, a[0], cstf(b, l, scale));
  });
}

/// ∂x of a reduction: G spread over the reduced dimensions, times `scale`
/// (sum, mean), or shared by the maxima's ties (max).
template <typename OpTy>
Value lowerReduceVJP(LoweringBuilder &g, OpTy op, bool max, double scale) {
  Value x = op.getInput();
  ArrayRef<int64_t> shape = shapeOf(x);
  unsigned rank = shape.size();
  AffineMap reduced = reducedMap(g, rank, op.getDims(), op.getKeepdim());
  SmallVector<IteratorType> parallel(rank, kParallel);
  if (!max)
    return g.generic(g.empty(shape), {op.getGradOutput()},
                     {reduced, g.identity(rank)}, parallel,
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       return mulf(b, l, a[0], cstf(b, l, scale));
                     });
  ArrayRef<int64_t> out = shapeOf(op.getGradOutput());
  Value maximum = reduce(g, x, op.getDims(), op.getKeepdim(), out, true);
  auto isMax = [](OpBuilder &b, Location l, Value v, Value m) -> Value {
    return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, v, m);
  };
  Value ties = g.generic(
      g.filled(out, 0.0), {x, maximum}, {g.identity(rank), reduced, reduced},
      reduceIterators(rank, op.getDims()),
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value one = arith::SelectOp::create(b, l, isMax(b, l, a[0], a[1]),
                                            cstf(b, l, 1.0), cstf(b, l, 0.0));
        return addf(b, l, a[2], one);
      });
  return g.generic(
      g.empty(shape), {x, maximum, ties, op.getGradOutput()},
      {g.identity(rank), reduced, reduced, reduced, g.identity(rank)}, parallel,
      [&](OpBuilder &b, Location l, ValueRange a) {
        return arith::SelectOp::create(b, l, isMax(b, l, a[0], a[1]),
                                       divf(b, l, a[3], a[2]), cstf(b, l, 0.0));
      });
}

} // namespace

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerLayoutOp(LoweringBuilder &g, Operation *op) {
  using Result = std::optional<FailureOr<SmallVector<Value>>>;
  auto one = [](Value v) -> Result { return SmallVector<Value>{v}; };
  if (auto o = dyn_cast<ReshapeOp>(op))
    return one(reshape(g, o.getInput(), o.getType().getShape()));
  if (auto o = dyn_cast<TransposeOp>(op))
    return one(linalg::TransposeOp::create(g.b, g.loc, o.getInput(),
                                           g.empty(o.getType().getShape()),
                                           o.getPermutation())
                   .getResult()[0]);
  if (auto o = dyn_cast<SliceOp>(op)) {
    SliceRange r = rangeOf(g, shapeOf(o.getInput()), o.getDim(), o.getStart(),
                           o.getSize());
    return one(tensor::ExtractSliceOp::create(g.b, g.loc, o.getInput(),
                                              r.offsets, r.sizes, r.strides));
  }
  if (auto o = dyn_cast<SliceVJPOp>(op)) {
    ArrayRef<int64_t> shape = shapeOf(o.getInput());
    SliceRange r = rangeOf(g, shape, o.getDim(), o.getStart(), o.getSize());
    return one(tensor::InsertSliceOp::create(g.b, g.loc, o.getGradOutput(),
                                             g.filled(shape, 0.0), r.offsets,
                                             r.sizes, r.strides));
  }
  if (auto o = dyn_cast<ReduceSumOp>(op))
    return one(lowerReduce(g, o, /*max=*/false, /*mean=*/false));
  if (auto o = dyn_cast<ReduceMeanOp>(op))
    return one(lowerReduce(g, o, /*max=*/false, /*mean=*/true));
  if (auto o = dyn_cast<ReduceMaxOp>(op))
    return one(lowerReduce(g, o, /*max=*/true, /*mean=*/false));
  if (auto o = dyn_cast<ReduceSumVJPOp>(op))
    return one(lowerReduceVJP(g, o, /*max=*/false, 1.0));
  if (auto o = dyn_cast<ReduceMeanVJPOp>(op))
    return one(lowerReduceVJP(
        g, o, /*max=*/false,
        1.0 / static_cast<double>(reducedCount(o.getInput(), o.getDims()))));
  if (auto o = dyn_cast<ReduceMaxVJPOp>(op))
    return one(lowerReduceVJP(g, o, /*max=*/true, 1.0));
  return std::nullopt;
}
