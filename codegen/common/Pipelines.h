//===- Pipelines.h - Code generation stages both targets share --*- C++ -*-===//
#ifndef NSL_CODEGEN_COMMON_PIPELINES_H
#define NSL_CODEGEN_COMMON_PIPELINES_H

#include "codegen/common/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::nsl {

/// Stage 1 on an nsl module, for every target: optimise (nsl-optimize) and
/// outline the kernels of one model function (`options.function`), tagging
/// the model function's ops with their kernel.
void buildOutlinePipeline(OpPassManager &pm,
                          const OutlineKernelsOptions &options);

/// After the kernels are lowered to linalg on tensors: bufferize them and
/// give their scratch memory to a workspace argument.
void addKernelBufferization(OpPassManager &pm);

/// Parses a built-in textual pipeline into `pm`; a parse error is a bug of
/// the compiler and aborts.
void addParsedPipeline(OpPassManager &pm, StringRef pipeline);

/// Runs the passes `build` adds on `module`.
LogicalResult runPipeline(ModuleOp module,
                          function_ref<void(OpPassManager &)> build);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_PIPELINES_H
