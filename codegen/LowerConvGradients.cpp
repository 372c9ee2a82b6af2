//===- LowerConvGradients.cpp - VJPs of the convolution family → linalg ---===//
#include "codegen/LinalgBuilder.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerConvGradient(LoweringBuilder &, Operation *) {
  return std::nullopt;
}
