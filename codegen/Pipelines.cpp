//===- Pipelines.cpp - CPU code generation pipelines ----------------------===//
#include "codegen/Pipelines.h"
#include "codegen/Passes.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/ErrorHandling.h"

using namespace mlir;

void nsl::buildCpuOutlinePipeline(OpPassManager &pm,
                                  const CpuCodegenOptions &options) {
  buildOptimizePipeline(pm);
  OutlineKernelsOptions outline;
  outline.function = options.function;
  outline.fuseEpilogues = options.fuseEpilogues;
  outline.directConv = options.directConv;
  outline.vectorWidth = options.vectorWidth;
  outline.convOutputChannels = options.convOutputChannels;
  outline.convPixelVectors = options.convPixelVectors;
  pm.addPass(createOutlineKernels(outline));
}

void nsl::buildCpuKernelLoweringPipeline(OpPassManager &pm) {
  pm.addPass(createKeepKernelsOnly());
  pm.addPass(createLowerToLinalg());
  // The upstream part, as in TOOLCHAIN.md.
  if (failed(parsePassPipeline(
          "canonicalize,eliminate-empty-tensors,"
          "one-shot-bufferize,canonicalize,"
          "nsl-hoist-kernel-scratch,"
          "convert-linalg-to-loops,expand-strided-metadata,lower-affine,"
          "convert-scf-to-cf,convert-vector-to-llvm,convert-math-to-llvm,"
          "convert-math-to-libm,"
          "finalize-memref-to-llvm,convert-arith-to-llvm,"
          "convert-index-to-llvm,"
          "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},"
          "convert-cf-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts,"
          "nsl-emit-kernel-abi",
          pm)))
    llvm::report_fatal_error("nsl: malformed built-in kernel pipeline");
}

void nsl::registerCpuPipelines() {
  PassPipelineRegistration<>(
      "nsl-cpu-pipeline",
      "Compile the forward function of an nsl module to CPU kernels in the "
      "LLVM dialect (nsl-cpu-outline, then nsl-cpu-lower-kernels)",
      [](OpPassManager &pm) {
        buildCpuOutlinePipeline(pm, CpuCodegenOptions());
        buildCpuKernelLoweringPipeline(pm);
      });
  PassPipelineRegistration<>(
      "nsl-cpu-outline",
      "Optimise an nsl module and outline one kernel function per op",
      [](OpPassManager &pm) {
        buildCpuOutlinePipeline(pm, CpuCodegenOptions());
      });
  PassPipelineRegistration<>(
      "nsl-cpu-lower-kernels",
      "Lower outlined kernels to the LLVM dialect with the nsl-cpu-1 ABI",
      buildCpuKernelLoweringPipeline);
}
