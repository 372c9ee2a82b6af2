//===- CpuPipelines.h - CPU code generation pipelines ------------*- C++
//-*-===//
#ifndef NSL_CODEGEN_CPU_CPUPIPELINES_H
#define NSL_CODEGEN_CPU_CPUPIPELINES_H

#include "codegen/common/TargetKernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <string>
#include <vector>

namespace mlir::nsl {

/// The CPU kernels' explicit choices (a later autotuner sets them).
struct CpuCodegenOptions {
  /// Register-blocked vector loops for convolution groups
  /// (`--nsl-emit-cpu-direct-convs`).
  bool directConv = true;
  /// Vector lanes of the direct convolutions and of the gradient loops; 0
  /// picks the host's (16 with AVX-512, else 8).
  int64_t vectorWidth = 0;
  /// The direct convolutions' register blocks.
  int64_t convOutputChannels = 8;
  int64_t convPixelVectors = 2;
  /// Samples are split into chunks until a convolution kernel has this
  /// many parallel iterations (all threads busy at batch 1).
  int64_t convParallelIterations = 8;
};

/// Stage 2 for the CPU on a module outlined by buildOutlinePipeline: keep
/// the kernels, emit the direct convolutions, lower the rest to linalg
/// (with the CPU's gradient vector loops), bufferize, hoist their scratch
/// into a workspace argument, lower to the LLVM dialect with bare-pointer
/// memrefs and add the nsl-cpu-1 entry points.
void buildCpuKernelLoweringPipeline(OpPassManager &pm,
                                    const CpuCodegenOptions &options);

/// Registers `nsl-cpu-pipeline` (both stages, default options) and
/// `nsl-cpu-lower-kernels` (stage 2).
void registerCpuPipelines();

/// The target name of the host CPU recorded in the manifest:
/// cpu-x86_64-avx512, cpu-x86_64-avx2 or cpu-x86_64 (cpu-<arch> elsewhere).
std::string hostCpuTarget();

/// Adds `nsl_kernels_id`, a NUL-terminated hex hash of the lowered kernels,
/// as an exported constant of the module and returns it; the manifest
/// records it so that the runtime can tell that a kernels.so belongs to it.
std::string stampKernelsId(ModuleOp module);

/// What compiling the kernels produced.
struct CompiledKernels {
  std::string target;
  /// DT_NEEDED entries of the shared library.
  std::vector<std::string> dependencies;
};

/// Translates a module lowered by stage 2 to LLVM IR, optimises it for the
/// host CPU (-O3), emits an object and links `libraryPath` as a shared
/// library with the system's C compiler driver.
FailureOr<CompiledKernels> compileKernelLibrary(ModuleOp module,
                                                StringRef libraryPath);

/// Compiles the kernels of a module outlined by buildOutlinePipeline for
/// the host CPU: stage 2 on a clone (after `beforeLowering`'s passes, if
/// any), then `folder`/kernels.so. Errors are emitted as diagnostics.
FailureOr<TargetKernels>
compileCpuKernels(ModuleOp module, StringRef folder,
                  const CpuCodegenOptions &options,
                  function_ref<void(OpPassManager &)> beforeLowering = {});

} // namespace mlir::nsl

#endif // NSL_CODEGEN_CPU_CPUPIPELINES_H
