//===- Passes.td - CPU code generation passes --------------*- tablegen -*-===//
//
// The CPU target's own passes: vector kernels (AVX-512 / AVX2) for the
// convolution groups and the heaviest gradient contractions, and the
// nsl-cpu-1 C ABI of the lowered kernels (docs/artifact.md).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_CPU_PASSES_TD
#define NSL_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def EmitCpuDirectConvs : Pass<"nsl-emit-cpu-direct-convs", "::mlir::ModuleOp"> {
  let summary = "Emit register-blocked vector loops for convolution kernels";
  let description = [{
    Every per-sample kernel outlined by `--nsl-outline-kernels` whose group
    is a convolution group (codegen/common/ConvGroup.h) that the direct
    emitter handles — a plain, DNS or UNS `nsl.sim_conv2d` (its mask loaded,
    or `γ·P + I` of a fused `nsl.predicted_similarity`, or computed by a
    fused cosine SphereConv predictor) or an `nsl.sphere_conv2d` of any variant (g(θ) in the epilogue, its acos
    and exp as MLIR's vector polynomial approximations), then
    the epilogue (bias, inference batch norm, relu) — gets its ops replaced
    by scf + vector loops on the kernel's buffers (codegen/cpu/DirectConv.h).
    Work on the weights alone (norms, a fused predictor's packing) and the zero borders of the
    padded input are emitted once per call, before the loop over the
    samples. When the batch gives fewer than `conv-parallel-iterations`
    iterations, each sample is split into chunks of output rows or of output
    channel blocks (DirectConvSplit): the loop runs over samples × chunks,
    `nsl.parallel_extent` grows accordingly, and the kernel records
    `nsl.row_chunks` / `nsl.channel_chunks`. Other kernels are left for
    `--nsl-lower-to-linalg`.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "Vector lanes (0: the host's, 16 with AVX-512, else 8)">,
    Option<"convOutputChannels", "conv-output-channels", "int64_t",
           /*default=*/"8", "Output channels per register block">,
    Option<"convPixelVectors", "conv-pixel-vectors", "int64_t",
           /*default=*/"2", "Vectors of output pixels per register block">,
    Option<"convParallelIterations", "conv-parallel-iterations", "int64_t",
           /*default=*/"8",
           "Split each sample into chunks of output rows or channel blocks "
           "until the kernel has this many parallel iterations (samples × "
           "chunks), so that small batches use every thread; 1: one "
           "iteration per sample">,
  ];
  let dependentDialects = [
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::arith::ArithDialect"
  ];
}

def CpuLowerToLinalg : Pass<"nsl-cpu-lower-to-linalg"> {
  let summary = "Lower nsl ops to linalg, with CPU vector loops for gradients";
  let description = [{
    `--nsl-lower-to-linalg` with the CPU's explicit vector loops for the
    convolution family's gradient contractions (input, weight and DNS mask
    gradients, the UNS mixed taps and their gradients,
    codegen/cpu/VectorGradients.h) where the shapes allow them; everything
    else is lowered as by the target-independent pass. The loops use
    `vector-width` lanes and as many accumulators as that ISA's vector
    registers hold.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "Vector lanes (0: the host's, 16 with AVX-512, else 8)">,
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def EmitCpuKernelABI : Pass<"nsl-emit-cpu-kernel-abi", "::mlir::ModuleOp"> {
  let summary = "Give every lowered kernel the nsl-cpu-1 C ABI";
  let description = [{
    On the LLVM dialect, after lowering with bare-pointer memrefs: renames
    each kernel `@k(ptr..., i64 begin, i64 end)` to an internal `@k_impl`
    and adds the exported entry
    `void k(void *const *buffers, int64_t begin, int64_t end)` that loads
    the buffer addresses from the array and calls it (docs/artifact.md).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // NSL_CODEGEN_CPU_PASSES_TD
