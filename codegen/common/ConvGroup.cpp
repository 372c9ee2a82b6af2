//===- ConvGroup.cpp - Convolution kernel groups and their epilogue ------===//
#include "codegen/common/ConvGroup.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::nsl;

Value ConvGroup::input() const {
  if (auto sim = simConv())
    return sim.getInput();
  return sphereConv().getInput();
}

Value ConvGroup::weight() const {
  if (auto sim = simConv())
    return sim.getWeight();
  return sphereConv().getWeight();
}

Value ConvGroup::similaritySource() const {
  if (predictor || (kind != ConvKind::DNS && kind != ConvKind::UNS))
    return {};
  if (PredictedSimilarityOp made = predicted)
    return made.getPrediction();
  return simConv().getSimilarity().front();
}

Value ConvGroup::gamma() const {
  PredictedSimilarityOp made = predicted;
  return made ? made.getGamma() : Value();
}

ArrayRef<int64_t> ConvGroup::stride() const {
  if (auto sim = simConv())
    return sim.getStride();
  return sphereConv().getStride();
}

ArrayRef<int64_t> ConvGroup::padding() const {
  if (auto sim = simConv())
    return sim.getPadding();
  return sphereConv().getPadding();
}

ArrayRef<int64_t> ConvGroup::dilation() const {
  if (auto sim = simConv())
    return sim.getDilation();
  return sphereConv().getDilation();
}

SmallVector<Operation *> ConvGroup::ops() const {
  SmallVector<Operation *> ops;
  if (predictor)
    ops.push_back(predictor);
  if (predicted)
    ops.push_back(predicted);
  ops.push_back(conv);
  if (epilogue.batchNorm)
    ops.push_back(epilogue.batchNorm);
  if (epilogue.activation != Activation::None)
    ops.push_back(result.getDefiningOp());
  return ops;
}

//===----------------------------------------------------------------------===//
// Grouping in the model function
//===----------------------------------------------------------------------===//

/// The single user of `op`'s single result, or null.
static Operation *singleUser(Operation *op) {
  if (op->getNumResults() != 1 || !op->getResult(0).hasOneUse())
    return nullptr;
  return *op->getResult(0).getUsers().begin();
}

/// Whether `conv` is a dynamic similarity convolution of `structure` whose
/// similarity is `mask`, in the block of `head`.
static bool modulates(SimConv2dOp conv, Structure structure, Value mask,
                      Operation *head) {
  return conv && conv.getDynamic() && conv.getGroups() == 1 &&
         conv.getStructure() == structure &&
         conv->getBlock() == head->getBlock() &&
         conv.getSimilarity().front() == mask;
}

SmallVector<Operation *> mlir::nsl::convGroupHead(Operation *head) {
  // A SphereConv predicting a DNS mask from the convolution's own input:
  // one pass over the input computes the mask and the layer.
  if (auto sphere = dyn_cast<SphereConv2dOp>(head)) {
    auto predicted = dyn_cast_or_null<PredictedSimilarityOp>(singleUser(head));
    if (predicted && predicted.getStructure() == Structure::Diagonal &&
        predicted.getPrediction() == sphere.getResult()) {
      auto conv = dyn_cast_or_null<SimConv2dOp>(singleUser(predicted));
      if (modulates(conv, Structure::Diagonal, predicted.getResult(), head) &&
          conv.getInput() == sphere.getInput())
        return {head, predicted, conv};
    }
  }
  // A predicted mask (DNS or UNS) joins the convolution it modulates:
  // γ·P + I is then computed as the mask is loaded.
  if (auto predicted = dyn_cast<PredictedSimilarityOp>(head)) {
    auto conv = dyn_cast_or_null<SimConv2dOp>(singleUser(head));
    if (modulates(conv, predicted.getStructure(), predicted.getResult(), head))
      return {head, conv};
  }
  return {head};
}

bool mlir::nsl::isEpilogueOf(Operation *user, Operation *producer) {
  if (user->getBlock() != producer->getBlock() || singleUser(producer) != user)
    return false;
  if (isa<ReluOp>(user))
    return true;
  auto bn = dyn_cast<BatchNormOp>(user);
  return bn && bn.getInput() == producer->getResult(0);
}

//===----------------------------------------------------------------------===//
// Matching a kernel's ops
//===----------------------------------------------------------------------===//

/// The kind of a convolution op, if it heads groups.
static std::optional<ConvKind> kindOf(Operation *op) {
  if (isa<SphereConv2dOp>(op))
    return ConvKind::Sphere;
  auto sim = dyn_cast<SimConv2dOp>(op);
  if (!sim || sim.getGroups() != 1) // grouped: the generic lowering
    return std::nullopt;
  Structure structure = sim.getStructure();
  if (!sim.getDynamic())
    return structure == Structure::Identity && sim.getSimilarity().empty()
               ? std::optional(ConvKind::Plain)
               : std::nullopt;
  if (sim.getSimilarity().size() != 1)
    return std::nullopt;
  if (structure == Structure::Diagonal)
    return ConvKind::DNS;
  if (structure == Structure::Full)
    return ConvKind::UNS;
  return std::nullopt;
}

