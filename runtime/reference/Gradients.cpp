//===- Gradients.cpp - Reference VJPs of every nsl op ---------------------===//
//
// Each VJP retraces its forward function of Ops.cpp (the same patches,
// similarity matrices and operand checks, shared through Window.h) and runs
// the chain rule backwards through it with plain loops and double
// accumulation. Clarity over speed: these are the oracle of the compiled
// training step, checked against finite differences and PyTorch autograd.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Gradients.h"
#include "runtime/reference/Window.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nsl::reference {

using namespace detail;

namespace {

constexpr double kPi = 3.14159265358979323846;

/// The upstream gradient of an op must have its forward output's shape.
void checkUpstream(const char *op, const Tensor &gradOutput,
                   const Shape &expected, const char *dims) {
  checkShape(op, "upstream gradient", gradOutput, expected, dims);
}

/// PyTorch's sign: −1, 0 or +1 (0 at 0, so |x| passes no gradient there).
double sign(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

/// Adds a patch gradient dpatch[c·K + t] into the pixels of x under the
/// window at (n, p); taps in the padding have no pixel and are dropped.
void scatterPatch(const std::vector<double> &dpatch, const Geometry &g,
                  int64_t n, int64_t p, Tensor &dx) {
  const int64_t taps = g.taps();
  for (int64_t t = 0; t < taps; ++t) {
    int64_t iy, ix;
    if (!g.source(p / g.wo, p % g.wo, t, iy, ix))
      continue;
    for (int64_t c = 0; c < g.c; ++c)
      dx.data[((n * g.c + c) * g.h + iy) * g.w + ix] += dpatch[c * taps + t];
  }
}

//===----------------------------------------------------------------------===//
// Similarity operands
//===----------------------------------------------------------------------===//

/// D[t] of shape_masked: the step 1[d_r[t] > α].
bool tapKept(const Similarity &sim, int64_t t) {
  return sim.operands[0].data[t] > sim.alpha;
}

/// The gradients of a static similarity's operands from G_M (K×K row-major);
/// operands already checked.
std::vector<Tensor> staticOperandGrads(const Similarity &sim, int64_t k,
                                       const std::vector<double> &gm) {
  std::vector<Tensor> grads;
  switch (sim.structure) {
  case Structure::Identity:
    break;
  case Structure::Diagonal: {
    Tensor dm({k});
    for (int64_t t = 0; t < k; ++t)
      dm.data[t] = gm[t * k + t];
    grads.push_back(std::move(dm));
    break;
  }
  case Structure::Full:
    grads.emplace_back(Shape{k, k}, gm);
    break;
  case Structure::Cholesky: {
    // M = L̃·L̃ᵀ with L̃ = tril(L): ∂L̃ = (G + Gᵀ)·L̃, and only the lower
    // triangle of L reaches M, so the upper triangle gets zero.
    // ∂L[t,j] = Σ_{s ≥ j} (G[t,s] + G[s,t])·L[s,j] for j ≤ t.
    const std::vector<double> &l = sim.operands[0].data;
    Tensor dl({k, k});
    for (int64_t t = 0; t < k; ++t)
      for (int64_t j = 0; j <= t; ++j) {
        double sum = 0.0;
        for (int64_t s = j; s < k; ++s)
          sum += (gm[t * k + s] + gm[s * k + t]) * l[s * k + j];
        dl.data[t * k + j] = sum;
      }
    grads.push_back(std::move(dl));
    break;
  }
  case Structure::ShapeMasked: {
    // M[t,s] = D[t]·R[t,s] with D a step of d_r: straight-through for d_r
    // (as if D were d_r itself), exact for R.
    const Tensor &r = sim.operands[1];
    const bool diagonalR = r.rank() == 1;
    Tensor ddr({k}), dr(r.shape);
    for (int64_t t = 0; t < k; ++t) {
      const double kept = tapKept(sim, t) ? 1.0 : 0.0;
      if (diagonalR) {
        ddr.data[t] = gm[t * k + t] * r.data[t];
        dr.data[t] = kept * gm[t * k + t];
        continue;
      }
      for (int64_t s = 0; s < k; ++s) {
        ddr.data[t] += gm[t * k + s] * r.data[t * k + s];
        dr.data[t * k + s] = kept * gm[t * k + s];
      }
    }
    grads.push_back(std::move(ddr));
    grads.push_back(std::move(dr));
    break;
  }
  }
  return grads;
}

/// Zero gradients with the shapes of the similarity's operands.
std::vector<Tensor> zeroOperandGrads(const Similarity &sim) {
  std::vector<Tensor> grads;
  for (const Tensor &operand : sim.operands)
    grads.emplace_back(operand.shape);
  return grads;
}

/// Adds G_Mp (the gradient of M_p of sample n at flat position p) into the
/// gradients of a dynamic similarity's operands.
void accumulateDynamicGrads(const Similarity &sim, int64_t k, int64_t n,
                            int64_t p, const std::vector<double> &gm,
                            std::vector<Tensor> &grads) {
  // Channel `index` of a dynamic [N, channels, Ho, Wo] operand at (n, p).
  auto at = [n, p](const Tensor &t, int64_t index) {
    int64_t channels = t.dim(1), positions = t.dim(2) * t.dim(3);
    return static_cast<size_t>((n * channels + index) * positions + p);
  };
  switch (sim.structure) {
  case Structure::Diagonal: // DNS: only the diagonal of M_p is an operand
    for (int64_t t = 0; t < k; ++t)
      grads[0].data[at(grads[0], t)] += gm[t * k + t];
    break;
  case Structure::Full: // UNS
    for (int64_t i = 0; i < k * k; ++i)
      grads[0].data[at(grads[0], i)] += gm[i];
    break;
  case Structure::ShapeMasked: {
    // d_r is static: its straight-through gradient sums over n and p.
    const Tensor &r = sim.operands[1];
    const bool diagonalR = r.dim(1) == k;
    for (int64_t t = 0; t < k; ++t) {
      const double kept = tapKept(sim, t) ? 1.0 : 0.0;
      if (diagonalR) {
        size_t i = at(r, t);
        grads[0].data[t] += gm[t * k + t] * r.data[i];
        grads[1].data[i] += kept * gm[t * k + t];
        continue;
      }
      for (int64_t s = 0; s < k; ++s) {
        size_t i = at(r, t * k + s);
        grads[0].data[t] += gm[t * k + s] * r.data[i];
        grads[1].data[i] += kept * gm[t * k + s];
      }
    }
    break;
  }
  case Structure::Identity:
  case Structure::Cholesky:
    break; // never dynamic (checkSimilarity)
  }
}

//===----------------------------------------------------------------------===//
// SphereConv
//===----------------------------------------------------------------------===//

/// θ = acos(cos θ) of the sigmoid variants (the clamp only guards acos).
double sigmoidTheta(double cosTheta) {
  return std::acos(std::clamp(cosTheta, -1.0, 1.0));
}

/// ∂g/∂k of the sigmoid variants at θ: g = κ(k)·(1 − e)/(1 + e) with
/// e = exp((θ − π/2)/k) and κ = (1 + q)/(1 − q), q = exp(−π/(2k)).
double sigmoidDerivativeInK(double theta, double k) {
  const double e = std::exp(theta / k - kPi / (2 * k));
  const double q = std::exp(-kPi / (2 * k));
  const double kappa = (1 + q) / (1 - q);
  const double dKappa = q * kPi / (k * k * (1 - q) * (1 - q));
  const double dE = -e * (theta - kPi / 2) / (k * k);
  return dKappa * (1 - e) / (1 + e) - kappa * 2 / ((1 + e) * (1 + e)) * dE;
}

//===----------------------------------------------------------------------===//
// Regularisers
//===----------------------------------------------------------------------===//

void checkStrength(const char *op, double strength) {
  if (!std::isfinite(strength))
    fail(op, "strength must be finite, got " + std::to_string(strength));
}

/// W_f·W_fᵀ − I for the weight viewed as [O, F] (checked).
std::vector<double> gramResidual(const char *op, const Tensor &w,
                                 int64_t &outputs, int64_t &features) {
  if (w.rank() < 2)
    fail(op, "weight must have rank >= 2 (O, ...), got shape " +
                 shapeToString(w.shape));
  checkRank(op, "weight", w, w.rank(), "(O, ...)");
  outputs = w.dim(0);
  features = w.numel() / outputs;
  std::vector<double> residual(static_cast<size_t>(outputs * outputs));
  for (int64_t i = 0; i < outputs; ++i)
    for (int64_t j = 0; j < outputs; ++j) {
      double sum = 0.0;
      for (int64_t f = 0; f < features; ++f)
        sum += w.data[i * features + f] * w.data[j * features + f];
      residual[i * outputs + j] = sum - (i == j ? 1.0 : 0.0);
    }
  return residual;
}

} // namespace

//===----------------------------------------------------------------------===//
// Similarities
//===----------------------------------------------------------------------===//

std::vector<Tensor> staticSimilarityVJP(const Similarity &sim, int64_t taps,
                                        const Tensor &gradMatrix) {
  const char *op = "similarity VJP";
  if (taps < 1)
    fail(op, "the number of taps K must be >= 1, got " + std::to_string(taps));
  checkSimilarity(op, sim, taps, nullptr);
  checkUpstream(op, gradMatrix, {taps, taps}, "(K, K)");
  return staticOperandGrads(sim, taps, gradMatrix.data);
}

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

SimConv2dGrads simConv2dVJP(const Tensor &x, const Tensor &w,
                            const Similarity &sim, const Tensor *bias,
                            const Window &window, const Tensor &gradOutput,
                            int64_t groups) {
  const char *op = "sim_conv2d VJP";
  Geometry g = checkSimConv2d(op, x, w, sim, bias, window, groups);
  const int64_t outputs = w.dim(0), k = g.taps(), row = g.c * k;
  const int64_t rowG = row / groups, perGroup = outputs / groups;
  checkUpstream(op, gradOutput, {g.n, outputs, g.ho, g.wo}, "(N, O, Ho, Wo)");

  SimConv2dGrads grads;
  grads.input = Tensor(x.shape);
  grads.weight = Tensor(w.shape);
  if (bias)
    grads.bias = Tensor({outputs});
  if (sim.dynamic)
    grads.similarity = zeroOperandGrads(sim);
  std::vector<double> staticGm(static_cast<size_t>(k * k), 0.0);

  std::vector<double> patch, m, mixed(row), dmixed(row), dpatch(row), gm(k * k);
  if (!sim.dynamic)
    similarityMatrix(sim, k, 0, 0, m);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      if (sim.dynamic)
        similarityMatrix(sim, k, n, p, m);
      // Forward: mixed[c,t] = Σ_s M_p[t,s]·X_p[c,s], Y = Σ W[o,c,t]·mixed.
      mixGroups(patch.data(), row, m, k, mixed.data());
      // ∂W += G·mixed, ∂bias += G, ∂mixed[c,t] = Σ_o G[n,o,p]·W[o,c,t].
      std::fill(dmixed.begin(), dmixed.end(), 0.0);
      for (int64_t o = 0; o < outputs; ++o) {
        const double gy =
            gradOutput.data[(n * outputs + o) * g.positions() + p];
        if (bias)
          grads.bias->data[o] += gy;
        const int64_t offset = (o / perGroup) * rowG;
        for (int64_t i = 0; i < rowG; ++i) {
          grads.weight.data[o * rowG + i] += gy * mixed[offset + i];
          dmixed[offset + i] += gy * w.data[o * rowG + i];
        }
      }
      // ∂X_p[c,s] = Σ_t ∂mixed[c,t]·M_p[t,s]; ∂M_p[t,s] = Σ_c
      // ∂mixed[c,t]·X_p[c,s].
      for (int64_t c = 0; c < g.c; ++c)
        for (int64_t s = 0; s < k; ++s) {
          double sum = 0.0;
          for (int64_t t = 0; t < k; ++t)
            sum += dmixed[c * k + t] * m[t * k + s];
          dpatch[c * k + s] = sum;
        }
      scatterPatch(dpatch, g, n, p, grads.input);
      if (sim.structure == Structure::Identity)
        continue;
      for (int64_t t = 0; t < k; ++t)
        for (int64_t s = 0; s < k; ++s) {
          double sum = 0.0;
          for (int64_t c = 0; c < g.c; ++c)
            sum += dmixed[c * k + t] * patch[c * k + s];
          gm[t * k + s] = sum;
        }
      if (sim.dynamic)
        accumulateDynamicGrads(sim, k, n, p, gm, grads.similarity);
      else
        for (int64_t i = 0; i < k * k; ++i)
          staticGm[i] += gm[i];
    }
  if (!sim.dynamic)
    grads.similarity = staticOperandGrads(sim, k, staticGm);
  return grads;
}

