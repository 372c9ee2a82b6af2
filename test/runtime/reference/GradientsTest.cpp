//===- GradientsTest.cpp - Reference VJPs against finite differences ------===//
//
// Every VJP of runtime/reference/Gradients.h is checked against central
// finite differences of its forward function in float64: for a fresh random
// upstream gradient v, the gradient of φ = ⟨v, f(operands)⟩ with respect to
// every element of every differentiable operand (full Jacobian columns
// contracted with v, on small shapes: stride 2, padding 1 and 2, dilation 2,
// odd and non-square sizes, batch 1), step h = 1e-6, relative error
// ‖vjp − fd‖₂/‖fd‖₂ ≤ 1e-6 per operand (the central difference's own error
// is O(h²) plus rounding of about 1e-16·|φ|/h; observed ~1e-9).
//
// Inputs are uniform(−1, 1), never zero, and kept away from the kinks (relu
// and L1 at 0, max-pool ties, the linear SphereConv's clamp, |k'| at 0), whose
// conventions are tested separately with exact expected values. The
// straight-through gradient of shape_masked's d_r is no derivative of the
// forward (a step), so it is checked against the formula
// ∂d_r[t] = Σ_s G_M[t,s]·R[t,s] with G_M computed independently: by finite
// differences over a full M (or M_p) that stands for diag(D)·R.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Gradients.h"
#include "test/runtime/reference/TestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>

using namespace nsl::reference;
using namespace nsl::reference::test;

namespace {

constexpr double kStep = 1e-6;
constexpr double kTolerance = 1e-6;
constexpr double kPi = 3.14159265358979323846;

class Random {
public:
  explicit Random(uint32_t seed) : engine(seed) {}
  /// uniform(−1, 1) with |v| >= margin (never zero).
  double next(double margin = 0.0) {
    double v;
    do
      v = dist(engine);
    while (v == 0.0 || std::fabs(v) < margin);
    return v;
  }
  Tensor tensor(Shape shape, double margin = 0.0) {
    Tensor t(std::move(shape));
    for (double &v : t.data)
      v = next(margin);
    return t;
  }
  Tensor positive(Shape shape) {
    Tensor t = tensor(std::move(shape));
    for (double &v : t.data)
      v = 0.25 + std::fabs(v);
    return t;
  }
  /// Values in (−1, 1) at least 2/numel apart, shuffled: no two elements
  /// of a pooling window come within a finite-difference step of a tie.
  Tensor distinct(Shape shape) {
    Tensor t(std::move(shape));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data[i] = (2.0 * double(i) + 1.0) / double(t.numel()) - 1.0;
    std::shuffle(t.data.begin(), t.data.end(), engine);
    return t;
  }

private:
  std::mt19937 engine;
  std::uniform_real_distribution<double> dist{-1.0, 1.0};
};

/// The worst relative error of all successful comparisons, printed at the
/// end of the run (the tolerance's margin).
struct Worst {
  double relative = 0, absolute = 0;
  std::string what;
};
Worst &worst() {
  static Worst w;
  return w;
}

class ReportWorst : public ::testing::Environment {
public:
  void TearDown() override {
    std::printf("[ worst    ] relative error %.3g (max abs %.3g) in %s\n",
                worst().relative, worst().absolute, worst().what.c_str());
  }
};
const auto *const kReportWorst =
    ::testing::AddGlobalTestEnvironment(new ReportWorst);

::testing::AssertionResult close(const Tensor &y, const Tensor &r,
                                 double tolerance = kTolerance,
                                 const std::string &what = "") {
  if (y.shape != r.shape)
    return ::testing::AssertionFailure()
           << "shape " << shapeToString(y.shape) << ", expected "
           << shapeToString(r.shape);
  Difference d = difference(y, r);
  if (d.relative <= tolerance && std::isfinite(d.diff)) {
    if (d.relative > worst().relative)
      worst() = {
          d.relative, d.maxAbs,
          ::testing::UnitTest::GetInstance()->current_test_info()->name() +
              std::string(" ") + what};
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "relative error " << d.relative << " > " << tolerance
         << ", max abs error " << d.maxAbs;
}

double inner(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  double sum = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i)
    sum += a.data[i] * b.data[i];
  return sum;
}

/// ∂φ/∂t elementwise by central differences; φ reads t by reference.
Tensor numericGradient(Tensor &t, const std::function<double()> &phi) {
  Tensor grad(t.shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double saved = t.data[i];
    t.data[i] = saved + kStep;
    const double plus = phi();
    t.data[i] = saved - kStep;
    const double minus = phi();
    t.data[i] = saved;
    grad.data[i] = (plus - minus) / (2 * kStep);
  }
  return grad;
}

/// Expects `vjp` to be the gradient of ⟨v, forward()⟩ with respect to
/// `operand`, which forward() reads by reference.
void expectGradient(const std::string &what, const Tensor &vjp, Tensor &operand,
                    const std::function<Tensor()> &forward, const Tensor &v) {
  Tensor numeric =
      numericGradient(operand, [&] { return inner(v, forward()); });
  EXPECT_TRUE(close(vjp, numeric, kTolerance, what)) << "∂" << what;
}

/// Stride 2, padding 0/1/2, dilation 2, batch 1, odd and non-square sizes and
/// kernels, a 1×1 kernel.
std::vector<Geometry> geometries() {
  return {
      {2, 3, 6, 5, 3, 3, 3, makeWindow({1, 1}, {1, 1}, {1, 1})},
      {1, 2, 7, 6, 2, 3, 3, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {2, 2, 7, 6, 3, 3, 2, makeWindow({1, 2}, {2, 1}, {2, 2})},
      {1, 3, 5, 5, 2, 2, 3, makeWindow({2, 1}, {1, 1}, {1, 2})},
      {2, 2, 4, 5, 2, 5, 5, makeWindow({1, 1}, {2, 2}, {1, 1})},
      {2, 3, 3, 4, 2, 1, 1, makeWindow({2, 2}, {0, 0}, {1, 1})},
  };
}

/// Every static structure with fresh random operands; shape_masked with
/// both forms of R and some taps masked (d_r below α = 0.2).
std::vector<std::pair<std::string, Similarity>> staticSimilarities(Random &rng,
                                                                   int64_t k) {
  std::vector<std::pair<std::string, Similarity>> sims;
  sims.emplace_back("identity", makeSimilarity(Structure::Identity, {}));
  sims.emplace_back("diagonal",
                    makeSimilarity(Structure::Diagonal, {rng.tensor({k})}));
  sims.emplace_back("full",
                    makeSimilarity(Structure::Full, {rng.tensor({k, k})}));
  // The upper triangle of L is random too: it must get zero gradient.
  sims.emplace_back("cholesky",
                    makeSimilarity(Structure::Cholesky, {rng.tensor({k, k})}));
  Tensor dr = rng.tensor({k});
  dr.data[0] = -0.5; // at least one tap masked
  sims.emplace_back("shape_masked_full_R",
                    makeSimilarity(Structure::ShapeMasked,
                                   {dr, rng.tensor({k, k})}, false, 0.2));
  sims.emplace_back("shape_masked_diagonal_R",
                    makeSimilarity(Structure::ShapeMasked,
                                   {dr, rng.tensor({k})}, false, 0.2));
  return sims;
}

/// Dynamic structures for a convolution of geometry g.
std::vector<std::pair<std::string, Similarity>>
dynamicSimilarities(Random &rng, const Geometry &g) {
  const int64_t k = g.taps(), n = g.n, ho = g.ho(), wo = g.wo();
  std::vector<std::pair<std::string, Similarity>> sims;
  sims.emplace_back("DNS", makeSimilarity(Structure::Diagonal,
                                          {rng.tensor({n, k, ho, wo})}, true));
  sims.emplace_back(
      "UNS",
      makeSimilarity(Structure::Full, {rng.tensor({n, k * k, ho, wo})}, true));
  Tensor dr = rng.tensor({k});
  dr.data[k - 1] = -0.5; // at least one tap masked
  sims.emplace_back("shape_masked_full_R",
                    makeSimilarity(Structure::ShapeMasked,
                                   {dr, rng.tensor({n, k * k, ho, wo})}, true,
                                   -0.3));
  sims.emplace_back("shape_masked_diagonal_R",
                    makeSimilarity(Structure::ShapeMasked,
                                   {dr, rng.tensor({n, k, ho, wo})}, true,
                                   -0.3));
  return sims;
}

/// The straight-through ∂d_r of a shape_masked similarity, computed
/// independently of Gradients.cpp: G_M (or G_Mp) by finite differences of
/// φ over a full similarity standing for diag(D)·R (static [K,K] or dynamic
/// [N,K·K,Ho,Wo]), then ∂d_r[t] = Σ_{(n,p),s} G_M[t,s]·R[t,s].
Tensor straightThroughDr(const Similarity &masked, int64_t k,
                         const std::function<double(const Similarity &)> &phi) {
  const Tensor &dr = masked.operands[0], &r = masked.operands[1];
  const bool diagonalR = masked.dynamic ? r.dim(1) == k : r.rank() == 1;
  // R[t,s] of position `at` (static: at = 0), zero off the diagonal of a
  // diagonal R.
  const int64_t positions = masked.dynamic ? r.dim(2) * r.dim(3) : 1;
  const int64_t samples = masked.dynamic ? r.dim(0) : 1;
  auto rAt = [&](int64_t n, int64_t p, int64_t t, int64_t s) {
    if (diagonalR && t != s)
      return 0.0;
    int64_t channel = diagonalR ? t : t * k + s;
    int64_t channels = diagonalR ? k : k * k;
    return r.data[(n * channels + channel) * positions + p];
  };
  Tensor fullOperand = masked.dynamic
                           ? Tensor({samples, k * k, r.dim(2), r.dim(3)})
                           : Tensor({k, k});
  for (int64_t n = 0; n < samples; ++n)
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t t = 0; t < k; ++t)
        for (int64_t s = 0; s < k; ++s)
          fullOperand.data[(n * k * k + t * k + s) * positions + p] =
              dr.data[t] > masked.alpha ? rAt(n, p, t, s) : 0.0;
  Similarity full =
      makeSimilarity(Structure::Full, {fullOperand}, masked.dynamic);
  Tensor gm = numericGradient(full.operands[0], [&] { return phi(full); });
  Tensor expected({k});
  for (int64_t n = 0; n < samples; ++n)
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t t = 0; t < k; ++t)
        for (int64_t s = 0; s < k; ++s)
          expected.data[t] += gm.data[(n * k * k + t * k + s) * positions + p] *
                              rAt(n, p, t, s);
  return expected;
}

