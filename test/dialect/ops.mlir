// Round trip of every nsl op: print, re-parse, print again, and through the
// generic form.
// RUN: nsl-opt %s | nsl-opt | FileCheck %s
// RUN: nsl-opt %s --mlir-print-op-generic | nsl-opt | FileCheck %s

// CHECK-LABEL: func.func @sim_conv2d_structures
func.func @sim_conv2d_structures(
    %x: tensor<2x3x9x7xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>,
    %k: tensor<9xf32>, %kk: tensor<9x9xf32>) -> tensor<2x4x5x4xf32> {
  // CHECK: nsl.sim_conv2d identity %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<4xf32>) {dilation = array<i64: 2, 1>, padding = array<i64: 1, 2>, stride = array<i64: 1, 2>} : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<4xf32>)
      {stride = array<i64: 1, 2>, padding = array<i64: 1, 2>, dilation = array<i64: 2, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  // CHECK: nsl.sim_conv2d diagonal %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<9xf32>) {stride = array<i64: 2, 2>} : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x4x3xf32>
  %1 = nsl.sim_conv2d diagonal %x, %w similarity(%k : tensor<9xf32>)
      {stride = array<i64: 2, 2>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x4x3xf32>
  // CHECK: nsl.sim_conv2d full %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<9x9xf32>) {padding = array<i64: 1, 1>}
  %2 = nsl.sim_conv2d full %x, %w similarity(%kk : tensor<9x9xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x9x7xf32>
  // CHECK: nsl.sim_conv2d cholesky %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<9x9xf32>) :
  %3 = nsl.sim_conv2d cholesky %x, %w similarity(%kk : tensor<9x9xf32>)
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  // CHECK: nsl.sim_conv2d shape_masked %{{.*}}, %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<9x9xf32>) {alpha = 5.000000e-01 : f32}
  %4 = nsl.sim_conv2d shape_masked %x, %w similarity(%k, %kk : tensor<9xf32>, tensor<9x9xf32>)
      {alpha = 0.5 : f32}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  // CHECK: nsl.sim_conv2d shape_masked %{{.*}}, %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<9xf32>) :
  %5 = nsl.sim_conv2d shape_masked %x, %w similarity(%k, %k : tensor<9xf32>, tensor<9xf32>)
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  %r = nsl.sim_conv2d identity %x, %w {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x4xf32>
  return %r : tensor<2x4x5x4xf32>
}

// CHECK-LABEL: func.func @sim_conv2d_grouped
func.func @sim_conv2d_grouped(%x: tensor<2x6x8x8xf32>, %w: tensor<4x3x3x3xf32>,
                              %dw: tensor<6x1x3x3xf32>, %m: tensor<9xf32>)
    -> (tensor<2x4x6x6xf32>, tensor<2x6x8x8xf32>) {
  // CHECK: nsl.sim_conv2d diagonal %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<9xf32>) {groups = 2 : i64} : tensor<2x6x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>) {groups = 2}
      : tensor<2x6x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  // Depthwise.
  // CHECK: nsl.sim_conv2d identity %{{.*}}, %{{.*}} {groups = 6 : i64, padding = array<i64: 1, 1>}
  %1 = nsl.sim_conv2d identity %x, %dw {groups = 6, padding = array<i64: 1, 1>}
      : tensor<2x6x8x8xf32>, tensor<6x1x3x3xf32> -> tensor<2x6x8x8xf32>
  return %0, %1 : tensor<2x4x6x6xf32>, tensor<2x6x8x8xf32>
}

// A grouped dynamic layer: every group shares M_p.
// CHECK-LABEL: func.func @conv_groups_dynamic
func.func @conv_groups_dynamic(%x: tensor<1x4x8x8xf32>, %w: tensor<4x2x3x3xf32>, %m: tensor<1x9x6x6xf32>) -> tensor<1x4x6x6xf32> {
  // CHECK: nsl.sim_conv2d diagonal dynamic %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<1x9x6x6xf32>) {groups = 2 : i64} : tensor<1x4x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x6x6xf32>) {groups = 2} : tensor<1x4x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// CHECK-LABEL: func.func @layout
func.func @layout(%x: tensor<2x8x4x4xf32>) -> (tensor<2x4x2x4x4xf32>, tensor<2x4x4x8xf32>, tensor<2x3x4x4xf32>) {
  // CHECK: nsl.reshape %{{.*}} {shape = array<i64: 2, 4, 2, 4, 4>} : tensor<2x8x4x4xf32> -> tensor<2x4x2x4x4xf32>
  %0 = nsl.reshape %x {shape = array<i64: 2, 4, 2, 4, 4>} : tensor<2x8x4x4xf32> -> tensor<2x4x2x4x4xf32>
  // CHECK: nsl.transpose %{{.*}} {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x8x4x4xf32> -> tensor<2x4x4x8xf32>
  %1 = nsl.transpose %x {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x8x4x4xf32> -> tensor<2x4x4x8xf32>
  // CHECK: nsl.slice %{{.*}} {dim = 1 : i64, size = 3 : i64, start = 5 : i64} : tensor<2x8x4x4xf32> -> tensor<2x3x4x4xf32>
  %2 = nsl.slice %x {dim = 1, start = 5, size = 3} : tensor<2x8x4x4xf32> -> tensor<2x3x4x4xf32>
  return %0, %1, %2 : tensor<2x4x2x4x4xf32>, tensor<2x4x4x8xf32>, tensor<2x3x4x4xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x8x4x4xf32>) -> (tensor<2x8x1x1xf32>, tensor<8x4xf32>, tensor<2xf32>) {
  // CHECK: nsl.reduce_mean %{{.*}} {dims = array<i64: 2, 3>, keepdim} : tensor<2x8x4x4xf32> -> tensor<2x8x1x1xf32>
  %0 = nsl.reduce_mean %x {dims = array<i64: 2, 3>, keepdim} : tensor<2x8x4x4xf32> -> tensor<2x8x1x1xf32>
  // CHECK: nsl.reduce_sum %{{.*}} {dims = array<i64: 0, 3>} : tensor<2x8x4x4xf32> -> tensor<8x4xf32>
  %1 = nsl.reduce_sum %x {dims = array<i64: 0, 3>} : tensor<2x8x4x4xf32> -> tensor<8x4xf32>
  // CHECK: nsl.reduce_max %{{.*}} {dims = array<i64: 1, 2, 3>} : tensor<2x8x4x4xf32> -> tensor<2xf32>
  %2 = nsl.reduce_max %x {dims = array<i64: 1, 2, 3>} : tensor<2x8x4x4xf32> -> tensor<2xf32>
  return %0, %1, %2 : tensor<2x8x1x1xf32>, tensor<8x4xf32>, tensor<2xf32>
}

// CHECK-LABEL: func.func @concat
func.func @concat(%a: tensor<2x3x4x4xf32>, %b: tensor<2x5x4x4xf32>) -> tensor<2x8x4x4xf32> {
  // CHECK: nsl.concat %{{.*}}, %{{.*}} {dim = 1 : i64} : tensor<2x3x4x4xf32>, tensor<2x5x4x4xf32> -> tensor<2x8x4x4xf32>
  %0 = nsl.concat %a, %b {dim = 1} : tensor<2x3x4x4xf32>, tensor<2x5x4x4xf32> -> tensor<2x8x4x4xf32>
  return %0 : tensor<2x8x4x4xf32>
}

// CHECK-LABEL: func.func @sim_conv2d_dynamic
func.func @sim_conv2d_dynamic(
    %x: tensor<1x5x8x8xf32>, %w: tensor<6x5x3x3xf32>, %dns: tensor<1x9x4x4xf32>,
    %uns: tensor<1x81x4x4xf32>, %dr: tensor<9xf32>) -> tensor<1x6x4x4xf32> {
  // CHECK: nsl.sim_conv2d diagonal dynamic %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<1x9x4x4xf32>) {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%dns : tensor<1x9x4x4xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x5x8x8xf32>, tensor<6x5x3x3xf32> -> tensor<1x6x4x4xf32>
  // CHECK: nsl.sim_conv2d full dynamic %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<1x81x4x4xf32>)
  %1 = nsl.sim_conv2d full dynamic %x, %w similarity(%uns : tensor<1x81x4x4xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x5x8x8xf32>, tensor<6x5x3x3xf32> -> tensor<1x6x4x4xf32>
  // CHECK: nsl.sim_conv2d shape_masked dynamic %{{.*}}, %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<1x9x4x4xf32>)
  %2 = nsl.sim_conv2d shape_masked dynamic %x, %w similarity(%dr, %dns : tensor<9xf32>, tensor<1x9x4x4xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x5x8x8xf32>, tensor<6x5x3x3xf32> -> tensor<1x6x4x4xf32>
  // CHECK: nsl.sim_conv2d shape_masked dynamic %{{.*}}, %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<1x81x4x4xf32>)
  %3 = nsl.sim_conv2d shape_masked dynamic %x, %w similarity(%dr, %uns : tensor<9xf32>, tensor<1x81x4x4xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x5x8x8xf32>, tensor<6x5x3x3xf32> -> tensor<1x6x4x4xf32>
  return %0 : tensor<1x6x4x4xf32>
}

// CHECK-LABEL: func.func @sphere_and_predictor
func.func @sphere_and_predictor(
    %x: tensor<2x4x6x6xf32>, %w: tensor<9x4x3x3xf32>, %w81: tensor<81x4x3x3xf32>,
    %k: tensor<9xf32>, %gamma: tensor<f32>, %gamma1: tensor<1xf32>)
    -> (tensor<2x9x6x6xf32>, tensor<2x81x6x6xf32>) {
  // CHECK: nsl.sphere_conv2d cosine %{{.*}}, %{{.*}} {padding = array<i64: 1, 1>}
  %0 = nsl.sphere_conv2d cosine %x, %w {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  // CHECK: nsl.sphere_conv2d cosine input_only %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f32, padding = array<i64: 1, 1>}
  %1 = nsl.sphere_conv2d cosine input_only %x, %w {padding = array<i64: 1, 1>, epsilon = 1.0e-3 : f32}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  // CHECK: nsl.sphere_conv2d linear
  %2 = nsl.sphere_conv2d linear %x, %w {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  // CHECK: nsl.sphere_conv2d sigmoid %{{.*}}, %{{.*}} {padding = array<i64: 1, 1>, sigmoid_k = 5.000000e-01 : f32}
  %3 = nsl.sphere_conv2d sigmoid %x, %w {padding = array<i64: 1, 1>, sigmoid_k = 0.5 : f32}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  // CHECK: nsl.sphere_conv2d learned_sigmoid %{{.*}}, %{{.*}} k_param(%{{.*}} : tensor<9xf32>)
  %4 = nsl.sphere_conv2d learned_sigmoid %x, %w k_param(%k : tensor<9xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  // CHECK: nsl.patch_norm %{{.*}} {kernel_size = array<i64: 3, 3>, padding = array<i64: 1, 1>} : tensor<2x4x6x6xf32> -> tensor<2x1x6x6xf32>
  %5 = nsl.patch_norm %x {kernel_size = array<i64: 3, 3>, padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32> -> tensor<2x1x6x6xf32>
  // CHECK: nsl.predicted_similarity diagonal %{{.*}}, %{{.*}} : tensor<2x9x6x6xf32>, tensor<f32> -> tensor<2x9x6x6xf32>
  %6 = nsl.predicted_similarity diagonal %4, %gamma
      : tensor<2x9x6x6xf32>, tensor<f32> -> tensor<2x9x6x6xf32>
  %7 = nsl.sphere_conv2d cosine %x, %w81 {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<81x4x3x3xf32> -> tensor<2x81x6x6xf32>
  // CHECK: nsl.predicted_similarity full %{{.*}}, %{{.*}} : tensor<2x81x6x6xf32>, tensor<1xf32> -> tensor<2x81x6x6xf32>
  %8 = nsl.predicted_similarity full %7, %gamma1
      : tensor<2x81x6x6xf32>, tensor<1xf32> -> tensor<2x81x6x6xf32>
  return %6, %8 : tensor<2x9x6x6xf32>, tensor<2x81x6x6xf32>
}

// CHECK-LABEL: func.func @linear_layers
func.func @linear_layers(%x: tensor<3x12xf32>, %w: tensor<5x12xf32>, %b: tensor<5xf32>,
    %m: tensor<4x4xf32>, %d: tensor<4xf32>) -> tensor<3x5xf32> {
  // CHECK: nsl.sim_linear full %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<4x4xf32>) bias(%{{.*}} : tensor<5xf32>) {group_size = 4 : i64} : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  %0 = nsl.sim_linear full %x, %w similarity(%m : tensor<4x4xf32>) bias(%b : tensor<5xf32>)
      {group_size = 4 : i64} : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  // CHECK: nsl.sim_linear diagonal %{{.*}}, %{{.*}} similarity(%{{.*}} : tensor<4xf32>) {group_size = 4 : i64}
  %1 = nsl.sim_linear diagonal %x, %w similarity(%d : tensor<4xf32>)
      {group_size = 4 : i64} : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  // CHECK: nsl.fold_similarity cholesky %{{.*}} similarity(%{{.*}} : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<5x12xf32> -> tensor<5x12xf32>
  %2 = nsl.fold_similarity cholesky %w similarity(%m : tensor<4x4xf32>)
      {group_size = 4 : i64} : tensor<5x12xf32> -> tensor<5x12xf32>
  // CHECK: nsl.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<5xf32>) : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  %3 = nsl.linear %x, %2 bias(%b : tensor<5xf32>) : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  // CHECK: nsl.linear %{{.*}}, %{{.*}} : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  %4 = nsl.linear %x, %w : tensor<3x12xf32>, tensor<5x12xf32> -> tensor<3x5xf32>
  // CHECK: nsl.add %{{.*}}, %{{.*}} : tensor<3x5xf32>
  %5 = nsl.add %0, %1 : tensor<3x5xf32>
  // Elementwise rows broadcast; the types of both operands are printed when
  // they differ.
  // CHECK: nsl.mul %{{.*}}, %{{.*}} : tensor<3x5xf32>, tensor<5xf32>
  %prod = nsl.mul %5, %b : tensor<3x5xf32>, tensor<5xf32>
  // CHECK: nsl.mul_vjp %{{.*}}, %{{.*}} grad(%{{.*}} : tensor<3x5xf32>) wrt [0, 1] : tensor<3x5xf32>, tensor<5xf32> -> tensor<3x5xf32>, tensor<5xf32>
  %dm:2 = nsl.mul_vjp %5, %b grad(%prod : tensor<3x5xf32>) wrt [0, 1] : tensor<3x5xf32>, tensor<5xf32> -> tensor<3x5xf32>, tensor<5xf32>
  %6 = nsl.add %5, %3 : tensor<3x5xf32>
  %7 = nsl.add %6, %4 : tensor<3x5xf32>
  return %7 : tensor<3x5xf32>
}

// CHECK-LABEL: func.func @fold_similarity_conv
func.func @fold_similarity_conv(%w: tensor<4x3x3x3xf32>, %dr: tensor<9xf32>, %r: tensor<9x9xf32>)
    -> tensor<4x3x3x3xf32> {
  // CHECK: nsl.fold_similarity shape_masked %{{.*}} similarity(%{{.*}}, %{{.*}} : tensor<9xf32>, tensor<9x9xf32>) : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  %0 = nsl.fold_similarity shape_masked %w similarity(%dr, %r : tensor<9xf32>, tensor<9x9xf32>)
      : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// CHECK-LABEL: func.func @ordinary_layers
func.func @ordinary_layers(%x: tensor<2x4x7x7xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>,
    %m: tensor<4xf32>, %v: tensor<4xf32>, %labels: tensor<2xi64>)
    -> (tensor<f32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: nsl.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f32} : tensor<2x4x7x7xf32>, tensor<4xf32> -> tensor<2x4x7x7xf32>
  %0 = nsl.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-3 : f32}
      : tensor<2x4x7x7xf32>, tensor<4xf32> -> tensor<2x4x7x7xf32>
  // CHECK: nsl.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x7x7xf32>, tensor<4xf32> -> tensor<2x4x7x7xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %1:5 = nsl.batch_norm_train %0, %g, %b, %m, %v
      : tensor<2x4x7x7xf32>, tensor<4xf32> -> tensor<2x4x7x7xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  // CHECK: nsl.relu %{{.*}} : tensor<2x4x7x7xf32>
  %2 = nsl.relu %1#0 : tensor<2x4x7x7xf32>
  // CHECK: nsl.max_pool2d %{{.*}} {dilation = array<i64: 2, 2>, kernel_size = array<i64: 3, 3>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x7x7xf32> -> tensor<2x4x3x3xf32>
  %3 = nsl.max_pool2d %2 {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>,
      padding = array<i64: 1, 1>, dilation = array<i64: 2, 2>}
      : tensor<2x4x7x7xf32> -> tensor<2x4x3x3xf32>
  // CHECK: nsl.avg_pool2d %{{.*}} {count_include_pad = false, kernel_size = array<i64: 2, 2>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  %4 = nsl.avg_pool2d %2 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>,
      padding = array<i64: 1, 1>, count_include_pad = false}
      : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  // CHECK: nsl.global_avg_pool2d %{{.*}} : tensor<2x4x4x4xf32> -> tensor<2x4x1x1xf32>
  %5 = nsl.global_avg_pool2d %4 : tensor<2x4x4x4xf32> -> tensor<2x4x1x1xf32>
  // ceil_mode rounds the output size up: a partial last window (floor mode
  // gives 3x3 for both).
  // CHECK: nsl.max_pool2d %{{.*}} {ceil_mode = true, kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  %c0 = nsl.max_pool2d %2 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true}
      : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  // CHECK: nsl.avg_pool2d %{{.*}} {ceil_mode = true, count_include_pad = false, kernel_size = array<i64: 4, 4>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  %c1 = nsl.avg_pool2d %2 {kernel_size = array<i64: 4, 4>, stride = array<i64: 2, 2>,
      padding = array<i64: 1, 1>, count_include_pad = false, ceil_mode = true}
      : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  // A fifth window would start in the right padding (at 8 ≥ 7 + 1): dropped.
  // CHECK: nsl.max_pool2d %{{.*}} {ceil_mode = true, kernel_size = array<i64: 2, 2>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  %c2 = nsl.max_pool2d %2 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>,
      padding = array<i64: 1, 1>, ceil_mode = true}
      : tensor<2x4x7x7xf32> -> tensor<2x4x4x4xf32>
  // CHECK: nsl.adaptive_avg_pool2d %{{.*}} {output_size = array<i64: 3, 5>} : tensor<2x4x7x7xf32> -> tensor<2x4x3x5xf32>
  %a0 = nsl.adaptive_avg_pool2d %2 {output_size = array<i64: 3, 5>}
      : tensor<2x4x7x7xf32> -> tensor<2x4x3x5xf32>
  // Larger than the input (windows overlap).
  // CHECK: nsl.adaptive_max_pool2d %{{.*}} {output_size = array<i64: 9, 7>} : tensor<2x4x7x7xf32> -> tensor<2x4x9x7xf32>
  %a1 = nsl.adaptive_max_pool2d %2 {output_size = array<i64: 9, 7>}
      : tensor<2x4x7x7xf32> -> tensor<2x4x9x7xf32>
  // CHECK: nsl.flatten %{{.*}} : tensor<2x4x3x3xf32> -> tensor<2x36xf32>
  %6 = nsl.flatten %3 : tensor<2x4x3x3xf32> -> tensor<2x36xf32>
  %7 = nsl.flatten %5 : tensor<2x4x1x1xf32> -> tensor<2x4xf32>
  // CHECK: nsl.softmax_cross_entropy %{{.*}}, %{{.*}} {label_smoothing = 1.000000e-01 : f32} : tensor<2x4xf32>, tensor<2xi64> -> tensor<f32>
  %8 = nsl.softmax_cross_entropy %7, %labels {label_smoothing = 0.1 : f32}
      : tensor<2x4xf32>, tensor<2xi64> -> tensor<f32>
  return %8, %1#3, %1#4 : tensor<f32>, tensor<4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @model_arguments
// CHECK-SAME: nsl.name = "x", nsl.role = "input"
// CHECK-SAME: nsl.name = "fc.weight", nsl.role = "parameter"
// CHECK-SAME: nsl.name = "bn.running_mean", nsl.role = "buffer"
// CHECK-SAME: -> (tensor<1x3xf32> {nsl.name = "logits"})
func.func @model_arguments(
    %x: tensor<1x4xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<3x4xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %m: tensor<4xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"})
    -> (tensor<1x3xf32> {nsl.name = "logits"}) {
  %0 = nsl.linear %x, %w : tensor<1x4xf32>, tensor<3x4xf32> -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}
