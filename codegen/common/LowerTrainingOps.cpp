//===- LowerTrainingOps.cpp - The other training ops → linalg -------------===//
//
// The VJPs of the ordinary layers (linear, batch norm, relu, pooling,
// flatten, cross-entropy), the regularisers and their VJPs, the accuracy
// count and the optimizer updates, as linalg/tensor/arith/math on tensors.
// runtime/reference/Gradients.cpp and Optimizers.cpp are the oracle; every
// reduction is a sequential linalg reduction (same inputs, same bits), and a
// VJP computes only the gradients its `wrt` names.
//
// Pooling gradients are gathers, not scatters: input pixel (iy, ix) receives,
// for each tap (ky, kx), the output position oy = (iy + ph − ky·dh) / sh when
// that division is exact and oy in range. The upstream gradient is padded so
// that every such access is in bounds (zeros, or −1 for the arg-max taps of
// max pooling), and the exactness check reads the loop indices.
//
//===----------------------------------------------------------------------===//
#include "codegen/common/LinalgBuilder.h"

#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace {

using MultiBody =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
using Grads = SmallVector<Value>;

/// A linalg.generic with several outputs.
SmallVector<Value> genericN(LoweringBuilder &g, ValueRange inits,
                            ValueRange inputs, ArrayRef<AffineMap> maps,
                            ArrayRef<IteratorType> iterators, MultiBody body) {
  auto op = linalg::GenericOp::create(
      g.b, g.loc, ValueRange(inits).getTypes(), inputs, inits, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        linalg::YieldOp::create(nested, nestedLoc,
                                body(nested, nestedLoc, args));
      });
  return SmallVector<Value>(op.getResults());
}

/// A tensor of `shape` and element type `type` filled with `value`.
Value filledWith(LoweringBuilder &g, ArrayRef<int64_t> shape, TypedAttr value) {
  Value empty = tensor::EmptyOp::create(g.b, g.loc, shape, value.getType());
  Value scalar = arith::ConstantOp::create(g.b, g.loc, value);
  return linalg::FillOp::create(g.b, g.loc, scalar, empty).getResult(0);
}

/// The map of a rank-0 operand in a `count`-dimensional loop nest.
AffineMap scalarMap(LoweringBuilder &g, unsigned count) {
  return g.map(count, {});
}

SmallVector<IteratorType> parallel(unsigned rank) {
  return SmallVector<IteratorType>(rank, kParallel);
}

Value cmpf(OpBuilder &b, Location l, arith::CmpFPredicate p, Value x, Value y) {
  return arith::CmpFOp::create(b, l, p, x, y);
}
Value ori(OpBuilder &b, Location l, Value x, Value y) {
  return arith::OrIOp::create(b, l, x, y);
}

/// Σ over every element of term(x) → rank 0.
Value totalSum(LoweringBuilder &g, Value x, Body term) {
  unsigned rank = shapeOf(x).size();
  return g.generic(g.filled({}, 0.0), {x},
                   {g.identity(rank), scalarMap(g, rank)},
                   SmallVector<IteratorType>(rank, kReduction),
                   [&](OpBuilder &b, Location l, ValueRange a) {
                     return addf(b, l, a[1], term(b, l, a.drop_back()));
                   });
}

/// v·factor of a rank-0 tensor.
Value scaleScalar(LoweringBuilder &g, Value v, double factor) {
  return g.elementwise({v}, [&](OpBuilder &b, Location l, ValueRange a) {
    return mulf(b, l, a[0], cstf(b, l, factor));
  });
}

/// The gradient of an operand that has none (zeros of its type).
Value zerosLike(LoweringBuilder &g, Value v) {
  return g.filled(shapeOf(v), 0.0);
}

//===----------------------------------------------------------------------===//
// Linear and batch norm
//===----------------------------------------------------------------------===//

Grads lowerLinearVJP(LoweringBuilder &g, LinearVJPOp op) {
  Value x = op.getInput(), w = op.getWeight(), dy = op.getGradOutput();
  ArrayRef<int64_t> xs = shapeOf(x), ws = shapeOf(w);
  auto mac = [](OpBuilder &b, Location l, ValueRange a) {
    return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
  };
  Grads grads;
  for (int64_t index : op.getWrt()) {
    if (index == 0) // ∂x[n,f] = Σ_o G[n,o]·W[o,f]; loops (n, f, o).
      grads.push_back(
          g.generic(g.filled(xs, 0.0), {dy, w},
                    {g.dims(3, {0, 2}), g.dims(3, {2, 1}), g.dims(3, {0, 1})},
                    {kParallel, kParallel, kReduction}, mac));
    else if (index == 1) // ∂W[o,f] = Σ_n G[n,o]·x[n,f]; loops (o, f, n).
      grads.push_back(
          g.generic(g.filled(ws, 0.0), {dy, x},
                    {g.dims(3, {2, 0}), g.dims(3, {2, 1}), g.dims(3, {0, 1})},
                    {kParallel, kParallel, kReduction}, mac));
    else // ∂b[o] = Σ_n G[n,o]; loops (o, n).
      grads.push_back(g.generic(
          g.filled({ws[0]}, 0.0), {dy}, {g.dims(2, {1, 0}), g.dims(2, {0})},
          {kParallel, kReduction}, [](OpBuilder &b, Location l, ValueRange a) {
            return addf(b, l, a[1], a[0]);
          }));
  }
  return grads;
}

