//===- Passes.td - Target-independent code generation passes -*- tablegen -*-===//
//
// The passes both targets share: lowering nsl ops to linalg, grouping and
// outlining kernels, scratch memory. The CPU's and the GPU's own passes are
// in codegen/cpu/Passes.td and codegen/cuda/Passes.td.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_PASSES_TD
#define NSL_CODEGEN_COMMON_PASSES_TD

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
    `nsl.fold_similarity` here. Every op, gradients included, becomes
    target-independent linalg; the CPU's variant with explicit vector loops
    for the heaviest gradient contractions is `--nsl-cpu-lower-to-linalg`.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def OutlineKernels : Pass<"nsl-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Group the ops of a model function into kernels and outline them";
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
    `nsl.batch_norm` and/or `nsl.relu` forms one kernel; a convolution group
    (codegen/common/ConvGroup.h) also takes the `nsl.predicted_similarity`
    that makes its mask and the SphereConv predicting it from the
    convolution's own input. Each kernel holds its ops on tensors of this
    sample (`bufferization.to_tensor` of its buffers, the result
    materialised into its output buffer); the targets' kernel passes
    (`--nsl-emit-cpu-direct-convs`, `--nsl-tile-convs-for-gpu`) replace
    the groups they have fast code for, `--nsl-lower-to-linalg` the rest.
    The model function's ops are tagged with `nsl.kernel = "<name>"`; the
    model function itself is left for the scheduler (`nslc`).
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Name of the model function">,
    Option<"fuseEpilogues", "fuse-epilogues", "bool", /*default=*/"true",
           "Put batch_norm and relu into the kernel of the op they follow">,
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::func::FuncDialect", "::mlir::arith::ArithDialect"
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

def KeepKernelsOnly : Pass<"nsl-keep-kernels-only", "::mlir::ModuleOp"> {
  let summary = "Erase every function but the kernels (nsl.kernel)";
  let description = [{
    After `--nsl-outline-kernels` has tagged the model function, the kernel
    module keeps the kernel functions only: the model function is the
    schedule, which the runtime executes, not code.
  }];
}

#endif // NSL_CODEGEN_COMMON_PASSES_TD