/// Whether the SphereConv `predictor` computes the K taps of `conv`'s mask
/// from the same input through the same window.
static bool predictsTaps(SphereConv2dOp predictor, SimConv2dOp conv) {
  auto ps = cast<RankedTensorType>(predictor.getWeight().getType()).getShape();
  auto cs = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
  return predictor.getInput() == conv.getInput() &&
         predictor.getStride() == conv.getStride() &&
         predictor.getPadding() == conv.getPadding() &&
         predictor.getDilation() == conv.getDilation() &&
         ps.drop_front() == cs.drop_front() && ps[0] == cs[2] * cs[3];
}

/// The mask makers before the convolution of `group` (ops[0..next)).
static bool matchMaskMakers(ArrayRef<Operation *> ops, size_t &next,
                            ConvGroup &group) {
  if (ops.size() >= 3 && isa<PredictedSimilarityOp>(ops[1]))
    if ((group.predictor = dyn_cast<SphereConv2dOp>(ops[0])))
      ++next;
  if (next < ops.size())
    if ((group.predicted = dyn_cast<PredictedSimilarityOp>(ops[next])))
      ++next;
  if (group.predictor &&
      (!group.predicted || !group.predictor->hasOneUse() ||
       group.predicted.getPrediction() != group.predictor.getResult()))
    return false;
  return !group.predicted || group.predicted->hasOneUse();
}

/// Whether the mask makers of `group` feed its convolution.
static bool maskMakersFeedConv(const ConvGroup &group) {
  PredictedSimilarityOp predicted = group.predicted;
  if (!predicted)
    return !group.predictor;
  SimConv2dOp sim = group.simConv();
  if (!sim || (group.kind != ConvKind::DNS && group.kind != ConvKind::UNS) ||
      predicted.getStructure() != sim.getStructure() ||
      sim.getSimilarity().front() != predicted.getResult())
    return false;
  return !group.predictor ||
         (group.kind == ConvKind::DNS && predictsTaps(group.predictor, sim));
}

/// The epilogue ops of `group` (ops[next..]): batch_norm, then relu, each
/// reading the previous result as its only use.
static bool matchEpilogue(ArrayRef<Operation *> ops, size_t &next,
                          ConvGroup &group) {
  group.result = group.conv->getResult(0);
  if (auto sim = group.simConv())
    group.epilogue.bias = sim.getBias();
  if (next < ops.size())
    if (auto bn = dyn_cast<BatchNormOp>(ops[next])) {
      if (bn.getInput() != group.result || !group.result.hasOneUse())
        return false;
      group.epilogue.batchNorm = bn;
      group.result = bn.getResult();
      ++next;
    }
  if (next < ops.size())
    if (auto relu = dyn_cast<ReluOp>(ops[next])) {
      if (relu.getInput() != group.result || !group.result.hasOneUse())
        return false;
      group.epilogue.activation = Activation::Relu;
      group.result = relu.getResult();
      ++next;
    }
  return next == ops.size();
}

std::optional<ConvGroup> mlir::nsl::matchConvGroup(ArrayRef<Operation *> ops) {
  ConvGroup group;
  size_t next = 0;
  if (!matchMaskMakers(ops, next, group) || next >= ops.size())
    return std::nullopt;
  group.conv = ops[next++];
  std::optional<ConvKind> kind = kindOf(group.conv);
  if (!kind)
    return std::nullopt;
  group.kind = *kind;
  if (!maskMakersFeedConv(group) || !matchEpilogue(ops, next, group))
    return std::nullopt;
  return group;
}

//===----------------------------------------------------------------------===//
// The epilogue's math
//===----------------------------------------------------------------------===//

ChannelAffine mlir::nsl::channelAffine(OpBuilder &b, Location loc, Value scale,
                                       const ChannelParameters &p) {
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  Value shift = p.bias;
  if (p.bnWeight) {
    // (scale·v + bias − mean)·γ/sqrt(var + ε) + β.
    Value inv = math::RsqrtOp::create(
        b, loc, arith::AddFOp::create(b, loc, p.bnVar, constant(p.bnEpsilon)));
    Value factor = arith::MulFOp::create(b, loc, p.bnWeight, inv);
    scale =
        scale ? Value(arith::MulFOp::create(b, loc, scale, factor)) : factor;
    Value centred = shift
                        ? Value(arith::SubFOp::create(b, loc, shift, p.bnMean))
                        : Value(arith::NegFOp::create(b, loc, p.bnMean));
    shift = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, centred, factor), p.bnBias);
  }
  return {scale, shift};
}

Value mlir::nsl::applyEpilogue(OpBuilder &b, Location loc, Value v,
                               const ChannelAffine &affine,
                               Activation activation) {
  auto like = [&](Value scalar) -> Value {
    if (auto vector = dyn_cast<VectorType>(v.getType()))
      return vector::BroadcastOp::create(b, loc, vector, scalar);
    return scalar;
  };
  if (affine.scale && affine.shift)
    v = isa<VectorType>(v.getType())
            ? Value(vector::FMAOp::create(b, loc, v, like(affine.scale),
                                          like(affine.shift)))
            : Value(math::FmaOp::create(b, loc, v, affine.scale, affine.shift));
  else if (affine.scale)
    v = arith::MulFOp::create(b, loc, v, like(affine.scale));
  else if (affine.shift)
    v = arith::AddFOp::create(b, loc, v, like(affine.shift));
  if (activation == Activation::Relu) {
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
    v = arith::MaximumFOp::create(b, loc, v, like(zero));
  }
  return v;
}
