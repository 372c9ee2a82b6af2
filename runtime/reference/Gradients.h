//===- Gradients.h - Reference VJPs of every nsl op -------------*- C++ -*-===//
//
// The vector-Jacobian product of every forward function of Ops.h, in double
// precision with plain loops (DESIGN.md §1, "Training"): given the op's
// operands and attributes and the upstream gradient of its output, each
// function returns the gradient of every differentiable operand, with the
// operand's shape. They validate their arguments like the forward functions
// (the same messages, with the op named "<op> VJP"), and the upstream
// gradient must have the shape of the forward output.
//
// Conventions at the non-differentiable points follow PyTorch 1.13 autograd:
//  - relu: ∂x = 0 at x = 0 (and for x < 0).
//  - max_pool2d: the gradient of a window goes to its FIRST maximal element in
//    window order (t = ky·kw + kx); padding never wins; a NaN wins over
//    numbers, the last NaN of a window over earlier ones (as PyTorch's CPU
//    kernel).
//  - clamp (SphereConv linear, cos θ ∈ [−1+1e-6, 1−1e-6]): the gradient
//    passes where lo ≤ cos θ ≤ hi (bounds included) and is zero outside.
//  - |k'| of learned_sigmoid and |M| of the L1 regulariser: sign(0) = 0.
//  - shape_masked D[t] = 1[d_r[t] > α] is a step: d_r gets the
//    straight-through gradient ∂d_r[t] = Σ_s G_M[t,s]·R[t,s] (Σ over n, p
//    too for a dynamic R), where G_M = ∂M; R gets D[t]·G_M[t,s].
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_GRADIENTS_H
#define NSL_RUNTIME_REFERENCE_GRADIENTS_H

#include "runtime/reference/Ops.h"

#include <optional>

namespace nsl::reference {

//===----------------------------------------------------------------------===//
// Similarities
//===----------------------------------------------------------------------===//

/// The gradients of the operands of a static similarity (one per
/// Similarity::operands, same shapes) from G_M = ∂M [K,K]:
///  diagonal ∂m[t] = G_M[t,t]; full ∂M = G_M;
///  cholesky ∂L = tril((G_M + G_Mᵀ)·tril(L)) (upper triangle: zero);
///  shape_masked: straight-through, see the file comment (diagonal R:
///  ∂R[t] = D[t]·G_M[t,t], ∂d_r[t] = G_M[t,t]·R[t]).
std::vector<Tensor> staticSimilarityVJP(const Similarity &sim, int64_t taps,
                                        const Tensor &gradMatrix);

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

struct SimConv2dGrads {
  Tensor input;  // [N,C,H,W]
  Tensor weight; // [O,C,kh,kw]
  /// One per Similarity::operands, same shapes (empty for identity).
  std::vector<Tensor> similarity;
  std::optional<Tensor> bias; // [O], when the forward had a bias
};

/// For upstream G [N,O,Ho,Wo] (DESIGN.md §1):
///   ∂X: scatter Σ_o Σ_t G[n,o,p]·W[o,c,t]·M_p[t,s] into X_p[c,s] (padding
///       dropped);
///   ∂W[o,c,t] = Σ_{n,p} G[n,o,p]·Σ_s M_p[t,s]·X_p[c,s];
///   ∂M_p[t,s] = Σ_{o,c} G[n,o,p]·W[o,c,t]·X_p[c,s], summed over n, p for a
///       static M and mapped to its operands (staticSimilarityVJP); a
///       dynamic operand gets ∂M_p at its sample and position (DNS: the
///       diagonal t = s only);
///   ∂bias[o] = Σ_{n,p} G[n,o,p].
/// With groups G the sums over c run over the group of o (simConv2d).
SimConv2dGrads simConv2dVJP(const Tensor &x, const Tensor &w,
                            const Similarity &sim, const Tensor *bias,
                            const Window &window, const Tensor &gradOutput,
                            int64_t groups = 1);

struct SphereConv2dGrads {
  Tensor input;                 // [N,C,H,W]
  Tensor weight;                // [O,C,kh,kw]
  std::optional<Tensor> kParam; // [O], learned_sigmoid only
};

/// Through g(θ), cos θ, ‖w_o‖ and ‖x_p‖ (only ‖x_p‖ with input_only);
/// learned_sigmoid also gives ∂k'[o] = Σ_{n,p} G·∂g/∂k·sign(k'[o]).
SphereConv2dGrads sphereConv2dVJP(const Tensor &x, const Tensor &w,
                                  const Tensor *kParam,
                                  const SphereOptions &options,
                                  const Window &window,
                                  const Tensor &gradOutput);

/// dg/d(cos θ) of a SphereConv variant at cos θ (k of the sigmoid variants):
/// the chain through θ = acos(cos θ); the linear variant's clamp passes the
/// gradient for −1+1e-6 ≤ cos θ ≤ 1−1e-6 and gives 0 outside.
double sphereActivationDerivative(SphereVariant variant, double cosTheta,
                                  double k);

/// ∂x: scatter G[n,0,p]·X_p[c,s]/‖x_p‖ into the patch's pixels.
Tensor patchNormVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, double epsilon,
                    const Tensor &gradOutput);

struct PredictedSimilarityGrads {
  Tensor prediction; // γ·G
  Tensor gamma;      // Σ G·P, with gamma's shape ([] or [1])
};
PredictedSimilarityGrads predictedSimilarityVJP(const Tensor &prediction,
                                                const Tensor &gamma,
                                                Structure structure,
                                                const Tensor &gradOutput);

