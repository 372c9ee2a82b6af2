// --nsl-keep-kernels-only keeps the kernel functions (nsl.kernel) and erases
// every other function: the model function is the schedule, not code.
// RUN: nsl-opt %s --nsl-keep-kernels-only --split-input-file | FileCheck %s

// CHECK-LABEL: module
// CHECK-NOT: func.func @forward
// CHECK: func.func @nsl_forward_k0(%{{.*}}: memref<2xf32>, %{{.*}}: memref<2xf32>, %{{.*}}: index, %{{.*}}: index) attributes {nsl.kernel}
// CHECK-NOT: func.func @helper
func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
func.func @nsl_forward_k0(%x: memref<2xf32>, %y: memref<2xf32>, %b: index, %e: index) attributes {nsl.kernel} {
  return
}
func.func private @helper()

// -----

// A module of kernels only is left as it is.
// CHECK-LABEL: module
// CHECK: func.func @k0() attributes {nsl.kernel}
// CHECK: func.func @k1() attributes {nsl.kernel}
func.func @k0() attributes {nsl.kernel} {
  return
}
func.func @k1() attributes {nsl.kernel} {
  return
}
