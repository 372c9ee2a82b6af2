//===- CpuLowerToLinalg.cpp - nsl → linalg with CPU gradient loops --------===//
#include "codegen/common/Passes.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cpu/VectorGradients.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_CPULOWERTOLINALG
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

struct CpuLowerToLinalgPass
    : nsl::impl::CpuLowerToLinalgBase<CpuLowerToLinalgPass> {
  using CpuLowerToLinalgBase::CpuLowerToLinalgBase;

  void runOnOperation() override {
    if (vectorWidth < 0) {
      getOperation()->emitError()
          << "--nsl-cpu-lower-to-linalg: vector-width must be at least 0";
      return signalPassFailure();
    }
    CpuConvVectorKernels vectors(
        VectorIsa::forLanes(vectorWidth > 0 ? vectorWidth : hostVectorWidth()));
    if (failed(lowerToLinalg(getOperation(), &vectors)))
      signalPassFailure();
  }
};

} // namespace