/// Checks the gradients of every similarity operand: by finite differences
/// except d_r (straight-through formula); cholesky's upper triangle must be
/// exactly zero.
void expectSimilarityGrads(
    const std::string &name, Similarity &sim, const std::vector<Tensor> &grads,
    int64_t k, const std::function<double(const Similarity &)> &phi) {
  ASSERT_EQ(grads.size(), sim.operands.size()) << name;
  for (size_t i = 0; i < grads.size(); ++i) {
    ASSERT_EQ(grads[i].shape, sim.operands[i].shape)
        << name << " operand " << i;
    if (sim.structure == Structure::ShapeMasked && i == 0) {
      EXPECT_TRUE(close(grads[0], straightThroughDr(sim, k, phi), kTolerance,
                        name + " d_r"))
          << name << ": straight-through ∂d_r";
      continue;
    }
    Tensor numeric = numericGradient(sim.operands[i], [&] { return phi(sim); });
    EXPECT_TRUE(close(grads[i], numeric, kTolerance, name))
        << name << ": ∂ similarity operand " << i;
  }
  if (sim.structure == Structure::Cholesky)
    for (int64_t t = 0; t < k; ++t)
      for (int64_t s = t + 1; s < k; ++s)
        EXPECT_EQ(grads[0].data[t * k + s], 0.0)
            << name << " ∂L upper " << t << "," << s;
}

//===----------------------------------------------------------------------===//
// Similarity convolution
//===----------------------------------------------------------------------===//

