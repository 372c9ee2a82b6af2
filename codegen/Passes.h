//===- Passes.h - Code generation passes of the nsl compiler ----*- C++ -*-===//
#ifndef NSL_CODEGEN_PASSES_H
#define NSL_CODEGEN_PASSES_H

#include "dialect/NSLOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nsl {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

/// For an op that computes each sample independently, which operands are
/// per sample (sliced along their leading batch dimension); nullopt for ops
/// that mix samples.
std::optional<SmallVector<bool>> perSampleOperands(Operation *op);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_PASSES_H
