// RUN: nsl-opt %s --nsl-emit-cpu-kernel-abi --verify-diagnostics

// Kernels must be lowered with bare-pointer memrefs.
// expected-error @+1 {{kernel argument #0 is not a pointer after lowering (lower memrefs with use-bare-ptr-memref-call-conv)}}
llvm.func @k(%x: i64, %b: i64, %e: i64) attributes {nsl.kernel} {
  llvm.return
}
