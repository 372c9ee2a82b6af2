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
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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

/// The ops of the model function that one kernel computes.
struct KernelGroup {
  std::string name;
  SmallVector<Operation *> ops;
  /// Values from outside the group, in order of first use: the kernel's
  /// operand buffers.
  SmallVector<Value> operands;
  /// The results of the group's last op: the kernel's result buffers.
  SmallVector<Value> results;
};

/// The kernel groups of a model function tagged by --nsl-outline-kernels
/// (`nsl.kernel` on every op), in order of their first op. A group is
/// launched where its last op stands.
SmallVector<KernelGroup> kernelGroups(func::FuncOp model);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_PASSES_H