double sphereActivationDerivative(SphereVariant variant, double cosTheta,
                                  double k) {
  switch (variant) {
  case SphereVariant::Cosine:
    return 1.0;
  case SphereVariant::Linear: {
    // PyTorch's clamp passes the gradient inside the closed interval.
    constexpr double lo = -1.0 + 1e-6, hi = 1.0 - 1e-6;
    if (!(cosTheta >= lo && cosTheta <= hi))
      return 0.0;
    // g = 1 − 2·acos(c)/π, acos'(c) = −1/sqrt(1 − c²).
    return 2.0 / (kPi * std::sqrt(1.0 - cosTheta * cosTheta));
  }
  case SphereVariant::Sigmoid:
  case SphereVariant::LearnedSigmoid: {
    if (!(cosTheta >= -1.0 && cosTheta <= 1.0))
      return 0.0; // outside acos's guard clamp
    // dg/dθ = −2κe/(k(1 + e)²), dθ/dcos = −1/sqrt(1 − cos²).
    const double theta = sigmoidTheta(cosTheta);
    const double e = std::exp(theta / k - kPi / (2 * k));
    const double q = std::exp(-kPi / (2 * k));
    const double kappa = (1 + q) / (1 - q);
    const double dTheta = -2 * kappa * e / (k * (1 + e) * (1 + e));
    return dTheta * (-1.0 / std::sqrt(1.0 - cosTheta * cosTheta));
  }
  }
  return 0.0;
}

