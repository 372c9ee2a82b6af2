//===- TestUtil.h - Helpers shared by the reference tests -------*- C++ -*-===//
//
// What OpsTest, GradientsTest, TorchOracleTest and TorchGradTest share:
// windows, similarities and convolution geometries built in one line, the
// relative error ‖y − r‖₂/‖r‖₂ of two tensors, and expecting a ReferenceError
// with a given message.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_TEST_REFERENCE_TESTUTIL_H
#define NSL_TEST_REFERENCE_TESTUTIL_H

#include "runtime/reference/Ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace nsl::reference::test {

inline Window makeWindow(std::array<int64_t, 2> stride,
                         std::array<int64_t, 2> pad,
                         std::array<int64_t, 2> dilation) {
  Window w;
  w.stride = stride;
  w.padding = pad;
  w.dilation = dilation;
  return w;
}

inline Similarity makeSimilarity(Structure structure,
                                 std::vector<Tensor> operands,
                                 bool dynamic = false, double alpha = 0.0) {
  Similarity s;
  s.structure = structure;
  s.dynamic = dynamic;
  s.alpha = alpha;
  s.operands = std::move(operands);
  return s;
}

/// A convolution problem: x [n, c, h, w], weight [o, c, kh, kw].
struct Geometry {
  int64_t n, c, h, w, o, kh, kw;
  Window window;
  int64_t taps() const { return kh * kw; }
  int64_t ho() const {
    return windowOutputSize(h, kh, window.stride[0], window.padding[0],
                            window.dilation[0]);
  }
  int64_t wo() const {
    return windowOutputSize(w, kw, window.stride[1], window.padding[1],
                            window.dilation[1]);
  }
};

/// A pooling window over an input of `shape` (PyTorch's ceil_mode where
/// `ceilMode`).
struct Pool {
  std::string tag;
  Shape shape;
  std::array<int64_t, 2> kernel;
  Window window;
  bool ceilMode = false;
};

/// An adaptive pool of an input of `shape` to `outputSize`.
struct AdaptivePool {
  std::string tag;
  Shape shape;
  std::array<int64_t, 2> outputSize;
};

/// "x [n, c, h, w], kernel khxkw, stride s,s, padding p,p, dilation d,d" of
/// a geometry (any struct with Geometry's fields).
template <typename G> std::string describe(const G &g) {
  auto pair = [](const std::array<int64_t, 2> &p) {
    return std::to_string(p[0]) + "," + std::to_string(p[1]);
  };
  return "x [" + std::to_string(g.n) + ", " + std::to_string(g.c) + ", " +
         std::to_string(g.h) + ", " + std::to_string(g.w) + "], kernel " +
         std::to_string(g.kh) + "x" + std::to_string(g.kw) + ", stride " +
         pair(g.window.stride) + ", padding " + pair(g.window.padding) +
         ", dilation " + pair(g.window.dilation);
}

/// How far y is from r (of the same shape): the sum of squared differences,
/// the squared norm of r, the largest absolute difference and the relative
/// error ‖y − r‖₂/‖r‖₂ (‖y − r‖₂ where r is zero).
struct Difference {
  double diff = 0, norm = 0, maxAbs = 0, relative = 0;
};

inline Difference difference(const Tensor &y, const Tensor &r) {
  Difference d;
  for (size_t i = 0; i < y.data.size(); ++i) {
    double e = y.data[i] - r.data[i];
    d.diff += e * e;
    d.norm += r.data[i] * r.data[i];
    d.maxAbs = std::max(d.maxAbs, std::fabs(e));
  }
  d.relative = d.norm > 0 ? std::sqrt(d.diff / d.norm) : std::sqrt(d.diff);
  return d;
}

/// Expects `fn` to throw a ReferenceError whose message contains `text`.
inline ::testing::AssertionResult throwsWith(const std::function<void()> &fn,
                                             const std::string &text) {
  try {
    fn();
  } catch (const ReferenceError &e) {
    if (std::string(e.what()).find(text) != std::string::npos)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message \"" << e.what() << "\" lacks \"" << text << "\"";
  } catch (const std::exception &e) {
    return ::testing::AssertionFailure()
           << "threw a non-ReferenceError: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw (\"" << text << "\")";
}

} // namespace nsl::reference::test

#endif // NSL_TEST_REFERENCE_TESTUTIL_H
