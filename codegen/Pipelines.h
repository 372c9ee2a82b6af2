//===- Pipelines.h - CPU code generation pipelines ---------------*- C++
//-*-===//
#ifndef NSL_CODEGEN_PIPELINES_H
#define NSL_CODEGEN_PIPELINES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <string>
#include <vector>

namespace mlir::nsl {

/// Explicit code generation choices (a later autotuner sets them).
struct CpuCodegenOptions {
  /// The model function to compile.
  std::string function = "forward";
  /// Kernel grouping: batch_norm and relu join the kernel of the op they
  /// follow (otherwise one kernel per op).
  bool fuseEpilogues = true;
  /// Register-blocked vector loops for convolutions.
  bool directConv = true;
  /// Their tiling; vector width 0 picks the host's (16 with AVX-512, else 8).
  int64_t vectorWidth = 0;
  int64_t convOutputChannels = 8;
  int64_t convPixelVectors = 2;
};

/// Stage 1 on an nsl module: optimise (nsl-optimize) and outline one kernel
/// function per op, tagging the model function's ops with their kernel.
void buildCpuOutlinePipeline(OpPassManager &pm,
                             const CpuCodegenOptions &options);

/// Stage 2 on the outlined module: keep the kernels, lower them to linalg,
/// bufferize, hoist their scratch into a workspace argument, lower to the
/// LLVM dialect with bare-pointer memrefs and add the nsl-cpu-1 entry
/// points.
void buildCpuKernelLoweringPipeline(OpPassManager &pm);

/// Registers `nsl-cpu-pipeline` (both stages) and the stages alone
/// (`nsl-cpu-outline`, `nsl-cpu-lower-kernels`).
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

} // namespace mlir::nsl

#endif // NSL_CODEGEN_PIPELINES_H