SphereConv2dGrads sphereConv2dVJP(const Tensor &x, const Tensor &w,
                                  const Tensor *kParam,
                                  const SphereOptions &options,
                                  const Window &window,
                                  const Tensor &gradOutput) {
  const char *op = "sphere_conv2d VJP";
  Geometry g = checkSphereConv2d(op, x, w, kParam, options, window);
  const int64_t outputs = w.dim(0), row = g.c * g.taps();
  checkUpstream(op, gradOutput, {g.n, outputs, g.ho, g.wo}, "(N, O, Ho, Wo)");
  const bool learned = options.variant == SphereVariant::LearnedSigmoid;

  std::vector<double> weightNorm(static_cast<size_t>(outputs));
  for (int64_t o = 0; o < outputs; ++o) {
    double sum = 0.0;
    for (int64_t i = 0; i < row; ++i)
      sum += w.data[o * row + i] * w.data[o * row + i];
    weightNorm[o] = std::sqrt(sum + options.epsilon);
  }

  SphereConv2dGrads grads;
  grads.input = Tensor(x.shape);
  grads.weight = Tensor(w.shape);
  if (learned)
    grads.kParam = Tensor({outputs});
  std::vector<double> patch, dpatch(row);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      double squares = 0.0;
      for (double v : patch)
        squares += v * v;
      const double patchNorm = std::sqrt(squares + options.epsilon);
      std::fill(dpatch.begin(), dpatch.end(), 0.0);
      for (int64_t o = 0; o < outputs; ++o) {
        const double *wo = &w.data[o * row];
        double dot = 0.0;
        for (int64_t i = 0; i < row; ++i)
          dot += wo[i] * patch[i];
        const double norms =
            options.inputOnly ? patchNorm : weightNorm[o] * patchNorm;
        const double cosTheta = dot / norms;
        const double k =
            learned ? std::fabs(kParam->data[o]) + 0.05 : options.sigmoidK;
        const double gy =
            gradOutput.data[(n * outputs + o) * g.positions() + p];
        if (learned)
          grads.kParam->data[o] +=
              gy * sigmoidDerivativeInK(sigmoidTheta(cosTheta), k) *
              sign(kParam->data[o]);
        // cos θ = dot/(‖w‖‖x‖): ∂dot = u/(‖w‖‖x‖), ∂‖·‖ = −u·cos θ/‖·‖, and
        // ∂‖v‖/∂v = v/‖v‖ (ε only shifts the norm).
        const double u =
            gy * sphereActivationDerivative(options.variant, cosTheta, k);
        const double dDot = u / norms;
        const double dPatchNorm = -u * cosTheta / patchNorm;
        const double dWeightNorm =
            options.inputOnly ? 0.0 : -u * cosTheta / weightNorm[o];
        double *dwo = &grads.weight.data[o * row];
        for (int64_t i = 0; i < row; ++i) {
          dwo[i] += dDot * patch[i] + dWeightNorm * wo[i] / weightNorm[o];
          dpatch[i] += dDot * wo[i] + dPatchNorm * patch[i] / patchNorm;
        }
      }
      scatterPatch(dpatch, g, n, p, grads.input);
    }
  return grads;
}

