// --nsl-map-kernels-to-gpu: every outlined kernel on memrefs becomes a
// gpu.func of the nsl_kernels gpu.module: one block per sample (the sample
// loop runs [blockIdx.x, blockIdx.x + 1)), each outermost scf.parallel a
// block-strided loop over the threads followed by a barrier, the workspace
// grid.x slices of one buffer. Functions that are not kernels stay.
// RUN: nsl-opt %s --nsl-map-kernels-to-gpu=threads=128 | FileCheck %s
// RUN: not nsl-opt %s --nsl-map-kernels-to-gpu=threads=2048 2>&1 | FileCheck %s --check-prefix=THREADS
// THREADS: error: nsl-map-kernels-to-gpu: threads must be in [1, 1024], got 2048

// CHECK: module attributes {gpu.container_module}
// CHECK: func.func @forward
// CHECK: gpu.module @nsl_kernels
// CHECK: gpu.func @k(%[[X:.*]]: memref<2x8xf32>, %[[Y:.*]]: memref<2x8xf32>, %[[WS:.*]]: memref<128xi8>) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 2, 1, 1>
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[DIM:.*]] = gpu.block_dim x
// CHECK: %[[NEXT:.*]] = arith.addi %[[BLOCK]]
// CHECK: scf.for %[[N:.*]] = %[[BLOCK]] to %[[NEXT]]
// CHECK: %[[BASE:.*]] = arith.muli %[[BLOCK]], %c64
// CHECK: %[[SHIFT:.*]] = arith.addi %[[BASE]]
// CHECK: memref.view %[[WS]][%[[SHIFT]]][] : memref<128xi8> to memref<8xf32>
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %[[DIM]]
// CHECK: memref.load %[[X]][%[[N]],
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %[[DIM]]
// CHECK: memref.store %{{.*}}, %[[Y]][%[[N]],
// CHECK: gpu.barrier
// CHECK: gpu.return
// CHECK-NOT: func.func @k
func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  return %x : tensor<2x8xf32>
}
func.func @k(%x: memref<2x8xf32>, %y: memref<2x8xf32>, %ws: memref<64xi8>, %b: index, %e: index) attributes {nsl.kernel, nsl.parallel_extent = 2 : i64, nsl.workspace_bytes = 64 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %n = %b to %e step %c1 {
    %t = memref.view %ws[%c0][] : memref<64xi8> to memref<8xf32>
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %x[%n, %i] : memref<2x8xf32>
      memref.store %v, %t[%i] : memref<8xf32>
    }
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %v = memref.load %t[%i] : memref<8xf32>
      memref.store %v, %y[%n, %i] : memref<2x8xf32>
    }
  }
  return
}
