//===- CudaCodegen.h - CUDA kernels (PTX) of an outlined model ---*- C++
//-*-===//
//
// The GPU path of codegen/ (docs/gpu.md): the kernel functions that
// `--nsl-outline-kernels` made are lowered to linalg on buffers as for the
// CPU, then to parallel loops, and each becomes one `gpu.func` kernel:
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

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::nsl::cuda {

/// The tiles of the implicit-GEMM convolution kernels (TiledConv.cpp).
struct TiledConvOptions {
  /// Block tile: output channels (BM) × output pixels (BN); the layer may
  /// narrow BM (few output channels) and widen BN (to keep ≥ 128 threads).
  int64_t tileM = 64, tileN = 128;
  /// Reduction chunk (BK, over C·K) staged through shared memory.
  int64_t tileK = 8;
  /// Register tile per thread (TM × TN); threads = (BM/TM)·(BN/TN).
  int64_t threadM = 8, threadN = 8;
  /// Shared-memory buffers: 2 overlaps the next chunk's loads with the
  /// current chunk's products.
  int64_t stages = 2;
  /// Generate the CPU emulation of the kernels instead of gpu.funcs.
  bool emulate = false;
};

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

/// Pass: turns every `nsl.kernel` func.func on memrefs (after parallel
/// loops) into a gpu.func of the `nsl_kernels` gpu.module, as described
/// above; erases the func.funcs.
std::unique_ptr<Pass> createMapKernelsToGpu(int64_t threads);

/// Pass: every kernel that is a convolution group — sim_conv2d (plain, or
/// DNS with its mask and optionally the predicted_similarity before it) or
/// sphere_conv2d, then optionally inference batch_norm and relu — becomes an
/// implicit-GEMM gpu.func with shared-memory tiles (TiledConv.cpp), or with
/// `emulate` the same kernel emulated on the CPU (a func.func with the
/// kernel's CPU signature). Other kernels are left alone. The kernels carry
/// `nsl.grid`, `nsl.block` and `nsl.tiles`.
std::unique_ptr<Pass> createTileConvsForGpu(const TiledConvOptions &options);
void registerTiledConvPass();

/// Stage 2 for CUDA on a module outlined by buildCpuOutlinePipeline (with
/// directConv off): linalg, bufferization, scratch hoisting, parallel loops,
/// mapping to gpu.funcs. Leaves the gpu.module in the gpu dialect.
void buildCudaKernelMappingPipeline(OpPassManager &pm,
                                    const CudaCodegenOptions &options);

/// Stage 3: NVVM, PTX (gpu-module-to-binary, format=isa).
void buildCudaToPtxPipeline(OpPassManager &pm,
                            const CudaCodegenOptions &options);

/// Runs stages 2 and 3 on a clone of the outlined `module`; errors are
/// reported through the context's diagnostics.
FailureOr<CudaKernels> compileCudaKernels(ModuleOp module,
                                          const CudaCodegenOptions &options);

/// Adds grid, block and shared_bytes to every launch of a planned entry
/// point (planCpuSchedule's entryPoint object); fails on unknown kernels.
LogicalResult
addLaunchConfiguration(llvm::json::Object &entryPoint,
                       const llvm::StringMap<CudaKernelInfo> &kernels);

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

/// Registers the pass (`nsl-map-kernels-to-gpu`) and the pipelines
/// (`nsl-cuda-map-kernels`, `nsl-cuda-to-ptx`) for nsl-opt-like tools.
void registerCudaPasses();

} // namespace mlir::nsl::cuda

#endif // NSL_CODEGEN_CUDA_CUDACODEGEN_H
