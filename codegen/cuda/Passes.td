//===- Passes.td - CUDA code generation passes -------------*- tablegen -*-===//
//
// The CUDA target's own passes (docs/gpu.md): tiled implicit-GEMM kernels
// for the convolution groups, and the generic mapping of every other
// outlined kernel onto GPU blocks and threads.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_CUDA_PASSES_TD
#define NSL_CODEGEN_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def TileConvsForGpu : Pass<"nsl-tile-convs-for-gpu", "::mlir::ModuleOp"> {
  let summary = "Turn convolution kernels into tiled implicit-GEMM gpu.funcs";
  let description = [{
    Every per-sample kernel outlined by `--nsl-outline-kernels` whose group
    is a convolution group (codegen/common/ConvGroup.h) the tiled kernel
    handles — `sim_conv2d` plain (static similarity folded before) or DNS
    with its mask, optionally the `predicted_similarity` before it and the
    SphereConv predicting it from the convolution's own input, or
    `sphere_conv2d` — then the epilogue (bias, inference batch_norm, relu),
    becomes one implicit-GEMM `gpu.func` with shared-memory tiles
    (codegen/cuda/TiledConv.cpp): grid (⌈P/BN⌉, ⌈O/BM⌉, N), (BM/TM)·(BN/TN)
    threads each owning a TM × TN register tile, the reduction over C·K in
    chunks of BK staged through shared memory, `stages` buffers. The tiles
    are fitted to narrow layers. With `emulate` the same block code is
    generated for the CPU instead (each phase between barriers a loop over
    the thread ids), so that it can be checked without a GPU. Other kernels
    are left alone. The kernels carry `nsl.grid`, `nsl.block` and
    `nsl.tiles`.
  }];
  let options = [
    Option<"tileM", "tile-m", "int64_t", /*default=*/"64",
           "Output channels per block (BM)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"128",
           "Output pixels per block (BN)">,
    Option<"tileK", "tile-k", "int64_t", /*default=*/"8",
           "Reduction (C·K) chunk per stage (BK)">,
    Option<"threadM", "thread-m", "int64_t", /*default=*/"8",
           "Output channels per thread (TM)">,
    Option<"threadN", "thread-n", "int64_t", /*default=*/"8",
           "Output pixels per thread (TN)">,
    Option<"stages", "stages", "int64_t", /*default=*/"2",
           "Shared-memory buffers (1 or 2: the next chunk's loads overlap "
           "the current chunk's products)">,
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "Generate the CPU emulation of the kernels instead of gpu.funcs">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::vector::VectorDialect", "::mlir::math::MathDialect"
  ];
}

def MapKernelsToGpu : Pass<"nsl-map-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Turn outlined kernels on parallel loops into gpu.funcs";
  let description = [{
    Every `nsl.kernel` func.func on memrefs (after
    `convert-linalg-to-parallel-loops`) becomes a `gpu.func` of the
    `nsl_kernels` gpu.module: one thread block per sample (the kernel's
    per-sample loop [begin, end) runs once, for blockIdx.x); each outermost
    `scf.parallel` becomes a block-strided loop over its flattened iteration
    space followed by `gpu.barrier`; reductions stay sequential per thread
    (deterministic); the workspace is one slice per block. The func.funcs
    are erased. Kernels take bare device pointers only (abi "nsl-cuda-1").
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect"
  ];
}

#endif // NSL_CODEGEN_CUDA_PASSES_TD
