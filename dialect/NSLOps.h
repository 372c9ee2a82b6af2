//===- NSLOps.h - Operations of the nsl dialect -----------------*- C++ -*-===//
#ifndef NSL_DIALECT_NSLOPS_H
#define NSL_DIALECT_NSLOPS_H

#include "dialect/NSLDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/NSLEnums.h.inc"

namespace mlir::nsl {
/// PerSampleOpInterface's default: an operand is per sample when its leading
/// dimension is the first result's; std::nullopt for a rank-0 result.
std::optional<SmallVector<bool>> leadingDimensionOperands(Operation *op);
} // namespace mlir::nsl

#include "dialect/NSLInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialect/NSLOps.h.inc"

namespace mlir::nsl {

/// The K×K matrix M (row-major) of a static similarity of `structure`,
/// given the values of its operands (row-major, in operand order) — used to
/// fold constants. The operands must have passed the op's verifier.
SmallVector<double>
staticSimilarityMatrix(Structure structure, int64_t taps,
                       ArrayRef<SmallVector<double>> operands, double alpha);

} // namespace mlir::nsl

#endif // NSL_DIALECT_NSLOPS_H
