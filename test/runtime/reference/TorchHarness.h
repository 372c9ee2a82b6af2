//===- TorchHarness.h - Comparing the reference with PyTorch ----*- C++ -*-===//
//
// What TorchOracleTest and TorchGradTest share: cases of operands (written
// as NAME.OPERAND.npy) and attributes (a line of manifest.txt each), random
// values exact in float32, the similarity structures and convolution
// geometries to cover, the one run of a Python script on all cases in a
// fresh temporary directory, and the relative-error comparison with its
// outputs.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_TEST_REFERENCE_TORCHHARNESS_H
#define NSL_TEST_REFERENCE_TORCHHARNESS_H

#include "runtime/reference/Ops.h"
#include "test/runtime/reference/TestUtil.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace nsl::reference::test {

/// One comparison: operands written as NAME.OPERAND.npy, attributes for the
/// manifest, the operands to differentiate (gradient cases only), and the
/// reference computation of the outputs (or of the gradients of `wrt`, in
/// that order).
struct TorchCase {
  std::string name, op;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, Tensor>> inputs;
  std::vector<std::string> wrt;
  std::function<std::vector<Tensor>(const TorchCase &)> reference;

  TorchCase &attr(const std::string &key, const std::string &value);
  TorchCase &attr(const std::string &key, double value);
  TorchCase &pair(const std::string &key, std::array<int64_t, 2> v);
  TorchCase &window(const Window &w);
  /// An operand; `differentiate` adds it to `wrt`.
  TorchCase &input(const std::string &key, Tensor t,
                   bool differentiate = false);
  const Tensor *find(const std::string &key) const;
  const Tensor &operator[](const std::string &key) const;
};

class Random {
public:
  explicit Random(uint32_t seed) : engine(seed) {}
  /// uniform(−1, 1) rounded to float (so that <f4 files hold it exactly),
  /// never zero.
  double next();
  Tensor tensor(Shape shape);
  Tensor positive(Shape shape);
  /// Values from {−1, −0.5, 0, 0.5, 1}: many exact ties and zeros.
  Tensor quantized(Shape shape);

private:
  std::mt19937 engine;
  std::uniform_real_distribution<double> dist{-1.0, 1.0};
};

/// The operand shapes an elementwise row is compared on: equal shapes, a
/// per-channel operand, a rank-0 one, a leading size-1 dimension (binary);
/// one shape (unary). A row whose second operand is a number in PyTorch
/// (leaky_relu's slope, elu's alpha) gets the rank-0 case only.
struct ElementwiseCase {
  std::string tag;
  Shape a, b;
};
std::vector<ElementwiseCase> elementwiseCases(const std::string &row);

/// Whether the row's second operand is a Python number in PyTorch
/// (leaky_relu's slope, elu's alpha): rank 0 and not differentiated.
bool elementwiseNumberOperand(const std::string &row);

/// Operand `k` of the row `row`, drawn where the row is defined and
/// interesting (as test/e2e/generate.py): spread over [−4, 4] for kinks and
/// tails, |v| + 0.5 for logarithms, roots, divisors and bases.
Tensor elementwiseOperand(Random &rng, const std::string &row, int k,
                          const Shape &shape);

/// Stride 2, padding 0/1/2, dilation 2, batch 1, odd and non-square sizes,
/// channel counts not divisible by 8, a 1-wide kernel.
const std::vector<Geometry> &torchGeometries();

/// Strides 1 to 3, padding 0 to 2, a dilated and non-square kernels; ceil
/// mode with partial last windows.
const std::vector<Pool> &torchPools();

/// Adaptive pools to sizes that do not divide the input, larger than the
/// input, dividing it, and 1×1.
const std::vector<AdaptivePool> &torchAdaptivePools();

/// The operands of a similarity as named in torch_oracle.py, in the order of
/// Similarity::operands.
std::vector<std::string> similarityOperandNames(Structure s);

/// Adds random similarity operands for K taps (dynamic ones aligned with
/// N × Ho × Wo), all differentiated, and the structure/alpha/dynamic
/// attributes. shape_masked masks its first tap (d_r = alpha exactly).
void addSimilarity(TorchCase &c, Random &rng, Structure s, bool dynamic,
                   bool diagonalR, int64_t taps, int64_t n = 0, int64_t ho = 0,
                   int64_t wo = 0);

/// The similarity of a case's attributes and operands.
Similarity similarityOf(const TorchCase &c);

std::string structureTag(Structure s, bool diagonalR);

/// Every structure to cover, with shape_masked in both R forms.
std::vector<std::pair<Structure, bool>> structureVariants(bool dynamicOnly);

/// A convolution case with a similarity, on torchGeometries()[geometry].
struct SimConvCase {
  std::string name, op;
  size_t geometry;
  Structure structure;
  bool diagonalR, dynamic, bias;
};

/// folded_conv2d for every static structure but identity, then
/// unfold_sim_conv2d for every structure, static and dynamic.
std::vector<SimConvCase> simConvCases();

std::string readText(const std::string &path);

/// Writes every case into a fresh temporary directory (from the mkdtemp
/// pattern `dirPattern`) and runs test/runtime/reference/`script` once on all
/// of them (importing torch takes about a second, so each suite runs as one
/// process: see CMakeLists.txt). A failed run fails every test with the
/// script's output; `what` names the script in that message.
class PythonRun {
public:
  PythonRun(const std::string &dirPattern, const std::string &script,
            const std::string &what, const std::vector<TorchCase> &cases);
  ~PythonRun();
  PythonRun(const PythonRun &) = delete;
  PythonRun &operator=(const PythonRun &) = delete;

  std::string dir;
  /// Why the Python run failed, or empty.
  std::string error;
};

/// Both sides compute in double; they agree to ~1e-15.
constexpr double kTorchTolerance = 1e-9;

/// Whether the reference's y is within kTorchTolerance of PyTorch's r in
/// relative error ‖y − r‖₂/‖r‖₂.
::testing::AssertionResult closeToOracle(const Tensor &y, const Tensor &r);

/// The worst finite relative error closeToOracle has seen.
double &worstRelativeError();

/// A suite with a test per case, whose Python run `StartRun` starts before the
/// first test.
template <const PythonRun &(*StartRun)()>
class PythonSuite : public ::testing::TestWithParam<size_t> {
protected:
  static void SetUpTestSuite() { StartRun(); }
};

} // namespace nsl::reference::test

#endif // NSL_TEST_REFERENCE_TORCHHARNESS_H
