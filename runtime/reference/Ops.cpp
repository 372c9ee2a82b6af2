//===- Ops.cpp - Reference forward functions of every nsl op --------------===//
//
// Straight from DESIGN.md §1, with plain loops and double accumulation. Speed
// does not matter here; clarity and exact agreement with PyTorch's
// definitions do. Every entry point validates its operands first, so that a
// bad graph yields a message naming the op and operand, never a crash. The
// helpers in namespace detail are shared with the VJPs (Gradients.cpp)
// through Window.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Ops.h"
#include "runtime/reference/Window.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nsl::reference {
namespace detail {

//===----------------------------------------------------------------------===//
// Validation helpers
//===----------------------------------------------------------------------===//

[[noreturn]] void fail(const char *op, const std::string &message) {
  throw ReferenceError(std::string(op) + ": " + message);
}

std::string pairToString(const std::array<int64_t, 2> &pair) {
  return "[" + std::to_string(pair[0]) + ", " + std::to_string(pair[1]) + "]";
}

/// A float operand of the given rank with non-empty dimensions; `dims` names
/// the dimensions for the message, e.g. "(N, C, H, W)".
void checkRank(const char *op, const std::string &what, const Tensor &t,
               int64_t rank, const char *dims) {
  if (t.dtype != DType::F32)
    fail(op, what + " must be f32, got " + dtypeName(t.dtype));
  if (t.rank() != rank)
    fail(op, what + " must have rank " + std::to_string(rank) + " " + dims +
                 ", got shape " + shapeToString(t.shape));
  for (int64_t d : t.shape)
    if (d < 1)
      fail(op, what + " must have non-empty dimensions, got shape " +
                   shapeToString(t.shape));
}

void checkShape(const char *op, const std::string &what, const Tensor &t,
                const Shape &expected, const char *dims) {
  if (t.dtype != DType::F32)
    fail(op, what + " must be f32, got " + dtypeName(t.dtype));
  if (t.shape != expected)
    fail(op, what + " must have shape " + shapeToString(expected) + " " + dims +
                 ", got " + shapeToString(t.shape));
}

void checkOptionalBias(const char *op, const Tensor *bias, int64_t outputs) {
  if (bias)
    checkShape(op, "bias", *bias, {outputs}, "(O)");
}

static void checkWindow(const char *op, const Window &window) {
  for (int i = 0; i < 2; ++i) {
    if (window.stride[i] < 1)
      fail(op, "stride must be >= 1, got " + pairToString(window.stride));
    if (window.dilation[i] < 1)
      fail(op, "dilation must be >= 1, got " + pairToString(window.dilation));
    if (window.padding[i] < 0)
      fail(op, "padding must be >= 0, got " + pairToString(window.padding));
  }
}

void checkEpsilon(const char *op, double epsilon, bool strictlyPositive) {
  if (!std::isfinite(epsilon) || epsilon < 0 ||
      (strictlyPositive && epsilon == 0))
    fail(op, std::string("epsilon must be ") +
                 (strictlyPositive ? "positive" : "non-negative") +
                 " and finite, got " + std::to_string(epsilon));
}

//===----------------------------------------------------------------------===//
// Sliding windows
//===----------------------------------------------------------------------===//

/// Validates x (rank 4), the kernel size and the window, and that the window
/// yields at least one output position.
Geometry makeGeometry(const char *op, const Tensor &x, int64_t kh, int64_t kw,
                      const Window &window, bool ceilMode) {
  checkRank(op, "input", x, 4, "(N, C, H, W)");
  if (kh < 1 || kw < 1)
    fail(op, "kernel size must be >= 1, got " + pairToString({kh, kw}));
  checkWindow(op, window);
  Geometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), kh, kw, 0, 0, window};
  g.ho = windowOutputSize(g.h, kh, window.stride[0], window.padding[0],
                          window.dilation[0], ceilMode);
  g.wo = windowOutputSize(g.w, kw, window.stride[1], window.padding[1],
                          window.dilation[1], ceilMode);
  if (g.ho < 1 || g.wo < 1)
    fail(op, "kernel " + std::to_string(kh) + "x" + std::to_string(kw) +
                 " with dilation " + pairToString(window.dilation) +
                 " does not fit the input " + shapeToString(x.shape) +
                 " padded by " + pairToString(window.padding) +
                 ": the output would be " + std::to_string(g.ho) + "x" +
                 std::to_string(g.wo));
  return g;
}

/// PyTorch's pooling rule: padding at most half the kernel, so that no window
/// lies entirely in the padding.
void checkPoolPadding(const char *op, std::array<int64_t, 2> kernelSize,
                      const Window &window) {
  for (int i = 0; i < 2; ++i)
    if (window.padding[i] > kernelSize[i] / 2)
      fail(op, "padding " + pairToString(window.padding) +
                   " must be at most half the kernel size " +
                   pairToString(kernelSize));
}

int64_t avgPoolDivisor(const Geometry &g, int64_t oy, int64_t ox,
                       bool countIncludePad) {
  // PyTorch's AvgPool2d kernel: the window [start, start + k) clipped to
  // the padded input [−p, in + p), then (without count_include_pad) to the
  // image [0, in).
  auto taps = [&](int64_t o, int i, int64_t in, int64_t k) {
    int64_t start = o * g.window.stride[i] - g.window.padding[i];
    int64_t end = std::min(start + k, in + g.window.padding[i]);
    if (countIncludePad)
      return end - start;
    return std::min(end, in) - std::max<int64_t>(start, 0);
  };
  return taps(oy, 0, g.h, g.kh) * taps(ox, 1, g.w, g.kw);
}

AdaptiveWindow adaptiveWindow(int64_t i, int64_t in, int64_t out) {
  return {i * in / out, ((i + 1) * in + out - 1) / out};
}

