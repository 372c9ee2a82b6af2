//===- OpsTest.cpp - Reference ops against brute-force formulations -------===//
//
// Every op of runtime/reference/Ops.h is checked against a formulation
// written differently here: convolutions as an explicit unfold to
// [N, C·K, P] followed by matrix products with the block-diagonal M (or M_p),
// structures through the matrices they stand for, pooling on explicitly
// padded images, batch statistics through E[x²] − E[x]², and so on. Inputs
// are fresh uniform(−1, 1) values from seeded generators. The tolerance is
// relative error ‖y − r‖₂ / ‖r‖₂ ≤ 1e-12: both sides accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Ops.h"
#include "test/runtime/reference/TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace nsl::reference;
using nsl::reference::test::describe;
using nsl::reference::test::Difference;
using nsl::reference::test::difference;
using nsl::reference::test::makeSimilarity;
using nsl::reference::test::makeWindow;
using nsl::reference::test::throwsWith;

namespace {

constexpr double kTolerance = 1e-12;
constexpr double kPi = 3.14159265358979323846;

class Random {
public:
  explicit Random(uint32_t seed) : engine(seed) {}
  /// uniform(−1, 1), never exactly zero.
  double next() {
    double v;
    do
      v = dist(engine);
    while (v == 0.0);
    return v;
  }
  Tensor tensor(Shape shape) {
    Tensor t(std::move(shape));
    for (double &v : t.data)
      v = next();
    return t;
  }

private:
  std::mt19937 engine;
  std::uniform_real_distribution<double> dist{-1.0, 1.0};
};

::testing::AssertionResult close(const Tensor &y, const Tensor &r,
                                 double tolerance = kTolerance) {
  if (y.shape != r.shape)
    return ::testing::AssertionFailure()
           << "shape " << shapeToString(y.shape) << ", expected "
           << shapeToString(r.shape);
  Difference d = difference(y, r);
  if (d.relative <= tolerance && !std::isnan(d.diff))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "relative error " << d.relative << " > " << tolerance
         << ", max abs error " << d.maxAbs;
}

//===----------------------------------------------------------------------===//
// Dense matrices of the test's own formulation
//===----------------------------------------------------------------------===//

using Matrix = std::vector<std::vector<double>>;

Matrix zeros(int64_t rows, int64_t cols) {
  return Matrix(rows, std::vector<double>(cols, 0.0));
}

Matrix matmul(const Matrix &a, const Matrix &b) {
  Matrix c = zeros(a.size(), b[0].size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b[0].size(); ++j)
      for (size_t k = 0; k < b.size(); ++k)
        c[i][j] += a[i][k] * b[k][j];
  return c;
}

Matrix transpose(const Matrix &a) {
  Matrix t = zeros(a[0].size(), a.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[0].size(); ++j)
      t[j][i] = a[i][j];
  return t;
}

Matrix identityMatrix(int64_t k) {
  Matrix m = zeros(k, k);
  for (int64_t i = 0; i < k; ++i)
    m[i][i] = 1.0;
  return m;
}

Matrix diagonalMatrix(const std::vector<double> &d) {
  Matrix m = zeros(d.size(), d.size());
  for (size_t i = 0; i < d.size(); ++i)
    m[i][i] = d[i];
  return m;
}

/// A K×K matrix from K·K row-major values.
Matrix squareMatrix(const std::vector<double> &values, int64_t k) {
  Matrix m = zeros(k, k);
  for (int64_t i = 0; i < k * k; ++i)
    m[i / k][i % k] = values[i];
  return m;
}

Matrix lowerTriangle(Matrix m) {
  for (size_t i = 0; i < m.size(); ++i)
    for (size_t j = i + 1; j < m.size(); ++j)
      m[i][j] = 0.0;
  return m;
}

/// diag(M, …, M) with `blocks` copies: the paper's block-diagonal similarity.
Matrix blockDiagonal(const Matrix &m, int64_t blocks) {
  int64_t k = m.size();
  Matrix b = zeros(blocks * k, blocks * k);
  for (int64_t c = 0; c < blocks; ++c)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        b[c * k + i][c * k + j] = m[i][j];
  return b;
}

/// Output size by counting the window positions that fit the padded input.
int64_t countPositions(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation) {
  int64_t count = 0;
  for (int64_t start = -padding;
       start + dilation * (kernel - 1) <= in - 1 + padding; start += stride)
    ++count;
  return count;
}

/// torch.nn.functional.unfold: per sample, a [C·K, P] matrix whose row
/// c·K + ky·kw + kx holds the (zero-padded) input under that tap.
struct Unfolded {
  int64_t ho, wo;
  std::vector<Matrix> columns; // [N] of [C·K][P]
};

Unfolded unfold(const Tensor &x, int64_t kh, int64_t kw, const Window &win) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Unfolded u;
  u.ho = countPositions(h, kh, win.stride[0], win.padding[0], win.dilation[0]);
  u.wo = countPositions(w, kw, win.stride[1], win.padding[1], win.dilation[1]);
  u.columns.assign(n, zeros(c * kh * kw, u.ho * u.wo));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx)
          for (int64_t oy = 0; oy < u.ho; ++oy)
            for (int64_t ox = 0; ox < u.wo; ++ox) {
              int64_t y =
                  oy * win.stride[0] + ky * win.dilation[0] - win.padding[0];
              int64_t xx =
                  ox * win.stride[1] + kx * win.dilation[1] - win.padding[1];
              if (y < 0 || y >= h || xx < 0 || xx >= w)
                continue;
              u.columns[b][(ch * kh + ky) * kw + kx][oy * u.wo + ox] =
                  x.data[((b * c + ch) * h + y) * w + xx];
            }
  return u;
}

/// The weight as an [O, C·K] matrix.
Matrix weightMatrix(const Tensor &w) {
  int64_t o = w.dim(0), row = w.numel() / o;
  Matrix m = zeros(o, row);
  for (int64_t i = 0; i < o; ++i)
    for (int64_t j = 0; j < row; ++j)
      m[i][j] = w.data[i * row + j];
  return m;
}

/// M_p of sample n at flat output position p (the same matrix if static).
using MatrixAt = std::function<Matrix(int64_t n, int64_t p)>;

/// Y[n,:,p] = W · blockdiag(M_p) · unfold(X)[n,:,p] (+ bias).
Tensor bruteForceSimConv(const Tensor &x, const Tensor &w, const Tensor *bias,
                         const Window &win, const MatrixAt &matrixAt) {
  Unfolded u = unfold(x, w.dim(2), w.dim(3), win);
  const int64_t n = x.dim(0), c = x.dim(1), o = w.dim(0);
  const int64_t positions = u.ho * u.wo;
  Matrix wm = weightMatrix(w);
  Tensor y({n, o, u.ho, u.wo});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < positions; ++p) {
      Matrix column = zeros(c * w.dim(2) * w.dim(3), 1);
      for (size_t r = 0; r < column.size(); ++r)
        column[r][0] = u.columns[b][r][p];
      Matrix out = matmul(wm, matmul(blockDiagonal(matrixAt(b, p), c), column));
      for (int64_t i = 0; i < o; ++i)
        y.data[(b * o + i) * positions + p] =
            out[i][0] + (bias ? bias->data[i] : 0.0);
    }
  return y;
}

MatrixAt constantMatrix(Matrix m) {
  return [m](int64_t, int64_t) { return m; };
}

/// Channels [first, first + count) of a dynamic [N, C, Ho, Wo] operand at
/// sample n and flat position p.
std::vector<double> channelsAt(const Tensor &t, int64_t n, int64_t p) {
  int64_t channels = t.dim(1), positions = t.dim(2) * t.dim(3);
  std::vector<double> v(channels);
  for (int64_t ch = 0; ch < channels; ++ch)
    v[ch] = t.data[(n * channels + ch) * positions + p];
  return v;
}

/// A dynamic operand [N, len, Ho, Wo] holding the same values everywhere.
Tensor broadcastToPositions(const Tensor &values, int64_t n, int64_t ho,
                            int64_t wo) {
  int64_t len = values.numel();
  Tensor t({n, len, ho, wo});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < len; ++ch)
      for (int64_t p = 0; p < ho * wo; ++p)
        t.data[(b * len + ch) * ho * wo + p] = values.data[ch];
  return t;
}

/// A convolution problem: x [n, c, h, w], weight [o, c, kh, kw].
struct Geometry {
  int64_t n, c, h, w, o, kh, kw;
  Window window;
  int64_t taps() const { return kh * kw; }
  int64_t ho() const {
    return countPositions(h, kh, window.stride[0], window.padding[0],
                          window.dilation[0]);
  }
  int64_t wo() const {
    return countPositions(w, kw, window.stride[1], window.padding[1],
                          window.dilation[1]);
  }
};