Grads lowerBatchNormTrainVJP(LoweringBuilder &g, BatchNormTrainVJPOp op) {
  Value x = op.getInput(), dy = op.getGradOutput();
  ArrayRef<int64_t> shape = shapeOf(x);
  unsigned rank = shape.size();
  double count = static_cast<double>(ShapedType::getNumElements(shape)) /
                 static_cast<double>(shape[1]);
  double epsilon = op.getEpsilon().convertToDouble();
  auto scale = [&](Value v, double factor) {
    return g.elementwise({v}, [&](OpBuilder &b, Location l, ValueRange a) {
      return mulf(b, l, a[0], cstf(b, l, factor));
    });
  };
  // The batch statistics as the forward computes them.
  Value mean = scale(
      channelSum(g, {x}, {},
                 [](OpBuilder &, Location, ValueRange a) { return a[0]; }),
      1.0 / count);
  Value var = scale(channelSum(g, {x}, {mean},
                               [](OpBuilder &b, Location l, ValueRange a) {
                                 Value centred = subf(b, l, a[0], a[1]);
                                 return mulf(b, l, centred, centred);
                               }),
                    1.0 / count);
  Value inv = g.elementwise({var}, [&](OpBuilder &b, Location l, ValueRange a) {
    Value sigma =
        math::SqrtOp::create(b, l, addf(b, l, a[0], cstf(b, l, epsilon)));
    return divf(b, l, cstf(b, l, 1.0), sigma);
  });
  ArrayRef<int64_t> wrt = op.getWrt();
  bool needInput = llvm::is_contained(wrt, 0);
  bool needWeight = needInput || llvm::is_contained(wrt, 1);
  bool needBias = needInput || llvm::is_contained(wrt, 2);
  // ∂bias = ΣG, ∂weight = ΣG·x̂.
  Value sumG, sumGx;
  if (needBias)
    sumG = channelSum(g, {dy}, {},
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  if (needWeight)
    sumGx = channelSum(g, {dy, x}, {mean, inv},
                       [](OpBuilder &b, Location l, ValueRange a) {
                         Value xhat = mulf(b, l, subf(b, l, a[1], a[2]), a[3]);
                         return mulf(b, l, a[0], xhat);
                       });
  Grads grads;
  for (int64_t index : wrt) {
    if (index == 0) {
      // ∂x = γ/σ·(G − ΣG/count − x̂·ΣG·x̂/count).
      AffineMap channel = g.dims(rank, {1});
      grads.push_back(g.generic(
          g.empty(shape), {x, dy, mean, inv, op.getWeight(), sumG, sumGx},
          {g.identity(rank), g.identity(rank), channel, channel, channel,
           channel, channel, g.identity(rank)},
          parallel(rank), [&](OpBuilder &b, Location l, ValueRange a) {
            Value n = cstf(b, l, count);
            Value xhat = mulf(b, l, subf(b, l, a[0], a[2]), a[3]);
            Value centred = subf(b, l, a[1], divf(b, l, a[5], n));
            centred =
                subf(b, l, centred, mulf(b, l, xhat, divf(b, l, a[6], n)));
            return mulf(b, l, mulf(b, l, a[4], a[3]), centred);
          }));
    } else if (index == 1) {
      grads.push_back(sumGx);
    } else if (index == 2) {
      grads.push_back(sumG);
    } else {
      // The running statistics are not differentiated.
      grads.push_back(zerosLike(g, op->getOperand(index)));
    }
  }
  return grads;
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// The gather of a pooling gradient. For each input pixel (n, c, iy, ix) of
/// `inputShape`, Σ over taps (ky, kx) whose output position
/// oy = (iy + ph − ky·dh)/sh (likewise ox) is exact and in range of
/// share[n,c,oy,ox], restricted, when `argmax` is given, to the windows whose
/// arg-max tap (i32, t = ky·kw + kx) is that tap. Loops (n, c, iy, ix, ky, kx).
Value gatherWindows(LoweringBuilder &g, Value share, Value argmax,
                    ArrayRef<int64_t> inputShape, ArrayRef<int64_t> kernel,
                    ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                    ArrayRef<int64_t> dilation) {
  ArrayRef<int64_t> outShape = shapeOf(share);
  int64_t low[2], high[2], offset[2];
  SmallVector<AffineExpr> access = {g.d(0), g.d(1)};
  bool strided = false;
  for (int i = 0; i < 2; ++i) {
    int64_t k = kernel[i], s = stride[i], p = padding[i], dl = dilation[i];
    int64_t in = inputShape[2 + i], out = outShape[2 + i];
    // The smallest iy + p − ky·dl is p − (k−1)·dl: shift it to ≥ 0.
    int64_t deficit = std::max<int64_t>(0, (k - 1) * dl - p);
    low[i] = (deficit + s - 1) / s;
    offset[i] = p + low[i] * s;
    int64_t last = (in - 1 + offset[i]) / s; // largest padded index read
    int64_t size = std::max(low[i] + out, last + 1);
    high[i] = size - low[i] - out;
    access.push_back((g.d(2 + i) + offset[i] - g.d(4 + i) * dl).floorDiv(s));
    strided |= s != 1;
  }
  SmallVector<Value> inputs = {
      g.padSpatial(share, low, high, g.b.getF32FloatAttr(0.0))};
  SmallVector<AffineMap> maps = {g.map(6, access)};
  if (argmax) {
    inputs.push_back(
        g.padSpatial(argmax, low, high, g.b.getI32IntegerAttr(-1)));
    maps.push_back(g.map(6, access));
  }
  inputs.push_back(g.empty({kernel[0], kernel[1]}));
  maps.push_back(g.dims(6, {4, 5}));
  maps.push_back(g.dims(6, {0, 1, 2, 3}));
  return g.generic(
      g.filled(inputShape, 0.0), inputs, maps,
      {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value take;
        auto both = [&](Value c) { take = take ? andi(b, l, take, c) : c; };
        if (strided)
          for (int i = 0; i < 2; ++i) {
            if (stride[i] == 1)
              continue;
            // (iy + offset − ky·dl) mod s = 0 (the sum is ≥ 0).
            Value pos = arith::AddIOp::create(b, l, idx(b, l, 2 + i),
                                              cidx(b, l, offset[i]));
            pos = arith::SubIOp::create(
                b, l, pos,
                arith::MulIOp::create(b, l, idx(b, l, 4 + i),
                                      cidx(b, l, dilation[i])));
            Value rem =
                arith::RemUIOp::create(b, l, pos, cidx(b, l, stride[i]));
            both(arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, rem,
                                       cidx(b, l, 0)));
          }
        if (argmax) {
          Value tap = arith::AddIOp::create(
              b, l,
              arith::MulIOp::create(b, l, idx(b, l, 4), cidx(b, l, kernel[1])),
              idx(b, l, 5));
          tap = arith::IndexCastOp::create(b, l, b.getI32Type(), tap);
          both(
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[1], tap));
        }
        Value acc = a.back();
        if (!take)
          return addf(b, l, acc, a[0]);
        return select(b, l, take, addf(b, l, acc, a[0]), acc);
      });
}