void checkAdaptivePool(const char *op, const Tensor &x,
                       std::array<int64_t, 2> outputSize) {
  checkRank(op, "input", x, 4, "(N, C, H, W)");
  if (outputSize[0] < 1 || outputSize[1] < 1)
    fail(op, "output size must be >= 1, got " + pairToString(outputSize));
}

/// X_p of sample n at output (oy, ox): patch[c·K + t], zero in the padding.
void gatherPatch(const Tensor &x, const Geometry &g, int64_t n, int64_t oy,
                 int64_t ox, std::vector<double> &patch) {
  int64_t taps = g.taps();
  patch.assign(static_cast<size_t>(g.c * taps), 0.0);
  for (int64_t t = 0; t < taps; ++t) {
    int64_t iy, ix;
    if (!g.source(oy, ox, t, iy, ix))
      continue;
    for (int64_t c = 0; c < g.c; ++c)
      patch[c * taps + t] = x.data[((n * g.c + c) * g.h + iy) * g.w + ix];
  }
}

//===----------------------------------------------------------------------===//
// Similarity matrices
//===----------------------------------------------------------------------===//

static const char *operandNames(Structure s) {
  switch (s) {
  case Structure::Identity:
    return "none";
  case Structure::Diagonal:
    return "m";
  case Structure::Full:
    return "M";
  case Structure::Cholesky:
    return "L";
  case Structure::ShapeMasked:
    return "d_r, R";
  }
  return "";
}

/// Checks the operands of `sim` for K taps. `conv` gives N, Ho, Wo of the
/// convolution that a dynamic similarity must align with; without it (linear
/// layers, folding) only static similarities are accepted.
void checkSimilarity(const char *op, const Similarity &sim, int64_t taps,
                     const Geometry *conv) {
  const std::string name = structureName(sim.structure);
  size_t expected = sim.structure == Structure::Identity      ? 0
                    : sim.structure == Structure::ShapeMasked ? 2
                                                              : 1;
  if (sim.operands.size() != expected)
    fail(op, "structure " + name + " takes " + std::to_string(expected) +
                 " similarity operand(s) (" + operandNames(sim.structure) +
                 "), got " + std::to_string(sim.operands.size()));
  if (sim.dynamic) {
    if (!conv)
      fail(op, "a dynamic similarity is only supported by sim_conv2d");
    if (sim.structure != Structure::Diagonal &&
        sim.structure != Structure::Full &&
        sim.structure != Structure::ShapeMasked)
      fail(op, "structure " + name +
                   " cannot be dynamic (dynamic structures: diagonal, full, "
                   "shape_masked)");
  }
  if (sim.structure == Structure::ShapeMasked && !std::isfinite(sim.alpha))
    fail(op, "shape_masked alpha must be finite");

  const Shape vec{taps}, mat{taps, taps};
  auto dynamicShape = [&](int64_t channels) {
    return Shape{conv->n, channels, conv->ho, conv->wo};
  };
  const std::string kind = (sim.dynamic ? "dynamic " : "static ") + name;
  switch (sim.structure) {
  case Structure::Identity:
    break;
  case Structure::Diagonal:
    if (sim.dynamic)
      checkShape(op, kind + " similarity", sim.operands[0], dynamicShape(taps),
                 "(N, K, Ho, Wo)");
    else
      checkShape(op, kind + " similarity m", sim.operands[0], vec, "(K)");
    break;
  case Structure::Full:
    if (sim.dynamic)
      checkShape(op, kind + " similarity", sim.operands[0],
                 dynamicShape(taps * taps), "(N, K*K, Ho, Wo)");
    else
      checkShape(op, kind + " similarity M", sim.operands[0], mat, "(K, K)");
    break;
  case Structure::Cholesky:
    checkShape(op, kind + " similarity L", sim.operands[0], mat, "(K, K)");
    break;
  case Structure::ShapeMasked: {
    checkShape(op, kind + " similarity d_r", sim.operands[0], vec, "(K)");
    const Tensor &r = sim.operands[1];
    Shape diagonalR = sim.dynamic ? dynamicShape(taps) : vec;
    Shape fullR = sim.dynamic ? dynamicShape(taps * taps) : mat;
    if (r.dtype != DType::F32 || (r.shape != diagonalR && r.shape != fullR))
      fail(op, kind + " similarity R must be f32 of shape " +
                   shapeToString(diagonalR) +
                   (sim.dynamic ? " (N, K, Ho, Wo) or " : " (K) or ") +
                   shapeToString(fullR) +
                   (sim.dynamic ? " (N, K*K, Ho, Wo)" : " (K, K)") + ", got " +
                   dtypeName(r.dtype) + " " + shapeToString(r.shape));
    break;
  }
  }
}

/// Element `index` of a similarity operand: row-major for a static one; for
/// a dynamic [N, channels, Ho, Wo] one, channel `index` of sample n at flat
/// output position p.
static double operandEntry(const Tensor &t, bool dynamic, int64_t index,
                           int64_t n, int64_t p) {
  if (!dynamic)
    return t.data[index];
  int64_t channels = t.dim(1), positions = t.dim(2) * t.dim(3);
  return t.data[(n * channels + index) * positions + p];
}

