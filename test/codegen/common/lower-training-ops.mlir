// The lowering of the training ops (codegen/common/LowerTrainingOps.cpp) to
// linalg/tensor/arith/math on tensors: VJPs of the ordinary layers, the
// regularisers, count_correct and the optimizer updates.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s
// No nsl op survives, and the result verifies.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=NONSL
// NONSL-NOT: nsl.

// Linear: ∂x = G·W (loops n, f, o), ∂W = Gᵀ·x (loops o, f, n), ∂b = Σ_n G.
// CHECK-DAG: #[[NO:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[OF:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[GT:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[BT:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @linear_vjp
// CHECK-SAME: %[[X:[^:]*]]: tensor<5x6xf32>, %[[W:[^:]*]]: tensor<4x6xf32>, %{{[^:]*}}: tensor<4xf32>, %[[G:[^:]*]]: tensor<5x4xf32>
// CHECK: %[[DX:.*]] = linalg.generic {indexing_maps = [#[[NO]], #[[OF]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[G]], %[[W]] : tensor<5x4xf32>, tensor<4x6xf32>) outs(%{{.*}} : tensor<5x6xf32>)
// CHECK: %[[DW:.*]] = linalg.generic {indexing_maps = [#[[GT]], #[[OF]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[G]], %[[X]] : tensor<5x4xf32>, tensor<5x6xf32>) outs(%{{.*}} : tensor<4x6xf32>)
// CHECK: %[[DB:.*]] = linalg.generic {indexing_maps = [#[[BT]], {{.*}}], iterator_types = ["parallel", "reduction"]} ins(%[[G]] : tensor<5x4xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: return %[[DX]], %[[DW]], %[[DB]]
func.func @linear_vjp(%x: tensor<5x6xf32>, %w: tensor<4x6xf32>, %b: tensor<4xf32>, %g: tensor<5x4xf32>) -> (tensor<5x6xf32>, tensor<4x6xf32>, tensor<4xf32>) {
  %0:3 = nsl.linear_vjp %x, %w bias(%b : tensor<4xf32>) grad(%g : tensor<5x4xf32>) wrt [0, 1, 2] : tensor<5x6xf32>, tensor<4x6xf32> -> tensor<5x6xf32>, tensor<4x6xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<5x6xf32>, tensor<4x6xf32>, tensor<4xf32>
}

// -----