Value lowerMaxPool2dVJP(LoweringBuilder &g, MaxPool2dVJPOp op) {
  Value x = op.getInput(), dy = op.getGradOutput();
  ArrayRef<int64_t> in = shapeOf(x), out = shapeOf(dy);
  ArrayRef<int64_t> kernel = op.getKernelSize(), stride = op.getStride(),
                    padding = op.getPadding(), dilation = op.getDilation();
  // The window's arg-max tap, as the reference (PyTorch's CPU kernel): the
  // first pixel in the image, then a later one only if strictly greater or
  // NaN; padding (and ceil mode's overhang) never wins. Loops
  // (n, c, y, x, ky, kx).
  SmallVector<int64_t, 2> overhang =
      windowOverhang(in, out, kernel, stride, padding, dilation);
  int64_t high[] = {padding[0] + overhang[0], padding[1] + overhang[1]};
  Value xp = g.padSpatial(x, padding, high, g.b.getF32FloatAttr(0.0));
  SmallVector<Value> inits = {
      g.filled(out, -std::numeric_limits<double>::infinity()),
      filledWith(g, out, g.b.getI32IntegerAttr(-1))};
  SmallVector<Value> best = genericN(
      g, inits, {xp, g.empty({kernel[0], kernel[1]})},
      {windowMap(g, 6, 0, 1, 2, 3, 4, 5, stride, dilation), g.dims(6, {4, 5}),
       g.dims(6, {0, 1, 2, 3}), g.dims(6, {0, 1, 2, 3})},
      {kParallel, kParallel, kParallel, kParallel, kReduction, kReduction},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value v = a[0], bestValue = a[2], bestTap = a[3];
        Value take =
            ori(b, l,
                arith::CmpIOp::create(
                    b, l, arith::CmpIPredicate::slt, bestTap,
                    arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0))),
                ori(b, l, cmpf(b, l, arith::CmpFPredicate::OGT, v, bestValue),
                    cmpf(b, l, arith::CmpFPredicate::UNO, v, v)));
        for (int i = 0; i < 2; ++i) {
          if (padding[i] == 0 && overhang[i] == 0)
            continue;
          // Padded coordinate y·s + ky·dl inside [p, p + size).
          Value pos = arith::AddIOp::create(
              b, l,
              arith::MulIOp::create(b, l, idx(b, l, 2 + i),
                                    cidx(b, l, stride[i])),
              arith::MulIOp::create(b, l, idx(b, l, 4 + i),
                                    cidx(b, l, dilation[i])));
          Value lo = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, pos,
                                           cidx(b, l, padding[i]));
          Value hi = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, pos,
                                           cidx(b, l, padding[i] + in[2 + i]));
          take = andi(b, l, take, andi(b, l, lo, hi));
        }
        Value tap = arith::AddIOp::create(
            b, l,
            arith::MulIOp::create(b, l, idx(b, l, 4), cidx(b, l, kernel[1])),
            idx(b, l, 5));
        tap = arith::IndexCastOp::create(b, l, b.getI32Type(), tap);
        return {select(b, l, take, v, bestValue),
                select(b, l, take, tap, bestTap)};
      });
  return gatherWindows(g, dy, best[1], in, kernel, stride, padding, dilation);
}