/// M (static) or M_p of sample n at flat output position p (dynamic), K×K
/// row-major, from operands already checked by checkSimilarity.
void similarityMatrix(const Similarity &sim, int64_t taps, int64_t n, int64_t p,
                      std::vector<double> &m) {
  const int64_t k = taps;
  m.assign(static_cast<size_t>(k * k), 0.0);
  auto entry = [&](size_t operand, int64_t index) {
    return operandEntry(sim.operands[operand], sim.dynamic, index, n, p);
  };
  switch (sim.structure) {
  case Structure::Identity:
    for (int64_t t = 0; t < k; ++t)
      m[t * k + t] = 1.0;
    break;
  case Structure::Diagonal:
    for (int64_t t = 0; t < k; ++t)
      m[t * k + t] = entry(0, t);
    break;
  case Structure::Full:
    for (int64_t i = 0; i < k * k; ++i)
      m[i] = entry(0, i);
    break;
  case Structure::Cholesky: {
    // (L·Lᵀ)[t,s] = Σ_j L[t,j]·L[s,j] over the lower triangle, j ≤ min(t,s).
    const std::vector<double> &l = sim.operands[0].data;
    for (int64_t t = 0; t < k; ++t)
      for (int64_t s = 0; s < k; ++s) {
        double sum = 0.0;
        for (int64_t j = 0; j <= std::min(t, s); ++j)
          sum += l[t * k + j] * l[s * k + j];
        m[t * k + s] = sum;
      }
    break;
  }
  case Structure::ShapeMasked: {
    const Tensor &r = sim.operands[1];
    bool diagonalR = sim.dynamic ? r.dim(1) == k : r.rank() == 1;
    for (int64_t t = 0; t < k; ++t) {
      if (!(sim.operands[0].data[t] > sim.alpha))
        continue; // D[t] = 0 masks the whole row
      if (diagonalR)
        m[t * k + t] = entry(1, t);
      else
        for (int64_t s = 0; s < k; ++s)
          m[t * k + s] = entry(1, t * k + s);
    }
    break;
  }
  }
}

/// rows'[r, s] = Σ_t rows[r, t]·M[t, s] over consecutive rows of length K:
/// the fold W' = W·M of conv and grouped linear weights alike.
void mixGroups(const double *x, int64_t length, const std::vector<double> &m,
               int64_t taps, double *mixed) {
  for (int64_t base = 0; base < length; base += taps)
    for (int64_t t = 0; t < taps; ++t) {
      double sum = 0.0;
      for (int64_t s = 0; s < taps; ++s)
        sum += m[t * taps + s] * x[base + s];
      mixed[base + t] = sum;
    }
}

std::vector<double> multiplyRows(const std::vector<double> &rows,
                                 const std::vector<double> &m, int64_t taps) {
  std::vector<double> out(rows.size(), 0.0);
  for (size_t base = 0; base < rows.size(); base += taps)
    for (int64_t s = 0; s < taps; ++s) {
      double sum = 0.0;
      for (int64_t t = 0; t < taps; ++t)
        sum += rows[base + t] * m[t * taps + s];
      out[base + s] = sum;
    }
  return out;
}

//===----------------------------------------------------------------------===//
// SphereConv
//===----------------------------------------------------------------------===//

/// g(θ) of DESIGN.md's SphereConv table for a given cos θ.
static double sphereActivation(SphereVariant variant, double cosTheta,
                               double k) {
  constexpr double pi = 3.14159265358979323846;
  switch (variant) {
  case SphereVariant::Cosine:
    return cosTheta;
  case SphereVariant::Linear: {
    // Clamped away from ±1, where acos' derivative is infinite; the backward
    // pass uses the same clamp.
    double c = std::clamp(cosTheta, -1.0 + 1e-6, 1.0 - 1e-6);
    return 1.0 - 2.0 * std::acos(c) / pi;
  }
  case SphereVariant::Sigmoid:
  case SphereVariant::LearnedSigmoid: {
    // |cos θ| < 1 thanks to ε; the clamp only guards acos against rounding.
    double theta = std::acos(std::clamp(cosTheta, -1.0, 1.0));
    double kappa =
        (1.0 + std::exp(-pi / (2 * k))) / (1.0 - std::exp(-pi / (2 * k)));
    double e = std::exp(theta / k - pi / (2 * k));
    return kappa * (1.0 - e) / (1.0 + e);
  }
  }
  return cosTheta;
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

/// x [N,C,...] and the four [C] parameters; returns the number of elements
/// per channel and sample (the product of the dims after C).
int64_t checkBatchNorm(const char *op, const Tensor &x, const Tensor &weight,
                       const Tensor &bias, const Tensor &runningMean,
                       const Tensor &runningVar, double epsilon) {
  if (x.rank() < 2)
    fail(op, "input must have rank >= 2 (N, C, ...), got shape " +
                 shapeToString(x.shape));
  checkRank(op, "input", x, x.rank(), "(N, C, ...)");
  Shape channels{x.dim(1)};
  checkShape(op, "weight", weight, channels, "(C)");
  checkShape(op, "bias", bias, channels, "(C)");
  checkShape(op, "running_mean", runningMean, channels, "(C)");
  checkShape(op, "running_var", runningVar, channels, "(C)");
  checkEpsilon(op, epsilon, false);
  int64_t inner = 1;
  for (int64_t i = 2; i < x.rank(); ++i)
    inner *= x.dim(i);
  return inner;
}

/// y = (x − mean[c]) / sqrt(var[c] + ε) · γ[c] + β[c] over channel dim 1.
static Tensor normalize(const char *op, const Tensor &x, const Tensor &weight,
                        const Tensor &bias, const std::vector<double> &mean,
                        const std::vector<double> &var, double epsilon,
                        int64_t inner) {
  int64_t channels = x.dim(1);
  for (int64_t c = 0; c < channels; ++c)
    if (!(var[c] + epsilon > 0))
      fail(op, "variance + epsilon of channel " + std::to_string(c) +
                   " must be positive, got " + std::to_string(var[c]) + " + " +
                   std::to_string(epsilon));
  Tensor y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t c = (i / inner) % channels;
    y.data[i] =
        (x.data[i] - mean[c]) / std::sqrt(var[c] + epsilon) * weight.data[c] +
        bias.data[c];
  }
  return y;
}