// Only the gradients `wrt` names are computed.
// CHECK-LABEL: func.func @linear_vjp_weight_only
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT: linalg.generic
func.func @linear_vjp_weight_only(%x: tensor<5x6xf32>, %w: tensor<4x6xf32>, %g: tensor<5x4xf32>) -> tensor<4x6xf32> {
  %0 = nsl.linear_vjp %x, %w grad(%g : tensor<5x4xf32>) wrt [1] : tensor<5x6xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

// Batch norm (training): batch mean and biased variance per channel, 1/σ,
// ∂bias = ΣG, ∂weight = ΣG·x̂, then ∂x = γ/σ·(G − ΣG/count − x̂·ΣG·x̂/count).
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[CH:.*]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @batch_norm_train_vjp
// CHECK-SAME: %[[X:[^:]*]]: tensor<3x4x5x6xf32>, %[[GAMMA:[^:]*]]: tensor<4xf32>
// CHECK-SAME: %[[G:[^:]*]]: tensor<3x4x5x6xf32>
// Every channel sum accumulates in f64 and is rounded once.
// CHECK: %[[SUMW:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[CH]]], iterator_types = ["reduction", "parallel", "reduction", "reduction"]} ins(%[[X]] : tensor<3x4x5x6xf32>) outs(%{{.*}} : tensor<4xf64>)
// CHECK: arith.extf
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[SUMW]] : tensor<4xf64>)
// CHECK: arith.truncf
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] :
// CHECK: %[[SQW:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[CH]], #[[CH]]], iterator_types = ["reduction", "parallel", "reduction", "reduction"]} ins(%[[X]], %[[MEAN]] :
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}} ins(%[[SQW]] :
// CHECK: %[[VAR:.*]] = linalg.generic {{.*}} ins(%[[SQ]] :
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[VAR]] :
// CHECK: math.sqrt
// CHECK: arith.divf
// CHECK: %[[SGW:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[CH]]], iterator_types = ["reduction", "parallel", "reduction", "reduction"]} ins(%[[G]] :
// CHECK: %[[SG:.*]] = linalg.generic {{.*}} ins(%[[SGW]] :
// CHECK: %[[SGXW:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[X]], %[[MEAN]], %[[INV]] :
// CHECK: %[[SGX:.*]] = linalg.generic {{.*}} ins(%[[SGXW]] :
// CHECK: %[[DX:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[CH]], #[[CH]], #[[CH]], #[[CH]], #[[CH]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X]], %[[G]], %[[MEAN]], %[[INV]], %[[GAMMA]], %[[SG]], %[[SGX]] :
// CHECK: return %[[DX]], %[[SGX]], %[[SG]]
func.func @batch_norm_train_vjp(%x: tensor<3x4x5x6xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %rm: tensor<4xf32>, %rv: tensor<4xf32>, %g: tensor<3x4x5x6xf32>) -> (tensor<3x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0:3 = nsl.batch_norm_train_vjp %x, %w, %b, %rm, %rv grad(%g : tensor<3x4x5x6xf32>) wrt [0, 1, 2] : tensor<3x4x5x6xf32>, tensor<4xf32> -> tensor<3x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<3x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// ReLU: 0 where x ≤ 0 (ordered: a NaN input passes G).
// CHECK-LABEL: func.func @relu_vjp
// CHECK: linalg.generic
// CHECK: %[[OFF:.*]] = arith.cmpf ole, %{{.*}}, %{{.*}} : f32
// CHECK: arith.select %[[OFF]], %{{.*}}, %{{.*}} : f32
func.func @relu_vjp(%x: tensor<2x3x4x5xf32>, %g: tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32> {
  %0 = nsl.relu_vjp %x grad(%g : tensor<2x3x4x5xf32>) wrt [0] : tensor<2x3x4x5xf32> -> tensor<2x3x4x5xf32>
  return %0 : tensor<2x3x4x5xf32>
}

// -----

// Max pool: the arg-max tap of each window (first in-image pixel, then
// strictly greater or NaN), then a gather: each input pixel sums the G of
// the windows whose arg-max tap it is, reading G and the taps through
// padded tensors at ((y + offset − ky·dh) floordiv sh).
// CHECK-DAG: #[[WIN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4 * 2, d3 * 2 + d5)>
// CHECK-DAG: #[[GATHER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, (d2 - d4 * 2 + 5) floordiv 2, (d3 - d5 + 3) floordiv 2)>
// CHECK-LABEL: func.func @max_pool2d_vjp
// CHECK: %[[XP:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK: %[[ARG:.*]]:2 = linalg.generic {indexing_maps = [#[[WIN]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[XP]], %{{.*}} : tensor<2x3x11x10xf32>, tensor<3x3xf32>) outs(%{{.*}}, %{{.*}} : tensor<2x3x4x4xf32>, tensor<2x3x4x4xi32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf uno
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, i32
// CHECK: %[[GP:.*]] = tensor.pad %{{.*}} low[0, 0, 2, 1] high[0, 0, 1, 1]
// CHECK: %[[AP:.*]] = tensor.pad %[[ARG]]#1 low[0, 0, 2, 1] high[0, 0, 1, 1]
// CHECK: tensor.yield %{{.*}} : i32
// CHECK: linalg.generic {indexing_maps = [#[[GATHER]], #[[GATHER]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[GP]], %[[AP]], %{{.*}} : tensor<2x3x7x6xf32>, tensor<2x3x7x6xi32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<2x3x9x8xf32>)
// CHECK: arith.remui
// CHECK: arith.cmpi eq, %{{.*}}, %{{.*}} : i32
// CHECK: arith.select
func.func @max_pool2d_vjp(%x: tensor<2x3x9x8xf32>, %g: tensor<2x3x4x4xf32>) -> tensor<2x3x9x8xf32> {
  %0 = nsl.max_pool2d_vjp %x grad(%g : tensor<2x3x4x4xf32>) wrt [0] {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 2, 1>} : tensor<2x3x9x8xf32> -> tensor<2x3x9x8xf32>
  return %0 : tensor<2x3x9x8xf32>
}

// -----

// Average pool: G divided by each window's (compile-time) count, then the
// same gather without the arg-max test.
// CHECK-DAG: #[[GATHER:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, (d2 - d4 + 3) floordiv 2, (d3 - d5 + 3) floordiv 2)>
// CHECK-LABEL: func.func @avg_pool2d_vjp
// CHECK: %[[DIV:.*]] = arith.constant dense<{{.*}}> : tensor<4x4xf32>
// CHECK: %[[SHARE:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[DIV]] : tensor<1x5x4x4xf32>, tensor<4x4xf32>)
// CHECK: arith.divf
// CHECK: %[[SP:.*]] = tensor.pad %[[SHARE]] low[0, 0, 1, 1] high[0, 0, 0, 0]
// CHECK: linalg.generic {indexing_maps = [#[[GATHER]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[SP]], %{{.*}} : tensor<1x5x5x5xf32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x5x7x7xf32>)
func.func @avg_pool2d_vjp(%x: tensor<1x5x7x7xf32>, %g: tensor<1x5x4x4xf32>) -> tensor<1x5x7x7xf32> {
  %0 = nsl.avg_pool2d_vjp %x grad(%g : tensor<1x5x4x4xf32>) wrt [0] {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, count_include_pad = false} : tensor<1x5x7x7xf32> -> tensor<1x5x7x7xf32>
  return %0 : tensor<1x5x7x7xf32>
}

// -----

// Ceil mode: the arg-max search pads x past its end too (the overhang never
// wins: its taps fail the in-image test), and the gather reads the extra
// windows of G.
// CHECK-LABEL: func.func @max_pool2d_ceil_vjp
// CHECK: %[[XP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[XP]], %{{.*}} : tensor<1x2x8x8xf32>, tensor<2x2xf32>) outs(%{{.*}}, %{{.*}} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xi32>)
// CHECK: arith.cmpi ult, %{{.*}}, %c7
// CHECK: arith.cmpi ult, %{{.*}}, %c7
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, i32
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x7x7xf32>)
func.func @max_pool2d_ceil_vjp(%x: tensor<1x2x7x7xf32>, %g: tensor<1x2x4x4xf32>) -> tensor<1x2x7x7xf32> {
  %0 = nsl.max_pool2d_vjp %x grad(%g : tensor<1x2x4x4xf32>) wrt [0] {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true} : tensor<1x2x7x7xf32> -> tensor<1x2x7x7xf32>
  return %0 : tensor<1x2x7x7xf32>
}

// -----

// Adaptive average pool: the windows that hold input row y are those of the
// adaptive pool from Ho to H at y, so the gradient is G divided by the
// window sizes, pooled back by sums over those windows (5 rows from 3:
// holders [0, 1), [0, 2), [1, 2), [1, 3), [2, 3)).
// CHECK-DAG: #[[BACK:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, (d2 * 3) floordiv 5 + d4, (d3 * 3) floordiv 6 + d5)>
// CHECK-LABEL: func.func @adaptive_avg_pool2d_vjp
// CHECK: arith.divf
// CHECK: %[[SP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 0, 1, 0]
// CHECK: %[[HOLD:.*]] = arith.constant dense<[1, 2, 1, 2, 1]> : tensor<5xi32>
// CHECK: linalg.generic {indexing_maps = [#[[BACK]], {{.*}}]{{.*}} ins(%[[SP]], %[[HOLD]], %{{.*}} : tensor<1x2x4x3xf32>, tensor<5xi32>, tensor<2x1xf32>) outs(%{{.*}} : tensor<1x2x5x6xf32>)
// CHECK: arith.addf
// CHECK: arith.select
func.func @adaptive_avg_pool2d_vjp(%x: tensor<1x2x5x6xf32>, %g: tensor<1x2x3x3xf32>) -> tensor<1x2x5x6xf32> {
  %0 = nsl.adaptive_avg_pool2d_vjp %x grad(%g : tensor<1x2x3x3xf32>) wrt [0] {output_size = array<i64: 3, 3>} : tensor<1x2x5x6xf32> -> tensor<1x2x5x6xf32>
  return %0 : tensor<1x2x5x6xf32>
}

// -----

// Adaptive max pool: each window's arg-max pixel (i32, y·W + x: the first,
// then strictly greater or NaN), then the sum over the windows holding each
// pixel of the G whose arg-max it is.
// CHECK-LABEL: func.func @adaptive_max_pool2d_vjp
// CHECK: %[[ARG:.*]]:2 = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<1x2x3x4xf32>, tensor<1x2x3x4xi32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf uno
// CHECK: arith.divui
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, i32
// CHECK: %[[AP:.*]] = tensor.pad %[[ARG]]#1 low[0, 0, 0, 0] high[0, 0, 1, 1]
// CHECK: tensor.yield %{{.*}} : i32
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[AP]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x2x4x5xf32>, tensor<1x2x4x5xi32>, tensor<5xi32>, tensor<6xi32>, tensor<2x2xf32>) outs(%{{.*}} : tensor<1x2x5x6xf32>)
// CHECK: arith.cmpi eq, %{{.*}}, %{{.*}} : i32
// CHECK: arith.select
func.func @adaptive_max_pool2d_vjp(%x: tensor<1x2x5x6xf32>, %g: tensor<1x2x3x4xf32>) -> tensor<1x2x5x6xf32> {
  %0 = nsl.adaptive_max_pool2d_vjp %x grad(%g : tensor<1x2x3x4xf32>) wrt [0] {output_size = array<i64: 3, 4>} : tensor<1x2x5x6xf32> -> tensor<1x2x5x6xf32>
  return %0 : tensor<1x2x5x6xf32>
}

