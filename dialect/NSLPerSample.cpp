//===- NSLPerSample.cpp - Which operands of an op are per sample ----------===//
//
// PerSampleOpInterface (NSLInterfaces.td): the facts the outliner needs to
// split a kernel over the batch, one place per op.
//
//===----------------------------------------------------------------------===//
#include "dialect/NSLOps.h"

using namespace mlir;
using namespace mlir::nsl;

std::optional<SmallVector<bool>>
mlir::nsl::leadingDimensionOperands(Operation *op) {
  auto result = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!result || result.getRank() == 0)
    return std::nullopt;
  SmallVector<bool> flags;
  for (Value operand : op->getOperands()) {
    auto type = cast<RankedTensorType>(operand.getType());
    flags.push_back(type.getRank() > 0 &&
                    type.getDimSize(0) == result.getDimSize(0));
  }
  return flags;
}

/// Flags for `op`'s operands: true for those in `batched`.
static SmallVector<bool> onlyThese(Operation *op, ArrayRef<Value> batched) {
  SmallVector<bool> flags;
  for (Value operand : op->getOperands())
    flags.push_back(llvm::is_contained(batched, operand));
  return flags;
}

std::optional<SmallVector<bool>> SimConv2dOp::getPerSampleOperands() {
  // The dynamic similarity is per sample ([N, …, Ho, Wo]); d_r is not.
  SmallVector<Value> batched = {getInput()};
  if (getDynamic())
    batched.push_back(getSimilarity().back());
  return onlyThese(*this, batched);
}

std::optional<SmallVector<bool>> SphereConv2dOp::getPerSampleOperands() {
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> PatchNormOp::getPerSampleOperands() {
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> SimLinearOp::getPerSampleOperands() {
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> LinearOp::getPerSampleOperands() {
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> BatchNormOp::getPerSampleOperands() {
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> PredictedSimilarityOp::getPerSampleOperands() {
  return onlyThese(*this, {getPrediction()});
}

std::optional<SmallVector<bool>> ReshapeOp::getPerSampleOperands() {
  // Per sample when the batch dimension stays: sample n's elements are then
  // the same row-major range of the input and the result.
  if (cast<RankedTensorType>(getInput().getType()).getDimSize(0) !=
      getType().getDimSize(0))
    return std::nullopt;
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> TransposeOp::getPerSampleOperands() {
  if (getPermutation().front() != 0)
    return std::nullopt;
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> SliceOp::getPerSampleOperands() {
  if (getDim() == 0)
    return std::nullopt;
  return onlyThese(*this, {getInput()});
}

std::optional<SmallVector<bool>> SliceVJPOp::getPerSampleOperands() {
  if (getDim() == 0)
    return std::nullopt;
  return onlyThese(*this, {getInput(), getGradOutput()});
}

/// A reduction (or its VJP, with `gradOutput`) is per sample when it keeps
/// the batch dimension.
template <typename OpTy>
static std::optional<SmallVector<bool>> reducePerSample(OpTy op,
                                                        Value gradOutput) {
  if (llvm::is_contained(op.getDims(), 0))
    return std::nullopt;
  SmallVector<Value> batched = {op.getInput()};
  if (gradOutput)
    batched.push_back(gradOutput);
  return onlyThese(op, batched);
}

std::optional<SmallVector<bool>> ReduceSumOp::getPerSampleOperands() {
  return reducePerSample(*this, Value());
}
std::optional<SmallVector<bool>> ReduceMeanOp::getPerSampleOperands() {
  return reducePerSample(*this, Value());
}
std::optional<SmallVector<bool>> ReduceMaxOp::getPerSampleOperands() {
  return reducePerSample(*this, Value());
}
std::optional<SmallVector<bool>> ReduceSumVJPOp::getPerSampleOperands() {
  return reducePerSample(*this, getGradOutput());
}
std::optional<SmallVector<bool>> ReduceMeanVJPOp::getPerSampleOperands() {
  return reducePerSample(*this, getGradOutput());
}
std::optional<SmallVector<bool>> ReduceMaxVJPOp::getPerSampleOperands() {
  return reducePerSample(*this, getGradOutput());
}

// VJPs that compute per-sample gradients only (of the input, of a dynamic
// similarity): every batched operand is sliced. Asked for a weight
// gradient (a sum over the batch), they mix samples.

std::optional<SmallVector<bool>> SimConv2dVJPOp::getPerSampleOperands() {
  size_t similarity = getSimilarity().size();
  int64_t dynamicIndex =
      getDynamic() ? 1 + static_cast<int64_t>(similarity) : -1;
  if (!llvm::all_of(getWrt(),
                    [&](int64_t i) { return i == 0 || i == dynamicIndex; }))
    return std::nullopt;
  SmallVector<Value> batched = {getInput(), getGradOutput()};
  if (getDynamic())
    batched.push_back(getSimilarity().back());
  return onlyThese(*this, batched);
}

std::optional<SmallVector<bool>> SphereConv2dVJPOp::getPerSampleOperands() {
  if (getWrt() != ArrayRef<int64_t>{0})
    return std::nullopt;
  return onlyThese(*this, {getInput(), getGradOutput()});
}

std::optional<SmallVector<bool>>
PredictedSimilarityVJPOp::getPerSampleOperands() {
  if (getWrt() != ArrayRef<int64_t>{0})
    return std::nullopt;
  return onlyThese(*this, {getPrediction(), getGradOutput()});
}