//===----------------------------------------------------------------------===//
// Operand checks of whole ops, shared with their VJPs (Gradients.cpp)
//===----------------------------------------------------------------------===//

Geometry checkSimConv2d(const char *op, const Tensor &x, const Tensor &w,
                        const Similarity &sim, const Tensor *bias,
                        const Window &window, int64_t groups) {
  checkRank(op, "input", x, 4, "(N, C, H, W)");
  checkRank(op, "weight", w, 4, "(O, C/groups, kh, kw)");
  if (groups < 1 || x.dim(1) % groups != 0 || w.dim(0) % groups != 0)
    fail(op, "groups = " + std::to_string(groups) +
                 " must be positive and divide the input channels (" +
                 std::to_string(x.dim(1)) + ") and the output channels (" +
                 std::to_string(w.dim(0)) + ")");
  if (w.dim(1) * groups != x.dim(1))
    fail(op, "weight " + shapeToString(w.shape) + " must have " +
                 std::to_string(x.dim(1) / groups) + " input channels" +
                 (groups == 1
                      ? std::string()
                      : " per group (" + std::to_string(groups) + " groups)") +
                 " to match the input " + shapeToString(x.shape));
  Geometry g = makeGeometry(op, x, w.dim(2), w.dim(3), window);
  checkOptionalBias(op, bias, w.dim(0));
  checkSimilarity(op, sim, g.taps(), &g);
  return g;
}

Geometry checkSphereConv2d(const char *op, const Tensor &x, const Tensor &w,
                           const Tensor *kParam, const SphereOptions &options,
                           const Window &window) {
  checkRank(op, "input", x, 4, "(N, C, H, W)");
  checkRank(op, "weight", w, 4, "(O, C, kh, kw)");
  if (w.dim(1) != x.dim(1))
    fail(op, "weight " + shapeToString(w.shape) + " must have " +
                 std::to_string(x.dim(1)) +
                 " input channels to match the input " +
                 shapeToString(x.shape));
  Geometry g = makeGeometry(op, x, w.dim(2), w.dim(3), window);
  const int64_t outputs = w.dim(0);
  const bool learned = options.variant == SphereVariant::LearnedSigmoid;
  if (learned && !kParam)
    fail(op, "the learned_sigmoid variant needs the k_param operand [O]");
  if (!learned && kParam)
    fail(op, std::string("k_param is only allowed with the learned_sigmoid "
                         "variant, not ") +
                 sphereVariantName(options.variant));
  if (kParam)
    checkShape(op, "k_param", *kParam, {outputs}, "(O)");
  if (options.inputOnly && options.variant != SphereVariant::Cosine)
    fail(op, std::string("input_only is only allowed with the cosine "
                         "variant, not ") +
                 sphereVariantName(options.variant));
  checkEpsilon(op, options.epsilon, true);
  if (options.variant == SphereVariant::Sigmoid &&
      !(options.sigmoidK > 0 && std::isfinite(options.sigmoidK)))
    fail(op, "sigmoid_k must be positive and finite, got " +
                 std::to_string(options.sigmoidK));
  return g;
}

int64_t checkPredictedSimilarity(const char *op, const Tensor &prediction,
                                 const Tensor &gamma, Structure structure) {
  checkRank(op, "prediction", prediction, 4, "(N, channels, Ho, Wo)");
  if (gamma.dtype != DType::F32 || gamma.numel() != 1 || gamma.rank() > 1)
    fail(op, "gamma must be an f32 scalar of shape [] or [1], got " +
                 std::string(dtypeName(gamma.dtype)) + " " +
                 shapeToString(gamma.shape));
  const int64_t channels = prediction.dim(1);
  int64_t taps = channels;
  if (structure == Structure::Full) {
    taps = static_cast<int64_t>(std::llround(std::sqrt(double(channels))));
    if (taps * taps != channels)
      fail(op, "a full prediction must have K*K channels (channel t*K+s is "
               "P[t,s]), got shape " +
                   shapeToString(prediction.shape));
  } else if (structure != Structure::Diagonal) {
    fail(op, std::string("structure must be diagonal or full, got ") +
                 structureName(structure));
  }
  return taps;
}

void checkSimLinear(const char *op, const Tensor &x, const Tensor &w,
                    const Similarity &sim, const Tensor *bias,
                    int64_t groupSize) {
  checkRank(op, "input", x, 2, "(N, F)");
  checkRank(op, "weight", w, 2, "(O, F)");
  const int64_t features = x.dim(1);
  if (w.dim(1) != features)
    fail(op, "weight " + shapeToString(w.shape) + " must have " +
                 std::to_string(features) +
                 " input features to match the input " +
                 shapeToString(x.shape));
  if (groupSize < 1 || features % groupSize != 0)
    fail(op, "group_size must be >= 1 and divide the " +
                 std::to_string(features) + " input features, got " +
                 std::to_string(groupSize));
  checkOptionalBias(op, bias, w.dim(0));
  checkSimilarity(op, sim, groupSize, nullptr);
}

int64_t checkFoldSimilarity(const char *op, const Tensor &w,
                            const Similarity &sim, int64_t groupSize) {
  int64_t taps = 0;
  if (w.rank() == 4 && groupSize == 0) {
    checkRank(op, "weight", w, 4, "(O, C, kh, kw)");
    taps = w.dim(2) * w.dim(3);
  } else if (w.rank() == 2 && groupSize >= 1) {
    checkRank(op, "weight", w, 2, "(O, F)");
    if (w.dim(1) % groupSize != 0)
      fail(op, "group_size " + std::to_string(groupSize) + " must divide the " +
                   std::to_string(w.dim(1)) + " features of the weight " +
                   shapeToString(w.shape));
    taps = groupSize;
  } else {
    fail(op, "the weight must be a conv weight [O, C, kh, kw] with "
             "group_size 0 or a linear weight [O, F] with group_size >= 1, "
             "got " +
                 shapeToString(w.shape) + " with group_size " +
                 std::to_string(groupSize));
  }
  checkSimilarity(op, sim, taps, nullptr);
  return taps;
}