// -----

// Global average pool: G[n,c]/(H·W) broadcast over the image.
// CHECK-DAG: #[[NC:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-LABEL: func.func @global_avg_pool2d_vjp
// CHECK: %[[G:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<2x3x1x1xf32> into tensor<2x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[NC]], {{.*}}]{{.*}} ins(%[[G]] : tensor<2x3xf32>) outs(%{{.*}} : tensor<2x3x4x5xf32>)
// CHECK: arith.constant 2.000000e+01 : f32
// CHECK: arith.divf
func.func @global_avg_pool2d_vjp(%x: tensor<2x3x4x5xf32>, %g: tensor<2x3x1x1xf32>) -> tensor<2x3x4x5xf32> {
  %0 = nsl.global_avg_pool2d_vjp %x grad(%g : tensor<2x3x1x1xf32>) wrt [0] : tensor<2x3x4x5xf32> -> tensor<2x3x4x5xf32>
  return %0 : tensor<2x3x4x5xf32>
}

// -----

// Flatten: a reshape back.
// CHECK-LABEL: func.func @flatten_vjp
// CHECK: %[[R:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] output_shape [2, 3, 4, 5] : tensor<2x60xf32> into tensor<2x3x4x5xf32>
// CHECK: return %[[R]]
func.func @flatten_vjp(%x: tensor<2x3x4x5xf32>, %g: tensor<2x60xf32>) -> tensor<2x3x4x5xf32> {
  %0 = nsl.flatten_vjp %x grad(%g : tensor<2x60xf32>) wrt [0] : tensor<2x3x4x5xf32> -> tensor<2x3x4x5xf32>
  return %0 : tensor<2x3x4x5xf32>
}