Value lowerAvgPool2dVJP(LoweringBuilder &g, AvgPool2dVJPOp op) {
  Value dy = op.getGradOutput();
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  ArrayRef<int64_t> kernel = op.getKernelSize(), stride = op.getStride(),
                    padding = op.getPadding();
  // The share of each window, as the forward divides it.
  Value share = divideByPoolCounts(g, dy, in, kernel, stride, padding,
                                   op.getCountIncludePad());
  int64_t unit[] = {1, 1};
  return gatherWindows(g, share, nullptr, in, kernel, stride, padding, unit);
}

/// The windows of an adaptive pool from [H, W] to [Ho, Wo] that hold input
/// pixel y are those of the adaptive pool from Ho to H at output y, so the
/// gradient is an adaptive sum pool of the upstream shares back to [H, W].
Value lowerAdaptiveAvgPool2dVJP(LoweringBuilder &g, AdaptiveAvgPool2dVJPOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  Value share = divideByAdaptiveCounts(g, op.getGradOutput(), in);
  return adaptivePool(g, share, in, /*max=*/false);
}

Value lowerAdaptiveMaxPool2dVJP(LoweringBuilder &g, AdaptiveMaxPool2dVJPOp op) {
  Value x = op.getInput(), dy = op.getGradOutput();
  ArrayRef<int64_t> in = shapeOf(x), out = shapeOf(dy);
  // Each window's arg-max pixel (i32, y·W + x), as the reference: the first
  // pixel of the window, then a later one only if strictly greater or NaN.
  auto pixel = [&](OpBuilder &b, Location l, unsigned dim, int64_t size,
                   int64_t outSize) {
    // ⌊i·size/outSize⌋ + a of loop dimensions i = dim, a = dim + 2.
    Value begin = arith::DivUIOp::create(
        b, l, arith::MulIOp::create(b, l, idx(b, l, dim), cidx(b, l, size)),
        cidx(b, l, outSize));
    return arith::AddIOp::create(b, l, begin, idx(b, l, dim + 2));
  };
  SmallVector<Value> inits = {
      g.filled(out, -std::numeric_limits<double>::infinity()),
      filledWith(g, out, g.b.getI32IntegerAttr(-1))};
  TypedAttr zero = g.b.getF32FloatAttr(0.0);
  Value argmax = adaptiveLoops(
      g, x, zero, inits,
      [&](OpBuilder &b, Location l, ValueRange v, Value inside,
          ValueRange best) -> SmallVector<Value> {
        Value take =
            ori(b, l,
                arith::CmpIOp::create(
                    b, l, arith::CmpIPredicate::slt, best[1],
                    arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0))),
                ori(b, l, cmpf(b, l, arith::CmpFPredicate::OGT, v[0], best[0]),
                    cmpf(b, l, arith::CmpFPredicate::UNO, v[0], v[0])));
        if (inside)
          take = andi(b, l, take, inside);
        Value at = arith::AddIOp::create(
            b, l,
            arith::MulIOp::create(b, l, pixel(b, l, 2, in[2], out[2]),
                                  cidx(b, l, in[3])),
            pixel(b, l, 3, in[3], out[3]));
        at = arith::IndexCastOp::create(b, l, b.getI32Type(), at);
        return {select(b, l, take, v[0], best[0]),
                select(b, l, take, at, best[1])};
      })[1];
  // Back to [H, W] over the windows holding each pixel (as the average's
  // VJP), taking the gradient of those whose arg-max is this pixel.
  return adaptiveLoops(
      g, {dy, argmax}, {g.b.getF32FloatAttr(0.0), g.b.getI32IntegerAttr(-1)},
      g.filled(in, 0.0),
      [&](OpBuilder &b, Location l, ValueRange v, Value inside,
          ValueRange acc) -> SmallVector<Value> {
        Value here = arith::AddIOp::create(
            b, l, arith::MulIOp::create(b, l, idx(b, l, 2), cidx(b, l, in[3])),
            idx(b, l, 3));
        here = arith::IndexCastOp::create(b, l, b.getI32Type(), here);
        Value take =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, v[1], here);
        if (inside)
          take = andi(b, l, take, inside);
        return {select(b, l, take, addf(b, l, acc[0], v[0]), acc[0])};
      })[0];
}