Geometry checkAvgPool2d(const char *op, const Tensor &x,
                        std::array<int64_t, 2> kernelSize, const Window &window,
                        bool ceilMode) {
  if (window.dilation[0] != 1 || window.dilation[1] != 1)
    fail(op, "dilation must be [1, 1], got " + pairToString(window.dilation));
  Geometry g =
      makeGeometry(op, x, kernelSize[0], kernelSize[1], window, ceilMode);
  checkPoolPadding(op, kernelSize, window);
  return g;
}

void checkLinear(const char *op, const Tensor &x, const Tensor &w,
                 const Tensor *bias) {
  checkRank(op, "input", x, 2, "(N, F)");
  checkRank(op, "weight", w, 2, "(O, F)");
  if (w.dim(1) != x.dim(1))
    fail(op, "weight " + shapeToString(w.shape) + " must have " +
                 std::to_string(x.dim(1)) +
                 " input features to match the input " +
                 shapeToString(x.shape));
  checkOptionalBias(op, bias, w.dim(0));
}

void checkCrossEntropy(const char *op, const Tensor &logits,
                       const Tensor &labels, double labelSmoothing) {
  checkRank(op, "logits", logits, 2, "(N, C)");
  const int64_t batch = logits.dim(0), classes = logits.dim(1);
  if (labels.dtype != DType::I64 || labels.shape != Shape{batch})
    fail(op, "labels must be i64 of shape " + shapeToString({batch}) +
                 " (N), got " + dtypeName(labels.dtype) + " " +
                 shapeToString(labels.shape));
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
    fail(op, "label_smoothing must be in [0, 1], got " +
                 std::to_string(labelSmoothing));
  for (int64_t n = 0; n < batch; ++n) {
    double label = labels.data[n];
    if (!(label >= 0 && label < double(classes) && std::trunc(label) == label))
      fail(op, "labels[" + std::to_string(n) + "] = " + std::to_string(label) +
                   " is not a class in [0, " + std::to_string(classes) + ")");
  }
}

} // namespace detail

using namespace detail;

//===----------------------------------------------------------------------===//
// Names and window arithmetic
//===----------------------------------------------------------------------===//

int64_t windowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t padding, int64_t dilation, bool ceilMode) {
  if (stride < 1 || dilation < 1 || kernel < 1 || padding < 0)
    throw ReferenceError(
        "window: kernel, stride and dilation must be >= 1 and padding >= 0, "
        "got kernel " +
        std::to_string(kernel) + ", stride " + std::to_string(stride) +
        ", padding " + std::to_string(padding) + ", dilation " +
        std::to_string(dilation));
  int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
  if (ceilMode)
    span += stride - 1;
  // Floor division (as PyTorch), also for a negative span.
  int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  // ceil_mode: a last window starting at or past the input and its left
  // padding is dropped (PyTorch's pooling_output_shape).
  if (ceilMode && q * stride >= in + padding)
    --q;
  return q + 1;
}

const char *structureName(Structure s) {
  switch (s) {
  case Structure::Identity:
    return "identity";
  case Structure::Diagonal:
    return "diagonal";
  case Structure::Full:
    return "full";
  case Structure::Cholesky:
    return "cholesky";
  case Structure::ShapeMasked:
    return "shape_masked";
  }
  return "unknown";
}

Structure parseStructure(const std::string &name) {
  for (Structure s : {Structure::Identity, Structure::Diagonal, Structure::Full,
                      Structure::Cholesky, Structure::ShapeMasked})
    if (name == structureName(s))
      return s;
  throw ReferenceError("unknown similarity structure '" + name +
                       "' (expected identity, diagonal, full, cholesky or "
                       "shape_masked)");
}

const char *sphereVariantName(SphereVariant v) {
  switch (v) {
  case SphereVariant::Cosine:
    return "cosine";
  case SphereVariant::Linear:
    return "linear";
  case SphereVariant::Sigmoid:
    return "sigmoid";
  case SphereVariant::LearnedSigmoid:
    return "learned_sigmoid";
  }
  return "unknown";
}

SphereVariant parseSphereVariant(const std::string &name) {
  for (SphereVariant v :
       {SphereVariant::Cosine, SphereVariant::Linear, SphereVariant::Sigmoid,
        SphereVariant::LearnedSigmoid})
    if (name == sphereVariantName(v))
      return v;
  throw ReferenceError("unknown SphereConv variant '" + name +
                       "' (expected cosine, linear, sigmoid or "
                       "learned_sigmoid)");
}

//===----------------------------------------------------------------------===//
// Similarity ops
//===----------------------------------------------------------------------===//

Tensor staticSimilarityMatrix(const Similarity &sim, int64_t taps) {
  const char *op = "similarity";
  if (taps < 1)
    fail(op, "the number of taps K must be >= 1, got " + std::to_string(taps));
  checkSimilarity(op, sim, taps, nullptr);
  Tensor m({taps, taps});
  similarityMatrix(sim, taps, 0, 0, m.data);
  return m;
}