Tensor patchNormVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, double epsilon,
                    const Tensor &gradOutput) {
  const char *op = "patch_norm VJP";
  Geometry g = makeGeometry(op, x, kernelSize[0], kernelSize[1], window);
  checkEpsilon(op, epsilon, false);
  checkUpstream(op, gradOutput, {g.n, 1, g.ho, g.wo}, "(N, 1, Ho, Wo)");
  Tensor dx(x.shape);
  std::vector<double> patch;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t p = 0; p < g.positions(); ++p) {
      gatherPatch(x, g, n, p / g.wo, p % g.wo, patch);
      double squares = 0.0;
      for (double v : patch)
        squares += v * v;
      // ∂sqrt(Σ x² + ε)/∂x = x/‖x_p‖.
      const double scale =
          gradOutput.data[n * g.positions() + p] / std::sqrt(squares + epsilon);
      for (double &v : patch)
        v *= scale;
      scatterPatch(patch, g, n, p, dx);
    }
  return dx;
}

PredictedSimilarityGrads predictedSimilarityVJP(const Tensor &prediction,
                                                const Tensor &gamma,
                                                Structure structure,
                                                const Tensor &gradOutput) {
  const char *op = "predicted_similarity VJP";
  checkPredictedSimilarity(op, prediction, gamma, structure);
  checkUpstream(op, gradOutput, prediction.shape, "(N, channels, Ho, Wo)");
  PredictedSimilarityGrads grads;
  grads.prediction = Tensor(prediction.shape);
  double dGamma = 0.0;
  for (int64_t i = 0; i < prediction.numel(); ++i) {
    grads.prediction.data[i] = gamma.data[0] * gradOutput.data[i];
    dGamma += gradOutput.data[i] * prediction.data[i];
  }
  grads.gamma = Tensor(gamma.shape, {dGamma});
  return grads;
}

//===----------------------------------------------------------------------===//
// Linear layers and folding
//===----------------------------------------------------------------------===//