/// Odd sizes, stride 2, padding 0/1/2, dilation 2, batch 1, channel counts
/// not divisible by 8, non-square and 1×1 kernels.
std::vector<Geometry> geometries() {
  return {
      {2, 3, 7, 6, 4, 3, 3, makeWindow({1, 1}, {1, 1}, {1, 1})},
      {1, 5, 9, 8, 3, 3, 3, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {2, 3, 8, 7, 5, 3, 3, makeWindow({1, 2}, {2, 1}, {2, 2})},
      {2, 9, 6, 5, 2, 3, 1, makeWindow({1, 1}, {1, 0}, {1, 1})},
      {3, 4, 7, 7, 2, 2, 3, makeWindow({2, 1}, {1, 1}, {1, 2})},
      {1, 3, 4, 5, 2, 5, 5, makeWindow({1, 1}, {2, 2}, {1, 1})},
      {2, 2, 5, 5, 3, 1, 1, makeWindow({2, 2}, {0, 0}, {1, 1})},
  };
}

/// A static similarity of every structure with fresh random parameters, and
/// the matrix M the test expects it to stand for.
struct StaticCase {
  std::string name;
  Similarity sim;
  Matrix m;
};

std::vector<StaticCase> staticCases(Random &rng, int64_t k) {
  std::vector<StaticCase> cases;
  cases.push_back(
      {"identity", makeSimilarity(Structure::Identity, {}), identityMatrix(k)});
  Tensor m = rng.tensor({k});
  cases.push_back({"diagonal", makeSimilarity(Structure::Diagonal, {m}),
                   diagonalMatrix(m.data)});
  Tensor full = rng.tensor({k, k});
  cases.push_back({"full", makeSimilarity(Structure::Full, {full}),
                   squareMatrix(full.data, k)});
  // The upper triangle of L is random too: it must be ignored.
  Tensor l = rng.tensor({k, k});
  Matrix tril = lowerTriangle(squareMatrix(l.data, k));
  cases.push_back({"cholesky", makeSimilarity(Structure::Cholesky, {l}),
                   matmul(tril, transpose(tril))});
  Tensor dr = rng.tensor({k}); // mixed signs: some taps masked
  std::vector<double> mask(k);
  for (int64_t t = 0; t < k; ++t)
    mask[t] = dr.data[t] > 0.2 ? 1.0 : 0.0;
  Tensor rFull = rng.tensor({k, k}), rDiagonal = rng.tensor({k});
  cases.push_back(
      {"shape_masked_full_R",
       makeSimilarity(Structure::ShapeMasked, {dr, rFull}, false, 0.2),
       matmul(diagonalMatrix(mask), squareMatrix(rFull.data, k))});
  cases.push_back(
      {"shape_masked_diagonal_R",
       makeSimilarity(Structure::ShapeMasked, {dr, rDiagonal}, false, 0.2),
       matmul(diagonalMatrix(mask), diagonalMatrix(rDiagonal.data))});
  return cases;
}

//===----------------------------------------------------------------------===//
// Similarity convolution
//===----------------------------------------------------------------------===//

TEST(WindowTest, OutputSizeMatchesCounting) {
  for (int64_t in : {1, 4, 7, 8})
    for (int64_t k : {1, 2, 3, 5})
      for (int64_t s : {1, 2, 3})
        for (int64_t p : {0, 1, 2})
          for (int64_t d : {1, 2}) {
            int64_t expected = countPositions(in, k, s, p, d);
            int64_t got = windowOutputSize(in, k, s, p, d);
            // An empty window range reports a size < 1 (possibly negative).
            if (expected == 0)
              EXPECT_LT(got, 1) << in << " " << k << " " << s << " " << p;
            else
              EXPECT_EQ(got, expected)
                  << in << " " << k << " " << s << " " << p << " " << d;
          }
}

TEST(SimConv2dTest, StaticStructuresMatchUnfoldAndBlockDiagonalProducts) {
  Random rng(1);
  for (const Geometry &g : geometries()) {
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor bias = rng.tensor({g.o});
    for (const StaticCase &sc : staticCases(rng, g.taps()))
      for (const Tensor *b : std::vector<const Tensor *>{&bias, nullptr}) {
        SCOPED_TRACE(sc.name + (b ? " with bias, " : " no bias, ") +
                     describe(g));
        Tensor y = simConv2d(x, w, sc.sim, b, g.window);
        EXPECT_TRUE(close(
            y, bruteForceSimConv(x, w, b, g.window, constantMatrix(sc.m))));
      }
  }
}

TEST(SimConv2dTest, StaticSimilarityMatrixIsTheStructuresMatrix) {
  Random rng(2);
  for (int64_t k : {1, 3, 9})
    for (const StaticCase &sc : staticCases(rng, k)) {
      SCOPED_TRACE(sc.name + " K=" + std::to_string(k));
      Tensor expected({k, k});
      for (int64_t i = 0; i < k * k; ++i)
        expected.data[i] = sc.m[i / k][i % k];
      EXPECT_TRUE(close(staticSimilarityMatrix(sc.sim, k), expected));
    }
}

TEST(SimConv2dTest, DynamicStructuresMatchPerPositionProducts) {
  Random rng(3);
  for (const Geometry &g : geometries()) {
    const int64_t k = g.taps();
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor bias = rng.tensor({g.o});
    Tensor mDiag = rng.tensor({g.n, k, g.ho(), g.wo()});
    Tensor mFull = rng.tensor({g.n, k * k, g.ho(), g.wo()});
    Tensor dr = rng.tensor({k});
    std::vector<double> mask(k);
    for (int64_t t = 0; t < k; ++t)
      mask[t] = dr.data[t] > -0.3 ? 1.0 : 0.0;
    struct Case {
      std::string name;
      Similarity sim;
      MatrixAt matrixAt;
    };
    std::vector<Case> cases = {
        {"diagonal", makeSimilarity(Structure::Diagonal, {mDiag}, true),
         [&](int64_t n, int64_t p) {
           return diagonalMatrix(channelsAt(mDiag, n, p));
         }},
        {"full", makeSimilarity(Structure::Full, {mFull}, true),
         [&](int64_t n, int64_t p) {
           return squareMatrix(channelsAt(mFull, n, p), k);
         }},
        {"shape_masked_full_R",
         makeSimilarity(Structure::ShapeMasked, {dr, mFull}, true, -0.3),
         [&](int64_t n, int64_t p) {
           return matmul(diagonalMatrix(mask),
                         squareMatrix(channelsAt(mFull, n, p), k));
         }},
        {"shape_masked_diagonal_R",
         makeSimilarity(Structure::ShapeMasked, {dr, mDiag}, true, -0.3),
         [&](int64_t n, int64_t p) {
           return matmul(diagonalMatrix(mask),
                         diagonalMatrix(channelsAt(mDiag, n, p)));
         }},
    };
    for (const Case &c : cases) {
      SCOPED_TRACE(c.name + ", " + describe(g));
      Tensor y = simConv2d(x, w, c.sim, &bias, g.window);
      EXPECT_TRUE(
          close(y, bruteForceSimConv(x, w, &bias, g.window, c.matrixAt)));
    }
  }
}

TEST(SimConv2dTest, StaticEqualsDynamicWithTheSameMEverywhere) {
  Random rng(4);
  for (const Geometry &g : geometries()) {
    const int64_t k = g.taps();
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor bias = rng.tensor({g.o});
    auto spread = [&](const Tensor &t) {
      return broadcastToPositions(t, g.n, g.ho(), g.wo());
    };
    Tensor m = rng.tensor({k}), full = rng.tensor({k, k});
    Tensor dr = rng.tensor({k});
    std::vector<std::pair<Similarity, Similarity>> pairs = {
        {makeSimilarity(Structure::Diagonal, {m}),
         makeSimilarity(Structure::Diagonal, {spread(m)}, true)},
        {makeSimilarity(Structure::Full, {full}),
         makeSimilarity(Structure::Full, {spread(full)}, true)},
        {makeSimilarity(Structure::ShapeMasked, {dr, full}),
         makeSimilarity(Structure::ShapeMasked, {dr, spread(full)}, true)},
        {makeSimilarity(Structure::ShapeMasked, {dr, m}),
         makeSimilarity(Structure::ShapeMasked, {dr, spread(m)}, true)},
    };
    for (const auto &[staticSim, dynamicSim] : pairs) {
      SCOPED_TRACE(std::string(structureName(staticSim.structure)) + ", " +
                   describe(g));
      EXPECT_TRUE(close(simConv2d(x, w, dynamicSim, &bias, g.window),
                        simConv2d(x, w, staticSim, &bias, g.window)));
    }
  }
}

TEST(SimConv2dTest, FoldThenIdentityConvEqualsStructuredConv) {
  Random rng(5);
  Similarity identity = makeSimilarity(Structure::Identity, {});
  for (const Geometry &g : geometries()) {
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor bias = rng.tensor({g.o});
    for (const StaticCase &sc : staticCases(rng, g.taps())) {
      SCOPED_TRACE(sc.name + ", " + describe(g));
      Tensor folded = foldSimilarity(w, sc.sim, 0);
      EXPECT_TRUE(close(simConv2d(x, folded, identity, &bias, g.window),
                        simConv2d(x, w, sc.sim, &bias, g.window)));
      // W'[o,c,:] = W[o,c,:]·M, as a matrix product per (o, c) row.
      Matrix rows = zeros(g.o * g.c, g.taps());
      for (int64_t i = 0; i < w.numel(); ++i)
        rows[i / g.taps()][i % g.taps()] = w.data[i];
      Matrix expected = matmul(rows, sc.m);
      Tensor expectedTensor(w.shape);
      for (int64_t i = 0; i < w.numel(); ++i)
        expectedTensor.data[i] = expected[i / g.taps()][i % g.taps()];
      EXPECT_TRUE(close(folded, expectedTensor));
    }
  }
}

TEST(SimConv2dTest, CholeskyEqualsFullWithLLTranspose) {
  Random rng(6);
  for (const Geometry &g : geometries()) {
    const int64_t k = g.taps();
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor l = rng.tensor({k, k});
    Tensor llt({k, k});
    for (int64_t t = 0; t < k; ++t)
      for (int64_t s = 0; s < k; ++s)
        for (int64_t j = 0; j < k; ++j)
          if (j <= t && j <= s)
            llt.data[t * k + s] += l.data[t * k + j] * l.data[s * k + j];
    SCOPED_TRACE(describe(g));
    EXPECT_TRUE(close(simConv2d(x, w, makeSimilarity(Structure::Cholesky, {l}),
                                nullptr, g.window),
                      simConv2d(x, w, makeSimilarity(Structure::Full, {llt}),
                                nullptr, g.window)));
  }
}

TEST(SimConv2dTest, ShapeMaskedEqualsFullWithMaskedR) {
  Random rng(7);
  for (const Geometry &g : geometries()) {
    const int64_t k = g.taps();
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor dr = rng.tensor({k}), r = rng.tensor({k, k}), rd = rng.tensor({k});
    for (double alpha : {0.0, 0.4, -2.0}) {
      dr.data[0] = alpha; // D[t] = 1[d_r[t] > α] is strict
      Tensor masked({k, k}), maskedDiagonal({k, k});
      for (int64_t t = 0; t < k; ++t) {
        double d = dr.data[t] > alpha ? 1.0 : 0.0;
        for (int64_t s = 0; s < k; ++s)
          masked.data[t * k + s] = d * r.data[t * k + s];
        maskedDiagonal.data[t * k + t] = d * rd.data[t];
      }
      SCOPED_TRACE("alpha " + std::to_string(alpha) + ", " + describe(g));
      auto conv = [&](const Similarity &sim) {
        return simConv2d(x, w, sim, nullptr, g.window);
      };
      EXPECT_TRUE(close(
          conv(makeSimilarity(Structure::ShapeMasked, {dr, r}, false, alpha)),
          conv(makeSimilarity(Structure::Full, {masked}))));
      EXPECT_TRUE(close(
          conv(makeSimilarity(Structure::ShapeMasked, {dr, rd}, false, alpha)),
          conv(makeSimilarity(Structure::Full, {maskedDiagonal}))));
    }
  }
}

TEST(SimConv2dTest, ShapeMaskedDefaultsAreAPlainConvolution) {
  Random rng(8);
  Geometry g = geometries()[2];
  const int64_t k = g.taps();
  Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
  Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
  Tensor ones({k}, std::vector<double>(k, 1.0));
  Tensor eye({k, k});
  for (int64_t t = 0; t < k; ++t)
    eye.data[t * k + t] = 1.0;
  Tensor plain = simConv2d(x, w, makeSimilarity(Structure::Identity, {}),
                           nullptr, g.window);
  EXPECT_TRUE(
      close(simConv2d(x, w, makeSimilarity(Structure::ShapeMasked, {ones, eye}),
                      nullptr, g.window),
            plain));
}

TEST(SimConv2dTest, DynamicDiagonalFromPredictedOnesIsAPlainConvolution) {
  // γ = 0 makes M_p = I exactly, whatever the prediction.
  Random rng(9);
  Geometry g = geometries()[0];
  const int64_t k = g.taps();
  Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
  Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
  Tensor zeroGamma(Shape{}, {0.0});
  Tensor plain = simConv2d(x, w, makeSimilarity(Structure::Identity, {}),
                           nullptr, g.window);
  Tensor mDiag = predictedSimilarity(rng.tensor({g.n, k, g.ho(), g.wo()}),
                                     zeroGamma, Structure::Diagonal);
  Tensor mFull = predictedSimilarity(rng.tensor({g.n, k * k, g.ho(), g.wo()}),
                                     zeroGamma, Structure::Full);
  EXPECT_TRUE(
      close(simConv2d(x, w, makeSimilarity(Structure::Diagonal, {mDiag}, true),
                      nullptr, g.window),
            plain));
  EXPECT_TRUE(
      close(simConv2d(x, w, makeSimilarity(Structure::Full, {mFull}, true),
                      nullptr, g.window),
            plain));
}

//===----------------------------------------------------------------------===//
// Similarity linear layer
//===----------------------------------------------------------------------===//

TEST(SimLinearTest, EqualsSimConv2dOnAOneByBImage) {
  // x [N, G·B] as G channels of a 1×B image with a 1×B kernel: one output
  // position whose patch X_p[g, s] is x[n, g·B + s], and K = B taps.
  Random rng(10);
  for (auto [n, groups, b, o] : std::vector<std::array<int64_t, 4>>{
           {3, 4, 3, 5}, {1, 1, 7, 2}, {2, 5, 1, 3}, {2, 3, 4, 1}}) {
    Tensor x = rng.tensor({n, groups * b});
    Tensor w = rng.tensor({o, groups * b});
    Tensor bias = rng.tensor({o});
    Tensor xImage({n, groups, 1, b}, x.data);
    Tensor wKernel({o, groups, 1, b}, w.data);
    for (const StaticCase &sc : staticCases(rng, b)) {
      SCOPED_TRACE(sc.name + " B=" + std::to_string(b));
      Tensor y = simLinear(x, w, sc.sim, &bias, b);
      Tensor conv = simConv2d(xImage, wKernel, sc.sim, &bias, Window{});
      EXPECT_TRUE(close(y, Tensor({n, o}, conv.data)));
      // Folding the linear weight then a plain linear layer: the same.
      EXPECT_TRUE(close(linear(x, foldSimilarity(w, sc.sim, b), &bias), y));
    }
  }
}

TEST(SimLinearTest, IdentityIsALinearLayerAndLinearIsAMatrixProduct) {
  Random rng(11);
  Tensor x = rng.tensor({3, 10}), w = rng.tensor({7, 10}),
         bias = rng.tensor({7});
  Matrix xm = zeros(3, 10);
  for (int64_t i = 0; i < 30; ++i)
    xm[i / 10][i % 10] = x.data[i];
  Matrix product = matmul(xm, transpose(weightMatrix(w)));
  Tensor expected({3, 7});
  for (int64_t i = 0; i < 21; ++i)
    expected.data[i] = product[i / 7][i % 7] + bias.data[i % 7];
  EXPECT_TRUE(close(linear(x, w, &bias), expected));
  EXPECT_TRUE(
      close(simLinear(x, w, makeSimilarity(Structure::Identity, {}), &bias, 5),
            expected));
  for (int64_t i = 0; i < 21; ++i)
    expected.data[i] -= bias.data[i % 7];
  EXPECT_TRUE(close(linear(x, w, nullptr), expected));
}

//===----------------------------------------------------------------------===//
// SphereConv, patch norm, predicted similarity
//===----------------------------------------------------------------------===//

/// SphereConv through the unfolded input, with the activations written in
/// equivalent closed forms (the sigmoid as a ratio of tanh).
Tensor bruteForceSphere(const Tensor &x, const Tensor &w, const Tensor *kParam,
                        const SphereOptions &options, const Window &win) {
  Unfolded u = unfold(x, w.dim(2), w.dim(3), win);
  Matrix wm = weightMatrix(w);
  const int64_t n = x.dim(0), o = w.dim(0), positions = u.ho * u.wo;
  Tensor y({n, o, u.ho, u.wo});
  for (int64_t b = 0; b < n; ++b) {
    Matrix dots = matmul(wm, u.columns[b]);
    for (int64_t i = 0; i < o; ++i) {
      double wSquares = 0;
      for (double v : wm[i])
        wSquares += v * v;
      for (int64_t p = 0; p < positions; ++p) {
        double xSquares = 0;
        for (const auto &row : u.columns[b])
          xSquares += row[p] * row[p];
        double xNorm = std::sqrt(xSquares + options.epsilon);
        double cosTheta =
            options.inputOnly
                ? dots[i][p] / xNorm
                : dots[i][p] / std::sqrt(wSquares + options.epsilon) / xNorm;
        double theta = std::acos(cosTheta), value = cosTheta;
        double k = options.sigmoidK;
        switch (options.variant) {
        case SphereVariant::Cosine:
          break;
        case SphereVariant::Linear:
          theta = std::acos(std::min(std::max(cosTheta, -1 + 1e-6), 1 - 1e-6));
          value = (kPi / 2 - theta) / (kPi / 2);
          break;
        case SphereVariant::LearnedSigmoid:
          k = std::fabs(kParam->data[i]) + 0.05;
          [[fallthrough]];
        case SphereVariant::Sigmoid:
          // κ(1 − e^{(θ−π/2)/k}) / (1 + e^{(θ−π/2)/k})
          //   = tanh((π/2 − θ)/(2k)) / tanh(π/(4k)).
          value =
              std::tanh((kPi / 2 - theta) / (2 * k)) / std::tanh(kPi / (4 * k));
          break;
        }
        y.data[(b * o + i) * positions + p] = value;
      }
    }
  }
  return y;
}

TEST(SphereConv2dTest, AllVariantsMatchTheUnfoldFormulation) {
  Random rng(12);
  for (const Geometry &g : geometries()) {
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    Tensor kParam = rng.tensor({g.o});
    for (SphereVariant variant :
         {SphereVariant::Cosine, SphereVariant::Linear, SphereVariant::Sigmoid,
          SphereVariant::LearnedSigmoid})
      for (double epsilon : {1e-4, 0.5}) {
        SphereOptions options;
        options.variant = variant;
        options.epsilon = epsilon;
        options.sigmoidK = variant == SphereVariant::Sigmoid ? 0.45 : 0.3;
        const Tensor *k =
            variant == SphereVariant::LearnedSigmoid ? &kParam : nullptr;
        SCOPED_TRACE(std::string(sphereVariantName(variant)) + ", " +
                     describe(g));
        EXPECT_TRUE(close(sphereConv2d(x, w, k, options, g.window),
                          bruteForceSphere(x, w, k, options, g.window)));
      }
    SphereOptions inputOnly;
    inputOnly.inputOnly = true;
    SCOPED_TRACE("input_only, " + describe(g));
    EXPECT_TRUE(close(sphereConv2d(x, w, nullptr, inputOnly, g.window),
                      bruteForceSphere(x, w, nullptr, inputOnly, g.window)));
  }
}

TEST(SphereConv2dTest, LinearClampsParallelPatches) {
  // A patch parallel (or antiparallel) to the filter with a tiny ε has
  // |cos θ| > 1 − 1e-6: the linear variant clamps it.
  Random rng(25);
  Tensor w = rng.tensor({1, 3, 3, 2});
  Tensor x({2, 3, 3, 2});
  for (int64_t i = 0; i < w.numel(); ++i) {
    x.data[i] = 2 * w.data[i];
    x.data[w.numel() + i] = -w.data[i];
  }
  SphereOptions options;
  options.variant = SphereVariant::Linear;
  options.epsilon = 1e-9;
  double edge = 1 - 2 * std::acos(1 - 1e-6) / kPi;
  EXPECT_TRUE(close(sphereConv2d(x, w, nullptr, options, Window{}),
                    Tensor({2, 1, 1, 1}, {edge, -edge})));
}

TEST(SphereConv2dTest, LearnedSigmoidWithMatchingKEqualsSigmoid) {
  Random rng(13);
  Geometry g = geometries()[0];
  Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
  Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
  Tensor kParam({g.o});
  for (int64_t o = 0; o < g.o; ++o)
    kParam.data[o] = o % 2 ? 0.25 : -0.25; // |k'| + 0.05 = 0.3
  SphereOptions sigmoid, learned;
  sigmoid.variant = SphereVariant::Sigmoid;
  learned.variant = SphereVariant::LearnedSigmoid;
  EXPECT_TRUE(close(sphereConv2d(x, w, &kParam, learned, g.window),
                    sphereConv2d(x, w, nullptr, sigmoid, g.window)));
}

TEST(SphereConv2dTest, InputOnlyIsAConvolutionDividedByThePatchNorm) {
  Random rng(14);
  for (const Geometry &g : geometries()) {
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Tensor w = rng.tensor({g.o, g.c, g.kh, g.kw});
    SphereOptions options;
    options.inputOnly = true;
    options.epsilon = 1e-3;
    Tensor conv = simConv2d(x, w, makeSimilarity(Structure::Identity, {}),
                            nullptr, g.window);
    Tensor norm = patchNorm(x, {g.kh, g.kw}, g.window, 1e-3);
    Tensor expected(conv.shape);
    const int64_t positions = g.ho() * g.wo();
    for (int64_t i = 0; i < conv.numel(); ++i)
      expected.data[i] =
          conv.data[i] /
          norm.data[(i / (g.o * positions)) * positions + i % positions];
    SCOPED_TRACE(describe(g));
    EXPECT_TRUE(
        close(sphereConv2d(x, w, nullptr, options, g.window), expected));
  }
}

TEST(PatchNormTest, MatchesUnfoldAndABoxFilterOfSquares) {
  Random rng(15);
  for (const Geometry &g : geometries()) {
    Tensor x = rng.tensor({g.n, g.c, g.h, g.w});
    Unfolded u = unfold(x, g.kh, g.kw, g.window);
    Tensor expected({g.n, 1, u.ho, u.wo});
    for (int64_t b = 0; b < g.n; ++b)
      for (int64_t p = 0; p < u.ho * u.wo; ++p) {
        double squares = 0;
        for (const auto &row : u.columns[b])
          squares += row[p] * row[p];
        expected.data[b * u.ho * u.wo + p] = std::sqrt(squares + 1e-4);
      }
    SCOPED_TRACE(describe(g));
    Tensor norm = patchNorm(x, {g.kh, g.kw}, g.window, 1e-4);
    EXPECT_TRUE(close(norm, expected));
    // The same as a convolution of x² with an all-ones kernel.
    Tensor squares(x.shape), ones({1, g.c, g.kh, g.kw});
    for (int64_t i = 0; i < x.numel(); ++i)
      squares.data[i] = x.data[i] * x.data[i];
    std::fill(ones.data.begin(), ones.data.end(), 1.0);
    Tensor box =
        simConv2d(squares, ones, makeSimilarity(Structure::Identity, {}),
                  nullptr, g.window);
    for (double &v : box.data)
      v = std::sqrt(v + 1e-4);
    EXPECT_TRUE(close(norm, box));
  }
}

TEST(PredictedSimilarityTest, AddsGammaTimesPredictionToTheIdentity) {
  Random rng(16);
  const int64_t n = 2, k = 9, ho = 3, wo = 5;
  Tensor gamma({1}, {rng.next()});
  Tensor pDiag = rng.tensor({n, k, ho, wo});
  Tensor pFull = rng.tensor({n, k * k, ho, wo});
  Tensor diag = predictedSimilarity(pDiag, gamma, Structure::Diagonal);
  Tensor full = predictedSimilarity(pFull, Tensor(Shape{}, {gamma.data[0]}),
                                    Structure::Full);
  Tensor expectedDiag(pDiag.shape), expectedFull(pFull.shape);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < ho * wo; ++p) {
      for (int64_t t = 0; t < k; ++t) {
        int64_t i = (b * k + t) * ho * wo + p;
        expectedDiag.data[i] = 1.0 + gamma.data[0] * pDiag.data[i];
        for (int64_t s = 0; s < k; ++s) {
          int64_t j = (b * k * k + t * k + s) * ho * wo + p;
          expectedFull.data[j] =
              (t == s ? 1.0 : 0.0) + gamma.data[0] * pFull.data[j];
        }
      }
    }
  EXPECT_TRUE(close(diag, expectedDiag));
  EXPECT_TRUE(close(full, expectedFull));
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

struct BatchNormParams {
  Tensor weight, bias, mean, var;
};

BatchNormParams batchNormParams(Random &rng, int64_t c) {
  BatchNormParams p{rng.tensor({c}), rng.tensor({c}), rng.tensor({c}),
                    rng.tensor({c})};
  for (double &v : p.var.data)
    v = 0.2 + std::fabs(v); // non-trivial positive running variance
  return p;
}

TEST(BatchNormTest, InferenceMatchesTheFormula) {
  Random rng(17);
  for (Shape shape : {Shape{2, 3, 4, 5}, Shape{5, 7}, Shape{3, 2, 6}}) {
    int64_t c = shape[1];
    Tensor x = rng.tensor(shape);
    BatchNormParams p = batchNormParams(rng, c);
    int64_t inner = x.numel() / shape[0] / c;
    Tensor expected(shape);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t ch = (i / inner) % c;
      double scale = p.weight.data[ch] / std::sqrt(p.var.data[ch] + 1e-5);
      expected.data[i] =
          x.data[i] * scale + (p.bias.data[ch] - p.mean.data[ch] * scale);
    }
    SCOPED_TRACE(shapeToString(shape));
    EXPECT_TRUE(
        close(batchNorm(x, p.weight, p.bias, p.mean, p.var, 1e-5), expected));
  }
}