void checkSimConv(Random &rng, const Geometry &g, const std::string &name,
                  Similarity sim) {
  Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
  Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
  Tensor bias = rng.tensor({g.o});
  Tensor v = rng.tensor({g.n, g.o, g.ho(), g.wo()});
  for (Tensor *b : {&bias, static_cast<Tensor *>(nullptr)}) {
    SCOPED_TRACE(name + (b ? " with bias, " : " no bias, ") + describe(g));
    SimConv2dGrads grads = simConv2dVJP(x, w, sim, b, g.window, v);
    auto forward = [&] { return simConv2d(x, w, sim, b, g.window); };
    expectGradient("input", grads.input, x, forward, v);
    expectGradient("weight", grads.weight, w, forward, v);
    ASSERT_EQ(grads.bias.has_value(), b != nullptr);
    if (b)
      expectGradient("bias", *grads.bias, *b, forward, v);
    if (b) // (the bias does not reach the similarity's gradients)
      expectSimilarityGrads(name, sim, grads.similarity, g.taps(),
                            [&](const Similarity &s) {
                              return inner(v, simConv2d(x, w, s, b, g.window));
                            });
  }
}

TEST(SimConv2dVJPTest, StaticStructuresMatchFiniteDifferences) {
  Random rng(1);
  for (const Geometry &g : geometries())
    for (auto &[name, sim] : staticSimilarities(rng, g.taps()))
      checkSimConv(rng, g, name, sim);
}

TEST(SimConv2dVJPTest, DynamicStructuresMatchFiniteDifferences) {
  Random rng(2);
  for (const Geometry &g : geometries())
    for (auto &[name, sim] : dynamicSimilarities(rng, g))
      checkSimConv(rng, g, name, sim);
}

TEST(SimConv2dVJPTest, StaticSimilarityVJPMatchesFiniteDifferences) {
  Random rng(3);
  for (int64_t k : {1, 4, 9})
    for (auto &[name, sim] : staticSimilarities(rng, k)) {
      SCOPED_TRACE(name + " K=" + std::to_string(k));
      Tensor gm = rng.tensor({k, k});
      std::vector<Tensor> grads = staticSimilarityVJP(sim, k, gm);
      expectSimilarityGrads(name, sim, grads, k, [&](const Similarity &s) {
        return inner(gm, staticSimilarityMatrix(s, k));
      });
    }
}

TEST(SimConv2dVJPTest, ShapeMaskedFormulasExactly) {
  // K = 2, G_M = [[1, 2], [3, 4]], R = [[5, 6], [7, 8]], tap 1 masked.
  Tensor gm({2, 2}, {1, 2, 3, 4});
  Similarity full =
      makeSimilarity(Structure::ShapeMasked,
                     {Tensor({2}, {0.5, -0.5}), Tensor({2, 2}, {5, 6, 7, 8})});
  std::vector<Tensor> g = staticSimilarityVJP(full, 2, gm);
  EXPECT_EQ(g[0].data, (std::vector<double>{1 * 5 + 2 * 6, 3 * 7 + 4 * 8}));
  EXPECT_EQ(g[1].data, (std::vector<double>{1, 2, 0, 0}));
  Similarity diagonal = makeSimilarity(
      Structure::ShapeMasked, {Tensor({2}, {-0.5, 0.5}), Tensor({2}, {5, 8})});
  g = staticSimilarityVJP(diagonal, 2, gm);
  EXPECT_EQ(g[0].data, (std::vector<double>{1 * 5, 4 * 8}));
  EXPECT_EQ(g[1].data, (std::vector<double>{0, 4}));
}

TEST(SimConv2dVJPTest, CholeskyFormula) {
  // ∂L = tril((G + Gᵀ)·tril(L)) for K = 2.
  Tensor gm({2, 2}, {1, 2, 3, 4}), l({2, 2}, {1, 9, 2, 3});
  std::vector<Tensor> g =
      staticSimilarityVJP(makeSimilarity(Structure::Cholesky, {l}), 2, gm);
  // G + Gᵀ = [[2, 5], [5, 8]], tril(L) = [[1, 0], [2, 3]].
  EXPECT_EQ(g[0].data, (std::vector<double>{2 + 10, 0, 5 + 16, 24}));
}

//===----------------------------------------------------------------------===//
// SphereConv, patch norm, predicted similarity
//===----------------------------------------------------------------------===//

TEST(SphereConv2dVJPTest, AllVariantsMatchFiniteDifferences) {
  Random rng(4);
  for (const Geometry &g : geometries())
    for (int v = 0; v < 5; ++v) {
      SphereOptions options;
      options.inputOnly = v == 4;
      options.variant = v == 4 ? SphereVariant::Cosine : SphereVariant(v);
      options.sigmoidK = g.kh == 5 ? 0.45 : 0.3;
      options.epsilon = g.n == 1 ? 0.01 : 1e-4;
      SCOPED_TRACE(std::string(sphereVariantName(options.variant)) +
                   (options.inputOnly ? " input_only, " : ", ") + describe(g));
      // Far from (anti)parallel patches and filters: away from the linear
      // variant's clamp and from acos's steep ends, where finite differences
      // lose their accuracy. (Few taps and channels make |cos θ| near 1
      // likely enough to draw again.)
      Tensor x, w;
      double maxCos = 1.0;
      for (int attempt = 0; attempt < 100 && maxCos > 0.98; ++attempt) {
        x = rng.tensor({g.n, g.c, g.h, g.w});
        w = rng.tensor({g.o, g.c, g.kh, g.kw});
        maxCos = 0.0;
        for (double cosTheta :
             sphereConv2d(x, w, nullptr, SphereOptions{}, g.window).data)
          maxCos = std::max(maxCos, std::fabs(cosTheta));
      }
      ASSERT_LE(maxCos, 0.98);
      // |k'| >= 0.05 keeps the finite differences off the kink of |k'|.
      Tensor k = rng.tensor({g.o}, 0.05);
      const bool learned = options.variant == SphereVariant::LearnedSigmoid;
      Tensor *kParam = learned ? &k : nullptr;
      Tensor up = rng.tensor({g.n, g.o, g.ho(), g.wo()});
      auto forward = [&] {
        return sphereConv2d(x, w, kParam, options, g.window);
      };
      SphereConv2dGrads grads =
          sphereConv2dVJP(x, w, kParam, options, g.window, up);
      expectGradient("input", grads.input, x, forward, up);
      expectGradient("weight", grads.weight, w, forward, up);
      ASSERT_EQ(grads.kParam.has_value(), learned);
      if (learned)
        expectGradient("k_param", *grads.kParam, k, forward, up);
    }
}

