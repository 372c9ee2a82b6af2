//===- Passes.h - CPU code generation passes --------------------*- C++ -*-===//
#ifndef NSL_CODEGEN_CPU_PASSES_H
#define NSL_CODEGEN_CPU_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
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
#include "codegen/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/cpu/Passes.h.inc"

/// The vector width of the host CPU: 16 lanes of f32 with AVX-512, else 8.
int64_t hostVectorWidth();

} // namespace mlir::nsl

#endif // NSL_CODEGEN_CPU_PASSES_H
