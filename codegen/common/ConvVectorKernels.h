//===- ConvVectorKernels.h - Target vector loops for conv gradients -*- C++
//-*-===//
//
// The convolution family's gradient lowering (LowerConvGradients.cpp) builds
// target-independent linalg. A target may supply explicit vector loops for
// its heaviest contractions through this interface (the CPU's are in
// codegen/cpu/VectorGradients.h); each returns std::nullopt where it does not
// apply (shape, registers), and the lowering then builds the linalg.generic.
// Both compute the same sums in one fixed order per element.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_CONVVECTORKERNELS_H
#define NSL_CODEGEN_COMMON_CONVVECTORKERNELS_H

#include "codegen/common/LinalgBuilder.h"

#include <optional>

namespace mlir::nsl::lowering {

/// The geometry of one 2-D window.
struct ConvWindow {
  SmallVector<int64_t, 2> stride, padding, dilation, kernel;
  /// Size of the padded input.
  int64_t hp, wp;
  int64_t taps() const { return kernel[0] * kernel[1]; }
  /// Size of the upsampled upstream gradient.
  int64_t hu() const { return hp + (kernel[0] - 1) * dilation[0]; }
  int64_t wu() const { return wp + (kernel[1] - 1) * dilation[1]; }
};

ConvWindow makeWindow(Value input, ArrayRef<int64_t> kernel,
                      ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                      ArrayRef<int64_t> dilation);

/// Explicit loops for the contractions below (tensors in, tensor out).
class ConvVectorKernels {
public:
  virtual ~ConvVectorKernels();

  /// ∂X of a plain or DNS convolution from the gradient `gu` and mask
  /// `maskU` (or null) upsampled by the stride, as [N, C, H, W].
  virtual std::optional<Value> inputGradient(LoweringBuilder &g, Value gu,
                                             Value weight, Value maskU,
                                             ArrayRef<int64_t> inputShape,
                                             const ConvWindow &w) const = 0;
  /// The plain convolution Σ W·Xp of a padded input at stride 1
  /// (`outShape` [N, O, Ho, Wo]).
  virtual std::optional<Value> convolution(LoweringBuilder &g, Value xp,
                                           Value weight,
                                           ArrayRef<int64_t> outShape,
                                           const ConvWindow &w) const = 0;
  /// UNS: Q[n,c,t,p] = Σ_o G[n,o,p]·W[o,c,t] as [N, C, kh, kw, Ho, Wo].
  virtual std::optional<Value> mixedTapGradient(LoweringBuilder &g, Value gOut,
                                                Value weight) const = 0;
  /// UNS contractions over a tap pair: with `xp` null the mixing
  /// R[n,c,s,p] = Σ_t Q[n,c,t,p]·M_p[t,s]; with `xp` the similarity
  /// gradient ∂M[n,t,s,p] = Σ_c Q[n,c,t,p]·Xp[n,c,window(p,s)].
  virtual std::optional<Value> unsContraction(LoweringBuilder &g, Value q,
                                              Value m7, Value xp,
                                              const ConvWindow &w) const = 0;
  /// ∂W of a plain (mask null) or DNS convolution ([N, kh, kw, Ho, Wo]
  /// mask) from the padded input.
  virtual std::optional<Value> weightGradient(LoweringBuilder &g, Value gOut,
                                              Value xp, Value mask,
                                              ArrayRef<int64_t> weightShape,
                                              const ConvWindow &w) const = 0;
  /// The DNS mask gradient as [N, kh, kw, Ho, Wo].
  virtual std::optional<Value> maskGradient(LoweringBuilder &g, Value gOut,
                                            Value xp, Value weight,
                                            const ConvWindow &w) const = 0;
  /// UNS: the mixed taps Z[n,c,t,p] = Σ_s M_p[t,s]·Xp[n,c,window(p,s)].
  virtual std::optional<Value> mixedTaps(LoweringBuilder &g, Value m7, Value xp,
                                         int64_t channels,
                                         const ConvWindow &w) const = 0;
};

} // namespace mlir::nsl::lowering

#endif // NSL_CODEGEN_COMMON_CONVVECTORKERNELS_H