TEST(SphereConv2dVJPTest, LinearClampPassesInsideAndAtTheBoundsOnly) {
  const double lo = -1.0 + 1e-6, hi = 1.0 - 1e-6;
  auto d = [](double c) {
    return sphereActivationDerivative(SphereVariant::Linear, c, 0.3);
  };
  // PyTorch's clamp backward: the gradient passes for lo <= c <= hi.
  EXPECT_EQ(d(hi), 2.0 / (kPi * std::sqrt(1.0 - hi * hi)));
  EXPECT_EQ(d(lo), 2.0 / (kPi * std::sqrt(1.0 - lo * lo)));
  EXPECT_EQ(d(std::nextafter(hi, 2.0)), 0.0);
  EXPECT_EQ(d(std::nextafter(lo, -2.0)), 0.0);
  EXPECT_EQ(d(1.0), 0.0);
  EXPECT_EQ(d(0.0), 2.0 / kPi);
  EXPECT_EQ(sphereActivationDerivative(SphereVariant::Cosine, 0.3, 0.3), 1.0);
}

TEST(SphereConv2dVJPTest, LinearClampedPatchesPassNoGradient) {
  // Filter 0 is parallel (sample 0) and antiparallel (sample 1) to the only
  // patch: |cos θ| > 1 − 1e-6 is clamped, so it contributes nothing; filter
  // 1 is random and passes its gradient.
  Random rng(5);
  Tensor w = rng.tensor({2, 3, 2, 2}), x({2, 3, 2, 2});
  for (int64_t i = 0; i < 12; ++i) {
    x.data[i] = 2 * w.data[i];
    x.data[12 + i] = -w.data[i];
  }
  SphereOptions options;
  options.variant = SphereVariant::Linear;
  options.epsilon = 1e-9;
  Tensor onlyFilter0({2, 2, 1, 1}, {0.7, 0, -0.4, 0});
  SphereConv2dGrads grads =
      sphereConv2dVJP(x, w, nullptr, options, Window{}, onlyFilter0);
  for (double v : grads.input.data)
    EXPECT_EQ(v, 0.0);
  for (double v : grads.weight.data)
    EXPECT_EQ(v, 0.0);
  Tensor onlyFilter1({2, 2, 1, 1}, {0, 0.7, 0, -0.4});
  grads = sphereConv2dVJP(x, w, nullptr, options, Window{}, onlyFilter1);
  double norm = 0;
  for (double v : grads.input.data)
    norm += v * v;
  EXPECT_GT(norm, 1e-6);
}

TEST(SphereConv2dVJPTest, LearnedSigmoidKAtZeroGetsNoGradient) {
  // k = |k'| + 0.05 has a kink at k' = 0, where PyTorch's sign(0) = 0.
  Random rng(6);
  Tensor x = rng.tensor({1, 2, 4, 4}), w = rng.tensor({3, 2, 3, 3});
  Tensor k({3}, {0.0, 0.4, -0.4});
  SphereOptions options;
  options.variant = SphereVariant::LearnedSigmoid;
  SphereConv2dGrads grads =
      sphereConv2dVJP(x, w, &k, options, Window{}, rng.tensor({1, 3, 2, 2}));
  EXPECT_EQ(grads.kParam->data[0], 0.0);
  EXPECT_NE(grads.kParam->data[1], 0.0);
  EXPECT_NE(grads.kParam->data[2], 0.0);
}

TEST(PatchNormVJPTest, MatchesFiniteDifferences) {
  Random rng(7);
  for (const Geometry &g : geometries())
    for (double epsilon : {1e-4, 0.0}) {
      SCOPED_TRACE(describe(g) + " epsilon " + std::to_string(epsilon));
      Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
      Tensor up = rng.tensor({g.n, 1, g.ho(), g.wo()});
      Tensor dx = patchNormVJP(x, {g.kh, g.kw}, g.window, epsilon, up);
      expectGradient(
          "input", dx, x,
          [&] { return patchNorm(x, {g.kh, g.kw}, g.window, epsilon); }, up);
    }
}

TEST(PredictedSimilarityVJPTest, MatchesFiniteDifferences) {
  Random rng(8);
  for (Structure s : {Structure::Diagonal, Structure::Full})
    for (Shape gammaShape : {Shape{}, Shape{1}}) {
      SCOPED_TRACE(structureName(s));
      Tensor p = rng.tensor({2, s == Structure::Full ? 9 : 3, 3, 2});
      Tensor gamma = rng.tensor(gammaShape);
      Tensor up = rng.tensor(p.shape);
      PredictedSimilarityGrads grads = predictedSimilarityVJP(p, gamma, s, up);
      auto forward = [&] { return predictedSimilarity(p, gamma, s); };
      expectGradient("prediction", grads.prediction, p, forward, up);
      expectGradient("gamma", grads.gamma, gamma, forward, up);
    }
}

//===----------------------------------------------------------------------===//
// Linear layers and folding
//===----------------------------------------------------------------------===//

TEST(SimLinearVJPTest, EveryStructureMatchesFiniteDifferences) {
  Random rng(9);
  for (int64_t group : {1, 3, 4})
    for (auto &named : staticSimilarities(rng, group)) {
      const std::string &name = named.first;
      Similarity &sim = named.second; // lambdas capture no bindings in C++17
      Tensor x = rng.tensor({3, 12}), w = rng.tensor({5, 12});
      Tensor bias = rng.tensor({5}), up = rng.tensor({3, 5});
      for (Tensor *b : {&bias, static_cast<Tensor *>(nullptr)}) {
        SCOPED_TRACE(name + " group " + std::to_string(group) +
                     (b ? " with bias" : " no bias"));
        SimLinearGrads grads = simLinearVJP(x, w, sim, b, group, up);
        auto forward = [&] { return simLinear(x, w, sim, b, group); };
        expectGradient("input", grads.input, x, forward, up);
        expectGradient("weight", grads.weight, w, forward, up);
        ASSERT_EQ(grads.bias.has_value(), b != nullptr);
        if (b)
          expectGradient("bias", *grads.bias, *b, forward, up);
        expectSimilarityGrads(name, sim, grads.similarity, group,
                              [&](const Similarity &s) {
                                return inner(up, simLinear(x, w, s, b, group));
                              });
      }
    }
}