TEST(BatchNormTest, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
  Random rng(18);
  for (Shape shape : {Shape{2, 3, 4, 5}, Shape{6, 4}, Shape{1, 3, 3, 1}}) {
    const int64_t c = shape[1];
    Tensor x = rng.tensor(shape);
    BatchNormParams p = batchNormParams(rng, c);
    const int64_t inner = x.numel() / shape[0] / c;
    const int64_t count = shape[0] * inner;
    Tensor mean({c}), var({c}), runningMean({c}), runningVar({c});
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum = 0, squares = 0;
      for (int64_t i = 0; i < x.numel(); ++i)
        if ((i / inner) % c == ch) {
          sum += x.data[i];
          squares += x.data[i] * x.data[i];
        }
      mean.data[ch] = sum / count;
      var.data[ch] = squares / count - mean.data[ch] * mean.data[ch];
      runningMean.data[ch] = 0.9 * p.mean.data[ch] + 0.1 * mean.data[ch];
      runningVar.data[ch] =
          0.9 * p.var.data[ch] + 0.1 * var.data[ch] * count / (count - 1.0);
    }
    SCOPED_TRACE(shapeToString(shape));
    BatchNormTrainResult r =
        batchNormTrain(x, p.weight, p.bias, p.mean, p.var, 1e-5, 0.1);
    // E[x²] − E[x]² loses a few digits to cancellation.
    EXPECT_TRUE(close(r.batchMean, mean));
    EXPECT_TRUE(close(r.batchVar, var, 1e-11));
    EXPECT_TRUE(close(r.runningMean, runningMean));
    EXPECT_TRUE(close(r.runningVar, runningVar, 1e-11));
    EXPECT_TRUE(close(r.output, batchNorm(x, p.weight, p.bias, mean, var, 1e-5),
                      1e-11));
  }
}

