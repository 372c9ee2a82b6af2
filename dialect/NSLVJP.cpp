//===- NSLVJP.cpp - The VJP interface of the differentiable nsl ops
//--------===//
//
// Every differentiable op builds its vector-Jacobian product as one
// `nsl.<op>_vjp` op carrying the forward operands and attributes, the
// upstream gradient and `wrt`, the operands whose gradients are needed; the
// codegen lowers those ops (DESIGN.md §1 has the math). The elementwise rows
// build theirs in NSLElementwise.cpp.
//
//===----------------------------------------------------------------------===//
#include "dialect/NSLOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::nsl;

namespace {

/// The single upstream gradient of a one-result op.
Value singleResultGrad(ArrayRef<Value> resultGrads) {
  assert(resultGrads.size() == 1 && "one result");
  return resultGrads.front();
}

/// Creates `VJP` for `forward` with the operands that are both needed and
/// differentiable, and scatters its results into `operandGrads`.
template <typename VJP>
LogicalResult emitVJP(Operation *forward, OpBuilder &builder, Value gradOutput,
                      ArrayRef<bool> needed, ArrayRef<bool> differentiable,
                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(forward->getNumOperands(), Value());
  SmallVector<int64_t> wrt;
  SmallVector<Type> types;
  for (auto [i, operand] : llvm::enumerate(forward->getOperands()))
    if (needed[i] && differentiable[i]) {
      wrt.push_back(static_cast<int64_t>(i));
      types.push_back(operand.getType());
    }
  if (wrt.empty())
    return success();
  MLIRContext *context = builder.getContext();
  NamedAttrList attrs;
  if (auto dict =
          dyn_cast_or_null<DictionaryAttr>(forward->getPropertiesAsAttribute()))
    for (NamedAttribute attr : dict) {
      if (attr.getName() == "operandSegmentSizes") {
        SmallVector<int32_t> sizes(
            cast<DenseI32ArrayAttr>(attr.getValue()).asArrayRef());
        sizes.push_back(1); // grad_output
        attrs.append(attr.getName(), DenseI32ArrayAttr::get(context, sizes));
        continue;
      }
      attrs.push_back(attr);
    }
  attrs.append("wrt", DenseI64ArrayAttr::get(context, wrt));
  OperationState state(forward->getLoc(), VJP::getOperationName());
  state.addOperands(forward->getOperands());
  state.addOperands(gradOutput);
  state.addTypes(types);
  state.propertiesAttr = attrs.getDictionary(context);
  Operation *vjp = builder.create(state);
  for (auto [index, grad] : llvm::zip(wrt, vjp->getResults()))
    operandGrads[index] = grad;
  return success();
}

/// All operands differentiable.
SmallVector<bool> allOperands(Operation *op) {
  return SmallVector<bool>(op->getNumOperands(), true);
}

/// Emits the VJP as two ops when the needed gradients fall on both sides
/// of `perSample` (one flag per operand): the gradients computed sample by
/// sample (of the input, of a dynamic similarity: the runtime may split
/// their kernel over the batch) and those summed over the batch (of the
/// parameters). Each op then becomes its own kernel.
template <typename VJP>
LogicalResult emitSplitVJP(Operation *forward, OpBuilder &builder,
                           Value gradOutput, ArrayRef<bool> needed,
                           ArrayRef<bool> perSample,
                           SmallVectorImpl<Value> &operandGrads) {
  SmallVector<bool> sampleNeeded, batchNeeded;
  for (auto [need, sample] : llvm::zip(needed, perSample)) {
    sampleNeeded.push_back(need && sample);
    batchNeeded.push_back(need && !sample);
  }
  SmallVector<Value> sampleGrads, batchGrads;
  SmallVector<bool> all = allOperands(forward);
  if (failed(emitVJP<VJP>(forward, builder, gradOutput, sampleNeeded, all,
                          sampleGrads)) ||
      failed(emitVJP<VJP>(forward, builder, gradOutput, batchNeeded, all,
                          batchGrads)))
    return failure();
  operandGrads.clear();
  for (auto [sample, batch] : llvm::zip(sampleGrads, batchGrads))
    operandGrads.push_back(sample ? sample : batch);
  return success();
}

} // namespace

LogicalResult SimConv2dOp::buildVJP(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (!getDynamic() && getStructure() != Structure::Identity)
    return emitOpError("a static similarity must be folded into the weights "
                       "(nsl.fold_similarity, --nsl-fold-static-similarity) "
                       "before differentiation");
  // The input and a dynamic similarity (the last similarity operand; a
  // shape_masked d_r is static) are per sample.
  SmallVector<bool> perSample(getNumOperands(), false);
  perSample[0] = true;
  if (getDynamic())
    perSample[1 + getSimilarity().size()] = true;
  return emitSplitVJP<SimConv2dVJPOp>(*this, builder,
                                      singleResultGrad(resultGrads), needed,
                                      perSample, operandGrads);
}