TEST(FoldSimilarityVJPTest, ConvAndLinearWeightsMatchFiniteDifferences) {
  Random rng(10);
  struct Case {
    Shape weight;
    int64_t group, taps;
  };
  for (const Case &c : {Case{{3, 2, 3, 2}, 0, 6}, Case{{2, 3, 1, 1}, 0, 1},
                        Case{{4, 12}, 4, 4}, Case{{3, 10}, 5, 5}})
    for (auto &named : staticSimilarities(rng, c.taps)) {
      const std::string &name = named.first;
      Similarity &sim = named.second;
      SCOPED_TRACE(name + " weight " + shapeToString(c.weight));
      Tensor w = rng.tensor(c.weight), up = rng.tensor(c.weight);
      FoldSimilarityGrads grads = foldSimilarityVJP(w, sim, c.group, up);
      expectGradient(
          "weight", grads.weight, w,
          [&] { return foldSimilarity(w, sim, c.group); }, up);
      expectSimilarityGrads(name, sim, grads.similarity, c.taps,
                            [&](const Similarity &s) {
                              return inner(up, foldSimilarity(w, s, c.group));
                            });
    }
}

TEST(LinearVJPTest, MatchesFiniteDifferences) {
  Random rng(11);
  Tensor x = rng.tensor({4, 7}), w = rng.tensor({3, 7}), bias = rng.tensor({3});
  Tensor up = rng.tensor({4, 3});
  for (Tensor *b : {&bias, static_cast<Tensor *>(nullptr)}) {
    LinearGrads grads = linearVJP(x, w, b, up);
    auto forward = [&] { return linear(x, w, b); };
    expectGradient("input", grads.input, x, forward, up);
    expectGradient("weight", grads.weight, w, forward, up);
    ASSERT_EQ(grads.bias.has_value(), b != nullptr);
    if (b)
      expectGradient("bias", *grads.bias, *b, forward, up);
  }
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

TEST(BatchNormVJPTest, InferenceAndTrainingMatchFiniteDifferences) {
  Random rng(12);
  for (Shape shape : {Shape{4, 3, 3, 2}, Shape{5, 4}, Shape{2, 3, 5},
                      Shape{1, 2, 3, 3}, Shape{3, 2}}) {
    SCOPED_TRACE(shapeToString(shape));
    const int64_t channels = shape[1];
    Tensor x = rng.tensor(shape), weight = rng.tensor({channels});
    Tensor bias = rng.tensor({channels}), mean = rng.tensor({channels});
    Tensor var = rng.positive({channels}), up = rng.tensor(shape);

    BatchNormGrads grads = batchNormVJP(x, weight, bias, mean, var, 1e-5, up);
    auto inference = [&] {
      return batchNorm(x, weight, bias, mean, var, 1e-5);
    };
    expectGradient("input", grads.input, x, inference, up);
    expectGradient("weight", grads.weight, weight, inference, up);
    expectGradient("bias", grads.bias, bias, inference, up);

    grads = batchNormTrainVJP(x, weight, bias, mean, var, 1e-5, 0.1, up);
    auto training = [&] {
      return batchNormTrain(x, weight, bias, mean, var, 1e-5, 0.1).output;
    };
    expectGradient("input (training)", grads.input, x, training, up);
    expectGradient("weight (training)", grads.weight, weight, training, up);
    expectGradient("bias (training)", grads.bias, bias, training, up);
  }
}

//===----------------------------------------------------------------------===//
// Pooling and the rest
//===----------------------------------------------------------------------===//

TEST(ReluVJPTest, MatchesFiniteDifferencesAwayFromZero) {
  Random rng(13);
  Tensor x = rng.tensor({2, 3, 4, 5}, 1e-3), up = rng.tensor({2, 3, 4, 5});
  expectGradient("input", reluVJP(x, up), x, [&] { return relu(x); }, up);
}

TEST(ReluVJPTest, GradientIsZeroAtZero) {
  Tensor x({4}, {-1.0, 0.0, -0.0, 2.0}), up({4}, {3, 5, 7, 11});
  EXPECT_EQ(reluVJP(x, up).data, (std::vector<double>{0, 0, 0, 11}));
}

std::vector<Pool> pools() {
  return {
      {"k3s2p1", {2, 3, 7, 6}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1})},
      {"k2s2", {1, 2, 6, 6}, {2, 2}, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {"k3x2s1", {1, 2, 5, 4}, {3, 2}, makeWindow({1, 1}, {1, 1}, {1, 1})},
      {"k3x2_dilated",
       {2, 2, 9, 8},
       {3, 2},
       makeWindow({1, 2}, {1, 1}, {2, 2})},
      {"k5x4p2", {1, 3, 6, 7}, {5, 4}, makeWindow({1, 3}, {2, 2}, {1, 1})},
      // ceil_mode: partial last windows, in the padding too, one dropped,
      // dilated, a kernel taller than the input.
      {"k3s2_ceil",
       {1, 2, 6, 7},
       {3, 3},
       makeWindow({2, 2}, {0, 0}, {1, 1}),
       true},
      {"k3s2p1_ceil",
       {2, 2, 6, 5},
       {3, 3},
       makeWindow({2, 2}, {1, 1}, {1, 1}),
       true},
      {"k2s2p1_ceil",
       {1, 2, 7, 5},
       {2, 2},
       makeWindow({2, 2}, {1, 1}, {1, 1}),
       true},
      {"k3x2_dilated_ceil",
       {1, 2, 8, 9},
       {3, 2},
       makeWindow({2, 3}, {1, 1}, {2, 1}),
       true},
      {"k3s2_ceil_tall_kernel",
       {1, 2, 2, 5},
       {3, 3},
       makeWindow({2, 2}, {0, 0}, {1, 1}),
       true},
  };
}