//===----------------------------------------------------------------------===//
// Pooling and the rest
//===----------------------------------------------------------------------===//

/// x padded explicitly with `fill` around each plane.
Tensor pad(const Tensor &x, std::array<int64_t, 2> padding, double fill) {
  const int64_t h = x.dim(2) + 2 * padding[0], w = x.dim(3) + 2 * padding[1];
  Tensor y({x.dim(0), x.dim(1), h, w});
  std::fill(y.data.begin(), y.data.end(), fill);
  for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane)
    for (int64_t i = 0; i < x.dim(2); ++i)
      for (int64_t j = 0; j < x.dim(3); ++j)
        y.data[(plane * h + i + padding[0]) * w + j + padding[1]] =
            x.data[(plane * x.dim(2) + i) * x.dim(3) + j];
  return y;
}

/// Pools each window of the padded image with `reduce` over its values and
/// the matching values of a second padded image (for masks).
Tensor
poolPadded(const Tensor &padded, const Tensor &second,
           std::array<int64_t, 2> kernel, const Window &win,
           const std::function<double(const std::vector<double> &,
                                      const std::vector<double> &)> &reduce) {
  const int64_t h = padded.dim(2), w = padded.dim(3);
  const int64_t ho =
      countPositions(h, kernel[0], win.stride[0], 0, win.dilation[0]);
  const int64_t wo =
      countPositions(w, kernel[1], win.stride[1], 0, win.dilation[1]);
  Tensor y({padded.dim(0), padded.dim(1), ho, wo});
  for (int64_t plane = 0; plane < padded.dim(0) * padded.dim(1); ++plane)
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        std::vector<double> values, others;
        for (int64_t i = 0; i < kernel[0]; ++i)
          for (int64_t j = 0; j < kernel[1]; ++j) {
            int64_t at =
                (plane * h + oy * win.stride[0] + i * win.dilation[0]) * w +
                ox * win.stride[1] + j * win.dilation[1];
            values.push_back(padded.data[at]);
            others.push_back(second.data[at]);
          }
        y.data[(plane * ho + oy) * wo + ox] = reduce(values, others);
      }
  return y;
}

