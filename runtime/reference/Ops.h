//===- Ops.h - Reference forward functions of every nsl op -----*- C++ -*-===//
//
// Plain loops, double accumulation, written straight from the math of
// DESIGN.md §1 (notation: X[n,c,y,x], W[o,c,t] with t = ky·kw + kx,
// X_p[c,s] the zero-padded input patch at output position p). Each function
// validates its arguments and throws ReferenceError with a message naming the
// offending operand and shapes.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_OPS_H
#define NSL_RUNTIME_REFERENCE_OPS_H

#include "runtime/reference/Tensor.h"

#include <array>
#include <optional>

namespace nsl::reference {

/// Stride, padding and dilation of a 2-D window, as in torch.nn.Conv2d
/// ({height, width} each).
struct Window {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
};

/// Output size of one spatial dimension: ⌊(in + 2p − d·(k−1) − 1) / s⌋ + 1;
/// with ceilMode (pooling, PyTorch's rule) the division rounds up, less one
/// when the last window would start at or past in + p. Below 1 when no
/// window fits.
int64_t windowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t padding, int64_t dilation,
                         bool ceilMode = false);

/// The structure of a similarity matrix M (DESIGN.md §1 table).
enum class Structure { Identity, Diagonal, Full, Cholesky, ShapeMasked };
const char *structureName(Structure s);
Structure parseStructure(const std::string &name);

/// The similarity operands of a layer, as they appear in the IR:
///  identity: none;
///  diagonal: static m [K] | dynamic m [N,K,Ho,Wo];
///  full: static M [K,K] | dynamic M [N,K·K,Ho,Wo] (channel t·K+s = M_p[t,s]);
///  cholesky (static only): L [K,K], lower triangle used, M = L·Lᵀ;
///  shape_masked: d_r [K] (always static) and R — static [K] (diagonal R) or
///    [K,K]; dynamic [N,K,Ho,Wo] or [N,K·K,Ho,Wo]; M = diag(D)·R with
///    D[t] = 1 if d_r[t] > alpha else 0.
struct Similarity {
  Structure structure = Structure::Identity;
  bool dynamic = false;
  double alpha = 0.0; // shape_masked threshold
  std::vector<Tensor> operands;
};

/// The static K×K matrix M of a static similarity (identity gives I).
Tensor staticSimilarityMatrix(const Similarity &sim, int64_t taps);

/// Y[n,o,p] = Σ_c Σ_t Σ_s W[o,c,t]·M[t,s]·X_p[c,s] (+ bias[o]);
/// x [N,C,H,W], w [O,C/groups,kh,kw], bias [O] or nullptr. Dynamic M uses
/// M_p of sample n at output position p. With groups G, output channel o
/// sums over the C/G input channels of its group ⌊o·G/O⌋ only.
Tensor simConv2d(const Tensor &x, const Tensor &w, const Similarity &sim,
                 const Tensor *bias, const Window &window, int64_t groups = 1);

enum class SphereVariant { Cosine, Linear, Sigmoid, LearnedSigmoid };
const char *sphereVariantName(SphereVariant v);
SphereVariant parseSphereVariant(const std::string &name);

struct SphereOptions {
  SphereVariant variant = SphereVariant::Cosine;
  /// Divide by ‖x_p‖ only (W unnormalised); only with the cosine variant.
  bool inputOnly = false;
  double epsilon = 1e-4;
  /// k of the sigmoid variant (the learned variant uses |k'[o]| + 0.05).
  double sigmoidK = 0.3;
};

/// SphereConv: g(θ) with cos θ = Σ W·X_p / (‖w_o‖‖x_p‖) (DESIGN.md §1);
/// kParam [O] is required for learned_sigmoid and must be null otherwise.
Tensor sphereConv2d(const Tensor &x, const Tensor &w, const Tensor *kParam,
                    const SphereOptions &options, const Window &window);

/// ‖x_p‖ = sqrt(Σ_{c,s} X_p[c,s]² + ε) → [N,1,Ho,Wo].
Tensor patchNorm(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, double epsilon);

