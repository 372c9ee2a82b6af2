// The lowering of every nsl op to linalg/tensor/arith/math on tensors.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s
// No nsl op survives, and the result verifies.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=NONSL
// NONSL-NOT: nsl.

// Identity: zero padding, then linalg's named NCHW convolution, then bias.
// CHECK-LABEL: func.func @conv_identity
// CHECK: %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 2] high[0, 0, 1, 2]
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<[2, 1]> : tensor<2xi64>, strides = dense<[1, 2]> : tensor<2xi64>} ins(%[[PAD]], %{{.*}} : tensor<2x3x11x11xf32>, tensor<4x3x3x3xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[CONV]], %{{.*}} : tensor<2x4x7x5xf32>, tensor<4xf32>)
// CHECK: arith.addf
func.func @conv_identity(%x: tensor<2x3x9x7xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<2x4x7x5xf32> {
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<4xf32>)
      {stride = array<i64: 1, 2>, padding = array<i64: 1, 2>, dilation = array<i64: 2, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x7x5xf32>
  return %0 : tensor<2x4x7x5xf32>
}

// -----

// An unfolded static similarity is folded here: W' = W·M (rows of K taps),
// then a plain convolution with W'.
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[MAT:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func.func @conv_static_full
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2, 3]] : tensor<4x3x3x3xf32> into tensor<12x9xf32>
// CHECK: %[[FOLD:.*]] = linalg.generic {indexing_maps = [#[[ROW]], #[[MAT]], {{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]], %{{.*}} : tensor<12x9xf32>, tensor<9x9xf32>)
// CHECK: %[[W:.*]] = tensor.expand_shape %[[FOLD]] {{\[\[}}0, 1], [2, 3]] output_shape [4, 3, 3, 3]
// CHECK: linalg.conv_2d_nchw_fchw {{.*}} ins(%{{.*}}, %[[W]] :
func.func @conv_static_full(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9x9xf32>) -> tensor<1x4x6x6xf32> {
  %0 = nsl.sim_conv2d full %x, %w similarity(%m : tensor<9x9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

// DNS: one contraction over (c, ky, kx) that multiplies each input tap by
// the mask of its output position, read as [N, kh, kw, Ho, Wo].
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d4, d2 * 2 + d5, d3 * 2 + d6)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d4, d5, d6)>
// CHECK-DAG: #[[M:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d5, d6, d2, d3)>
// CHECK-LABEL: func.func @conv_dns
// CHECK: %[[MASK:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] output_shape [2, 3, 3, 4, 4] : tensor<2x9x4x4xf32> into tensor<2x3x3x4x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[M]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%{{.*}}, %{{.*}}, %[[MASK]] :
// CHECK-COUNT-2: arith.mulf
// CHECK: arith.addf
func.func @conv_dns(%x: tensor<2x3x8x8xf32>, %w: tensor<5x3x3x3xf32>, %m: tensor<2x9x4x4xf32>) -> tensor<2x5x4x4xf32> {
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x4x4xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<2x3x8x8xf32>, tensor<5x3x3x3xf32> -> tensor<2x5x4x4xf32>
  return %0 : tensor<2x5x4x4xf32>
}

// -----

