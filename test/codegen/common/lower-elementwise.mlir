// The elementwise rows (dialect/NSLElementwise.td) and their VJPs lowered by
// --nsl-lower-to-linalg: one linalg.generic over the broadcast result whose
// body is the row's generated formula; a stretched operand is read at index
// 0 (size 1) or not at all (missing dimension). A gradient sums over the
// dimensions its operand was stretched along in f64, then is rounded to f32
// and reshaped to the operand's shape; an operand of the result's shape gets
// no reduction.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, 0)>
// CHECK-LABEL: func.func @mul
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[B]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK: arith.mulf
// CHECK-NOT: nsl.
func.func @mul(%a: tensor<2x3x4xf32>, %b: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  %0 = nsl.mul %a, %b : tensor<2x3x4xf32>, tensor<3x1xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// d(a·b)/da = b for the full-shape operand; Σ_{n,k} g·a for the [3, 1] one.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, 0)>
// CHECK-DAG: #[[KEPT:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func.func @mul_vjp
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[B]], #[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[B]], #[[ID]], #[[KEPT]]], iterator_types = ["reduction", "parallel", "reduction"]}
// CHECK: arith.extf
// CHECK: arith.addf {{.*}} : f64
// CHECK: arith.truncf
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [3, 1] : tensor<3xf32> into tensor<3x1xf32>
func.func @mul_vjp(%a: tensor<2x3x4xf32>, %b: tensor<3x1xf32>, %g: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>) {
  %0:2 = nsl.mul_vjp %a, %b grad(%g : tensor<2x3x4xf32>) wrt [0, 1] : tensor<2x3x4xf32>, tensor<3x1xf32> -> tensor<2x3x4xf32>, tensor<3x1xf32>
  return %0#0, %0#1 : tensor<2x3x4xf32>, tensor<3x1xf32>
}

// -----

// A rank-0 operand: every dimension is summed.
// CHECK-LABEL: func.func @scalar_grad
// CHECK: iterator_types = ["reduction", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<f64>)
// CHECK-NOT: tensor.expand_shape
func.func @scalar_grad(%a: tensor<2x3xf32>, %s: tensor<f32>, %g: tensor<2x3xf32>) -> tensor<f32> {
  %0 = nsl.add_vjp %a, %s grad(%g : tensor<2x3xf32>) wrt [1] : tensor<2x3xf32>, tensor<f32> -> tensor<f32>
  return %0 : tensor<f32>
}