SimLinearGrads simLinearVJP(const Tensor &x, const Tensor &w,
                            const Similarity &sim, const Tensor *bias,
                            int64_t groupSize, const Tensor &gradOutput) {
  const char *op = "sim_linear VJP";
  checkSimLinear(op, x, w, sim, bias, groupSize);
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  const int64_t k = groupSize;
  checkUpstream(op, gradOutput, {batch, outputs}, "(N, O)");

  SimLinearGrads grads;
  grads.input = Tensor(x.shape);
  grads.weight = Tensor(w.shape);
  if (bias)
    grads.bias = Tensor({outputs});
  std::vector<double> m, gm(static_cast<size_t>(k * k), 0.0);
  similarityMatrix(sim, k, 0, 0, m);
  std::vector<double> mixed(features), dmixed(features);
  for (int64_t n = 0; n < batch; ++n) {
    const double *xn = &x.data[n * features];
    mixGroups(xn, features, m, k, mixed.data());
    std::fill(dmixed.begin(), dmixed.end(), 0.0);
    for (int64_t o = 0; o < outputs; ++o) {
      const double gy = gradOutput.data[n * outputs + o];
      if (bias)
        grads.bias->data[o] += gy;
      for (int64_t f = 0; f < features; ++f) {
        grads.weight.data[o * features + f] += gy * mixed[f];
        dmixed[f] += gy * w.data[o * features + f];
      }
    }
    // The groups play the channels of the similarity conv's VJP.
    double *dxn = &grads.input.data[n * features];
    for (int64_t base = 0; base < features; base += k)
      for (int64_t t = 0; t < k; ++t)
        for (int64_t s = 0; s < k; ++s) {
          dxn[base + s] += dmixed[base + t] * m[t * k + s];
          gm[t * k + s] += dmixed[base + t] * xn[base + s];
        }
  }
  grads.similarity = staticOperandGrads(sim, k, gm);
  return grads;
}

FoldSimilarityGrads foldSimilarityVJP(const Tensor &w, const Similarity &sim,
                                      int64_t groupSize,
                                      const Tensor &gradOutput) {
  const char *op = "fold_similarity VJP";
  const int64_t k = checkFoldSimilarity(op, w, sim, groupSize);
  checkUpstream(op, gradOutput, w.shape, "(the weight's shape)");
  std::vector<double> m, gm(static_cast<size_t>(k * k), 0.0);
  similarityMatrix(sim, k, 0, 0, m);
  FoldSimilarityGrads grads;
  grads.weight = Tensor(w.shape);
  // W'[r,s] = Σ_t W[r,t]·M[t,s] per row r of K taps.
  for (int64_t base = 0; base < w.numel(); base += k)
    for (int64_t t = 0; t < k; ++t)
      for (int64_t s = 0; s < k; ++s) {
        const double gws = gradOutput.data[base + s];
        grads.weight.data[base + t] += gws * m[t * k + s];
        gm[t * k + s] += w.data[base + t] * gws;
      }
  grads.similarity = staticOperandGrads(sim, k, gm);
  return grads;
}

LinearGrads linearVJP(const Tensor &x, const Tensor &w, const Tensor *bias,
                      const Tensor &gradOutput) {
  const char *op = "linear VJP";
  checkLinear(op, x, w, bias);
  const int64_t batch = x.dim(0), features = x.dim(1), outputs = w.dim(0);
  checkUpstream(op, gradOutput, {batch, outputs}, "(N, O)");
  LinearGrads grads;
  grads.input = Tensor(x.shape);
  grads.weight = Tensor(w.shape);
  if (bias)
    grads.bias = Tensor({outputs});
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      const double gy = gradOutput.data[n * outputs + o];
      if (bias)
        grads.bias->data[o] += gy;
      for (int64_t f = 0; f < features; ++f) {
        grads.input.data[n * features + f] += gy * w.data[o * features + f];
        grads.weight.data[o * features + f] += gy * x.data[n * features + f];
      }
    }
  return grads;
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

namespace {

/// 1/sqrt(var[c] + ε), with the forward's check that it exists.
std::vector<double> inverseStd(const char *op, const std::vector<double> &var,
                               double epsilon) {
  std::vector<double> inv(var.size());
  for (size_t c = 0; c < var.size(); ++c) {
    if (!(var[c] + epsilon > 0))
      fail(op, "variance + epsilon of channel " + std::to_string(c) +
                   " must be positive, got " + std::to_string(var[c]) + " + " +
                   std::to_string(epsilon));
    inv[c] = 1.0 / std::sqrt(var[c] + epsilon);
  }
  return inv;
}

} // namespace

