//===- NSLOps.h - Operations of the nsl dialect -----------------*- C++ -*-===//
#ifndef NSL_DIALECT_NSLOPS_H
#define NSL_DIALECT_NSLOPS_H

#include "dialect/NSLDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::nsl {
/// Checks the gradients `op` returns for `wrt` (strictly ascending indices of
/// f32 forward operands, one gradient of each operand's type); emits the
/// error on `op`.
LogicalResult verifyGradients(Operation *op, ValueRange forwardOperands,
                              ArrayRef<int64_t> wrt);
} // namespace mlir::nsl

#include "dialect/NSLEnums.h.inc"

namespace mlir::nsl {
//===- The elementwise rows (NSLElementwise.td, NSLElementwise.cpp) -------===//

/// The result type of operands broadcast as in NumPy; emits an error at
/// `location` and fails when they do not broadcast.
LogicalResult inferBroadcastType(std::optional<Location> location,
                                 ArrayRef<Type> operands,
                                 SmallVectorImpl<Type> &inferred);
/// Verifies that a row's operands broadcast to its result type (one error).
LogicalResult verifyBroadcast(Operation *op);
/// The custom<BroadcastTypes> directive: one type when both operands have
/// it, else `lhs, rhs`.
ParseResult parseBroadcastTypes(OpAsmParser &parser, Type &lhs, Type &rhs);
void printBroadcastTypes(OpAsmPrinter &printer, Operation *op, Type lhs,
                         Type rhs);
/// Verifies a row's VJP op: the upstream gradient has the forward result's
/// type, `wrt` names forward operands whose types its gradients have.
LogicalResult verifyElementwiseVJP(Operation *op);
/// A row's VJP is per sample when every operand it differentiates has the
/// batch dimension (no gradient sums over the batch).
std::optional<SmallVector<bool>> elementwiseVJPPerSampleOperands(Operation *op);
/// Builds a row's VJP: one `vjpName` op for the needed operands; an operand
/// of the result's type whose derivative is "1" gets the upstream gradient
/// itself.
LogicalResult buildElementwiseVJP(Operation *op, StringRef vjpName,
                                  ArrayRef<StringRef> derivatives,
                                  OpBuilder &builder,
                                  ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &operandGrads);
template <typename VJP>
LogicalResult
buildElementwiseVJP(Operation *op, ArrayRef<StringRef> derivatives,
                    OpBuilder &builder, ArrayRef<Value> resultGrads,
                    ArrayRef<bool> needed,
                    SmallVectorImpl<Value> &operandGrads) {
  return buildElementwiseVJP(op, VJP::getOperationName(), derivatives, builder,
                             resultGrads, needed, operandGrads);
}

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
