//===- Passes.h - Target-independent code generation passes -----*- C++ -*-===//
#ifndef NSL_CODEGEN_COMMON_PASSES_H
#define NSL_CODEGEN_COMMON_PASSES_H

#include "dialect/NSLOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nsl {

#define GEN_PASS_DECL
#include "codegen/common/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/common/Passes.h.inc"

namespace lowering {
class ConvVectorKernels;
} // namespace lowering

/// Lowers every nsl op under `root` to linalg, tensor, arith and math
/// (`--nsl-lower-to-linalg`), with the target's vector loops for the
/// gradient contractions where `vectors` has them; errors are emitted on
/// the op that has no lowering.
LogicalResult lowerToLinalg(Operation *root,
                            const lowering::ConvVectorKernels *vectors);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_PASSES_H