BatchNormGrads batchNormVJP(const Tensor &x, const Tensor &weight,
                            const Tensor &bias, const Tensor &runningMean,
                            const Tensor &runningVar, double epsilon,
                            const Tensor &gradOutput) {
  const char *op = "batch_norm VJP";
  const int64_t inner =
      checkBatchNorm(op, x, weight, bias, runningMean, runningVar, epsilon);
  checkUpstream(op, gradOutput, x.shape, "(the input's shape)");
  const int64_t channels = x.dim(1);
  std::vector<double> inv = inverseStd(op, runningVar.data, epsilon);
  BatchNormGrads grads{Tensor(x.shape), Tensor({channels}), Tensor({channels})};
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    const double gy = gradOutput.data[i];
    grads.input.data[i] = gy * weight.data[c] * inv[c];
    grads.weight.data[c] += gy * (x.data[i] - runningMean.data[c]) * inv[c];
    grads.bias.data[c] += gy;
  }
  return grads;
}

BatchNormGrads batchNormTrainVJP(const Tensor &x, const Tensor &weight,
                                 const Tensor &bias, const Tensor &runningMean,
                                 const Tensor &runningVar, double epsilon,
                                 double momentum, const Tensor &gradOutput) {
  const char *op = "batch_norm_train VJP";
  const int64_t inner =
      checkBatchNorm(op, x, weight, bias, runningMean, runningVar, epsilon);
  if (!(momentum >= 0 && momentum <= 1))
    fail(op, "momentum must be in [0, 1], got " + std::to_string(momentum));
  const int64_t channels = x.dim(1), count = x.dim(0) * inner;
  if (count < 2)
    fail(op, "training needs more than one value per channel, got input " +
                 shapeToString(x.shape));
  checkUpstream(op, gradOutput, x.shape, "(the input's shape)");

  // The batch statistics, as the forward computes them (two passes).
  std::vector<double> mean(channels, 0.0), var(channels, 0.0);
  for (int64_t i = 0; i < x.numel(); ++i)
    mean[(i / inner) % channels] += x.data[i];
  for (double &v : mean)
    v /= double(count);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    var[c] += (x.data[i] - mean[c]) * (x.data[i] - mean[c]);
  }
  for (double &v : var)
    v /= double(count);
  std::vector<double> inv = inverseStd(op, var, epsilon);

  // ∂β = ΣG, ∂γ = ΣG·x̂; the mean and variance carry the rest:
  // ∂x = γ/σ·(G − ΣG/count − x̂·ΣG·x̂/count).
  BatchNormGrads grads{Tensor(x.shape), Tensor({channels}), Tensor({channels})};
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    const double normalized = (x.data[i] - mean[c]) * inv[c];
    grads.weight.data[c] += gradOutput.data[i] * normalized;
    grads.bias.data[c] += gradOutput.data[i];
  }
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    const double normalized = (x.data[i] - mean[c]) * inv[c];
    grads.input.data[i] =
        weight.data[c] * inv[c] *
        (gradOutput.data[i] - grads.bias.data[c] / double(count) -
         normalized * grads.weight.data[c] / double(count));
  }
  return grads;
}

//===----------------------------------------------------------------------===//
// Pooling and the rest
//===----------------------------------------------------------------------===//

Tensor reluVJP(const Tensor &x, const Tensor &gradOutput) {
  const char *op = "relu VJP";
  if (x.dtype != DType::F32)
    fail(op, std::string("input must be f32, got ") + dtypeName(x.dtype));
  checkUpstream(op, gradOutput, x.shape, "(the input's shape)");
  Tensor dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    // PyTorch's threshold_backward: zero where x <= 0, so 0 at the kink
    // (NaN passes the gradient, as there).
    dx.data[i] = x.data[i] <= 0 ? 0.0 : gradOutput.data[i];
  return dx;
}

Tensor maxPool2dVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, const Tensor &gradOutput,
                    bool ceilMode) {
  const char *op = "max_pool2d VJP";
  Geometry g =
      makeGeometry(op, x, kernelSize[0], kernelSize[1], window, ceilMode);
  checkPoolPadding(op, kernelSize, window);
  checkUpstream(op, gradOutput, {g.n, g.c, g.ho, g.wo}, "(N, C, Ho, Wo)");
  Tensor dx(x.shape);
  for (int64_t plane = 0; plane < g.n * g.c; ++plane)
    for (int64_t p = 0; p < g.positions(); ++p) {
      // PyTorch's CPU kernel: start at the first pixel in the image, take a
      // later one only if strictly greater (ties: the first wins) or NaN.
      int64_t argmax = -1;
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t t = 0; t < g.taps(); ++t) {
        int64_t iy, ix;
        if (!g.source(p / g.wo, p % g.wo, t, iy, ix))
          continue; // padding never wins
        const int64_t index = (plane * g.h + iy) * g.w + ix;
        const double v = x.data[index];
        if (argmax < 0)
          argmax = index;
        if (v > best || std::isnan(v)) {
          best = v;
          argmax = index;
        }
      }
      dx.data[argmax] += gradOutput.data[plane * g.positions() + p];
    }
  return dx;
}

