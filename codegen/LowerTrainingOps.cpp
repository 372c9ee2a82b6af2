//===- LowerTrainingOps.cpp - The other training ops → linalg -------------===//
#include "codegen/LinalgBuilder.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerTrainingOp(LoweringBuilder &, Operation *) {
  return std::nullopt;
}
