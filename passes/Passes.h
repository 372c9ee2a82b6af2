//===- Passes.h - Passes over the nsl dialect -------------------*- C++ -*-===//
#ifndef NSL_PASSES_PASSES_H
#define NSL_PASSES_PASSES_H

#include "dialect/NSLOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::nsl {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The default optimisation pipeline (`nsl-optimize`): canonicalise, fold
/// static similarities, canonicalise, CSE.
void buildOptimizePipeline(OpPassManager &pm);

/// Registers the nsl passes and the named pipelines.
void registerNSLPassesAndPipelines();

} // namespace mlir::nsl

#endif // NSL_PASSES_PASSES_H