TEST(PoolVJPTest, MaxPoolMatchesFiniteDifferencesWithoutTies) {
  Random rng(14);
  for (const Pool &p : pools()) {
    SCOPED_TRACE(p.tag);
    Tensor x = rng.distinct(p.shape);
    Tensor y = maxPool2d(x, p.kernel, p.window, p.ceilMode);
    Tensor up = rng.tensor(y.shape);
    expectGradient(
        "input", maxPool2dVJP(x, p.kernel, p.window, up, p.ceilMode), x,
        [&] { return maxPool2d(x, p.kernel, p.window, p.ceilMode); }, up);
  }
}

TEST(PoolVJPTest, MaxPoolTiesGoToTheFirstElementAndPaddingNeverWins) {
  // All equal: each 2×2 window (stride 1) sends its gradient to its top-left
  // pixel, the first in window order.
  Tensor x({1, 1, 3, 3}, std::vector<double>(9, 0.5));
  Tensor up({1, 1, 2, 2}, {1, 2, 4, 8});
  EXPECT_EQ(maxPool2dVJP(x, {2, 2}, Window{}, up).data,
            (std::vector<double>{1, 2, 0, 4, 8, 0, 0, 0, 0}));
  // Negative pixels under 3×3 windows padded by 1: the padding (−∞) never
  // wins; every window's first in-image pixel is (0, 0).
  Tensor negative({1, 1, 2, 2}, std::vector<double>(4, -5.0));
  Window padded = makeWindow({1, 1}, {1, 1}, {1, 1});
  EXPECT_EQ(maxPool2dVJP(negative, {3, 3}, padded, up).data,
            (std::vector<double>{15, 0, 0, 0}));
  // A later strictly greater pixel wins over an earlier tie.
  Tensor mixed({1, 1, 2, 3}, {1, 1, 0, 1, 2, 2});
  Tensor up2({1, 1, 1, 2}, {3, 5});
  EXPECT_EQ(maxPool2dVJP(mixed, {2, 2}, Window{}, up2).data,
            (std::vector<double>{0, 0, 0, 0, 8, 0}));
  // −∞ everywhere: the first in-image pixel, as PyTorch's initial index.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor infinite({1, 1, 2, 2}, {-inf, -inf, -inf, -inf});
  EXPECT_EQ(
      maxPool2dVJP(infinite, {2, 2}, Window{}, Tensor({1, 1, 1, 1}, {1})).data,
      (std::vector<double>{1, 0, 0, 0}));
}

TEST(PoolVJPTest, AvgPoolMatchesFiniteDifferences) {
  Random rng(15);
  for (const Pool &p : pools()) {
    if (p.window.dilation != std::array<int64_t, 2>{1, 1})
      continue;
    for (bool includePad : {true, false}) {
      SCOPED_TRACE(p.tag + (includePad ? " include pad" : " exclude pad"));
      Tensor x = rng.tensor(p.shape);
      auto forward = [&] {
        return avgPool2d(x, p.kernel, p.window, includePad, p.ceilMode);
      };
      Tensor up = rng.tensor(forward().shape);
      expectGradient(
          "input",
          avgPool2dVJP(x, p.kernel, p.window, includePad, up, p.ceilMode), x,
          forward, up);
    }
  }
}

std::vector<AdaptivePool> adaptivePools() {
  return {
      {"7x5_to_3x2", {2, 2, 7, 5}, {3, 2}},
      {"2x3_to_7x4", {1, 2, 2, 3}, {7, 4}},
      {"1x1_to_3x2", {2, 1, 1, 1}, {3, 2}},
      {"6x9_to_4x5", {1, 3, 6, 9}, {4, 5}},
  };
}

TEST(PoolVJPTest, AdaptivePoolsMatchFiniteDifferences) {
  Random rng(18);
  for (const AdaptivePool &p : adaptivePools()) {
    SCOPED_TRACE(p.tag);
    Tensor x = rng.distinct(p.shape);
    Tensor up = rng.tensor(adaptiveAvgPool2d(x, p.outputSize).shape);
    expectGradient(
        "input", adaptiveAvgPool2dVJP(x, p.outputSize, up), x,
        [&] { return adaptiveAvgPool2d(x, p.outputSize); }, up);
    expectGradient(
        "input", adaptiveMaxPool2dVJP(x, p.outputSize, up), x,
        [&] { return adaptiveMaxPool2d(x, p.outputSize); }, up);
  }
}

TEST(PoolVJPTest, AdaptiveMaxPoolTiesGoToTheFirstElement) {
  // 3 rows to 2: windows [0, 2) and [1, 3); all equal, so each window's
  // gradient goes to its first (top-left) pixel.
  Tensor x({1, 1, 3, 2}, std::vector<double>(6, 0.5));
  Tensor up({1, 1, 2, 1}, {1, 2});
  EXPECT_EQ(adaptiveMaxPool2dVJP(x, {2, 1}, up).data,
            (std::vector<double>{1, 0, 2, 0, 0, 0}));
  // A later strictly greater pixel wins; −∞ everywhere: the first pixel.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor mixed({1, 1, 2, 2}, {1, 1, 2, 2});
  EXPECT_EQ(adaptiveMaxPool2dVJP(mixed, {1, 1}, Tensor({1, 1, 1, 1}, {3})).data,
            (std::vector<double>{0, 0, 3, 0}));
  Tensor infinite({1, 1, 2, 2}, {-inf, -inf, -inf, -inf});
  EXPECT_EQ(
      adaptiveMaxPool2dVJP(infinite, {1, 1}, Tensor({1, 1, 1, 1}, {1})).data,
      (std::vector<double>{1, 0, 0, 0}));
}

TEST(PoolVJPTest, GlobalAvgPoolMatchesFiniteDifferences) {
  Random rng(16);
  Tensor x = rng.tensor({3, 2, 5, 3}), up = rng.tensor({3, 2, 1, 1});
  expectGradient(
      "input", globalAvgPool2dVJP(x, up), x, [&] { return globalAvgPool2d(x); },
      up);
}

