//===- Pipelines.cpp - Code generation stages both targets share ----------===//
#include "codegen/common/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/ErrorHandling.h"

using namespace mlir;

void nsl::buildOutlinePipeline(OpPassManager &pm,
                               const OutlineKernelsOptions &options) {
  buildOptimizePipeline(pm);
  pm.addPass(createOutlineKernels(options));
}

void nsl::addKernelBufferization(OpPassManager &pm) {
  addParsedPipeline(pm, "canonicalize,eliminate-empty-tensors,"
                        "one-shot-bufferize,canonicalize");
  pm.addPass(createHoistKernelScratch());
}

void nsl::addParsedPipeline(OpPassManager &pm, StringRef pipeline) {
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error(llvm::Twine("nsl: malformed built-in pipeline: ") +
                             pipeline);
}

LogicalResult nsl::runPipeline(ModuleOp module,
                               function_ref<void(OpPassManager &)> build) {
  PassManager pm(module.getContext());
  build(pm);
  return pm.run(module);
}