Value lowerGlobalAvgPool2dVJP(LoweringBuilder &g, GlobalAvgPool2dVJPOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  Value dy = g.collapse(op.getGradOutput(), {{0}, {1, 2, 3}});
  double size = static_cast<double>(in[2] * in[3]);
  return g.generic(g.empty(in), {dy}, {g.dims(4, {0, 1}), g.identity(4)},
                   parallel(4), [&](OpBuilder &b, Location l, ValueRange a) {
                     return divf(b, l, a[0], cstf(b, l, size));
                   });
}

//===----------------------------------------------------------------------===//
// Cross-entropy and accuracy
//===----------------------------------------------------------------------===//

Value lowerSoftmaxCrossEntropyVJP(LoweringBuilder &g,
                                  SoftmaxCrossEntropyVJPOp op) {
  Value logits = op.getLogits(), labels = op.getLabels();
  ArrayRef<int64_t> shape = shapeOf(logits);
  int64_t n = shape[0], classes = shape[1];
  Value rowMax = g.generic(
      g.filled({n}, -std::numeric_limits<double>::infinity()), {logits},
      {g.identity(2), g.dims(2, {0})}, {kParallel, kReduction},
      [](OpBuilder &b, Location l, ValueRange a) {
        return arith::MaximumFOp::create(b, l, a[1], a[0]);
      });
  Value sumExp = g.generic(
      g.filled({n}, 0.0), {logits, rowMax},
      {g.identity(2), g.dims(2, {0}), g.dims(2, {0})}, {kParallel, kReduction},
      [](OpBuilder &b, Location l, ValueRange a) {
        return addf(b, l, a[2],
                    math::ExpOp::create(b, l, subf(b, l, a[0], a[1])));
      });
  double smoothing = op.getLabelSmoothing().convertToDouble();
  // ∂z = g/N·(softmax − (1 − ε)·onehot − ε/C).
  return g.generic(
      g.empty(shape), {logits, rowMax, sumExp, labels, op.getGradOutput()},
      {g.identity(2), g.dims(2, {0}), g.dims(2, {0}), g.dims(2, {0}),
       scalarMap(g, 2), g.identity(2)},
      parallel(2), [&](OpBuilder &b, Location l, ValueRange a) {
        Value p =
            divf(b, l, math::ExpOp::create(b, l, subf(b, l, a[0], a[1])), a[2]);
        Value label = arith::IndexCastOp::create(b, l, b.getIndexType(), a[3]);
        Value isLabel = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                              idx(b, l, 1), label);
        Value target = select(
            b, l, isLabel,
            cstf(b, l,
                 smoothing / static_cast<double>(classes) + 1.0 - smoothing),
            cstf(b, l, smoothing / static_cast<double>(classes)));
        Value scale = divf(b, l, a[4], cstf(b, l, static_cast<double>(n)));
        return mulf(b, l, scale, subf(b, l, p, target));
      });
}

Value lowerCountCorrect(LoweringBuilder &g, CountCorrectOp op) {
  Value logits = op.getLogits();
  ArrayRef<int64_t> shape = shapeOf(logits);
  int64_t n = shape[0];
  // The first arg-max of each row (torch.argmax): the first NaN, else the
  // first maximal value. Loops (n, c).
  SmallVector<Value> inits = {
      g.filled({n}, -std::numeric_limits<double>::infinity()),
      filledWith(g, {n}, g.b.getI64IntegerAttr(-1))};
  SmallVector<Value> best = genericN(
      g, inits, {logits}, {g.identity(2), g.dims(2, {0}), g.dims(2, {0})},
      {kParallel, kReduction},
      [](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value v = a[0], bestValue = a[1], bestIndex = a[2];
        Value none = arith::CmpIOp::create(
            b, l, arith::CmpIPredicate::slt, bestIndex,
            arith::ConstantOp::create(b, l, b.getI64IntegerAttr(0)));
        Value bestIsNumber =
            cmpf(b, l, arith::CmpFPredicate::ORD, bestValue, bestValue);
        Value better =
            ori(b, l, cmpf(b, l, arith::CmpFPredicate::OGT, v, bestValue),
                cmpf(b, l, arith::CmpFPredicate::UNO, v, v));
        Value take = ori(b, l, none, andi(b, l, bestIsNumber, better));
        Value c =
            arith::IndexCastOp::create(b, l, b.getI64Type(), idx(b, l, 1));
        return {select(b, l, take, v, bestValue),
                select(b, l, take, c, bestIndex)};
      });
  return g.generic(
      filledWith(g, {}, g.b.getI64IntegerAttr(0)), {best[1], op.getLabels()},
      {g.identity(1), g.identity(1), scalarMap(g, 1)}, {kReduction},
      [](OpBuilder &b, Location l, ValueRange a) {
        Value hit =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[0], a[1]);
        return arith::AddIOp::create(
            b, l, a[2], arith::ExtUIOp::create(b, l, b.getI64Type(), hit));
      });
}