TEST(ElementwiseVJPTest, AddAndFlatten) {
  Random rng(17);
  Tensor a = rng.tensor({2, 3, 4}), b = rng.tensor({2, 3, 4});
  Tensor up = rng.tensor({2, 3, 4});
  AddGrads grads = addVJP(a, b, up);
  auto sum = [&] { return add(a, b); };
  expectGradient("lhs", grads.lhs, a, sum, up);
  expectGradient("rhs", grads.rhs, b, sum, up);
  Tensor x = rng.tensor({3, 2, 2, 3}), upFlat = rng.tensor({3, 12});
  expectGradient(
      "input", flattenVJP(x, upFlat), x, [&] { return flatten(x); }, upFlat);
}

TEST(CrossEntropyVJPTest, MatchesFiniteDifferences) {
  Random rng(18);
  for (double smoothing : {0.0, 0.1, 1.0}) {
    SCOPED_TRACE("smoothing " + std::to_string(smoothing));
    Tensor logits = rng.tensor({5, 7});
    for (double &v : logits.data)
      v *= 4;
    Tensor labels({5}, {0, 6, 3, 3, 1}, DType::I64);
    Tensor up(Shape{}, {rng.next()});
    expectGradient(
        "logits", softmaxCrossEntropyVJP(logits, labels, smoothing, up), logits,
        [&] { return softmaxCrossEntropy(logits, labels, smoothing); }, up);
  }
}

//===----------------------------------------------------------------------===//
// Regularisers
//===----------------------------------------------------------------------===//

TEST(RegularizerTest, L1MatchesFiniteDifferencesAndSignAtZero) {
  Random rng(19);
  Tensor m = rng.tensor({4, 4}, 1e-3);
  Tensor up(Shape{}, {rng.next()});
  expectGradient(
      "similarity", l1RegularizerVJP(m, 0.3, up), m,
      [&] { return l1Regularizer(m, 0.3); }, up);
  Tensor values({3}, {-2.0, 0.0, 0.5});
  EXPECT_EQ(l1Regularizer(values, 2.0).data, std::vector<double>{5.0});
  EXPECT_EQ(l1RegularizerVJP(values, 2.0, Tensor(Shape{}, {3.0})).data,
            (std::vector<double>{-6.0, 0.0, 6.0}));
}

TEST(RegularizerTest, OrthogonalityIsTheFilterGramMatrixResidual) {
  // Orthonormal filters (rows of W_f) cost nothing; W_f = 2·I_2 costs
  // λ·(3² + 3²).
  Tensor orthonormal({2, 1, 2, 1}, {0.6, 0.8, -0.8, 0.6});
  EXPECT_NEAR(orthogonalityRegularizer(orthonormal, 1.0).data[0], 0.0, 1e-15);
  Tensor scaled({2, 2}, {2, 0, 0, 2});
  EXPECT_EQ(orthogonalityRegularizer(scaled, 0.5).data[0], 9.0);
  // More filters than features: the Gram matrix is rank-deficient, the
  // residual cannot vanish.
  Tensor wide({3, 2}, {1, 0, 0, 1, 0, 0});
  EXPECT_EQ(orthogonalityRegularizer(wide, 1.0).data[0], 1.0);
  // ∂ = 4λ·(W_fW_fᵀ − I)·W_f: 4·0.5·3·2 = 12 on the diagonal.
  EXPECT_EQ(
      orthogonalityRegularizerVJP(scaled, 0.5, Tensor(Shape{}, {1.0})).data,
      (std::vector<double>{12, 0, 0, 12}));
}