//===----------------------------------------------------------------------===//
// Linear layers and folding
//===----------------------------------------------------------------------===//

struct SimLinearGrads {
  Tensor input;  // [N,F]
  Tensor weight; // [O,F]
  std::vector<Tensor> similarity;
  std::optional<Tensor> bias; // [O]
};
/// The similarity conv's VJP on a 1×1 image with K = groupSize, the groups
/// playing the channels.
SimLinearGrads simLinearVJP(const Tensor &x, const Tensor &w,
                            const Similarity &sim, const Tensor *bias,
                            int64_t groupSize, const Tensor &gradOutput);

struct FoldSimilarityGrads {
  Tensor weight;
  std::vector<Tensor> similarity;
};
/// For upstream G' of W' = W·M (per row of K): ∂W[r,t] = Σ_s G'[r,s]·M[t,s],
/// ∂M[t,s] = Σ_r W[r,t]·G'[r,s].
FoldSimilarityGrads foldSimilarityVJP(const Tensor &w, const Similarity &sim,
                                      int64_t groupSize,
                                      const Tensor &gradOutput);

struct LinearGrads {
  Tensor input, weight;
  std::optional<Tensor> bias;
};
LinearGrads linearVJP(const Tensor &x, const Tensor &w, const Tensor *bias,
                      const Tensor &gradOutput);

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

struct BatchNormGrads {
  Tensor input, weight, bias;
};
/// Inference: the running statistics are constants, ∂x = G·γ/sqrt(var + ε).
BatchNormGrads batchNormVJP(const Tensor &x, const Tensor &weight,
                            const Tensor &bias, const Tensor &runningMean,
                            const Tensor &runningVar, double epsilon,
                            const Tensor &gradOutput);
/// Training: ∂x through the batch mean and biased variance,
/// ∂x = γ/σ·(G − mean(G) − x̂·mean(G·x̂)) per channel. Only the `output` of
/// BatchNormTrainResult is differentiated (its batch and running statistics
/// are not); the running statistics are only validated.
BatchNormGrads batchNormTrainVJP(const Tensor &x, const Tensor &weight,
                                 const Tensor &bias, const Tensor &runningMean,
                                 const Tensor &runningVar, double epsilon,
                                 double momentum, const Tensor &gradOutput);

//===----------------------------------------------------------------------===//
// Pooling and the rest
//===----------------------------------------------------------------------===//

Tensor reluVJP(const Tensor &x, const Tensor &gradOutput);
Tensor maxPool2dVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, const Tensor &gradOutput,
                    bool ceilMode = false);
Tensor avgPool2dVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, bool countIncludePad,
                    const Tensor &gradOutput, bool ceilMode = false);
Tensor globalAvgPool2dVJP(const Tensor &x, const Tensor &gradOutput);
Tensor adaptiveAvgPool2dVJP(const Tensor &x, std::array<int64_t, 2> outputSize,
                            const Tensor &gradOutput);
/// The gradient of a window goes to its first maximal element in row-major
/// order, a NaN winning as in max_pool2d (PyTorch's CPU kernel).
Tensor adaptiveMaxPool2dVJP(const Tensor &x, std::array<int64_t, 2> outputSize,
                            const Tensor &gradOutput);

struct AddGrads {
  Tensor lhs, rhs;
};
AddGrads addVJP(const Tensor &a, const Tensor &b, const Tensor &gradOutput);
/// Reshapes G [N, F] back to x's shape.
Tensor flattenVJP(const Tensor &x, const Tensor &gradOutput);

/// The slices of the upstream gradient, one per input of concat.
std::vector<Tensor> concatVJP(const std::vector<Tensor> &inputs, int64_t dim,
                              const Tensor &gradOutput);
/// ∂logits[n,c] = g/N·(softmax(z_n)[c] − (1−ε)·1[c = label_n] − ε/C) for the
/// rank-0 upstream gradient g of the mean loss. Labels get no gradient.
Tensor softmaxCrossEntropyVJP(const Tensor &logits, const Tensor &labels,
                              double labelSmoothing, const Tensor &gradLoss);

//===----------------------------------------------------------------------===//
// Regularisers (training only, DESIGN.md §1)
//===----------------------------------------------------------------------===//

/// L1 sparsity on a similarity tensor: λ·Σ|M| (rank 0). Any f32 shape.
Tensor l1Regularizer(const Tensor &m, double strength);
/// ∂M = g·λ·sign(M), sign(0) = 0 (PyTorch's abs).
Tensor l1RegularizerVJP(const Tensor &m, double strength,
                        const Tensor &gradLoss);

/// SphereNet orthogonality λ·‖W_f·W_fᵀ − I‖²_F (rank 0), W_f the weight
/// viewed as [O, F] with one filter per row (F = C·kh·kw for a conv weight
/// [O,C,kh,kw], F of a linear weight [O,F]): the O×O Gram matrix of the
/// filters, which pushes them towards orthonormality. (DESIGN.md writes
/// ‖WᵀW − I‖² with W's columns as filters; this is that product.)
Tensor orthogonalityRegularizer(const Tensor &w, double strength);
/// ∂W_f = g·4λ·(W_f·W_fᵀ − I)·W_f (the Gram residual is symmetric).
Tensor orthogonalityRegularizerVJP(const Tensor &w, double strength,
                                   const Tensor &gradLoss);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_GRADIENTS_H