//===----------------------------------------------------------------------===//
// Regularisers
//===----------------------------------------------------------------------===//

Value lowerL1Penalty(LoweringBuilder &g, L1PenaltyOp op) {
  Value sum =
      totalSum(g, op.getInput(), [](OpBuilder &b, Location l, ValueRange a) {
        return math::AbsFOp::create(b, l, a[0]);
      });
  return scaleScalar(g, sum, op.getStrength().convertToDouble());
}

Value lowerL1PenaltyVJP(LoweringBuilder &g, L1PenaltyVJPOp op) {
  Value m = op.getInput();
  unsigned rank = shapeOf(m).size();
  double strength = op.getStrength().convertToDouble();
  // λ·g·sign(M), sign(0) = sign(NaN) = 0.
  return g.generic(
      g.empty(shapeOf(m)), {m, op.getGradOutput()},
      {g.identity(rank), scalarMap(g, rank), g.identity(rank)}, parallel(rank),
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value zero = cstf(b, l, 0.0);
        Value sign = select(
            b, l, cmpf(b, l, arith::CmpFPredicate::OGT, a[0], zero),
            cstf(b, l, 1.0),
            select(b, l, cmpf(b, l, arith::CmpFPredicate::OLT, a[0], zero),
                   cstf(b, l, -1.0), zero));
        return mulf(b, l, mulf(b, l, a[1], cstf(b, l, strength)), sign);
      });
}

/// The weight viewed as [O, F].
Value filterRows(LoweringBuilder &g, Value w) {
  unsigned rank = shapeOf(w).size();
  if (rank == 2)
    return w;
  ReassociationIndices rest;
  for (unsigned i = 1; i < rank; ++i)
    rest.push_back(i);
  return g.collapse(w, {{0}, rest});
}

/// E = W_f·W_fᵀ − I, [O, O]. Loops (i, j, f).
Value gramResidual(LoweringBuilder &g, Value rows) {
  int64_t o = shapeOf(rows)[0];
  Value gram =
      g.generic(g.filled({o, o}, 0.0), {rows, rows},
                {g.dims(3, {0, 2}), g.dims(3, {1, 2}), g.dims(3, {0, 1})},
                {kParallel, kParallel, kReduction},
                [](OpBuilder &b, Location l, ValueRange a) {
                  return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                });
  return g.elementwise({gram}, [](OpBuilder &b, Location l, ValueRange a) {
    return subf(b, l, a[0], kronecker(b, l, 0, 1));
  });
}

Value lowerOrthogonalityPenalty(LoweringBuilder &g, OrthogonalityPenaltyOp op) {
  Value residual = gramResidual(g, filterRows(g, op.getInput()));
  Value sum = totalSum(g, residual, [](OpBuilder &b, Location l, ValueRange a) {
    return mulf(b, l, a[0], a[0]);
  });
  return scaleScalar(g, sum, op.getStrength().convertToDouble());
}