TEST(RegularizerTest, OrthogonalityMatchesFiniteDifferences) {
  Random rng(20);
  for (Shape shape : {Shape{4, 3, 2, 2}, Shape{3, 5}, Shape{5, 2}}) {
    SCOPED_TRACE(shapeToString(shape));
    Tensor w = rng.tensor(shape);
    Tensor up(Shape{}, {rng.next()});
    expectGradient(
        "weight", orthogonalityRegularizerVJP(w, 0.7, up), w,
        [&] { return orthogonalityRegularizer(w, 0.7); }, up);
  }
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

TEST(VJPValidationTest, UpstreamGradientsMustHaveTheOutputShape) {
  Random rng(21);
  Tensor x = rng.tensor({2, 3, 6, 6}), w = rng.tensor({4, 3, 3, 3});
  Similarity identity = makeSimilarity(Structure::Identity, {});
  Window same = makeWindow({1, 1}, {1, 1}, {1, 1});
  EXPECT_TRUE(throwsWith(
      [&] {
        simConv2dVJP(x, w, identity, nullptr, same, Tensor({2, 4, 4, 4}));
      },
      "sim_conv2d VJP: upstream gradient must have shape [2, 4, 6, 6] (N, O, "
      "Ho, Wo), got [2, 4, 4, 4]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        simConv2dVJP(x, w, identity, nullptr, same,
                     Tensor({2, 4, 6, 6}, DType::I64));
      },
      "sim_conv2d VJP: upstream gradient must be f32, got i64"));
  EXPECT_TRUE(throwsWith(
      [&] {
        simConv2dVJP(x, Tensor({4, 2, 3, 3}), identity, nullptr, same,
                     Tensor({2, 4, 6, 6}));
      },
      "sim_conv2d VJP: weight [4, 2, 3, 3] must have 3 input channels"));
  EXPECT_TRUE(throwsWith(
      [&] {
        simConv2dVJP(
            x, w,
            makeSimilarity(Structure::Diagonal, {Tensor({2, 9, 5, 6})}, true),
            nullptr, same, Tensor({2, 4, 6, 6}));
      },
      "sim_conv2d VJP: dynamic diagonal similarity must have shape [2, 9, 6, "
      "6] (N, K, Ho, Wo), got [2, 9, 5, 6]"));
  SphereOptions learned;
  learned.variant = SphereVariant::LearnedSigmoid;
  EXPECT_TRUE(throwsWith(
      [&] {
        sphereConv2dVJP(x, w, nullptr, learned, same, Tensor({2, 4, 6, 6}));
      },
      "sphere_conv2d VJP: the learned_sigmoid variant needs the k_param"));
  EXPECT_TRUE(throwsWith(
      [&] {
        sphereConv2dVJP(x, w, nullptr, SphereOptions{}, same, Tensor({2, 4}));
      },
      "sphere_conv2d VJP: upstream gradient must have shape [2, 4, 6, 6]"));
  EXPECT_TRUE(throwsWith(
      [&] { patchNormVJP(x, {3, 3}, same, 1e-4, Tensor({2, 3, 6, 6})); },
      "patch_norm VJP: upstream gradient must have shape [2, 1, 6, 6] (N, 1, "
      "Ho, Wo), got [2, 3, 6, 6]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        predictedSimilarityVJP(Tensor({2, 9, 4, 4}), Tensor(Shape{}, {1.0}),
                               Structure::Diagonal, Tensor({2, 9, 4}));
      },
      "predicted_similarity VJP: upstream gradient must have shape [2, 9, 4, "
      "4]"));
  Tensor xl = rng.tensor({2, 12}), wl = rng.tensor({5, 12});
  EXPECT_TRUE(throwsWith(
      [&] { simLinearVJP(xl, wl, identity, nullptr, 4, Tensor({5, 2})); },
      "sim_linear VJP: upstream gradient must have shape [2, 5] (N, O), got "
      "[5, 2]"));
  EXPECT_TRUE(throwsWith(
      [&] { simLinearVJP(xl, wl, identity, nullptr, 5, Tensor({2, 5})); },
      "sim_linear VJP: group_size must be >= 1 and divide"));
  EXPECT_TRUE(throwsWith(
      [&] { foldSimilarityVJP(wl, identity, 4, Tensor({5, 11})); },
      "fold_similarity VJP: upstream gradient must have shape [5, 12]"));
  EXPECT_TRUE(throwsWith([&] { linearVJP(xl, wl, nullptr, Tensor({2, 4})); },
                         "linear VJP: upstream gradient must have shape [2, "
                         "5] (N, O), got [2, 4]"));
  Tensor c3 = rng.tensor({3});
  EXPECT_TRUE(throwsWith(
      [&] { batchNormVJP(x, c3, c3, c3, c3, 1e-5, Tensor({2, 3})); },
      "batch_norm VJP: upstream gradient must have shape [2, 3, 6, 6]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        batchNormTrainVJP(Tensor({1, 3}), c3, c3, c3, c3, 1e-5, 0.1,
                          Tensor({1, 3}));
      },
      "batch_norm_train VJP: training needs more than one value per channel"));
  EXPECT_TRUE(throwsWith([&] { reluVJP(x, Tensor({2, 3})); },
                         "relu VJP: upstream gradient must have shape"));
  EXPECT_TRUE(throwsWith(
      [&] { maxPool2dVJP(x, {2, 2}, Window{}, Tensor({2, 3, 3, 3})); },
      "max_pool2d VJP: upstream gradient must have shape [2, 3, 5, 5] (N, C, "
      "Ho, Wo), got [2, 3, 3, 3]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        avgPool2dVJP(x, {3, 3}, makeWindow({1, 1}, {2, 0}, {1, 1}), true,
                     Tensor({2, 3, 8, 4}));
      },
      "avg_pool2d VJP: padding [2, 0] must be at most half the kernel size"));
  EXPECT_TRUE(throwsWith([&] { globalAvgPool2dVJP(x, Tensor({2, 3})); },
                         "global_avg_pool2d VJP: upstream gradient must have "
                         "shape [2, 3, 1, 1]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        // 6x6 by 3x3 at stride 2: 3x3 in ceil mode (2x2 in floor mode).
        maxPool2dVJP(x, {3, 3}, makeWindow({2, 2}, {0, 0}, {1, 1}),
                     Tensor({2, 3, 2, 2}), true);
      },
      "max_pool2d VJP: upstream gradient must have shape [2, 3, 3, 3]"));
  EXPECT_TRUE(throwsWith(
      [&] { adaptiveAvgPool2dVJP(x, {4, 5}, Tensor({2, 3, 5, 4})); },
      "adaptive_avg_pool2d VJP: upstream gradient must have shape [2, 3, 4, "
      "5] (N, C, Ho, Wo), got [2, 3, 5, 4]"));
  EXPECT_TRUE(throwsWith(
      [&] { adaptiveMaxPool2dVJP(x, {0, 5}, Tensor({2, 3, 0, 5})); },
      "adaptive_max_pool2d VJP: output size must be >= 1, got [0, 5]"));
  EXPECT_TRUE(throwsWith([&] { addVJP(x, w, x); },
                         "add VJP: lhs f32 [2, 3, 6, 6] and rhs f32 [4, 3, 3, "
                         "3] must have the same dtype and shape"));
  EXPECT_TRUE(throwsWith([&] { flattenVJP(x, Tensor({2, 3, 36})); },
                         "flatten VJP: upstream gradient must have shape [2, "
                         "108]"));
  Tensor logits = rng.tensor({2, 5}), labels({2}, {1, 4}, DType::I64);
  EXPECT_TRUE(throwsWith(
      [&] { softmaxCrossEntropyVJP(logits, labels, 0.1, Tensor({1})); },
      "softmax_cross_entropy VJP: upstream gradient must have shape [] (a "
      "scalar), got [1]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        softmaxCrossEntropyVJP(logits, Tensor({2}, {1, 7}, DType::I64), 0.1,
                               Tensor(Shape{}, {1.0}));
      },
      "softmax_cross_entropy VJP: labels[1] = 7.000000 is not a class"));
  EXPECT_TRUE(throwsWith(
      [&] {
        staticSimilarityVJP(makeSimilarity(Structure::Full, {Tensor({3, 3})}),
                            3, Tensor({3}));
      },
      "similarity VJP: upstream gradient must have shape [3, 3] (K, K)"));
  EXPECT_TRUE(throwsWith(
      [&] { l1RegularizerVJP(c3, 1.0, Tensor({3})); },
      "l1_regularizer VJP: upstream gradient must have shape [] (a scalar)"));
  EXPECT_TRUE(throwsWith([&] { orthogonalityRegularizer(c3, 1.0); },
                         "orthogonality_regularizer: weight must have rank >= "
                         "2 (O, ...), got shape [3]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        orthogonalityRegularizer(wl, std::numeric_limits<double>::infinity());
      },
      "orthogonality_regularizer: strength must be finite"));
}

} // namespace