Tensor simConv2d(const Tensor &x, const Tensor &w, const Similarity &sim,
                 const Tensor *bias, const Window &window, int64_t groups) {
  const char *op = "sim_conv2d";
  Geometry g = checkSimConv2d(op, x, w, sim, bias, window, groups);
  const int64_t outputs = w.dim(0), taps = g.taps(), row = g.c * taps;
  // A group's weights and mixed patch: rowG values from group(o)·rowG.
  const int64_t rowG = row / groups, perGroup = outputs / groups;

  Tensor y({g.n, outputs, g.ho, g.wo});
  std::vector<double> patch, m, mixed(static_cast<size_t>(row));
  if (!sim.dynamic)
    similarityMatrix(sim, taps, 0, 0, m);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      if (sim.dynamic)
        similarityMatrix(sim, taps, n, p, m);
      // (M X_p)[c,t] = Σ_s M[t,s]·X_p[c,s], then Y = Σ_{c,t} W[o,c,t]·(M X_p).
      mixGroups(patch.data(), row, m, taps, mixed.data());
      for (int64_t o = 0; o < outputs; ++o) {
        double sum = bias ? bias->data[o] : 0.0;
        const double *group = mixed.data() + (o / perGroup) * rowG;
        for (int64_t i = 0; i < rowG; ++i)
          sum += w.data[o * rowG + i] * group[i];
        y.data[(n * outputs + o) * g.positions() + p] = sum;
      }
    }
  return y;
}

Tensor sphereConv2d(const Tensor &x, const Tensor &w, const Tensor *kParam,
                    const SphereOptions &options, const Window &window) {
  const char *op = "sphere_conv2d";
  Geometry g = checkSphereConv2d(op, x, w, kParam, options, window);
  const int64_t outputs = w.dim(0), row = g.c * g.taps();
  const bool learned = options.variant == SphereVariant::LearnedSigmoid;

  std::vector<double> weightNorm(static_cast<size_t>(outputs));
  for (int64_t o = 0; o < outputs; ++o) {
    double sum = 0.0;
    for (int64_t i = 0; i < row; ++i)
      sum += w.data[o * row + i] * w.data[o * row + i];
    weightNorm[o] = std::sqrt(sum + options.epsilon);
  }

  Tensor y({g.n, outputs, g.ho, g.wo});
  std::vector<double> patch;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      double squares = 0.0;
      for (double v : patch)
        squares += v * v;
      double patchNorm = std::sqrt(squares + options.epsilon);
      for (int64_t o = 0; o < outputs; ++o) {
        double dot = 0.0;
        for (int64_t i = 0; i < row; ++i)
          dot += w.data[o * row + i] * patch[i];
        double cosTheta = options.inputOnly ? dot / patchNorm
                                            : dot / (weightNorm[o] * patchNorm);
        double k =
            learned ? std::fabs(kParam->data[o]) + 0.05 : options.sigmoidK;
        y.data[(n * outputs + o) * g.positions() + p] =
            sphereActivation(options.variant, cosTheta, k);
      }
    }
  return y;
}

Tensor patchNorm(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, double epsilon) {
  const char *op = "patch_norm";
  Geometry g = makeGeometry(op, x, kernelSize[0], kernelSize[1], window);
  checkEpsilon(op, epsilon, false);
  Tensor y({g.n, 1, g.ho, g.wo});
  std::vector<double> patch;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      double squares = 0.0;
      for (double v : patch)
        squares += v * v;
      y.data[n * g.positions() + p] = std::sqrt(squares + epsilon);
    }
  return y;
}

Tensor predictedSimilarity(const Tensor &prediction, const Tensor &gamma,
                           Structure structure) {
  const char *op = "predicted_similarity";
  const int64_t taps =
      checkPredictedSimilarity(op, prediction, gamma, structure);
  const int64_t channels = prediction.dim(1);
  const double g = gamma.data[0];
  const int64_t positions = prediction.dim(2) * prediction.dim(3);
  Tensor y(prediction.shape);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t channel = (i / positions) % channels;
    // The identity's entries: every tap (diagonal), or channels t·K + t.
    bool onDiagonal =
        structure == Structure::Diagonal || channel / taps == channel % taps;
    y.data[i] = g * prediction.data[i] + (onDiagonal ? 1.0 : 0.0);
  }
  return y;
}

Tensor simLinear(const Tensor &x, const Tensor &w, const Similarity &sim,
                 const Tensor *bias, int64_t groupSize) {
  const char *op = "sim_linear";
  checkSimLinear(op, x, w, sim, bias, groupSize);
  const int64_t features = x.dim(1), outputs = w.dim(0);

  std::vector<double> m;
  similarityMatrix(sim, groupSize, 0, 0, m);
  // y[n,o] = Σ_{g,t} W[o, g·B+t]·(Σ_s M[t,s]·x[n, g·B+s]).
  std::vector<double> mixed(static_cast<size_t>(features));
  Tensor y({x.dim(0), outputs});
  for (int64_t n = 0; n < x.dim(0); ++n) {
    const double *xn = &x.data[n * features];
    mixGroups(xn, features, m, groupSize, mixed.data());
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = bias ? bias->data[o] : 0.0;
      for (int64_t f = 0; f < features; ++f)
        sum += w.data[o * features + f] * mixed[f];
      y.data[n * outputs + o] = sum;
    }
  }
  return y;
}

