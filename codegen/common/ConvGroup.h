//===- ConvGroup.h - Convolution kernel groups and their epilogue -*- C++
//-*-===//
//
// The one definition of a convolution kernel group, shared by the outliner
// (which ops form one kernel) and by every target's convolution kernels
// (codegen/cpu/DirectConv.h, codegen/cuda/TiledConv.cpp):
//
//   [sphere_conv2d P(X) →] [predicted_similarity γ·P + I →]
//       sim_conv2d | sphere_conv2d  [→ batch_norm]  [→ relu]
//
// and of its epilogue (bias, inference batch norm, activation), computed by
// both targets with the same scalar math.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_CONVGROUP_H
#define NSL_CODEGEN_COMMON_CONVGROUP_H

#include "dialect/NSLOps.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::nsl {

/// What a convolution group's head computes.
enum class ConvKind {
  /// sim_conv2d identity, static (a static similarity is folded before).
  Plain,
  /// sim_conv2d diagonal dynamic: taps modulated by a per-pixel mask.
  DNS,
  /// sim_conv2d full dynamic: taps mixed by a per-pixel K×K matrix.
  UNS,
  /// sphere_conv2d.
  Sphere,
};

/// The activation that ends an epilogue.
enum class Activation { None, Relu };

/// The ops after a convolution that its kernel applies per output channel
/// before storing: v ↦ activation(batch_norm(v + bias)).
struct ConvEpilogue {
  /// The convolution's own bias operand (sim_conv2d), or null.
  Value bias;
  /// Inference batch norm of the convolution's result, or null.
  BatchNormOp batchNorm;
  Activation activation = Activation::None;
};

/// A kernel group whose work is one convolution.
struct ConvGroup {
  ConvKind kind = ConvKind::Plain;
  /// The SimConv2dOp or SphereConv2dOp.
  Operation *conv = nullptr;
  /// A SphereConv predicting the DNS mask from the convolution's own input
  /// through the same window (its K outputs are the taps); or null.
  SphereConv2dOp predictor;
  /// M_p = γ·P + I made from a prediction P as the mask is read; or null.
  PredictedSimilarityOp predicted;
  ConvEpilogue epilogue;
  /// The value the group stores: the last op's result.
  Value result;

  SimConv2dOp simConv() const { return dyn_cast<SimConv2dOp>(conv); }
  SphereConv2dOp sphereConv() const { return dyn_cast<SphereConv2dOp>(conv); }
  Value input() const;
  Value weight() const;
  /// The dynamic similarity as the kernel reads it: the prediction P when
  /// `predicted` is set (γ·P + I applied on load), else the mask or M_p
  /// operand; null for plain and SphereConv groups and when `predictor`
  /// computes it.
  Value similaritySource() const;
  /// γ of `predicted`, else null.
  Value gamma() const;
  ArrayRef<int64_t> stride() const;
  ArrayRef<int64_t> padding() const;
  ArrayRef<int64_t> dilation() const;
  /// The group's ops in program order.
  SmallVector<Operation *> ops() const;
};

/// The ops a kernel group starts with at `head` in a model function: the
/// fused predictor chain (SphereConv → predicted_similarity → DNS conv on
/// the same input) or a predicted mask and the convolution it modulates,
/// each op the single user of the previous; just `head` otherwise.
SmallVector<Operation *> convGroupHead(Operation *head);

/// Whether `user` may join the kernel of `producer` as its epilogue
/// (inference batch_norm of it, relu), `producer` having a single result
/// with this single user.
bool isEpilogueOf(Operation *user, Operation *producer);

/// The convolution group that `ops` (a kernel's ops in program order) are,
/// or std::nullopt when they are not exactly one: the structure above, each
/// op reading the previous one's result as its only use, a fused predictor
/// reading the convolution's input through the same window.
std::optional<ConvGroup> matchConvGroup(ArrayRef<Operation *> ops);

/// The per-channel parameters of an epilogue as scalars the target's kernel
/// loaded (any may be null): the convolution's bias, and batch norm's
/// running mean and variance, weight and bias.
struct ChannelParameters {
  Value bias, bnMean, bnVar, bnWeight, bnBias;
  double bnEpsilon = 0.0;
};

/// v ↦ scale·v + shift for one output channel: a prior `scale` (null: 1),
/// the bias and inference batch norm folded together,
/// (scale·v + bias − mean)·weight/sqrt(var + ε) + bnBias.
struct ChannelAffine {
  Value scale, shift;
};
ChannelAffine channelAffine(OpBuilder &b, Location loc, Value scale,
                            const ChannelParameters &parameters);

/// scale·v + shift then the activation, for a scalar or vector `v` (the
/// affine's scalars are broadcast to it).
Value applyEpilogue(OpBuilder &b, Location loc, Value v,
                    const ChannelAffine &affine, Activation activation);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_CONVGROUP_H
