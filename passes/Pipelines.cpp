//===- Pipelines.cpp - Named pass pipelines of the nsl compiler ----------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void nsl::buildOptimizePipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createFoldStaticSimilarity());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void nsl::registerNSLPassesAndPipelines() {
  registerNSLPasses();
  PassPipelineRegistration<>(
      "nsl-optimize",
      "The default nsl pipeline: canonicalize, fold static similarities into "
      "the weights, canonicalize, CSE",
      buildOptimizePipeline);
}