Tensor foldSimilarity(const Tensor &w, const Similarity &sim,
                      int64_t groupSize) {
  const char *op = "fold_similarity";
  const int64_t taps = checkFoldSimilarity(op, w, sim, groupSize);
  std::vector<double> m;
  similarityMatrix(sim, taps, 0, 0, m);
  return Tensor(w.shape, multiplyRows(w.data, m, taps));
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

Tensor batchNorm(const Tensor &x, const Tensor &weight, const Tensor &bias,
                 const Tensor &runningMean, const Tensor &runningVar,
                 double epsilon) {
  const char *op = "batch_norm";
  int64_t inner =
      checkBatchNorm(op, x, weight, bias, runningMean, runningVar, epsilon);
  return normalize(op, x, weight, bias, runningMean.data, runningVar.data,
                   epsilon, inner);
}

BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &weight,
                                    const Tensor &bias,
                                    const Tensor &runningMean,
                                    const Tensor &runningVar, double epsilon,
                                    double momentum) {
  const char *op = "batch_norm_train";
  int64_t inner =
      checkBatchNorm(op, x, weight, bias, runningMean, runningVar, epsilon);
  if (!(momentum >= 0 && momentum <= 1))
    fail(op, "momentum must be in [0, 1], got " + std::to_string(momentum));
  const int64_t channels = x.dim(1), count = x.dim(0) * inner;
  if (count < 2)
    fail(op, "training needs more than one value per channel, got input " +
                 shapeToString(x.shape));

  BatchNormTrainResult r;
  r.batchMean = Tensor({channels});
  r.batchVar = Tensor({channels});
  r.runningMean = Tensor({channels});
  r.runningVar = Tensor({channels});
  for (int64_t c = 0; c < channels; ++c) {
    // Two passes: the mean, then the squared deviations (numerically sound).
    double sum = 0.0;
    for (int64_t n = 0; n < x.dim(0); ++n)
      for (int64_t i = 0; i < inner; ++i)
        sum += x.data[(n * channels + c) * inner + i];
    double mean = sum / double(count), squares = 0.0;
    for (int64_t n = 0; n < x.dim(0); ++n)
      for (int64_t i = 0; i < inner; ++i) {
        double d = x.data[(n * channels + c) * inner + i] - mean;
        squares += d * d;
      }
    r.batchMean.data[c] = mean;
    r.batchVar.data[c] = squares / double(count);
    r.runningMean.data[c] =
        (1 - momentum) * runningMean.data[c] + momentum * mean;
    r.runningVar.data[c] = (1 - momentum) * runningVar.data[c] +
                           momentum * squares / double(count - 1);
  }
  r.output = normalize(op, x, weight, bias, r.batchMean.data, r.batchVar.data,
                       epsilon, inner);
  return r;
}

//===----------------------------------------------------------------------===//
// Pooling and the rest
//===----------------------------------------------------------------------===//

Tensor relu(const Tensor &x) {
  if (x.dtype != DType::F32)
    fail("relu", std::string("input must be f32, got ") + dtypeName(x.dtype));
  Tensor y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    y.data[i] = x.data[i] < 0 ? 0.0 : x.data[i]; // NaN propagates, as torch
  return y;
}

Tensor maxPool2d(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, bool ceilMode) {
  const char *op = "max_pool2d";
  Geometry g =
      makeGeometry(op, x, kernelSize[0], kernelSize[1], window, ceilMode);
  checkPoolPadding(op, kernelSize, window);
  Tensor y({g.n, g.c, g.ho, g.wo});
  for (int64_t plane = 0; plane < g.n * g.c; ++plane)
    for (int64_t p = 0; p < g.positions(); ++p) {
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t t = 0; t < g.taps(); ++t) {
        int64_t iy, ix;
        if (!g.source(p / g.wo, p % g.wo, t, iy, ix))
          continue; // padding (and a partial window's outside) is −∞
        double v = x.data[(plane * g.h + iy) * g.w + ix];
        if (v > best || std::isnan(v))
          best = v;
        if (std::isnan(best))
          break; // PyTorch propagates NaN
      }
      y.data[plane * g.positions() + p] = best;
    }
  return y;
}

Tensor avgPool2d(const Tensor &x, std::array<int64_t, 2> kernelSize,
                 const Window &window, bool countIncludePad, bool ceilMode) {
  Geometry g = checkAvgPool2d("avg_pool2d", x, kernelSize, window, ceilMode);
  Tensor y({g.n, g.c, g.ho, g.wo});
  for (int64_t plane = 0; plane < g.n * g.c; ++plane)
    for (int64_t p = 0; p < g.positions(); ++p) {
      double sum = 0.0;
      for (int64_t t = 0; t < g.taps(); ++t) {
        int64_t iy, ix;
        if (g.source(p / g.wo, p % g.wo, t, iy, ix))
          sum += x.data[(plane * g.h + iy) * g.w + ix];
      }
      y.data[plane * g.positions() + p] =
          sum / double(avgPoolDivisor(g, p / g.wo, p % g.wo, countIncludePad));
    }
  return y;
}

Tensor globalAvgPool2d(const Tensor &x) {
  checkRank("global_avg_pool2d", "input", x, 4, "(N, C, H, W)");
  const int64_t planes = x.dim(0) * x.dim(1), size = x.dim(2) * x.dim(3);
  Tensor y({x.dim(0), x.dim(1), 1, 1});
  for (int64_t plane = 0; plane < planes; ++plane) {
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i)
      sum += x.data[plane * size + i];
    y.data[plane] = sum / double(size);
  }
  return y;
}

/// An adaptive pool: `reduce(plane, rows, cols)` of every output position.
template <typename Reduce>
static Tensor adaptivePool(const char *op, const Tensor &x,
                           std::array<int64_t, 2> outputSize, Reduce reduce) {
  checkAdaptivePool(op, x, outputSize);
  const int64_t ho = outputSize[0], wo = outputSize[1];
  Tensor y({x.dim(0), x.dim(1), ho, wo});
  for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j)
        y.data[(plane * ho + i) * wo + j] =
            reduce(plane, adaptiveWindow(i, x.dim(2), ho),
                   adaptiveWindow(j, x.dim(3), wo));
  return y;
}

