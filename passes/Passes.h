//===- Passes.h - Passes over the nsl dialect -------------------*- C++ -*-===//
#ifndef NSL_PASSES_PASSES_H
#define NSL_PASSES_PASSES_H

#include "dialect/NSLOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <nlohmann/json_fwd.hpp>

namespace mlir::nsl {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The default optimisation pipeline (`nsl-optimize`): canonicalise, fold
/// static similarities, canonicalise, CSE.
void buildOptimizePipeline(OpPassManager &pm);

/// The function as an MLIR-free graph (docs/graph-json.md), as
/// --nsl-export-graph writes it (with <nlohmann/json.hpp>).
FailureOr<nlohmann::json> exportGraph(func::FuncOp function);
/// The text of graph.json: two-space indent, keys sorted, a final newline.
std::string printGraph(const nlohmann::json &graph);

/// The rewrites of --nsl-fold-static-similarity (static sim_conv2d and
/// sim_linear → nsl.fold_similarity + plain layer).
void populateFoldStaticSimilarityPatterns(RewritePatternSet &patterns);

/// Registers the nsl passes and the named pipelines.
void registerNSLPassesAndPipelines();

} // namespace mlir::nsl

#endif // NSL_PASSES_PASSES_H