// UNS: the taps of each patch are mixed by M_p (reduction over the source
// tap), then contracted with W over (c, t).
// CHECK-LABEL: func.func @conv_uns
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2, 3, 4], [5], [6]] output_shape [1, 2, 2, 2, 2, 3, 3] : tensor<1x16x3x3xf32> into tensor<1x2x2x2x2x3x3xf32>
// CHECK: %[[Z:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins({{.*}}) outs(%{{.*}} : tensor<1x3x2x2x3x3xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[Z]], %{{.*}} : tensor<1x3x2x2x3x3xf32>, tensor<4x3x2x2xf32>)
func.func @conv_uns(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x2x2xf32>, %m: tensor<1x16x3x3xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nsl.sim_conv2d full dynamic %x, %w similarity(%m : tensor<1x16x3x3xf32>)
      : tensor<1x3x4x4xf32>, tensor<4x3x2x2xf32> -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

// -----

// Dynamic shape_masked: rows t of R_p with d_r[t] ≤ α are zeroed (row of
// channel c is c floordiv K for a full R_p), then the UNS contraction.
// CHECK-DAG: #[[ROWOF:.*]] = affine_map<(d0, d1, d2, d3) -> (d1 floordiv 4)>
// CHECK-LABEL: func.func @conv_shape_masked_dynamic
// CHECK: linalg.generic {indexing_maps = [#[[ROWOF]], {{.*}}]
// CHECK: arith.cmpf ogt, %{{.*}}, %{{.*}} : f32
// CHECK: arith.select
func.func @conv_shape_masked_dynamic(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x2x2xf32>, %d: tensor<4xf32>, %r: tensor<1x16x3x3xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nsl.sim_conv2d shape_masked dynamic %x, %w similarity(%d, %r : tensor<4xf32>, tensor<1x16x3x3xf32>)
      : tensor<1x3x4x4xf32>, tensor<4x3x2x2xf32> -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

// -----

// SphereConv: the product as a convolution, ‖x_p‖ as a box filter of x²,
// ‖w_o‖ as a reduction, then g(θ) elementwise (acos for linear).
// CHECK-LABEL: func.func @sphere_linear
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK: math.sqrt
// CHECK: math.sqrt
// CHECK: math.acos
func.func @sphere_linear(%x: tensor<1x3x6x6xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %0 = nsl.sphere_conv2d linear %x, %w {padding = array<i64: 1, 1>} : tensor<1x3x6x6xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

// input_only: no weight norm; learned_sigmoid reads k' per filter.
// CHECK-LABEL: func.func @sphere_variants
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK: math.sqrt
// CHECK-NOT: math.sqrt
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK: math.absf
// CHECK: math.exp
func.func @sphere_variants(%x: tensor<1x3x6x6xf32>, %w: tensor<4x3x3x3xf32>, %k: tensor<4xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  %0 = nsl.sphere_conv2d cosine input_only %x, %w : tensor<1x3x6x6xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x4x4xf32>
  %1 = nsl.sphere_conv2d learned_sigmoid %x, %w k_param(%k : tensor<4xf32>) : tensor<1x3x6x6xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x4x4xf32>
  return %0, %1 : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @patch_norm
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
// CHECK: math.sqrt
// CHECK: tensor.expand_shape {{.*}} into tensor<2x1x3x3xf32>
func.func @patch_norm(%x: tensor<2x3x6x6xf32>) -> tensor<2x1x3x3xf32> {
  %0 = nsl.patch_norm %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<2x3x6x6xf32> -> tensor<2x1x3x3xf32>
  return %0 : tensor<2x1x3x3xf32>
}

// -----

// γ·P + I: a diagonal adds 1; a full one adds 1 on channels t·K+t, the
// multiples of K + 1.
// CHECK-LABEL: func.func @predicted
// CHECK: arith.addf
// CHECK: linalg.index 1
// CHECK: arith.constant 4 : index
// CHECK: arith.remui
func.func @predicted(%p: tensor<1x9x2x2xf32>, %g: tensor<f32>) -> (tensor<1x9x2x2xf32>, tensor<1x9x2x2xf32>) {
  %0 = nsl.predicted_similarity diagonal %p, %g : tensor<1x9x2x2xf32>, tensor<f32> -> tensor<1x9x2x2xf32>
  %1 = nsl.predicted_similarity full %p, %g : tensor<1x9x2x2xf32>, tensor<f32> -> tensor<1x9x2x2xf32>
  return %0, %1 : tensor<1x9x2x2xf32>, tensor<1x9x2x2xf32>
}

// -----

// Cholesky M = L·Lᵀ over the lower triangle, and a linear weight folded
// per group of B features.
// CHECK-LABEL: func.func @sim_linear_cholesky
// CHECK: arith.cmpi ule
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [3, 2, 4] : tensor<3x8xf32> into tensor<3x2x4xf32>
// CHECK: tensor.collapse_shape {{.*}} into tensor<6x4xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
func.func @sim_linear_cholesky(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>, %l: tensor<4x4xf32>) -> tensor<2x3xf32> {
  %0 = nsl.sim_linear cholesky %x, %w similarity(%l : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<2x8xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @batch_norms
// CHECK: math.rsqrt
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "reduction", "reduction"]
// CHECK: math.rsqrt
func.func @batch_norms(%x: tensor<2x4x3x3xf32>, %p: tensor<4xf32>) -> (tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) {
  %0 = nsl.batch_norm %x, %p, %p, %p, %p : tensor<2x4x3x3xf32>, tensor<4xf32> -> tensor<2x4x3x3xf32>
  %1:5 = nsl.batch_norm_train %x, %p, %p, %p, %p : tensor<2x4x3x3xf32>, tensor<4xf32> -> tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return %0, %1#0, %1#4 : tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>
}

// -----

// Max pooling pads with −∞; average pooling divides by compile-time counts.
// CHECK-LABEL: func.func @pools
// CHECK: tensor.pad
// CHECK: tensor.yield %cst{{.*}} : f32
// CHECK: arith.maximumf
// CHECK: arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 2.000000e+00, 1.000000e+00], [2.000000e+00, 4.000000e+00, 4.000000e+00, 2.000000e+00]
// CHECK: arith.divf
func.func @pools(%x: tensor<1x2x6x6xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x4x4xf32>) {
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x2x6x6xf32> -> tensor<1x2x3x3xf32>
  %1 = nsl.avg_pool2d %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, count_include_pad = false}
      : tensor<1x2x6x6xf32> -> tensor<1x2x4x4xf32>
  return %0, %1 : tensor<1x2x3x3xf32>, tensor<1x2x4x4xf32>
}

// -----

// Ceil mode: the partial last windows read the padding value past the padded
// input (bottom and right), and the average's divisor counts their taps
// inside the padded input only (PyTorch's).
// CHECK-LABEL: func.func @ceil_mode_pools
// CHECK: %[[MP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 1, 1]
// CHECK: tensor.yield %cst{{.*}} : f32
// CHECK: } : tensor<1x2x7x7xf32> to tensor<1x2x8x8xf32>
// CHECK: linalg.generic {{.*}} ins(%[[MP]], %{{.*}} : tensor<1x2x8x8xf32>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x4x4xf32>)
// CHECK: arith.maximumf
// CHECK: %[[AP:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 2, 2]
// CHECK: } : tensor<1x2x6x6xf32> to tensor<1x2x9x9xf32>
// CHECK: linalg.generic {{.*}} ins(%[[AP]], %{{.*}} : tensor<1x2x9x9xf32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x2x4x4xf32>)
// CHECK: arith.constant dense<{{\[\[}}9.000000e+00, 9.000000e+00, 9.000000e+00, 6.000000e+00], [9.000000e+00, 9.000000e+00, 9.000000e+00, 6.000000e+00], [9.000000e+00, 9.000000e+00, 9.000000e+00, 6.000000e+00], [6.000000e+00, 6.000000e+00, 6.000000e+00, 4.000000e+00]]>
// CHECK: arith.divf
func.func @ceil_mode_pools(%x: tensor<1x2x7x7xf32>, %z: tensor<1x2x6x6xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true}
      : tensor<1x2x7x7xf32> -> tensor<1x2x4x4xf32>
  %1 = nsl.avg_pool2d %z {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, ceil_mode = true}
      : tensor<1x2x6x6xf32> -> tensor<1x2x4x4xf32>
  return %0, %1 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// Adaptive pools: output row i reads input row (i·H) floordiv Ho + a for a
// below the largest window; where windows differ in length, a constant of
// the lengths masks the taps past each window (5 rows to 3: [0, 2), [1, 4),
// [3, 5); 6 columns to 3: all of length 2, no mask). The average divides by
// the windows' sizes; a window larger than the input repeats pixels.
// CHECK-DAG: #[[AVG:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, (d2 * 5) floordiv 3 + d4, d3 * 2 + d5)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2)>
// CHECK-DAG: #[[MAX:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, (d2 * 5) floordiv 7 + d4, d3 + d5)>
// CHECK-LABEL: func.func @adaptive_pools
// CHECK: %[[XP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 1, 0]
// CHECK: %[[LEN:.*]] = arith.constant dense<[2, 3, 2]> : tensor<3xi32>
// CHECK: linalg.generic {indexing_maps = [#[[AVG]], #[[ROW]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[XP]], %[[LEN]], %{{.*}} : tensor<1x2x6x6xf32>, tensor<3xi32>, tensor<3x2xf32>) outs(%{{.*}} : tensor<1x2x3x3xf32>)
// CHECK: linalg.index 4
// CHECK: arith.cmpi slt
// CHECK: arith.addf
// CHECK: arith.select
// CHECK: arith.constant dense<{{\[\[}}4.000000e+00, 4.000000e+00, 4.000000e+00], [6.000000e+00, 6.000000e+00, 6.000000e+00], [4.000000e+00, 4.000000e+00, 4.000000e+00]]>
// CHECK: arith.divf
// CHECK: %[[MP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 1, 0]
// CHECK: %[[MLEN:.*]] = arith.constant dense<[1, 2, 2, 1, 2, 2, 1]> : tensor<7xi32>
// CHECK: linalg.generic {indexing_maps = [#[[MAX]], #[[ROW]], {{.*}}]{{.*}} ins(%[[MP]], %[[MLEN]], %{{.*}} : tensor<1x2x6x6xf32>, tensor<7xi32>, tensor<2x1xf32>) outs(%{{.*}} : tensor<1x2x7x6xf32>)
// CHECK: arith.maximumf
// CHECK: arith.select
func.func @adaptive_pools(%x: tensor<1x2x5x6xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x7x6xf32>) {
  %0 = nsl.adaptive_avg_pool2d %x {output_size = array<i64: 3, 3>} : tensor<1x2x5x6xf32> -> tensor<1x2x3x3xf32>
  %1 = nsl.adaptive_max_pool2d %x {output_size = array<i64: 7, 6>} : tensor<1x2x5x6xf32> -> tensor<1x2x7x6xf32>
  return %0, %1 : tensor<1x2x3x3xf32>, tensor<1x2x7x6xf32>
}

// -----

// CHECK-LABEL: func.func @head
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]
// CHECK: tensor.expand_shape {{.*}} into tensor<2x3x1x1xf32>
// CHECK: tensor.collapse_shape {{.*}} into tensor<2x3xf32>
// CHECK: math.exp
// CHECK: math.log
// CHECK: arith.index_cast
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%{{.*}} : tensor<2xf32>) outs(%{{.*}} : tensor<f32>)
func.func @head(%x: tensor<2x3x4x4xf32>, %y: tensor<2xi64>) -> tensor<f32> {
  %0 = nsl.global_avg_pool2d %x : tensor<2x3x4x4xf32> -> tensor<2x3x1x1xf32>
  %1 = nsl.flatten %0 : tensor<2x3x1x1xf32> -> tensor<2x3xf32>
  %2 = nsl.relu %1 : tensor<2x3xf32>
  %3 = nsl.add %2, %1 : tensor<2x3xf32>
  %4 = nsl.softmax_cross_entropy %3, %y {label_smoothing = 0.2 : f32} : tensor<2x3xf32>, tensor<2xi64> -> tensor<f32>
  return %4 : tensor<f32>
}
