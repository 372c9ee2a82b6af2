// RUN: nsl-opt %s --nsl-fold-static-similarity --split-input-file | FileCheck %s

// A static diagonal (DNS) layer becomes W' = fold(W, m) and a plain
// convolution with the same window and bias.
// CHECK-LABEL: func.func @static_diagonal
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8x8xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>, %[[M:.*]]: tensor<9xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[F:.*]] = nsl.fold_similarity diagonal %[[W]] similarity(%[[M]] : tensor<9xf32>) : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
// CHECK: %[[Y:.*]] = nsl.sim_conv2d identity %[[X]], %[[F]] bias(%[[B]] : tensor<4xf32>) {dilation = array<i64: 1, 2>, padding = array<i64: 1, 2>, stride = array<i64: 2, 1>}
// CHECK: return %[[Y]]
func.func @static_diagonal(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>, %b: tensor<4xf32>) -> tensor<2x4x4x8xf32> {
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>) bias(%b : tensor<4xf32>)
      {stride = array<i64: 2, 1>, padding = array<i64: 1, 2>, dilation = array<i64: 1, 2>}
      : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x4x8xf32>
  return %0 : tensor<2x4x4x8xf32>
}

// -----

// Every static structure folds the same way.
// CHECK-LABEL: func.func @static_structures
// CHECK: nsl.fold_similarity full
// CHECK: nsl.sim_conv2d identity
// CHECK: nsl.fold_similarity cholesky
// CHECK: nsl.sim_conv2d identity
// CHECK: nsl.fold_similarity shape_masked %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<9x9xf32>) {alpha = 2.500000e-01 : f32}
// CHECK: nsl.sim_conv2d identity %{{.*}}, %{{.*}} :
// CHECK-NOT: nsl.sim_conv2d {{full|cholesky|shape_masked}}
func.func @static_structures(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9x9xf32>, %d: tensor<9xf32>)
    -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %0 = nsl.sim_conv2d full %x, %w similarity(%m : tensor<9x9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  %1 = nsl.sim_conv2d cholesky %x, %w similarity(%m : tensor<9x9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  %2 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %m : tensor<9xf32>, tensor<9x9xf32>) {alpha = 0.25 : f32}
      : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0, %1, %2 : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// -----

// Must not fire: dynamic similarities depend on the input; identity is
// already a plain convolution.
// CHECK-LABEL: func.func @not_static
// CHECK-NOT: nsl.fold_similarity
// CHECK: nsl.sim_conv2d diagonal dynamic
// CHECK: nsl.sim_conv2d full dynamic
// CHECK: nsl.sim_conv2d identity
// CHECK-NOT: nsl.fold_similarity
func.func @not_static(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %dns: tensor<1x9x6x6xf32>, %uns: tensor<1x81x6x6xf32>)
    -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%dns : tensor<1x9x6x6xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  %1 = nsl.sim_conv2d full dynamic %x, %w similarity(%uns : tensor<1x81x6x6xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  %2 = nsl.sim_conv2d identity %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0, %1, %2 : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// -----

// A similarity linear layer becomes fold per feature group + linear; an
// identity one becomes a plain linear layer.
// CHECK-LABEL: func.func @sim_linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>, %[[W:.*]]: tensor<3x8xf32>, %[[M:.*]]: tensor<4x4xf32>, %[[B:.*]]: tensor<3xf32>)
// CHECK: %[[F:.*]] = nsl.fold_similarity full %[[W]] similarity(%[[M]] : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<3x8xf32> -> tensor<3x8xf32>
// CHECK: nsl.linear %[[X]], %[[F]] bias(%[[B]] : tensor<3xf32>)
// CHECK: nsl.linear %[[X]], %[[W]] :
// CHECK-NOT: nsl.sim_linear
func.func @sim_linear(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>, %m: tensor<4x4xf32>, %b: tensor<3xf32>)
    -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = nsl.sim_linear full %x, %w similarity(%m : tensor<4x4xf32>) bias(%b : tensor<3xf32>) {group_size = 4 : i64}
      : tensor<2x8xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  %1 = nsl.sim_linear identity %x, %w {group_size = 2 : i64} : tensor<2x8xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  return %0, %1 : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Constant weights and similarities (a frozen build) fold to constants:
// W = [1, 1] (K = 2 taps of a 1×2 kernel).
//   diagonal m = [2, 3]                       → W' = [2, 3]
//   cholesky L = [[1, 5], [2, 3]] (5 unused)  → M = L·Lᵀ = [[1, 2], [2, 13]] → W' = [3, 15]
//   shape_masked d_r = [1, -1], R = [[1, 2], [3, 4]] → M = [[1, 2], [0, 0]] → W' = [1, 2]
// CHECK-LABEL: func.func @constants
// CHECK-DAG: arith.constant dense<{{\[\[\[\[}}2.000000e+00, 3.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[\[\[}}3.000000e+00, 1.500000e+01]]]]> : tensor<1x1x1x2xf32>
// CHECK-DAG: arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-NOT: nsl.fold_similarity
func.func @constants(%x: tensor<1x1x1x4xf32>) -> (tensor<1x1x1x3xf32>, tensor<1x1x1x3xf32>, tensor<1x1x1x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<1x1x1x2xf32>
  %m = arith.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %l = arith.constant dense<[[1.0, 5.0], [2.0, 3.0]]> : tensor<2x2xf32>
  %d = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %r = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<2xf32>) : tensor<1x1x1x4xf32>, tensor<1x1x1x2xf32> -> tensor<1x1x1x3xf32>
  %1 = nsl.sim_conv2d cholesky %x, %w similarity(%l : tensor<2x2xf32>) : tensor<1x1x1x4xf32>, tensor<1x1x1x2xf32> -> tensor<1x1x1x3xf32>
  %2 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %r : tensor<2xf32>, tensor<2x2xf32>) : tensor<1x1x1x4xf32>, tensor<1x1x1x2xf32> -> tensor<1x1x1x3xf32>
  return %0, %1, %2 : tensor<1x1x1x3xf32>, tensor<1x1x1x3xf32>, tensor<1x1x1x3xf32>
}
