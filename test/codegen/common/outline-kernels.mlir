// Every kernel holds its group's nsl ops (the targets' kernel passes and
// --nsl-lower-to-linalg replace them later).
// RUN: nsl-opt %s --nsl-outline-kernels | FileCheck %s

// A per-sample op: its kernel loops over [begin, end) of the batch and runs
// the op on one-sample slices; weights are read whole.
// CHECK-LABEL: func.func @forward
// CHECK: nsl.sim_conv2d diagonal dynamic {{.*}} {nsl.kernel = "nsl_forward_k0", padding = array<i64: 1, 1>}
// CHECK: nsl.batch_norm_train {{.*}} {nsl.kernel = "nsl_forward_k1"}
// CHECK: nsl.fold_similarity {{.*}} {nsl.kernel = "nsl_forward_k2"}

// CHECK-LABEL: func.func @nsl_forward_k0
// CHECK-SAME: (%[[X:.*]]: memref<3x2x5x5xf32>, %[[W:.*]]: memref<4x2x3x3xf32>, %[[M:.*]]: memref<3x9x5x5xf32>, %[[Y:.*]]: memref<3x4x5x5xf32>, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-SAME: attributes {nsl.kernel, nsl.parallel_extent = 3 : i64}
// CHECK: scf.for %[[N:.*]] = %[[BEGIN]] to %[[END]]
// CHECK:   %[[XS:.*]] = memref.subview %[[X]][%[[N]], 0, 0, 0] [1, 2, 5, 5] [1, 1, 1, 1]
// CHECK:   %[[MS:.*]] = memref.subview %[[M]][%[[N]], 0, 0, 0] [1, 9, 5, 5]
// CHECK:   %[[YS:.*]] = memref.subview %[[Y]][%[[N]], 0, 0, 0] [1, 4, 5, 5]
// CHECK:   %[[XT:.*]] = bufferization.to_tensor %[[XS]] restrict
// CHECK:   %[[WT:.*]] = bufferization.to_tensor %[[W]] restrict : memref<4x2x3x3xf32> to tensor<4x2x3x3xf32>
// CHECK:   %[[MT:.*]] = bufferization.to_tensor %[[MS]] restrict
// CHECK:   %[[R:.*]] = nsl.sim_conv2d diagonal dynamic %[[XT]], %[[WT]] similarity(%[[MT]] : tensor<1x9x5x5xf32>) {padding = array<i64: 1, 1>} : tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x5x5xf32>
// CHECK:   bufferization.materialize_in_destination %[[R]] in restrict writable %[[YS]]

// A training batch norm mixes samples but not channels: it splits over
// channels (extent 4), the [N, C, H, W] tensors along dimension 1 and the
// per-channel ones along 0. An operand used several times is one buffer.
// CHECK-LABEL: func.func @nsl_forward_k1
// CHECK-SAME: (%{{.*}}: memref<3x4x5x5xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<3x4x5x5xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {nsl.kernel, nsl.parallel_extent = 4 : i64}
// CHECK: memref.subview %{{.*}}[0, %[[C:.*]], 0, 0] [3, 1, 5, 5] [1, 1, 1, 1]
// CHECK: memref.subview %{{.*}}[%[[C]]] [1] [1]
// CHECK: nsl.batch_norm_train {{.*}} : tensor<3x1x5x5xf32>, tensor<1xf32>
// Ops that mix samples and channels are not split: extent 1, whole tensors.
// CHECK-LABEL: func.func @nsl_forward_k2
// CHECK-SAME: nsl.parallel_extent = 1 : i64
func.func @forward(%x: tensor<3x2x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
                   %m: tensor<3x9x5x5xf32> {nsl.name = "m", nsl.role = "input"},
                   %p: tensor<4xf32> {nsl.name = "p", nsl.role = "parameter"},
                   %d: tensor<9xf32> {nsl.name = "d", nsl.role = "parameter"})
    -> (tensor<3x4x5x5xf32>, tensor<4x2x3x3xf32>) {
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<3x9x5x5xf32>) {padding = array<i64: 1, 1>}
      : tensor<3x2x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<3x4x5x5xf32>
  %1:5 = nsl.batch_norm_train %0, %p, %p, %p, %p
      : tensor<3x4x5x5xf32>, tensor<4xf32> -> tensor<3x4x5x5xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %2 = nsl.fold_similarity diagonal %w similarity(%d : tensor<9xf32>) : tensor<4x2x3x3xf32> -> tensor<4x2x3x3xf32>
  return %1#0, %2 : tensor<3x4x5x5xf32>, tensor<4x2x3x3xf32>
}