// -----

// Cross-entropy: row max, Σ exp, then g/N·(softmax − target) with the
// rank-0 upstream gradient read through a map with no results.
// CHECK-DAG: #[[SCALAR:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @softmax_cross_entropy_vjp
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[SCALAR]], {{.*}}], iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<5x7xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xi64>, tensor<f32>) outs(%{{.*}} : tensor<5x7xf32>)
// CHECK: math.exp
// CHECK: linalg.index 1
// CHECK: arith.select
func.func @softmax_cross_entropy_vjp(%z: tensor<5x7xf32>, %y: tensor<5xi64>, %g: tensor<f32>) -> tensor<5x7xf32> {
  %0 = nsl.softmax_cross_entropy_vjp %z, %y grad(%g : tensor<f32>) wrt [0] {label_smoothing = 0.1 : f32} : tensor<5x7xf32>, tensor<5xi64> -> tensor<5x7xf32>
  return %0 : tensor<5x7xf32>
}

// -----

// L1: λ·Σ|M| into a rank-0 tensor; its VJP λ·g·sign(M).
// CHECK-DAG: #[[ALL:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @l1_penalty
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[ALL]]], iterator_types = ["reduction", "reduction"]} ins(%{{.*}} : tensor<3x9xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK: math.absf
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<f32>) outs(%{{.*}} : tensor<f32>)
// CHECK: arith.mulf
// CHECK-LABEL: func.func @l1_penalty_vjp
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[ALL]], {{.*}}]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<3x9xf32>, tensor<f32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf olt
func.func @l1_penalty(%m: tensor<3x9xf32>) -> tensor<f32> {
  %0 = nsl.l1_penalty %m {strength = 0.01 : f32} : tensor<3x9xf32> -> tensor<f32>
  return %0 : tensor<f32>
}
func.func @l1_penalty_vjp(%m: tensor<3x9xf32>, %g: tensor<f32>) -> tensor<3x9xf32> {
  %0 = nsl.l1_penalty_vjp %m grad(%g : tensor<f32>) wrt [0] {strength = 0.01 : f32} : tensor<3x9xf32> -> tensor<3x9xf32>
  return %0 : tensor<3x9xf32>
}

