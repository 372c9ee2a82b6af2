//===- Window.h - Helpers shared by the reference ops and VJPs --*- C++ -*-===//
//
// Internal to runtime/reference: the sliding-window geometry and patch
// gathering, the operand checks and the similarity matrices that the forward
// functions (Ops.cpp) and their vector-Jacobian products (Gradients.cpp) must
// share, so that both index patches, build M and reject bad operands in
// exactly the same way. Defined in Ops.cpp. Not part of the API.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_WINDOW_H
#define NSL_RUNTIME_REFERENCE_WINDOW_H

#include "runtime/reference/Ops.h"

#include <array>
#include <string>
#include <vector>

namespace nsl::reference::detail {

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

/// Throws ReferenceError("OP: MESSAGE").
[[noreturn]] void fail(const char *op, const std::string &message);
std::string pairToString(const std::array<int64_t, 2> &pair);
/// A float operand of the given rank with non-empty dimensions; `dims` names
/// the dimensions for the message, e.g. "(N, C, H, W)".
void checkRank(const char *op, const std::string &what, const Tensor &t,
               int64_t rank, const char *dims);
void checkShape(const char *op, const std::string &what, const Tensor &t,
                const Shape &expected, const char *dims);
void checkOptionalBias(const char *op, const Tensor *bias, int64_t outputs);
void checkEpsilon(const char *op, double epsilon, bool strictlyPositive);

//===----------------------------------------------------------------------===//
// Sliding windows
//===----------------------------------------------------------------------===//

/// A sliding window over x [N,C,H,W], as in torch.nn.Conv2d: taps numbered
/// t = ky·kw + kx, output (Ho, Wo).
struct Geometry {
  int64_t n, c, h, w, kh, kw, ho, wo;
  Window window;

  int64_t taps() const { return kh * kw; }
  int64_t positions() const { return ho * wo; }
  /// The input pixel under tap t at output (oy, ox); false in the padding.
  bool source(int64_t oy, int64_t ox, int64_t t, int64_t &iy,
              int64_t &ix) const {
    iy = oy * window.stride[0] - window.padding[0] +
         (t / kw) * window.dilation[0];
    ix = ox * window.stride[1] - window.padding[1] +
         (t % kw) * window.dilation[1];
    return iy >= 0 && iy < h && ix >= 0 && ix < w;
  }
};

/// Validates x (rank 4), the kernel size and the window, and that the window
/// yields at least one output position (in a pooling op's ceilMode, the
/// output size rounded up as windowOutputSize says).
Geometry makeGeometry(const char *op, const Tensor &x, int64_t kh, int64_t kw,
                      const Window &window, bool ceilMode = false);
/// PyTorch's pooling rule: padding at most half the kernel.
void checkPoolPadding(const char *op, std::array<int64_t, 2> kernelSize,
                      const Window &window);
/// PyTorch's avg_pool2d divisor at output (oy, ox): with countIncludePad the
/// window's taps inside the padded input [−p, in + p) per dimension, else
/// its taps inside the image.
int64_t avgPoolDivisor(const Geometry &g, int64_t oy, int64_t ox,
                       bool countIncludePad);
/// The input rows [begin, end) of output row i of an adaptive pool from `in`
/// to `out` rows (PyTorch: ⌊i·in/out⌋, ⌈(i+1)·in/out⌉).
struct AdaptiveWindow {
  int64_t begin, end;
};
AdaptiveWindow adaptiveWindow(int64_t i, int64_t in, int64_t out);
/// Validates x (rank 4) and an adaptive pool's output size (both ≥ 1).
void checkAdaptivePool(const char *op, const Tensor &x,
                       std::array<int64_t, 2> outputSize);
/// X_p of sample n at output (oy, ox): patch[c·K + t], zero in the padding.
void gatherPatch(const Tensor &x, const Geometry &g, int64_t n, int64_t oy,
                 int64_t ox, std::vector<double> &patch);

//===----------------------------------------------------------------------===//
// Similarities
//===----------------------------------------------------------------------===//

/// Checks the operands of `sim` for K taps. `conv` gives N, Ho, Wo of the
/// convolution that a dynamic similarity must align with; without it only
/// static similarities are accepted.
void checkSimilarity(const char *op, const Similarity &sim, int64_t taps,
                     const Geometry *conv);
/// M (static) or M_p of sample n at flat output position p (dynamic), K×K
/// row-major, from operands already checked by checkSimilarity.
void similarityMatrix(const Similarity &sim, int64_t taps, int64_t n, int64_t p,
                      std::vector<double> &m);
/// mixed[r·K + t] = Σ_s M[t,s]·x[r·K + s] over consecutive groups of K
/// values (M applied to each patch row or feature group), `length` values.
void mixGroups(const double *x, int64_t length, const std::vector<double> &m,
               int64_t taps, double *mixed);
/// rows'[r, s] = Σ_t rows[r, t]·M[t, s] over consecutive rows of length K.
std::vector<double> multiplyRows(const std::vector<double> &rows,
                                 const std::vector<double> &m, int64_t taps);

//===----------------------------------------------------------------------===//
// Operand checks of whole ops (the forward function and its VJP alike)
//===----------------------------------------------------------------------===//

/// The result shape of concat(inputs, dim), or ReferenceError.
Shape concatShape(const char *op, const std::vector<Tensor> &inputs,
                  int64_t dim);

Geometry checkSimConv2d(const char *op, const Tensor &x, const Tensor &w,
                        const Similarity &sim, const Tensor *bias,
                        const Window &window, int64_t groups = 1);
Geometry checkSphereConv2d(const char *op, const Tensor &x, const Tensor &w,
                           const Tensor *kParam, const SphereOptions &options,
                           const Window &window);
/// Returns K (the number of taps, or channels of a diagonal prediction).
int64_t checkPredictedSimilarity(const char *op, const Tensor &prediction,
                                 const Tensor &gamma, Structure structure);
void checkSimLinear(const char *op, const Tensor &x, const Tensor &w,
                    const Similarity &sim, const Tensor *bias,
                    int64_t groupSize);
/// Returns K: kh·kw of a conv weight, or groupSize of a linear one.
int64_t checkFoldSimilarity(const char *op, const Tensor &w,
                            const Similarity &sim, int64_t groupSize);
/// Returns the number of elements per channel and sample.
int64_t checkBatchNorm(const char *op, const Tensor &x, const Tensor &weight,
                       const Tensor &bias, const Tensor &runningMean,
                       const Tensor &runningVar, double epsilon);
Geometry checkAvgPool2d(const char *op, const Tensor &x,
                        std::array<int64_t, 2> kernelSize, const Window &window,
                        bool ceilMode);
void checkLinear(const char *op, const Tensor &x, const Tensor &w,
                 const Tensor *bias);
/// Also checks every label.
void checkCrossEntropy(const char *op, const Tensor &logits,
                       const Tensor &labels, double labelSmoothing);

} // namespace nsl::reference::detail

#endif // NSL_RUNTIME_REFERENCE_WINDOW_H