Tensor adaptiveAvgPool2d(const Tensor &x, std::array<int64_t, 2> outputSize) {
  return adaptivePool(
      "adaptive_avg_pool2d", x, outputSize,
      [&](int64_t plane, AdaptiveWindow rows, AdaptiveWindow cols) {
        double sum = 0.0;
        for (int64_t iy = rows.begin; iy < rows.end; ++iy)
          for (int64_t ix = cols.begin; ix < cols.end; ++ix)
            sum += x.data[(plane * x.dim(2) + iy) * x.dim(3) + ix];
        return sum / double((rows.end - rows.begin) * (cols.end - cols.begin));
      });
}

Tensor adaptiveMaxPool2d(const Tensor &x, std::array<int64_t, 2> outputSize) {
  return adaptivePool(
      "adaptive_max_pool2d", x, outputSize,
      [&](int64_t plane, AdaptiveWindow rows, AdaptiveWindow cols) {
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t iy = rows.begin; iy < rows.end; ++iy)
          for (int64_t ix = cols.begin; ix < cols.end; ++ix) {
            double v = x.data[(plane * x.dim(2) + iy) * x.dim(3) + ix];
            if (v > best || std::isnan(v))
              best = v;
            if (std::isnan(best))
              return best; // PyTorch propagates NaN
          }
        return best;
      });
}

Tensor linear(const Tensor &x, const Tensor &w, const Tensor *bias) {
  checkLinear("linear", x, w, bias);
  const int64_t features = x.dim(1), outputs = w.dim(0);
  Tensor y({x.dim(0), outputs});
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = bias ? bias->data[o] : 0.0;
      for (int64_t f = 0; f < features; ++f)
        sum += x.data[n * features + f] * w.data[o * features + f];
      y.data[n * outputs + o] = sum;
    }
  return y;
}

Tensor add(const Tensor &a, const Tensor &b) {
  if (a.shape != b.shape || a.dtype != b.dtype)
    fail("add", std::string("lhs ") + dtypeName(a.dtype) + " " +
                    shapeToString(a.shape) + " and rhs " + dtypeName(b.dtype) +
                    " " + shapeToString(b.shape) +
                    " must have the same dtype and shape (no broadcasting)");
  Tensor y(a.shape, a.dtype);
  for (int64_t i = 0; i < a.numel(); ++i)
    y.data[i] = a.data[i] + b.data[i];
  return y;
}

Tensor flatten(const Tensor &x) {
  if (x.rank() < 2)
    fail("flatten", "input must have rank >= 2 (N, d1, ...), got shape " +
                        shapeToString(x.shape));
  int64_t features = 1;
  for (int64_t i = 1; i < x.rank(); ++i)
    features *= x.dim(i);
  return Tensor({x.dim(0), features}, x.data, x.dtype);
}

namespace detail {
Shape concatShape(const char *op, const std::vector<Tensor> &inputs,
                  int64_t dim) {
  if (inputs.empty())
    fail(op, "needs at least one input");
  Shape result = inputs.front().shape;
  const int64_t rank = static_cast<int64_t>(result.size());
  if (rank < 2 || dim < 1 || dim >= rank)
    fail(op, "dim " + std::to_string(dim) +
                 " must be after the batch dimension of inputs of rank >= 2 "
                 "(shape " +
                 shapeToString(result) + ")");
  for (size_t i = 1; i < inputs.size(); ++i) {
    const Shape &shape = inputs[i].shape;
    bool fits = static_cast<int64_t>(shape.size()) == rank;
    for (int64_t d = 0; fits && d < rank; ++d)
      fits = d == dim || shape[d] == result[d];
    if (!fits)
      fail(op, "input " + std::to_string(i) + " " + shapeToString(shape) +
                   " must have the shape of input 0 " +
                   shapeToString(inputs.front().shape) + " but along dim " +
                   std::to_string(dim));
    result[dim] += shape[dim];
  }
  return result;
}
} // namespace detail

Tensor concat(const std::vector<Tensor> &inputs, int64_t dim) {
  Tensor y(concatShape("concat", inputs, dim));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= y.dim(d);
  for (int64_t d = dim + 1; d < y.rank(); ++d)
    inner *= y.dim(d);
  int64_t offset = 0; // along dim
  for (const Tensor &x : inputs) {
    const int64_t block = x.dim(dim) * inner;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < block; ++i)
        y.data[(o * y.dim(dim) + offset) * inner + i] = x.data[o * block + i];
    offset += x.dim(dim);
  }
  return y;
}

Tensor softmaxCrossEntropy(const Tensor &logits, const Tensor &labels,
                           double labelSmoothing) {
  checkCrossEntropy("softmax_cross_entropy", logits, labels, labelSmoothing);
  const int64_t batch = logits.dim(0), classes = logits.dim(1);
  double total = 0.0;
  for (int64_t n = 0; n < batch; ++n) {
    double label = labels.data[n];
    // log p[c] = z[c] − logsumexp(z), stable with the max subtracted.
    const double *z = &logits.data[n * classes];
    double maxLogit = z[0];
    for (int64_t c = 1; c < classes; ++c)
      maxLogit = std::max(maxLogit, z[c]);
    double sumExp = 0.0, sumLogits = 0.0;
    for (int64_t c = 0; c < classes; ++c) {
      sumExp += std::exp(z[c] - maxLogit);
      sumLogits += z[c];
    }
    double logSumExp = maxLogit + std::log(sumExp);
    double nll = logSumExp - z[static_cast<int64_t>(label)];
    double smooth = logSumExp - sumLogits / double(classes);
    total += (1 - labelSmoothing) * nll + labelSmoothing * smooth;
  }
  return Tensor(Shape{}, {total / double(batch)});
}

} // namespace nsl::reference
