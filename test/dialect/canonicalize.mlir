// Folders of the nsl ops: only mathematically exact rewrites.
// RUN: nsl-opt %s --canonicalize --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @relu_idempotent
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: %[[R:.*]] = nsl.relu %[[X]]
// CHECK-NEXT: return %[[R]]
func.func @relu_idempotent(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nsl.relu %x : tensor<2x3xf32>
  %1 = nsl.relu %0 : tensor<2x3xf32>
  %2 = nsl.relu %1 : tensor<2x3xf32>
  return %2 : tensor<2x3xf32>
}

// -----

// relu(add) is not relu: nothing folds.
// CHECK-LABEL: func.func @relu_of_add
// CHECK: nsl.add
// CHECK-NEXT: nsl.relu
func.func @relu_of_add(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nsl.add %x, %x : tensor<2x3xf32>
  %1 = nsl.relu %0 : tensor<2x3xf32>
  return %1 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @flatten_noop
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @flatten_noop(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nsl.flatten %x : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @flatten_kept
// CHECK: nsl.flatten
func.func @flatten_kept(%x: tensor<2x3x1x1xf32>) -> tensor<2x3xf32> {
  %0 = nsl.flatten %x : tensor<2x3x1x1xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @fold_identity
// CHECK-SAME: (%[[W:.*]]: tensor<4x3x3x3xf32>)
// CHECK-NEXT: return %[[W]]
func.func @fold_identity(%w: tensor<4x3x3x3xf32>) -> tensor<4x3x3x3xf32> {
  %0 = nsl.fold_similarity identity %w : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// -----

// Unused pure ops are erased.
// CHECK-LABEL: func.func @dead_conv
// CHECK-NOT: nsl.
// CHECK: return
func.func @dead_conv(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}
