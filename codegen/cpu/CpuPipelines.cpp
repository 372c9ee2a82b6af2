//===- CpuPipelines.cpp - CPU code generation pipelines -------------------===//
#include "codegen/cpu/CpuPipelines.h"
#include "codegen/common/Pipelines.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void nsl::buildCpuKernelLoweringPipeline(OpPassManager &pm,
                                         const CpuCodegenOptions &options) {
  pm.addPass(createKeepKernelsOnly());
  if (options.directConv) {
    EmitCpuDirectConvsOptions direct;
    direct.vectorWidth = options.vectorWidth;
    direct.convOutputChannels = options.convOutputChannels;
    direct.convPixelVectors = options.convPixelVectors;
    direct.convParallelIterations = options.convParallelIterations;
    pm.addPass(createEmitCpuDirectConvs(direct));
  }
  CpuLowerToLinalgOptions lowering;
  lowering.vectorWidth = options.vectorWidth;
  pm.addPass(createCpuLowerToLinalg(lowering));
  addKernelBufferization(pm);
  // The upstream part, as in TOOLCHAIN.md.
  addParsedPipeline(
      pm, "convert-linalg-to-loops,expand-strided-metadata,lower-affine,"
          "convert-scf-to-cf,convert-vector-to-llvm,convert-math-to-llvm,"
          "convert-math-to-libm,"
          "finalize-memref-to-llvm,convert-arith-to-llvm,"
          "convert-index-to-llvm,"
          "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},"
          "convert-cf-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts");
  pm.addPass(createEmitCpuKernelABI());
}

void nsl::registerCpuPipelines() {
  PassPipelineRegistration<>(
      "nsl-cpu-pipeline",
      "Compile the forward function of an nsl module to CPU kernels in the "
      "LLVM dialect (nsl-optimize, nsl-outline-kernels, then "
      "nsl-cpu-lower-kernels)",
      [](OpPassManager &pm) {
        buildOutlinePipeline(pm, OutlineKernelsOptions());
        buildCpuKernelLoweringPipeline(pm, CpuCodegenOptions());
      });
  PassPipelineRegistration<>(
      "nsl-cpu-lower-kernels",
      "Lower outlined kernels to the LLVM dialect with the nsl-cpu-1 ABI",
      [](OpPassManager &pm) {
        buildCpuKernelLoweringPipeline(pm, CpuCodegenOptions());
      });
}