LogicalResult SphereConv2dOp::buildVJP(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &operandGrads) {
  SmallVector<bool> perSample(getNumOperands(), false);
  perSample[0] = true; // The input; the weight and k' sum over the batch.
  return emitSplitVJP<SphereConv2dVJPOp>(*this, builder,
                                         singleResultGrad(resultGrads), needed,
                                         perSample, operandGrads);
}

LogicalResult
PredictedSimilarityOp::buildVJP(OpBuilder &builder, ArrayRef<Value> resultGrads,
                                ArrayRef<bool> needed,
                                SmallVectorImpl<Value> &operandGrads) {
  // γ·G per sample; ∂γ sums over the batch.
  return emitSplitVJP<PredictedSimilarityVJPOp>(
      *this, builder, singleResultGrad(resultGrads), needed, {true, false},
      operandGrads);
}

#define NSL_VJP_ALL_OPERANDS(OP)                                               \
  LogicalResult OP##Op::buildVJP(                                              \
      OpBuilder &builder, ArrayRef<Value> resultGrads, ArrayRef<bool> needed,  \
      SmallVectorImpl<Value> &operandGrads) {                                  \
    return emitVJP<OP##VJPOp>(*this, builder, singleResultGrad(resultGrads),   \
                              needed, allOperands(*this), operandGrads);       \
  }

NSL_VJP_ALL_OPERANDS(PatchNorm)
NSL_VJP_ALL_OPERANDS(FoldSimilarity)
NSL_VJP_ALL_OPERANDS(Linear)
NSL_VJP_ALL_OPERANDS(Relu)
NSL_VJP_ALL_OPERANDS(MaxPool2d)
NSL_VJP_ALL_OPERANDS(AvgPool2d)
NSL_VJP_ALL_OPERANDS(GlobalAvgPool2d)
NSL_VJP_ALL_OPERANDS(AdaptiveAvgPool2d)
NSL_VJP_ALL_OPERANDS(AdaptiveMaxPool2d)
NSL_VJP_ALL_OPERANDS(Flatten)
NSL_VJP_ALL_OPERANDS(Concat)
NSL_VJP_ALL_OPERANDS(Slice)
NSL_VJP_ALL_OPERANDS(ReduceSum)
NSL_VJP_ALL_OPERANDS(ReduceMean)
NSL_VJP_ALL_OPERANDS(ReduceMax)
NSL_VJP_ALL_OPERANDS(L1Penalty)
NSL_VJP_ALL_OPERANDS(OrthogonalityPenalty)

// Reshapes and transposes are linear permutations of the elements: their
// VJPs are the inverse reshape or transpose of the upstream gradient.

LogicalResult ReshapeOp::buildVJP(OpBuilder &builder,
                                  ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (needed[0])
    operandGrads[0] = ReshapeOp::create(
        builder, getLoc(), singleResultGrad(resultGrads),
        cast<RankedTensorType>(getInput().getType()).getShape());
  return success();
}

LogicalResult TransposeOp::buildVJP(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (!needed[0])
    return success();
  ArrayRef<int64_t> permutation = getPermutation();
  SmallVector<int64_t> inverse(permutation.size());
  for (auto [i, dim] : llvm::enumerate(permutation))
    inverse[dim] = static_cast<int64_t>(i);
  operandGrads[0] = TransposeOp::create(builder, getLoc(),
                                        singleResultGrad(resultGrads), inverse);
  return success();
}

LogicalResult
SoftmaxCrossEntropyOp::buildVJP(OpBuilder &builder, ArrayRef<Value> resultGrads,
                                ArrayRef<bool> needed,
                                SmallVectorImpl<Value> &operandGrads) {
  // Labels are integers: no gradient.
  return emitVJP<SoftmaxCrossEntropyVJPOp>(*this, builder,
                                           singleResultGrad(resultGrads),
                                           needed, {true, false}, operandGrads);
}

LogicalResult BatchNormTrainOp::buildVJP(OpBuilder &builder,
                                         ArrayRef<Value> resultGrads,
                                         ArrayRef<bool> needed,
                                         SmallVectorImpl<Value> &operandGrads) {
  if (llvm::any_of(resultGrads.drop_front(), [](Value grad) { return grad; }))
    return emitOpError("only the normalised output of a training batch norm "
                       "is differentiated, not its statistics");
  operandGrads.assign(getNumOperands(), Value());
  if (!resultGrads.front())
    return success();
  // The running statistics are not differentiated.
  return emitVJP<BatchNormTrainVJPOp>(*this, builder, resultGrads.front(),
                                      needed, {true, true, true, false, false},
                                      operandGrads);
}
