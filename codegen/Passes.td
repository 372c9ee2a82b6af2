//===- Passes.td - Code generation passes of the nsl compiler -*- tablegen -*-===//
#ifndef NSL_CODEGEN_PASSES_TD
#define NSL_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToLinalg : Pass<"nsl-lower-to-linalg"> {
  let summary = "Lower nsl ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Rewrites every `nsl` op into `linalg` (named convolutions and
    `linalg.generic`), `tensor` (padding, reshapes), `arith` and `math` ops on
    tensors, computing exactly the math of the op's description in `f32`.
    Windows are zero-padded with `tensor.pad` (−∞ for max pooling); the
    dynamic similarity convolution multiplies each input tap by its mask
    (DNS) or mixes the taps of each patch by `M_p` (UNS) inside the
    contraction. Static similarities should be folded first
    (`--nsl-fold-static-similarity`); unfolded ones are lowered through
    `nsl.fold_similarity` here.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def OutlineKernels : Pass<"nsl-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Outline the ops of a model function into CPU kernel functions";
  let description = [{
    Groups the `nsl` ops of the model function into kernels and turns each
    group into a function
    `@nsl_<function>_k<i>(operands..., results..., %begin, %end)` on
    `memref`s (the group's outside operands in order of first use, then the
    results of its last op) that computes the samples `[begin, end)` of its
    batch: each iteration runs the group on one-sample slices, so the
    runtime can split the batch across threads. Ops that mix samples
    (training batch norm, the loss, weight folding) get
    `nsl.parallel_extent = 1` and compute everything in one iteration.

    Grouping (`fuse-epilogues`): a per-sample op followed by its single user
    `nsl.batch_norm` and/or `nsl.relu` forms one kernel. With `direct-conv`,
    a group headed by a plain, DNS or UNS `nsl.sim_conv2d` or a cosine
    `nsl.sphere_conv2d` is emitted as register-blocked vector loops with the
    epilogue fused (codegen/DirectConv.h); the tile parameters are options.
    Everything else keeps the op (lowered later by `--nsl-lower-to-linalg`).
    The model function's ops are tagged with `nsl.kernel = "<name>"`; the
    model function itself is left for the scheduler (`nslc`).
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Name of the model function">,
    Option<"fuseEpilogues", "fuse-epilogues", "bool", /*default=*/"true",
           "Put batch_norm and relu into the kernel of the op they follow">,
    Option<"directConv", "direct-conv", "bool", /*default=*/"true",
           "Emit vectorised direct convolutions where they apply">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "Vector lanes of direct convolutions (0: 16 with AVX-512, else 8)">,
    Option<"convOutputChannels", "conv-output-channels", "int64_t",
           /*default=*/"8", "Output channels per register block">,
    Option<"convPixelVectors", "conv-pixel-vectors", "int64_t",
           /*default=*/"2", "Vectors of output pixels per register block">,
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::func::FuncDialect", "::mlir::vector::VectorDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect"
  ];
}

def HoistKernelScratch : Pass<"nsl-hoist-kernel-scratch", "::mlir::ModuleOp"> {
  let summary = "Give every kernel its scratch memory as a workspace argument";
  let description = [{
    Kernels allocate nothing (DESIGN.md §2): after bufferization, every
    `memref.alloc` of a kernel function (`nsl.kernel`) becomes a
    `memref.view` at a fixed, 64-byte aligned offset of one new argument
    `memref<Bxi8>`, appended after the kernel's results. The kernel gets
    `nsl.workspace_bytes = B`; the runtime provides a separate workspace to
    each call running at the same time. `memref.copy` becomes `linalg.copy`,
    so that strided copies become loops instead of calls into MLIR's
    runtime library.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def EmitKernelABI : Pass<"nsl-emit-kernel-abi", "::mlir::ModuleOp"> {
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

def KeepKernelsOnly : Pass<"nsl-keep-kernels-only", "::mlir::ModuleOp"> {
  let summary = "Erase every function but the kernels (nsl.kernel)";
  let description = [{
    After `--nsl-outline-kernels` has tagged the model function, the kernel
    module keeps the kernel functions only: the model function is the
    schedule, which the runtime executes, not code.
  }];
}

#endif // NSL_CODEGEN_PASSES_TD
