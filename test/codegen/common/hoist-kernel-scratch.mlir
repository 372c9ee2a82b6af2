// --nsl-hoist-kernel-scratch: every memref.alloc of a kernel becomes a view
// of one workspace argument at a 64-byte aligned offset (inserted after the
// results, before begin and end); memref.copy becomes linalg.copy.
// RUN: nsl-opt %s --nsl-hoist-kernel-scratch --split-input-file | FileCheck %s

// 3 + 16 floats: 12 bytes at 0, 64 bytes at 64.
// CHECK-LABEL: func.func @k(
// CHECK-SAME: %[[X:.*]]: memref<3xf32>, %[[Y:.*]]: memref<3xf32>, %[[WS:.*]]: memref<128xi8>, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: nsl.workspace_bytes = 128 : i64
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: memref.view %[[WS]][%[[C0]]][] : memref<128xi8> to memref<3xf32>
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: memref.view %[[WS]][%[[C64]]][] : memref<128xi8> to memref<16xf32>
// CHECK-NOT: memref.alloc
// CHECK: linalg.copy
// CHECK-NOT: memref.copy
func.func @k(%x: memref<3xf32>, %y: memref<3xf32>, %b: index, %e: index) attributes {nsl.kernel} {
  %a = memref.alloc() : memref<3xf32>
  %c = memref.alloc() : memref<16xf32>
  memref.copy %x, %a : memref<3xf32> to memref<3xf32>
  memref.copy %a, %y : memref<3xf32> to memref<3xf32>
  return
}

// -----

// A kernel without scratch gets no workspace (0 bytes); a function that is
// not a kernel keeps its allocations.
// CHECK-LABEL: func.func @none(%{{.*}}: memref<3xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: nsl.workspace_bytes = 0 : i64
// CHECK-LABEL: func.func @not_a_kernel
// CHECK: memref.alloc
func.func @none(%x: memref<3xf32>, %b: index, %e: index) attributes {nsl.kernel} {
  return
}
func.func @not_a_kernel() {
  %a = memref.alloc() : memref<3xf32>
  return
}