/// M_p = γ·P + I: diagonal P [N,K,Ho,Wo] → γ·P + 1; full P [N,K·K,Ho,Wo] →
/// γ·P[t·K+s] + δ_ts. gamma has one element (rank 0 or [1]).
Tensor predictedSimilarity(const Tensor &prediction, const Tensor &gamma,
                           Structure structure);

/// y[n,o] = Σ_g Σ_t Σ_s W[o,g·B+t]·M[t,s]·x[n,g·B+s] (+ b[o]); static M of
/// size B = groupSize; x [N,F], w [O,F].
Tensor simLinear(const Tensor &x, const Tensor &w, const Similarity &sim,
                 const Tensor *bias, int64_t groupSize);

/// W'[o,c,s] = Σ_t W[o,c,t]·M[t,s] for a conv weight [O,C,kh,kw]; for a
/// linear weight [O,F] the same per group of groupSize features.
Tensor foldSimilarity(const Tensor &w, const Similarity &sim,
                      int64_t groupSize);

/// Inference batch norm over channel dim 1 of [N,C,...].
Tensor batchNorm(const Tensor &x, const Tensor &weight, const Tensor &bias,
                 const Tensor &runningMean, const Tensor &runningVar,
                 double epsilon);

struct BatchNormTrainResult {
  Tensor output;
  Tensor batchMean;   // [C]
  Tensor batchVar;    // [C], biased (used to normalise)
  Tensor runningMean; // [C], (1−m)·old + m·batchMean
  Tensor runningVar;  // [C], (1−m)·old + m·unbiased batch variance
};
/// Training batch norm, PyTorch 1.13's definition.
BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &weight,
                                    const Tensor &bias,
                                    const Tensor &runningMean,
                                    const Tensor &runningVar, double epsilon,
                                    double momentum);

Tensor relu(const Tensor &x);
/// Padding counts as −∞ (PyTorch). ceilMode as PyTorch's ceil_mode: the
/// output size of windowOutputSize(…, ceilMode), a partial last window takes
/// the maximum of the pixels it covers.
Tensor maxPool2d(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, bool ceilMode = false);
/// Dilation must be 1; ceilMode as maxPool2d's. The divisor is PyTorch's:
/// with countIncludePad the taps inside the padded input [−p, in + p) (all
/// kh·kw but in a partial last window), else the taps inside the image.
Tensor avgPool2d(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, bool countIncludePad,
                 bool ceilMode = false);
/// [N,C,H,W] → [N,C,1,1].
Tensor globalAvgPool2d(const Tensor &x);
/// PyTorch's adaptive_avg_pool2d: [N,C,H,W] → [N,C,Ho,Wo], output row i the
/// mean over input rows [⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉) (likewise columns); any
/// output size ≥ 1.
Tensor adaptiveAvgPool2d(const Tensor &x, std::array<int64_t, 2> outputSize);
/// PyTorch's adaptive_max_pool2d (its values) over the same windows; NaN
/// propagates.
Tensor adaptiveMaxPool2d(const Tensor &x, std::array<int64_t, 2> outputSize);
/// y = x·Wᵀ (+ b); x [N,F], w [O,F].
Tensor linear(const Tensor &x, const Tensor &w, const Tensor *bias);
Tensor add(const Tensor &a, const Tensor &b);
/// [N, d1, d2, …] → [N, d1·d2·…].
Tensor flatten(const Tensor &x);

/// torch.cat(inputs, dim): equal ranks ≥ 2, equal sizes but along `dim`,
/// 1 ≤ dim < rank.
Tensor concat(const std::vector<Tensor> &inputs, int64_t dim);
/// Mean over the batch of PyTorch's cross-entropy with label smoothing ε:
/// (1−ε)·(−log p[label]) + ε·mean_c(−log p[c]). logits [N,C] f32, labels [N]
/// i64 in [0, C). Returns a rank-0 tensor.
Tensor softmaxCrossEntropy(const Tensor &logits, const Tensor &labels,
                           double labelSmoothing);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_OPS_H
