//===- CudaCodegen.h - CUDA kernels (PTX) of an outlined model ---*- C++
//-*-===//
//
// The GPU path of codegen/ (docs/gpu.md): the convolution groups among the
// kernel functions that `--nsl-outline-kernels` made become tiled
// implicit-GEMM kernels (`--nsl-tile-convs-for-gpu`); the others are
// lowered to linalg on buffers, then to parallel loops, and each becomes
// one `gpu.func` kernel (`--nsl-map-kernels-to-gpu`):
//
//   * one thread block per sample: the kernel's per-sample loop
//     [begin, end) runs once, for blockIdx.x (grid.x = the parallel extent);
//   * the block's threads share every parallel loop of the sample: each
//     outermost `scf.parallel` becomes a block-strided loop over its
//     flattened iteration space, followed by `gpu.barrier`; reductions stay
//     sequential per thread (deterministic);
//   * scratch memory (the hoisted workspace) is one slice per block.
//
// The kernels go through NVVM to PTX (`gpu-module-to-binary{format=isa}`).
// Kernels take bare device pointers only (abi "nsl-cuda-1"): the group's
// buffers, then the workspace if it has one.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_CUDA_CUDACODEGEN_H
#define NSL_CODEGEN_CUDA_CUDACODEGEN_H

#include "codegen/common/TargetKernels.h"
#include "codegen/cuda/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringMap.h"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::nsl::cuda {

/// The tiles of the implicit-GEMM convolution kernels: the options of
/// `--nsl-tile-convs-for-gpu` (codegen/cuda/Passes.td).
using TiledConvOptions = TileConvsForGpuOptions;

/// Explicit choices of the CUDA code generation.
struct CudaCodegenOptions {
  /// sm_80 or sm_90 (any sm_XY the NVPTX backend knows is accepted).
  std::string chip = "sm_90";
  /// Threads per block.
  int64_t threads = 256;
  /// Kernel grouping as on the CPU.
  bool fuseEpilogues = true;
  /// Convolution groups as tiled implicit-GEMM kernels (else the generic
  /// mapping, one block per sample).
  bool tiledConv = true;
  TiledConvOptions tiles;
};

/// Parses `cuda:sm_XY` (the nslc --target syntax); nullopt otherwise.
std::optional<std::string> parseCudaTarget(llvm::StringRef target);

/// The PTX ISA version feature for a chip (+ptx80 for sm_90, +ptx70 below).
std::string ptxFeatures(llvm::StringRef chip);

/// The launch configuration of one compiled kernel.
struct CudaKernelInfo {
  std::array<int64_t, 3> grid = {1, 1, 1};
  std::array<int64_t, 3> block = {1, 1, 1};
  int64_t sharedBytes = 0;
  /// Scratch bytes per block; the workspace argument holds grid.x slices.
  int64_t workspaceBytes = 0;
  int64_t parallelExtent = 1;
  /// The tiled convolution's [BM, BN, BK, TM, TN, stages]; empty otherwise.
  std::vector<int64_t> tiles;
};

/// What compiling the kernels of a module produced.
struct CudaKernels {
  std::string ptx;
  llvm::StringMap<CudaKernelInfo> kernels;
  /// The gpu.module before NVVM conversion (for --print-gpu-ir and tests).
  std::string gpuIR;
};

/// Stage 2 for CUDA on a module outlined by buildOutlinePipeline: tiled
/// convolution kernels, linalg for the rest, bufferization, scratch
/// hoisting, parallel loops, mapping to gpu.funcs. Leaves the gpu.module in
/// the gpu dialect.
void buildCudaKernelMappingPipeline(OpPassManager &pm,
                                    const CudaCodegenOptions &options);

/// Stage 3: NVVM, PTX (gpu-module-to-binary, format=isa).
void buildCudaToPtxPipeline(OpPassManager &pm,
                            const CudaCodegenOptions &options);

/// Runs stages 2 and 3 on a clone of the outlined `module`; errors are
/// reported through the context's diagnostics.
FailureOr<CudaKernels> compileCudaKernels(ModuleOp module,
                                          const CudaCodegenOptions &options);

/// Adds grid, block, shared_bytes, workspace_bytes (and tiles) of its
/// kernel to one launch of a planned schedule; emits an error on `module`
/// and fails for a kernel that was not compiled.
LogicalResult
addLaunchConfiguration(ModuleOp module, nlohmann::json &launch,
                       const llvm::StringMap<CudaKernelInfo> &kernels);

/// Compiles the kernels of an outlined module for CUDA into `folder`:
/// kernels.<chip>.ptx, and kernels.<chip>.cubin where ptxas is installed
/// (the runtime JIT-compiles the PTX otherwise). Errors are emitted as
/// diagnostics. The gpu.module before NVVM and the PTX are also copied to
/// `gpuIR` and `ptx` where given.
FailureOr<TargetKernels> compileCudaTarget(ModuleOp module, StringRef folder,
                                           const CudaCodegenOptions &options,
                                           std::string *gpuIR = nullptr,
                                           std::string *ptx = nullptr);

/// ptxas found through PATH, $CUDA_HOME/bin or /usr/local/cuda/bin; empty
/// if none.
std::string findPtxas();

/// libdevice.10.bc of the CUDA toolkit ($CUDA_HOME, $CUDA_PATH, $CUDA_ROOT,
/// beside ptxas, /usr/local/cuda); empty if none.
std::string findLibdevice();

/// Assembles `ptxPath` into `cubinPath` for `chip` with `ptxas`; on failure
/// returns false with ptxas' output in `log`.
bool assembleCubin(llvm::StringRef ptxas, llvm::StringRef ptxPath,
                   llvm::StringRef cubinPath, llvm::StringRef chip,
                   std::string &log);

/// Registers the CUDA passes (codegen/cuda/Passes.td) and the pipelines
/// (`nsl-cuda-map-kernels`, `nsl-cuda-to-ptx`) for nsl-opt-like tools.
void registerCudaPasses();

} // namespace mlir::nsl::cuda

#endif // NSL_CODEGEN_CUDA_CUDACODEGEN_H