Tensor avgPool2dVJP(const Tensor &x, std::array<int64_t, 2> kernelSize,
                    const Window &window, bool countIncludePad,
                    const Tensor &gradOutput, bool ceilMode) {
  const char *op = "avg_pool2d VJP";
  Geometry g = checkAvgPool2d(op, x, kernelSize, window, ceilMode);
  checkUpstream(op, gradOutput, {g.n, g.c, g.ho, g.wo}, "(N, C, Ho, Wo)");
  Tensor dx(x.shape);
  for (int64_t plane = 0; plane < g.n * g.c; ++plane)
    for (int64_t p = 0; p < g.positions(); ++p) {
      int64_t iy, ix;
      const double share =
          gradOutput.data[plane * g.positions() + p] /
          double(avgPoolDivisor(g, p / g.wo, p % g.wo, countIncludePad));
      for (int64_t t = 0; t < g.taps(); ++t)
        if (g.source(p / g.wo, p % g.wo, t, iy, ix))
          dx.data[(plane * g.h + iy) * g.w + ix] += share;
    }
  return dx;
}

Tensor globalAvgPool2dVJP(const Tensor &x, const Tensor &gradOutput) {
  const char *op = "global_avg_pool2d VJP";
  checkRank(op, "input", x, 4, "(N, C, H, W)");
  checkUpstream(op, gradOutput, {x.dim(0), x.dim(1), 1, 1}, "(N, C, 1, 1)");
  const int64_t size = x.dim(2) * x.dim(3);
  Tensor dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i)
    dx.data[i] = gradOutput.data[i / size] / double(size);
  return dx;
}

/// Calls `visit(plane, rows, cols, g)` for every output position of an
/// adaptive pool with its upstream gradient g, after the checks.
template <typename Visit>
static void adaptivePoolVJP(const char *op, const Tensor &x,
                            std::array<int64_t, 2> outputSize,
                            const Tensor &gradOutput, Visit visit) {
  checkAdaptivePool(op, x, outputSize);
  const int64_t ho = outputSize[0], wo = outputSize[1];
  checkUpstream(op, gradOutput, {x.dim(0), x.dim(1), ho, wo}, "(N, C, Ho, Wo)");
  for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j)
        visit(plane, adaptiveWindow(i, x.dim(2), ho),
              adaptiveWindow(j, x.dim(3), wo),
              gradOutput.data[(plane * ho + i) * wo + j]);
}

Tensor adaptiveAvgPool2dVJP(const Tensor &x, std::array<int64_t, 2> outputSize,
                            const Tensor &gradOutput) {
  Tensor dx(x.shape);
  adaptivePoolVJP(
      "adaptive_avg_pool2d VJP", x, outputSize, gradOutput,
      [&](int64_t plane, AdaptiveWindow rows, AdaptiveWindow cols, double g) {
        const double share =
            g / double((rows.end - rows.begin) * (cols.end - cols.begin));
        for (int64_t iy = rows.begin; iy < rows.end; ++iy)
          for (int64_t ix = cols.begin; ix < cols.end; ++ix)
            dx.data[(plane * x.dim(2) + iy) * x.dim(3) + ix] += share;
      });
  return dx;
}

Tensor adaptiveMaxPool2dVJP(const Tensor &x, std::array<int64_t, 2> outputSize,
                            const Tensor &gradOutput) {
  Tensor dx(x.shape);
  adaptivePoolVJP(
      "adaptive_max_pool2d VJP", x, outputSize, gradOutput,
      [&](int64_t plane, AdaptiveWindow rows, AdaptiveWindow cols, double g) {
        // PyTorch's CPU kernel: the first pixel, then a later one only if
        // strictly greater or NaN.
        int64_t argmax =
            (plane * x.dim(2) + rows.begin) * x.dim(3) + cols.begin;
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t iy = rows.begin; iy < rows.end; ++iy)
          for (int64_t ix = cols.begin; ix < cols.end; ++ix) {
            const int64_t index = (plane * x.dim(2) + iy) * x.dim(3) + ix;
            if (x.data[index] > best || std::isnan(x.data[index])) {
              best = x.data[index];
              argmax = index;
            }
          }
        dx.data[argmax] += g;
      });
  return dx;
}

AddGrads addVJP(const Tensor &a, const Tensor &b, const Tensor &gradOutput) {
  const char *op = "add VJP";
  if (a.shape != b.shape || a.dtype != b.dtype)
    fail(op, std::string("lhs ") + dtypeName(a.dtype) + " " +
                 shapeToString(a.shape) + " and rhs " + dtypeName(b.dtype) +
                 " " + shapeToString(b.shape) +
                 " must have the same dtype and shape (no broadcasting)");
  if (a.dtype != DType::F32)
    fail(op, std::string("integer (") + dtypeName(a.dtype) +
                 ") operands have no gradient");
  checkUpstream(op, gradOutput, a.shape, "(the operands' shape)");
  return {gradOutput, gradOutput};
}