TEST(PoolTest, MaxPoolMatchesAMinusInfinityPaddedImage) {
  Random rng(19);
  struct Case {
    Shape shape;
    std::array<int64_t, 2> kernel;
    Window window;
  };
  for (const Case &c : std::vector<Case>{
           {{2, 3, 7, 6}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1})},
           {{1, 2, 9, 8}, {3, 2}, makeWindow({1, 2}, {1, 1}, {2, 2})},
           {{2, 5, 8, 8}, {2, 2}, makeWindow({2, 2}, {0, 0}, {1, 1})},
           {{1, 1, 5, 7}, {5, 4}, makeWindow({1, 3}, {2, 2}, {1, 1})}}) {
    Tensor x = rng.tensor(c.shape);
    Tensor padded =
        pad(x, c.window.padding, -std::numeric_limits<double>::infinity());
    Tensor expected = poolPadded(
        padded, padded, c.kernel, c.window,
        [](const std::vector<double> &v, const std::vector<double> &) {
          return *std::max_element(v.begin(), v.end());
        });
    SCOPED_TRACE(shapeToString(c.shape));
    EXPECT_TRUE(close(maxPool2d(x, c.kernel, c.window), expected));
  }
}

TEST(PoolTest, AvgPoolMatchesAZeroPaddedImageAndAMask) {
  Random rng(20);
  struct Case {
    Shape shape;
    std::array<int64_t, 2> kernel;
    Window window;
  };
  for (const Case &c : std::vector<Case>{
           {{2, 3, 7, 6}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1})},
           {{1, 2, 9, 8}, {3, 2}, makeWindow({1, 2}, {1, 1}, {1, 1})},
           {{2, 5, 8, 8}, {2, 2}, makeWindow({2, 2}, {0, 0}, {1, 1})},
           {{1, 1, 5, 7}, {5, 4}, makeWindow({1, 3}, {2, 2}, {1, 1})}})
    for (bool includePad : {true, false}) {
      Tensor x = rng.tensor(c.shape);
      Tensor ones(c.shape);
      std::fill(ones.data.begin(), ones.data.end(), 1.0);
      Tensor expected = poolPadded(
          pad(x, c.window.padding, 0.0), pad(ones, c.window.padding, 0.0),
          c.kernel, c.window,
          [&](const std::vector<double> &v, const std::vector<double> &mask) {
            double sum = 0, inside = 0;
            for (size_t i = 0; i < v.size(); ++i) {
              sum += v[i];
              inside += mask[i];
            }
            return sum / (includePad ? double(v.size()) : inside);
          });
      SCOPED_TRACE(shapeToString(c.shape) +
                   (includePad ? " count_include_pad" : " exclude pad"));
      EXPECT_TRUE(
          close(avgPool2d(x, c.kernel, c.window, includePad), expected));
    }
}

/// The window starts of one dimension as PyTorch's pooling describes them:
/// start o·s − p for o = 0, 1, …; floor mode takes a window while it lies
/// inside the padded input, ceil mode while the window before it (at
/// start − s) ended before the padded input's end and the window starts
/// inside the image or its left padding.
std::vector<int64_t> windowStarts(int64_t in, int64_t kernel, int64_t stride,
                                  int64_t padding, int64_t dilation,
                                  bool ceilMode) {
  const int64_t span = dilation * (kernel - 1) + 1, end = in + padding;
  std::vector<int64_t> starts;
  for (int64_t start = -padding;; start += stride) {
    bool take = ceilMode ? start - stride + span < end && start < in
                         : start + span <= end;
    if (!take)
      break;
    starts.push_back(start);
  }
  return starts;
}