Value lowerOrthogonalityPenaltyVJP(LoweringBuilder &g,
                                   OrthogonalityPenaltyVJPOp op) {
  Value w = op.getInput();
  Value rows = filterRows(g, w);
  Value residual = gramResidual(g, rows);
  double strength = op.getStrength().convertToDouble();
  ArrayRef<int64_t> rs = shapeOf(rows);
  // ∂W_f[i,f] = 4λg·Σ_j E[i,j]·W_f[j,f]. Loops (i, f, j).
  Value product =
      g.generic(g.filled(rs, 0.0), {residual, rows},
                {g.dims(3, {0, 2}), g.dims(3, {2, 1}), g.dims(3, {0, 1})},
                {kParallel, kParallel, kReduction},
                [](OpBuilder &b, Location l, ValueRange a) {
                  return addf(b, l, a[2], mulf(b, l, a[0], a[1]));
                });
  Value scaled = g.generic(
      g.empty(rs), {product, op.getGradOutput()},
      {g.identity(2), scalarMap(g, 2), g.identity(2)}, parallel(2),
      [&](OpBuilder &b, Location l, ValueRange a) {
        return mulf(b, l, mulf(b, l, cstf(b, l, 4.0 * strength), a[1]), a[0]);
      });
  if (rows == w)
    return scaled;
  ReassociationIndices rest;
  for (unsigned i = 1; i < shapeOf(w).size(); ++i)
    rest.push_back(i);
  return g.expand(scaled, shapeOf(w), {{0}, rest});
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

SmallVector<Value> lowerSgdUpdate(LoweringBuilder &g, SgdUpdateOp op) {
  Value param = op.getParam(), buffer = op.getMomentumBuffer();
  ArrayRef<int64_t> shape = shapeOf(param);
  unsigned rank = shape.size();
  double momentum = op.getMomentum().convertToDouble();
  double dampening = op.getDampening().convertToDouble();
  double decay = op.getWeightDecay().convertToDouble();
  bool nesterov = op.getNesterov();
  SmallVector<Value> inputs = {param, op.getGrad()};
  SmallVector<AffineMap> maps(2, g.identity(rank));
  if (buffer) {
    inputs.push_back(buffer);
    maps.push_back(g.identity(rank));
  }
  inputs.append({op.getStep(), op.getLr()});
  maps.append(2, scalarMap(g, rank));
  SmallVector<Value> inits = {g.empty(shape)};
  if (buffer)
    inits.push_back(g.empty(shape));
  maps.append(inits.size(), g.identity(rank));
  return genericN(
      g, inits, inputs, maps, parallel(rank),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value p = a[0], d = a[1];
        Value step = a[buffer ? 3 : 2], lr = a[buffer ? 4 : 3];
        if (decay != 0.0)
          d = addf(b, l, d, mulf(b, l, cstf(b, l, decay), p));
        Value newBuffer;
        if (buffer) {
          // buf = d on the first step, else µ·buf + (1 − τ)·d.
          Value first =
              cmpf(b, l, arith::CmpFPredicate::OEQ, step, cstf(b, l, 0.0));
          Value later = addf(b, l, mulf(b, l, a[2], cstf(b, l, momentum)),
                             mulf(b, l, cstf(b, l, 1.0 - dampening), d));
          newBuffer = select(b, l, first, d, later);
          d = nesterov
                  ? addf(b, l, d, mulf(b, l, cstf(b, l, momentum), newBuffer))
                  : newBuffer;
        }
        Value negLr = arith::NegFOp::create(b, l, lr);
        SmallVector<Value> results = {addf(b, l, p, mulf(b, l, negLr, d))};
        if (buffer)
          results.push_back(newBuffer);
        return results;
      });
}

