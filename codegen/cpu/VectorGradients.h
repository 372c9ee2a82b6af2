//===- VectorGradients.h - CPU vector loops for conv gradients ---*- C++
//-*-===//
//
// The CPU's explicit vector loops (scf + vector on tensors) for the
// convolution family's heaviest gradient contractions, plugged into the
// target-independent gradient lowering (codegen/common/ConvVectorKernels.h)
// by `--nsl-cpu-lower-to-linalg`. Each loop nest keeps its accumulators in
// vector registers: as many as the ISA has (24 of AVX-512's 32 zmm, 12 of
// AVX2's 16 ymm) over rows read in vectors of `lanes` f32, masked at the
// row's end. Every sum keeps one fixed order.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_CPU_VECTORGRADIENTS_H
#define NSL_CODEGEN_CPU_VECTORGRADIENTS_H

#include "codegen/common/ConvVectorKernels.h"

namespace mlir::nsl {

/// The vector registers the loops may use.
struct VectorIsa {
  /// f32 lanes of one vector: 16 (AVX-512) or 8 (AVX2).
  int64_t lanes = 16;
  /// Accumulators a loop nest may hold.
  int64_t registers = 24;
  static VectorIsa forLanes(int64_t lanes) {
    return {lanes, lanes >= 16 ? 24 : 12};
  }
};

class CpuConvVectorKernels final : public lowering::ConvVectorKernels {
public:
  explicit CpuConvVectorKernels(VectorIsa isa) : isa(isa) {}

  std::optional<Value>
  inputGradient(lowering::LoweringBuilder &g, Value gu, Value weight,
                Value maskU, ArrayRef<int64_t> inputShape,
                const lowering::ConvWindow &w) const override;
  std::optional<Value>
  convolution(lowering::LoweringBuilder &g, Value xp, Value weight,
              ArrayRef<int64_t> outShape,
              const lowering::ConvWindow &w) const override;
  std::optional<Value> mixedTapGradient(lowering::LoweringBuilder &g,
                                        Value gOut,
                                        Value weight) const override;
  std::optional<Value>
  unsContraction(lowering::LoweringBuilder &g, Value q, Value m7, Value xp,
                 const lowering::ConvWindow &w) const override;
  std::optional<Value>
  weightGradient(lowering::LoweringBuilder &g, Value gOut, Value xp, Value mask,
                 ArrayRef<int64_t> weightShape,
                 const lowering::ConvWindow &w) const override;
  std::optional<Value>
  maskGradient(lowering::LoweringBuilder &g, Value gOut, Value xp, Value weight,
               const lowering::ConvWindow &w) const override;
  std::optional<Value> mixedTaps(lowering::LoweringBuilder &g, Value m7,
                                 Value xp, int64_t channels,
                                 const lowering::ConvWindow &w) const override;

private:
  VectorIsa isa;
};

} // namespace mlir::nsl

#endif // NSL_CODEGEN_CPU_VECTORGRADIENTS_H