TEST(PoolTest, CeilModeMatchesWindowsEnumeratedOneByOne) {
  Random rng(23);
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    Shape shape;
    std::array<int64_t, 2> kernel;
    Window window;
    std::array<int64_t, 2> expectedSize; // PyTorch's, for ceil_mode=True
  };
  for (const Case &c : std::vector<Case>{
           {{2, 3, 8, 9}, {3, 3}, makeWindow({2, 2}, {0, 0}, {1, 1}), {4, 4}},
           {{1, 2, 6, 7}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1}), {4, 4}},
           {{1, 3, 7, 5}, {2, 2}, makeWindow({2, 2}, {1, 1}, {1, 1}), {4, 3}},
           {{1, 2, 8, 9}, {3, 2}, makeWindow({2, 3}, {1, 1}, {2, 1}), {4, 4}},
           {{2, 2, 2, 5}, {3, 3}, makeWindow({2, 2}, {0, 0}, {1, 1}), {1, 2}},
           {{1, 1, 32, 32},
            {3, 3},
            makeWindow({2, 2}, {0, 0}, {1, 1}),
            {16, 16}},
           {{1, 1, 9, 11},
            {4, 5},
            makeWindow({3, 3}, {2, 2}, {1, 1}),
            {4, 5}}}) {
    SCOPED_TRACE(shapeToString(c.shape) + " kernel " +
                 std::to_string(c.kernel[0]) + "x" +
                 std::to_string(c.kernel[1]));
    const Window &win = c.window;
    std::vector<int64_t> rows =
        windowStarts(c.shape[2], c.kernel[0], win.stride[0], win.padding[0],
                     win.dilation[0], true);
    std::vector<int64_t> cols =
        windowStarts(c.shape[3], c.kernel[1], win.stride[1], win.padding[1],
                     win.dilation[1], true);
    ASSERT_EQ(int64_t(rows.size()), c.expectedSize[0]);
    ASSERT_EQ(int64_t(cols.size()), c.expectedSize[1]);
    Tensor x = rng.tensor(c.shape);
    const int64_t h = c.shape[2], w = c.shape[3];
    const int64_t ho = c.expectedSize[0], wo = c.expectedSize[1];
    Tensor maxima({c.shape[0], c.shape[1], ho, wo});
    Tensor included(maxima.shape), excluded(maxima.shape);
    for (int64_t plane = 0; plane < c.shape[0] * c.shape[1]; ++plane)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double best = -inf, sum = 0, inPadded = 0, inImage = 0;
          for (int64_t ky = 0; ky < c.kernel[0]; ++ky)
            for (int64_t kx = 0; kx < c.kernel[1]; ++kx) {
              int64_t iy = rows[oy] + ky * win.dilation[0];
              int64_t ix = cols[ox] + kx * win.dilation[1];
              bool padded = iy < h + win.padding[0] && ix < w + win.padding[1];
              bool image = iy >= 0 && iy < h && ix >= 0 && ix < w;
              inPadded += padded ? 1 : 0;
              if (!image)
                continue;
              inImage += 1;
              double v = x.data[(plane * h + iy) * w + ix];
              best = std::max(best, v);
              sum += v;
            }
          int64_t at = (plane * ho + oy) * wo + ox;
          maxima.data[at] = best;
          included.data[at] = sum / inPadded;
          excluded.data[at] = sum / inImage;
        }
    EXPECT_TRUE(close(maxPool2d(x, c.kernel, win, true), maxima));
    if (win.dilation != std::array<int64_t, 2>{1, 1})
      continue;
    EXPECT_TRUE(close(avgPool2d(x, c.kernel, win, true, true), included));
    EXPECT_TRUE(close(avgPool2d(x, c.kernel, win, false, true), excluded));
  }
}

TEST(PoolTest, OutputSizesCountTheEnumeratedWindows) {
  // windowOutputSize (floor and ceil mode) against the enumeration above.
  for (int64_t in : {1, 2, 5, 8, 13})
    for (int64_t k : {1, 2, 3})
      for (int64_t s : {1, 2, 3})
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d : {1, 2})
            for (bool ceil : {false, true}) {
              int64_t size = windowOutputSize(in, k, s, p, d, ceil);
              EXPECT_EQ(int64_t(windowStarts(in, k, s, p, d, ceil).size()),
                        std::max<int64_t>(size, 0))
                  << "in " << in << " k " << k << " s " << s << " p " << p
                  << " d " << d << (ceil ? " ceil" : " floor");
            }
}

/// The windows of an adaptive pool, computed in floating point:
/// [⌊i·in/out⌋, ⌈(i+1)·in/out⌉).
std::pair<int64_t, int64_t> adaptiveRange(int64_t i, int64_t in, int64_t out) {
  double ratio = double(in) / double(out);
  return {int64_t(std::floor(double(i) * ratio)),
          int64_t(std::ceil(double(i + 1) * ratio))};
}

TEST(PoolTest, AdaptivePoolsMatchWindowsComputedInFloatingPoint) {
  Random rng(24);
  struct Case {
    Shape shape;
    std::array<int64_t, 2> size;
  };
  for (const Case &c : std::vector<Case>{{{2, 3, 7, 5}, {3, 2}},
                                         {{1, 2, 2, 1}, {7, 7}},
                                         {{1, 4, 13, 9}, {5, 4}},
                                         {{2, 1, 1, 1}, {6, 6}},
                                         {{1, 2, 3, 10}, {5, 3}}}) {
    SCOPED_TRACE(shapeToString(c.shape) + " to " + std::to_string(c.size[0]) +
                 "x" + std::to_string(c.size[1]));
    Tensor x = rng.tensor(c.shape);
    const int64_t h = c.shape[2], w = c.shape[3];
    Shape out{c.shape[0], c.shape[1], c.size[0], c.size[1]};
    Tensor mean(out), maxima(out);
    for (int64_t plane = 0; plane < c.shape[0] * c.shape[1]; ++plane)
      for (int64_t i = 0; i < c.size[0]; ++i)
        for (int64_t j = 0; j < c.size[1]; ++j) {
          auto [y0, y1] = adaptiveRange(i, h, c.size[0]);
          auto [x0, x1] = adaptiveRange(j, w, c.size[1]);
          double sum = 0, best = -std::numeric_limits<double>::infinity();
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) {
              sum += x.data[(plane * h + y) * w + xx];
              best = std::max(best, x.data[(plane * h + y) * w + xx]);
            }
          int64_t at = (plane * c.size[0] + i) * c.size[1] + j;
          mean.data[at] = sum / double((y1 - y0) * (x1 - x0));
          maxima.data[at] = best;
        }
    EXPECT_TRUE(close(adaptiveAvgPool2d(x, c.size), mean));
    EXPECT_TRUE(close(adaptiveMaxPool2d(x, c.size), maxima));
  }
}

TEST(PoolTest, AdaptivePoolsReduceToFixedWindowsWhereTheSizesDivide) {
  Random rng(25);
  Tensor x = rng.tensor({2, 3, 12, 10});
  // 12x10 to 4x5: 3x2 windows, stride 3x2; to 1x1: the global mean; to
  // 12x10: the input itself.
  Window window = makeWindow({3, 2}, {0, 0}, {1, 1});
  EXPECT_TRUE(
      close(adaptiveAvgPool2d(x, {4, 5}), avgPool2d(x, {3, 2}, window, true)));
  EXPECT_TRUE(
      close(adaptiveMaxPool2d(x, {4, 5}), maxPool2d(x, {3, 2}, window)));
  EXPECT_TRUE(close(adaptiveAvgPool2d(x, {1, 1}), globalAvgPool2d(x)));
  EXPECT_EQ(adaptiveAvgPool2d(x, {12, 10}).data, x.data);
  EXPECT_EQ(adaptiveMaxPool2d(x, {12, 10}).data, x.data);
}

TEST(PoolTest, GlobalAvgPoolIsAnAvgPoolOverTheWholeImage) {
  Random rng(21);
  Tensor x = rng.tensor({3, 5, 7, 4});
  Tensor expected = avgPool2d(x, {7, 4}, Window{}, true);
  Tensor y = globalAvgPool2d(x);
  EXPECT_EQ(y.shape, (Shape{3, 5, 1, 1}));
  EXPECT_TRUE(close(y, expected));
}

TEST(ElementwiseTest, ReluAddFlatten) {
  Random rng(22);
  Tensor a = rng.tensor({2, 3, 4, 5}), b = rng.tensor({2, 3, 4, 5});
  Tensor r = relu(a), s = add(a, b), f = flatten(a);
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_EQ(r.data[i], std::max(a.data[i], 0.0));
    EXPECT_EQ(s.data[i], a.data[i] + b.data[i]);
  }
  EXPECT_EQ(r.shape, a.shape);
  EXPECT_EQ(f.shape, (Shape{2, 60}));
  EXPECT_EQ(f.data, a.data);
  EXPECT_EQ(flatten(Tensor({4, 3})).shape, (Shape{4, 3}));
  Tensor labels({2}, {1, 2}, DType::I64);
  EXPECT_EQ(add(labels, labels).dtype, DType::I64);
}

