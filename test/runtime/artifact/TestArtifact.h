//===- TestArtifact.h - Hand-made artifacts for the runtime tests -*- C++
//-*-===//
//
// The compiler that writes real artifacts is tested elsewhere; these tests
// build their own: a manifest, weights, a graph.json that matches the
// kernels, and kernels.so compiled from C source with the C compiler of
// the build (NSL_C_COMPILER). The model is a small MLP:
//
//   hidden  = relu(x · fc.weightᵀ + fc.bias)          x [4, 8], weight [5, 8]
//   output0 = hidden + __constant_0                    constant [4, 5]
//
// plus an entry point "count" whose kernel records the ranges it is called
// on and the workspace it gets, to check how launches are split over
// threads.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_TEST_RUNTIME_TESTARTIFACT_H
#define NSL_TEST_RUNTIME_TESTARTIFACT_H

#include "runtime/artifact/Tensor.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace nsl::runtime::test {

constexpr int64_t batch = 4, features = 8, classes = 5, countExtent = 10;

struct TestArtifact {
  /// In the order written (manifest.json stays readable).
  nlohmann::ordered_json manifest;
  std::map<std::string, Tensor> weights;
  std::string kernelSource;
  std::string graph; // graph.json; not written if empty.

  /// Writes the artifact into a fresh folder and returns its path.
  std::string write() const;
};

/// The MLP and count artifact described above; `reluBody` is the C
/// expression relu computes from `v` (a wrong one makes a wrong kernel).
TestArtifact mlpArtifact(const std::string &reluBody = "v > 0.0f ? v : 0.0f");

/// An artifact with weight preparation (docs/artifact.md), all of size
/// preparedSize:
///   prepare_forward(w)  → w@prepared = 2·w + (calls of its kernel so far)
///   forward(x, w, w@prepared derived) → y = x + w@prepared
///   step(w) → w = w + 1 (the model's new w)
/// The call count in the prepared value shows when the runtime prepares.
constexpr int64_t preparedSize = 6;
TestArtifact preparedArtifact();

/// A fresh, empty folder, removed when the test program ends.
std::string freshDirectory();
/// Compiles C source into a shared library (cached by content) and returns
/// its path; copy it before loading so that every load gets its own file.
std::string compileKernels(const std::string &source);
/// Writes bytes to a file.
void writeFile(const std::string &path, const std::string &bytes);

/// Uniform in [-1, 1), exact in float32.
Tensor randomTensor(const Shape &shape, uint32_t seed);

/// The MLP computed here in double: {output0, hidden}.
std::map<std::string, std::vector<double>> expectedMlp(const Tensor &x,
                                                       const Tensor &weight,
                                                       const Tensor &bias,
                                                       const Tensor &constant);
/// ‖y − r‖₂ / ‖r‖₂.
double relativeError(const Tensor &y, const std::vector<double> &r);

/// The message of the Error (of type E) that f throws ("" if none).
template <typename E = Error, typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const E &e) {
    return e.what();
  }
  return "";
}

/// Runs a shell command; returns its exit status and its output (stdout
/// and stderr).
std::pair<int, std::string> runCommand(const std::string &command);

} // namespace nsl::runtime::test

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "message: " << (haystack) << "\nexpected to contain: " << (needle)

#endif // NSL_TEST_RUNTIME_TESTARTIFACT_H
