// The whole CPU kernel pipeline: kernels reach the LLVM dialect with the
// nsl-cpu-1 entry points, scratch in a workspace argument, no allocation
// and no call into MLIR's runtime library.
// RUN: nsl-opt %s --nsl-cpu-pipeline | FileCheck %s
// RUN: nsl-opt %s --nsl-cpu-pipeline | FileCheck %s --check-prefix=NOALLOC
// NOALLOC-NOT: malloc
// NOALLOC-NOT: memrefCopy
// NOALLOC-NOT: func.func @forward

// The convolution and its relu are one kernel. Its scratch: the padded
// input of one sample, 2 channels × 7 rows × 18 columns (one 16-wide vector
// block plus the kernel's halo) of floats = 1008 bytes, rounded to 1024 (576
// on a host without AVX-512: 8-wide vectors, 10 columns). Three samples
// give fewer than 8 parallel iterations: each is split into 3 chunks of
// output rows, 9 iterations.
// CHECK: llvm.func internal @nsl_forward_k0_impl(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// CHECK: llvm.func @nsl_forward_k0(%[[BUFFERS:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64) attributes {nsl.kernel, nsl.parallel_extent = 9 : i64, nsl.workspace_bytes = {{1024|576}} : i64}
// CHECK-COUNT-4: llvm.load
// CHECK: llvm.call @nsl_forward_k0_impl({{.*}}, %[[BEGIN]], %[[END]])
// CHECK-NOT: llvm.func @nsl_forward_k1
func.func @forward(%x: tensor<3x2x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<3x4x5x5xf32> {
  %0 = nsl.sim_conv2d identity %x, %w {padding = array<i64: 1, 1>}
      : tensor<3x2x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<3x4x5x5xf32>
  %1 = nsl.relu %0 : tensor<3x4x5x5xf32>
  return %1 : tensor<3x4x5x5xf32>
}