Tensor flattenVJP(const Tensor &x, const Tensor &gradOutput) {
  const char *op = "flatten VJP";
  if (x.rank() < 2)
    fail(op, "input must have rank >= 2 (N, d1, ...), got shape " +
                 shapeToString(x.shape));
  int64_t features = 1;
  for (int64_t i = 1; i < x.rank(); ++i)
    features *= x.dim(i);
  checkUpstream(op, gradOutput, {x.dim(0), features}, "(N, d1*d2*...)");
  return Tensor(x.shape, gradOutput.data);
}

std::vector<Tensor> concatVJP(const std::vector<Tensor> &inputs, int64_t dim,
                              const Tensor &gradOutput) {
  const char *op = "concat VJP";
  Shape shape = concatShape(op, inputs, dim);
  checkUpstream(op, gradOutput, shape, "(the concatenation's shape)");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= shape[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  std::vector<Tensor> grads;
  int64_t offset = 0;
  for (const Tensor &x : inputs) {
    Tensor g(x.shape);
    const int64_t block = x.dim(dim) * inner;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < block; ++i)
        g.data[o * block + i] =
            gradOutput.data[(o * shape[dim] + offset) * inner + i];
    offset += x.dim(dim);
    grads.push_back(std::move(g));
  }
  return grads;
}

Tensor softmaxCrossEntropyVJP(const Tensor &logits, const Tensor &labels,
                              double labelSmoothing, const Tensor &gradLoss) {
  const char *op = "softmax_cross_entropy VJP";
  checkCrossEntropy(op, logits, labels, labelSmoothing);
  checkUpstream(op, gradLoss, Shape{}, "(a scalar)");
  const int64_t batch = logits.dim(0), classes = logits.dim(1);
  // d/dz of (1−ε)(lse − z_y) + ε(lse − mean z): softmax − (1−ε)·onehot − ε/C.
  const double scale = gradLoss.data[0] / double(batch);
  Tensor dz(logits.shape);
  for (int64_t n = 0; n < batch; ++n) {
    const double *z = &logits.data[n * classes];
    const double maxLogit = *std::max_element(z, z + classes);
    double sumExp = 0.0;
    for (int64_t c = 0; c < classes; ++c)
      sumExp += std::exp(z[c] - maxLogit);
    const int64_t label = static_cast<int64_t>(labels.data[n]);
    for (int64_t c = 0; c < classes; ++c) {
      double target = labelSmoothing / double(classes) +
                      (c == label ? 1.0 - labelSmoothing : 0.0);
      dz.data[n * classes + c] =
          scale * (std::exp(z[c] - maxLogit) / sumExp - target);
    }
  }
  return dz;
}

//===----------------------------------------------------------------------===//
// Regularisers
//===----------------------------------------------------------------------===//

Tensor l1Regularizer(const Tensor &m, double strength) {
  const char *op = "l1_regularizer";
  checkRank(op, "similarity", m, m.rank(), "");
  checkStrength(op, strength);
  double sum = 0.0;
  for (double v : m.data)
    sum += std::fabs(v);
  return Tensor(Shape{}, {strength * sum});
}

Tensor l1RegularizerVJP(const Tensor &m, double strength,
                        const Tensor &gradLoss) {
  const char *op = "l1_regularizer VJP";
  checkRank(op, "similarity", m, m.rank(), "");
  checkStrength(op, strength);
  checkUpstream(op, gradLoss, Shape{}, "(a scalar)");
  Tensor dm(m.shape);
  for (int64_t i = 0; i < m.numel(); ++i)
    dm.data[i] = gradLoss.data[0] * strength * sign(m.data[i]);
  return dm;
}

Tensor orthogonalityRegularizer(const Tensor &w, double strength) {
  const char *op = "orthogonality_regularizer";
  checkStrength(op, strength);
  int64_t outputs, features;
  std::vector<double> residual = gramResidual(op, w, outputs, features);
  double sum = 0.0;
  for (double v : residual)
    sum += v * v;
  return Tensor(Shape{}, {strength * sum});
}

Tensor orthogonalityRegularizerVJP(const Tensor &w, double strength,
                                   const Tensor &gradLoss) {
  const char *op = "orthogonality_regularizer VJP";
  checkStrength(op, strength);
  int64_t outputs, features;
  std::vector<double> residual = gramResidual(op, w, outputs, features);
  checkUpstream(op, gradLoss, Shape{}, "(a scalar)");
  // d‖E‖² = 2⟨E, dW·Wᵀ + W·dWᵀ⟩ = 4⟨E·W, dW⟩ for the symmetric E.
  const double scale = 4.0 * strength * gradLoss.data[0];
  Tensor dw(w.shape);
  for (int64_t i = 0; i < outputs; ++i)
    for (int64_t f = 0; f < features; ++f) {
      double sum = 0.0;
      for (int64_t j = 0; j < outputs; ++j)
        sum += residual[i * outputs + j] * w.data[j * features + f];
      dw.data[i * features + f] = scale * sum;
    }
  return dw;
}

} // namespace nsl::reference