SmallVector<Value> lowerAdamUpdate(LoweringBuilder &g, AdamUpdateOp op) {
  Value param = op.getParam(), vmax = op.getMaxExpAvgSq();
  ArrayRef<int64_t> shape = shapeOf(param);
  unsigned rank = shape.size();
  double beta1 = op.getBeta1().convertToDouble();
  double beta2 = op.getBeta2().convertToDouble();
  double eps = op.getEps().convertToDouble();
  double decay = op.getWeightDecay().convertToDouble();
  // The step's scalars, t = step + 1: lr/(1 − β1^t) and sqrt(1 − β2^t).
  SmallVector<Value> scalars = genericN(
      g, {g.empty({}), g.empty({})}, {op.getStep(), op.getLr()},
      {g.map(0, {}), g.map(0, {}), g.map(0, {}), g.map(0, {})}, {},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value t = addf(b, l, a[0], cstf(b, l, 1.0));
        Value one = cstf(b, l, 1.0);
        Value correction1 =
            subf(b, l, one, math::PowFOp::create(b, l, cstf(b, l, beta1), t));
        Value correction2 =
            subf(b, l, one, math::PowFOp::create(b, l, cstf(b, l, beta2), t));
        return {divf(b, l, a[1], correction1),
                math::SqrtOp::create(b, l, correction2)};
      });
  SmallVector<Value> inputs = {param, op.getGrad(), op.getExpAvg(),
                               op.getExpAvgSq()};
  if (vmax)
    inputs.push_back(vmax);
  SmallVector<AffineMap> maps(inputs.size(), g.identity(rank));
  inputs.append(scalars);
  maps.append(2, scalarMap(g, rank));
  SmallVector<Value> inits(vmax ? 4 : 3, Value());
  for (Value &init : inits)
    init = g.empty(shape);
  maps.append(inits.size(), g.identity(rank));
  return genericN(
      g, inits, inputs, maps, parallel(rank),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value p = a[0], grad = a[1], m = a[2], v = a[3];
        Value stepSize = a[vmax ? 5 : 4], correction2Sqrt = a[vmax ? 6 : 5];
        if (decay != 0.0)
          grad = addf(b, l, grad, mulf(b, l, cstf(b, l, decay), p));
        Value newM = addf(b, l, mulf(b, l, m, cstf(b, l, beta1)),
                          mulf(b, l, cstf(b, l, 1.0 - beta1), grad));
        Value newV =
            addf(b, l, mulf(b, l, v, cstf(b, l, beta2)),
                 mulf(b, l, mulf(b, l, cstf(b, l, 1.0 - beta2), grad), grad));
        Value second = newV, newVmax;
        if (vmax) {
          // NaN-propagating, as torch.maximum.
          newVmax = arith::MaximumFOp::create(b, l, a[4], newV);
          second = newVmax;
        }
        Value denom = addf(
            b, l,
            divf(b, l, math::SqrtOp::create(b, l, second), correction2Sqrt),
            cstf(b, l, eps));
        Value negStep = arith::NegFOp::create(b, l, stepSize);
        SmallVector<Value> results = {
            addf(b, l, p, mulf(b, l, negStep, divf(b, l, newM, denom))), newM,
            newV};
        if (vmax)
          results.push_back(newVmax);
        return results;
      });
}

} // namespace

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerTrainingOp(LoweringBuilder &g, Operation *op) {
  using Result = std::optional<FailureOr<SmallVector<Value>>>;
  auto one = [](Value v) -> Result { return SmallVector<Value>{v}; };
  auto many = [](SmallVector<Value> v) -> Result { return v; };
  return llvm::TypeSwitch<Operation *, Result>(op)
      .Case([&](LinearVJPOp o) { return many(lowerLinearVJP(g, o)); })
      .Case([&](BatchNormTrainVJPOp o) {
        return many(lowerBatchNormTrainVJP(g, o));
      })
      .Case([&](ReluVJPOp o) {
        // PyTorch's threshold_backward: 0 where x ≤ 0 (NaN passes G).
        return one(
            g.elementwise({o.getInput(), o.getGradOutput()},
                          [](OpBuilder &b, Location l, ValueRange a) {
                            Value off = cmpf(b, l, arith::CmpFPredicate::OLE,
                                             a[0], cstf(b, l, 0.0));
                            return select(b, l, off, cstf(b, l, 0.0), a[1]);
                          }));
      })
      .Case([&](MaxPool2dVJPOp o) { return one(lowerMaxPool2dVJP(g, o)); })
      .Case([&](AvgPool2dVJPOp o) { return one(lowerAvgPool2dVJP(g, o)); })
      .Case([&](AdaptiveAvgPool2dVJPOp o) {
        return one(lowerAdaptiveAvgPool2dVJP(g, o));
      })
      .Case([&](AdaptiveMaxPool2dVJPOp o) {
        return one(lowerAdaptiveMaxPool2dVJP(g, o));
      })
      .Case([&](GlobalAvgPool2dVJPOp o) {
        return one(lowerGlobalAvgPool2dVJP(g, o));
      })
      .Case([&](ConcatVJPOp o) {
        // ∂input_i: the slice of the upstream gradient at input i's offset.
        int64_t dim = static_cast<int64_t>(o.getDim());
        SmallVector<int64_t> offsets;
        int64_t offset = 0;
        for (Value input : o.getInputs()) {
          offsets.push_back(offset);
          offset += shapeOf(input)[dim];
        }
        SmallVector<Value> grads;
        for (int64_t index : o.getWrt()) {
          ArrayRef<int64_t> in = shapeOf(o.getInputs()[index]);
          SmallVector<OpFoldResult> at, sizes, strides;
          for (int64_t i = 0; i < static_cast<int64_t>(in.size()); ++i) {
            at.push_back(g.b.getIndexAttr(i == dim ? offsets[index] : 0));
            sizes.push_back(g.b.getIndexAttr(in[i]));
            strides.push_back(g.b.getIndexAttr(1));
          }
          grads.push_back(tensor::ExtractSliceOp::create(
              g.b, g.loc, g.f32(in), o.getGradOutput(), at, sizes, strides));
        }
        return Result(grads);
      })
      .Case([&](FlattenVJPOp o) {
        ArrayRef<int64_t> in = shapeOf(o.getInput());
        if (in.size() == 2)
          return one(o.getGradOutput());
        ReassociationIndices rest;
        for (unsigned i = 1; i < in.size(); ++i)
          rest.push_back(i);
        return one(g.expand(o.getGradOutput(), in, {{0}, rest}));
      })
      .Case([&](SoftmaxCrossEntropyVJPOp o) {
        return one(lowerSoftmaxCrossEntropyVJP(g, o));
      })
      .Case([&](L1PenaltyOp o) { return one(lowerL1Penalty(g, o)); })
      .Case([&](L1PenaltyVJPOp o) { return one(lowerL1PenaltyVJP(g, o)); })
      .Case([&](OrthogonalityPenaltyOp o) {
        return one(lowerOrthogonalityPenalty(g, o));
      })
      .Case([&](OrthogonalityPenaltyVJPOp o) {
        return one(lowerOrthogonalityPenaltyVJP(g, o));
      })
      .Case([&](CountCorrectOp o) { return one(lowerCountCorrect(g, o)); })
      .Case([&](SgdUpdateOp o) { return many(lowerSgdUpdate(g, o)); })
      .Case([&](AdamUpdateOp o) { return many(lowerAdamUpdate(g, o)); })
      .Default([](Operation *) -> Result { return std::nullopt; });
}