TEST(CrossEntropyTest, MatchesSoftmaxProbabilities) {
  Random rng(23);
  for (auto [n, classes] :
       std::vector<std::pair<int64_t, int64_t>>{{4, 5}, {1, 3}, {7, 10}})
    for (double smoothing : {0.0, 0.1, 1.0}) {
      Tensor logits = rng.tensor({n, classes});
      for (double &v : logits.data)
        v *= 8; // spread the probabilities
      Tensor labels({n}, DType::I64);
      for (int64_t i = 0; i < n; ++i)
        labels.data[i] = (i * 7 + 3) % classes;
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        double partition = 0;
        for (int64_t c = 0; c < classes; ++c)
          partition += std::exp(logits.data[i * classes + c]);
        double smooth = 0;
        for (int64_t c = 0; c < classes; ++c)
          smooth -=
              std::log(std::exp(logits.data[i * classes + c]) / partition) /
              classes;
        double target =
            std::exp(logits.data[i * classes + int64_t(labels.data[i])]) /
            partition;
        total += (1 - smoothing) * -std::log(target) + smoothing * smooth;
      }
      SCOPED_TRACE("smoothing " + std::to_string(smoothing));
      Tensor loss = softmaxCrossEntropy(logits, labels, smoothing);
      EXPECT_EQ(loss.rank(), 0);
      EXPECT_TRUE(close(loss, Tensor(Shape{}, {total / n})));
    }
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

class ValidationTest : public ::testing::Test {
protected:
  Random rng{24};
  Tensor x = rng.tensor({2, 3, 8, 8});
  Tensor w = rng.tensor({4, 3, 3, 3});
  Window same = makeWindow({1, 1}, {1, 1}, {1, 1});
  Similarity identity = makeSimilarity(Structure::Identity, {});
};

TEST_F(ValidationTest, SimConv2dOperands) {
  EXPECT_TRUE(throwsWith(
      [&] { simConv2d(Tensor({2, 3, 8}), w, identity, nullptr, same); },
      "sim_conv2d: input must have rank 4 (N, C, H, W), got shape [2, 3, 8]"));
  EXPECT_TRUE(throwsWith(
      [&] { simConv2d(x, Tensor({4, 2, 3, 3}), identity, nullptr, same); },
      "sim_conv2d: weight [4, 2, 3, 3] must have 3 input channels to match "
      "the input [2, 3, 8, 8]"));
  Tensor bias({5});
  EXPECT_TRUE(throwsWith([&] { simConv2d(x, w, identity, &bias, same); },
                         "sim_conv2d: bias must have shape [4] (O), got [5]"));
  Tensor labels({2, 3, 8, 8}, DType::I64);
  EXPECT_TRUE(throwsWith([&] { simConv2d(labels, w, identity, nullptr, same); },
                         "sim_conv2d: input must be f32, got i64"));
  EXPECT_TRUE(throwsWith(
      [&] { simConv2d(Tensor({2, 3, 0, 8}), w, identity, nullptr, same); },
      "input must have non-empty dimensions"));
}

TEST_F(ValidationTest, Windows) {
  auto conv = [&](Window window) {
    return [=] { simConv2d(x, w, identity, nullptr, window); };
  };
  EXPECT_TRUE(throwsWith(conv(makeWindow({0, 1}, {0, 0}, {1, 1})),
                         "sim_conv2d: stride must be >= 1, got [0, 1]"));
  EXPECT_TRUE(throwsWith(conv(makeWindow({1, 1}, {0, -1}, {1, 1})),
                         "sim_conv2d: padding must be >= 0, got [0, -1]"));
  EXPECT_TRUE(throwsWith(conv(makeWindow({1, 1}, {0, 0}, {1, 0})),
                         "sim_conv2d: dilation must be >= 1, got [1, 0]"));
  EXPECT_TRUE(throwsWith(conv(makeWindow({1, 1}, {0, 0}, {4, 1})),
                         "sim_conv2d: kernel 3x3 with dilation [4, 1] does "
                         "not fit the input [2, 3, 8, 8] padded by [0, 0]"));
  EXPECT_TRUE(throwsWith([] { windowOutputSize(5, 3, 0, 0, 1); },
                         "stride and dilation must be >= 1"));
}

TEST_F(ValidationTest, Similarities) {
  auto conv = [&](Similarity sim) {
    return [=] { simConv2d(x, w, sim, nullptr, same); };
  };
  EXPECT_TRUE(
      throwsWith(conv(makeSimilarity(Structure::Diagonal, {})),
                 "sim_conv2d: structure diagonal takes 1 similarity operand(s) "
                 "(m), got 0"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Identity, {Tensor({9})})),
      "structure identity takes 0 similarity operand(s) (none), got 1"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::ShapeMasked, {Tensor({9})})),
      "structure shape_masked takes 2 similarity operand(s) (d_r, R), got 1"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Diagonal, {Tensor({8})})),
      "sim_conv2d: static diagonal similarity m must have shape [9] (K), got "
      "[8]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Full, {Tensor({9})})),
      "static full similarity M must have shape [9, 9] (K, K), got [9]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Diagonal, {Tensor({2, 9, 7, 8})}, true)),
      "sim_conv2d: dynamic diagonal similarity must have shape [2, 9, 8, 8] "
      "(N, K, Ho, Wo), got [2, 9, 7, 8]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Full, {Tensor({2, 9, 8, 8})}, true)),
      "dynamic full similarity must have shape [2, 81, 8, 8] (N, K*K, Ho, "
      "Wo), got [2, 9, 8, 8]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Diagonal, {Tensor({1, 9, 8, 8})}, true)),
      "got [1, 9, 8, 8]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::Cholesky, {Tensor({2, 81, 8, 8})}, true)),
      "sim_conv2d: structure cholesky cannot be dynamic"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::ShapeMasked,
                          {Tensor({9}), Tensor({2, 10, 8, 8})}, true)),
      "dynamic shape_masked similarity R must be f32 of shape [2, 9, 8, 8] "
      "(N, K, Ho, Wo) or [2, 81, 8, 8] (N, K*K, Ho, Wo), got f32 [2, 10, 8, "
      "8]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::ShapeMasked, {Tensor({9}), Tensor({3})})),
      "static shape_masked similarity R must be f32 of shape [9] (K) or [9, "
      "9] (K, K), got f32 [3]"));
  EXPECT_TRUE(throwsWith(
      conv(makeSimilarity(Structure::ShapeMasked, {Tensor({8}), Tensor({9})})),
      "static shape_masked similarity d_r must have shape [9] (K), got [8]"));
  EXPECT_TRUE(throwsWith(
      [] {
        staticSimilarityMatrix(
            makeSimilarity(Structure::Diagonal, {Tensor({1, 3, 1, 1})}, true),
            3);
      },
      "a dynamic similarity is only supported by sim_conv2d"));
}

TEST_F(ValidationTest, SphereConvPatchNormPrediction) {
  SphereOptions learned;
  learned.variant = SphereVariant::LearnedSigmoid;
  EXPECT_TRUE(throwsWith([&] { sphereConv2d(x, w, nullptr, learned, same); },
                         "sphere_conv2d: the learned_sigmoid variant needs "
                         "the k_param operand [O]"));
  Tensor k3({3});
  EXPECT_TRUE(throwsWith([&] { sphereConv2d(x, w, &k3, learned, same); },
                         "sphere_conv2d: k_param must have shape [4] (O), "
                         "got [3]"));
  Tensor k4({4});
  EXPECT_TRUE(throwsWith(
      [&] { sphereConv2d(x, w, &k4, SphereOptions{}, same); },
      "k_param is only allowed with the learned_sigmoid variant, not cosine"));
  SphereOptions linearInputOnly;
  linearInputOnly.variant = SphereVariant::Linear;
  linearInputOnly.inputOnly = true;
  EXPECT_TRUE(throwsWith(
      [&] { sphereConv2d(x, w, nullptr, linearInputOnly, same); },
      "input_only is only allowed with the cosine variant, not linear"));
  SphereOptions noEpsilon;
  noEpsilon.epsilon = 0;
  EXPECT_TRUE(throwsWith([&] { sphereConv2d(x, w, nullptr, noEpsilon, same); },
                         "sphere_conv2d: epsilon must be positive"));
  SphereOptions badK;
  badK.variant = SphereVariant::Sigmoid;
  badK.sigmoidK = 0;
  EXPECT_TRUE(throwsWith([&] { sphereConv2d(x, w, nullptr, badK, same); },
                         "sigmoid_k must be positive"));
  EXPECT_TRUE(throwsWith([&] { patchNorm(x, {0, 3}, same, 1e-4); },
                         "patch_norm: kernel size must be >= 1, got [0, 3]"));
  EXPECT_TRUE(throwsWith([&] { patchNorm(x, {3, 3}, same, -1); },
                         "patch_norm: epsilon must be non-negative"));
  Tensor gamma(Shape{}, {0.5});
  EXPECT_TRUE(throwsWith(
      [&] {
        predictedSimilarity(Tensor({2, 8, 4, 4}), gamma, Structure::Full);
      },
      "predicted_similarity: a full prediction must have K*K channels"));
  EXPECT_TRUE(throwsWith(
      [&] {
        predictedSimilarity(Tensor({2, 9, 4, 4}), Tensor({2}),
                            Structure::Diagonal);
      },
      "gamma must be an f32 scalar of shape [] or [1], got f32 [2]"));
  EXPECT_TRUE(throwsWith(
      [&] {
        predictedSimilarity(Tensor({2, 9, 4, 4}), gamma, Structure::Cholesky);
      },
      "structure must be diagonal or full, got cholesky"));
}