// -----

// Orthogonality: W viewed as [O, F]; E = W_f·W_fᵀ − I; λ·Σ E²; the VJP
// 4λg·E·W_f reshaped back to the weight.
// CHECK-LABEL: func.func @orthogonality_penalty
// CHECK: %[[WF:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<4x3x3x3xf32> into tensor<4x27xf32>
// CHECK: linalg.generic {{.*}} ins(%[[WF]], %[[WF]] : tensor<4x27xf32>, tensor<4x27xf32>) outs(%{{.*}} : tensor<4x4xf32>)
// CHECK: linalg.index
// CHECK: outs(%{{.*}} : tensor<f32>)
// CHECK-LABEL: func.func @orthogonality_penalty_vjp
// CHECK: %[[WF:.*]] = tensor.collapse_shape
// CHECK: linalg.generic {{.*}} ins(%[[WF]], %[[WF]] :
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[WF]] : tensor<4x4xf32>, tensor<4x27xf32>) outs(%{{.*}} : tensor<4x27xf32>)
// CHECK: arith.constant 4.000000e-01 : f32
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] output_shape [4, 3, 3, 3]
func.func @orthogonality_penalty(%w: tensor<4x3x3x3xf32>) -> tensor<f32> {
  %0 = nsl.orthogonality_penalty %w {strength = 0.1 : f32} : tensor<4x3x3x3xf32> -> tensor<f32>
  return %0 : tensor<f32>
}
func.func @orthogonality_penalty_vjp(%w: tensor<4x3x3x3xf32>, %g: tensor<f32>) -> tensor<4x3x3x3xf32> {
  %0 = nsl.orthogonality_penalty_vjp %w grad(%g : tensor<f32>) wrt [0] {strength = 0.1 : f32} : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// -----

// Accuracy: each row's first arg-max (value and i64 index, a NaN wins),
// then Σ 1[arg-max = label] into a rank-0 i64.
// CHECK-LABEL: func.func @count_correct
// CHECK: %[[ARG:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<5x7xf32>) outs(%{{.*}}, %{{.*}} : tensor<5xf32>, tensor<5xi64>)
// CHECK: arith.cmpf ord
// CHECK: arith.cmpf uno
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, i64
// CHECK: %[[N:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[ARG]]#1, %{{.*}} : tensor<5xi64>, tensor<5xi64>) outs(%{{.*}} : tensor<i64>)
// CHECK: arith.extui
// CHECK: return %[[N]] : tensor<i64>
func.func @count_correct(%z: tensor<5x7xf32>, %y: tensor<5xi64>) -> tensor<i64> {
  %0 = nsl.count_correct %z, %y : tensor<5x7xf32>, tensor<5xi64> -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

// SGD with momentum: one elementwise generic with two results; the buffer
// is d itself when step = 0.
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @sgd_update
// CHECK: %[[R:.*]]:2 = linalg.generic {indexing_maps = [{{.*}}, {{.*}}, {{.*}}, #[[S]], #[[S]], {{.*}}, {{.*}}], iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<f32>, tensor<f32>) outs(%{{.*}}, %{{.*}} : tensor<4x3xf32>, tensor<4x3xf32>)
// CHECK: %[[FIRST:.*]] = arith.cmpf oeq
// CHECK: arith.select %[[FIRST]]
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @sgd_update(%p: tensor<4x3xf32>, %d: tensor<4x3xf32>, %buf: tensor<4x3xf32>, %step: tensor<f32>, %lr: tensor<f32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %0:2 = nsl.sgd_update %p, %d momentum_buffer(%buf : tensor<4x3xf32>) step(%step) lr(%lr) {momentum = 0.9 : f32, dampening = 0.1 : f32, weight_decay = 0.0005 : f32} : tensor<4x3xf32>, tensor<f32> -> tensor<4x3xf32>, tensor<4x3xf32>
  return %0#0, %0#1 : tensor<4x3xf32>, tensor<4x3xf32>
}

// -----

// Plain SGD: one result, no buffer.
// CHECK-LABEL: func.func @sgd_update_plain
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4x3xf32>, tensor<4x3xf32>, tensor<f32>, tensor<f32>) outs(%{{.*}} : tensor<4x3xf32>)
// CHECK: return %[[R]] : tensor<4x3xf32>
func.func @sgd_update_plain(%p: tensor<4x3xf32>, %d: tensor<4x3xf32>, %step: tensor<f32>, %lr: tensor<f32>) -> tensor<4x3xf32> {
  %0 = nsl.sgd_update %p, %d step(%step) lr(%lr) : tensor<4x3xf32>, tensor<f32> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// Adam (amsgrad): the step's scalars lr/(1 − β1^t) and sqrt(1 − β2^t) in a
// rank-0 generic, then one elementwise generic with four results.
// CHECK-DAG: #[[R0:.*]] = affine_map<() -> ()>
// CHECK-LABEL: func.func @adam_update
// CHECK: %[[SC:.*]]:2 = linalg.generic {indexing_maps = [#[[R0]], #[[R0]], #[[R0]], #[[R0]]], iterator_types = []} ins(%{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>) outs(%{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>)
// CHECK: math.powf
// CHECK: math.powf
// CHECK: math.sqrt
// CHECK: %[[R:.*]]:4 = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SC]]#0, %[[SC]]#1 :
// CHECK: arith.maximumf
// CHECK: math.sqrt
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2, %[[R]]#3
func.func @adam_update(%p: tensor<4x3xf32>, %d: tensor<4x3xf32>, %m: tensor<4x3xf32>, %v: tensor<4x3xf32>, %vm: tensor<4x3xf32>, %step: tensor<f32>, %lr: tensor<f32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  %0:4 = nsl.adam_update %p, %d, %m, %v max_exp_avg_sq(%vm : tensor<4x3xf32>) step(%step) lr(%lr) {amsgrad} : tensor<4x3xf32>, tensor<f32> -> tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
  return %0#0, %0#1, %0#2, %0#3 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}