TEST_F(ValidationTest, LinearAndFold) {
  Tensor xl = rng.tensor({2, 12}), wl = rng.tensor({5, 12});
  EXPECT_TRUE(throwsWith(
      [&] { simLinear(xl, wl, identity, nullptr, 5); },
      "sim_linear: group_size must be >= 1 and divide the 12 input features, "
      "got 5"));
  EXPECT_TRUE(
      throwsWith([&] { simLinear(xl, Tensor({5, 10}), identity, nullptr, 4); },
                 "sim_linear: weight [5, 10] must have 12 input features"));
  EXPECT_TRUE(throwsWith(
      [&] {
        simLinear(
            xl, wl,
            makeSimilarity(Structure::Diagonal, {Tensor({2, 4, 1, 1})}, true),
            nullptr, 4);
      },
      "sim_linear: a dynamic similarity is only supported by sim_conv2d"));
  EXPECT_TRUE(throwsWith(
      [&] {
        simLinear(xl, wl, makeSimilarity(Structure::Full, {Tensor({3, 3})}),
                  nullptr, 4);
      },
      "static full similarity M must have shape [4, 4] (K, K), got [3, 3]"));
  EXPECT_TRUE(throwsWith([&] { foldSimilarity(w, identity, 3); },
                         "fold_similarity: the weight must be a conv weight"));
  EXPECT_TRUE(throwsWith([&] { foldSimilarity(wl, identity, 5); },
                         "group_size 5 must divide the 12 features"));
  EXPECT_TRUE(throwsWith([&] { linear(xl, Tensor({5, 11}), nullptr); },
                         "linear: weight [5, 11] must have 12 input "
                         "features to match the input [2, 12]"));
}

TEST_F(ValidationTest, BatchNorm) {
  Tensor c3 = rng.tensor({3}), c4({4});
  Tensor var({3}, {1.0, -1.0, 1.0});
  EXPECT_TRUE(throwsWith([&] { batchNorm(Tensor({3}), c3, c3, c3, c3, 1e-5); },
                         "batch_norm: input must have rank >= 2"));
  EXPECT_TRUE(
      throwsWith([&] { batchNorm(x, c4, c3, c3, c3, 1e-5); },
                 "batch_norm: weight must have shape [3] (C), got [4]"));
  EXPECT_TRUE(throwsWith([&] { batchNorm(x, c3, c3, c3, c4, 1e-5); },
                         "running_var must have shape [3] (C), got [4]"));
  EXPECT_TRUE(throwsWith(
      [&] { batchNorm(x, c3, c3, c3, var, 1e-5); },
      "batch_norm: variance + epsilon of channel 1 must be positive"));
  EXPECT_TRUE(throwsWith(
      [&] { batchNormTrain(Tensor({1, 3}), c3, c3, c3, c3, 1e-5, 0.1); },
      "batch_norm_train: training needs more than one value per channel, "
      "got input [1, 3]"));
  EXPECT_TRUE(
      throwsWith([&] { batchNormTrain(x, c3, c3, c3, c3, 1e-5, 1.5); },
                 "batch_norm_train: momentum must be in [0, 1], got 1.5"));
}

TEST_F(ValidationTest, PoolsAndTheRest) {
  EXPECT_TRUE(throwsWith(
      [&] { maxPool2d(x, {3, 3}, makeWindow({1, 1}, {2, 0}, {1, 1})); },
      "max_pool2d: padding [2, 0] must be at most half the kernel size [3, "
      "3]"));
  EXPECT_TRUE(throwsWith(
      [&] { avgPool2d(x, {3, 3}, makeWindow({1, 1}, {0, 0}, {2, 1}), true); },
      "avg_pool2d: dilation must be [1, 1], got [2, 1]"));
  EXPECT_TRUE(throwsWith([&] { maxPool2d(x, {9, 3}, Window{}); },
                         "max_pool2d: kernel 9x3"));
  EXPECT_TRUE(throwsWith([&] { globalAvgPool2d(Tensor({2, 3})); },
                         "global_avg_pool2d: input must have rank 4"));
  EXPECT_TRUE(throwsWith(
      [&] {
        maxPool2d(Tensor({1, 1, 1, 1}), {3, 3},
                  makeWindow({2, 2}, {0, 0}, {1, 1}), true);
      },
      "max_pool2d: kernel 3x3 with dilation [1, 1] does not fit the input "
      "[1, 1, 1, 1] padded by [0, 0]: the output would be 0x0"));
  EXPECT_TRUE(throwsWith([&] { adaptiveAvgPool2d(x, {0, 3}); },
                         "adaptive_avg_pool2d: output size must be >= 1, got "
                         "[0, 3]"));
  EXPECT_TRUE(throwsWith([&] { adaptiveMaxPool2d(Tensor({2, 3, 4}), {2, 2}); },
                         "adaptive_max_pool2d: input must have rank 4"));
  EXPECT_TRUE(throwsWith([&] { add(x, w); },
                         "add: lhs f32 [2, 3, 8, 8] and rhs f32 [4, 3, 3, 3] "
                         "must have the same dtype and shape"));
  EXPECT_TRUE(throwsWith([&] { flatten(Tensor({3})); },
                         "flatten: input must have rank >= 2"));
  EXPECT_TRUE(throwsWith([&] { relu(Tensor({3}, DType::I64)); },
                         "relu: input must be f32, got i64"));
  Tensor logits = rng.tensor({2, 5});
  Tensor labels({2}, {1, 5}, DType::I64);
  EXPECT_TRUE(throwsWith([&] { softmaxCrossEntropy(logits, labels, 0); },
                         "softmax_cross_entropy: labels[1] = 5.000000 is not "
                         "a class in [0, 5)"));
  EXPECT_TRUE(throwsWith([&] { softmaxCrossEntropy(logits, Tensor({2}), 0); },
                         "labels must be i64 of shape [2] (N), got f32 [2]"));
  Tensor fine({2}, {1, 4}, DType::I64);
  EXPECT_TRUE(throwsWith([&] { softmaxCrossEntropy(logits, fine, 1.5); },
                         "label_smoothing must be in [0, 1], got 1.5"));
}

TEST(NamesTest, ParseAndPrint) {
  for (Structure s : {Structure::Identity, Structure::Diagonal, Structure::Full,
                      Structure::Cholesky, Structure::ShapeMasked})
    EXPECT_EQ(parseStructure(structureName(s)), s);
  for (SphereVariant v :
       {SphereVariant::Cosine, SphereVariant::Linear, SphereVariant::Sigmoid,
        SphereVariant::LearnedSigmoid})
    EXPECT_EQ(parseSphereVariant(sphereVariantName(v)), v);
  EXPECT_EQ(parseDType("i64"), DType::I64);
  EXPECT_EQ(parseDType(dtypeName(DType::F32)), DType::F32);
  EXPECT_TRUE(throwsWith([] { parseStructure("dense"); },
                         "unknown similarity structure 'dense'"));
  EXPECT_TRUE(throwsWith([] { parseSphereVariant("tanh"); },
                         "unknown SphereConv variant 'tanh'"));
  EXPECT_TRUE(throwsWith([] { parseDType("f16"); }, "unknown dtype 'f16'"));
  EXPECT_TRUE(throwsWith([] { Tensor({2, 3}, {1.0, 2.0}); },
                         "a tensor of shape [2, 3] needs 6 values, got 2"));
  EXPECT_TRUE(throwsWith([] { numElements({2, -1}); },
                         "shape [2, -1] has a negative dimension"));
  EXPECT_EQ(shapeToString({}), "[]");
  EXPECT_EQ(numElements({}), 1);
}

} // namespace
