// RUN: nsl-opt %s --split-input-file --nsl-fold-static-similarity --nsl-hoist-weight-preparation | FileCheck %s
// RUN: nsl-opt %s --split-input-file --nsl-fold-static-similarity --nsl-hoist-weight-preparation=prepare=setup | FileCheck %s --check-prefix=NAMED
// RUN: not nsl-opt %s --split-input-file --nsl-hoist-weight-preparation=function=missing 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: --nsl-hoist-weight-preparation: no function @missing

// A static layer's fold (weights only) moves into @prepare_forward, which
// returns it named after its weight; forward takes it as a trailing
// derived argument and keeps its weights (a caller may give new ones).
// The dynamic layer depends on the input and stays.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x8x8xf32> {nsl.name = "x", nsl.role = "input"}
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"}
// CHECK-SAME: %[[M:[a-z0-9]+]]: tensor<9xf32> {nsl.name = "conv.similarity", nsl.role = "parameter"}
// CHECK-SAME: %[[P:[a-z0-9]+]]: tensor<4x3x3x3xf32> {nsl.name = "conv.weight@prepared", nsl.role = "derived"}
// CHECK-SAME: attributes {nsl.prepared_by = @prepare_forward}
// CHECK-NOT: nsl.fold_similarity
// CHECK: %[[Y:.*]] = nsl.sim_conv2d identity %[[X]], %[[P]]
// CHECK: nsl.relu %[[Y]]
// CHECK-LABEL: func.func @prepare_forward
// CHECK-SAME: (%[[PW:[a-z0-9]+]]: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"}, %[[PM:[a-z0-9]+]]: tensor<9xf32> {nsl.name = "conv.similarity", nsl.role = "parameter"})
// CHECK-SAME: -> (tensor<4x3x3x3xf32> {nsl.name = "conv.weight@prepared"})
// CHECK: %[[F:.*]] = nsl.fold_similarity diagonal %[[PW]] similarity(%[[PM]] : tensor<9xf32>)
// CHECK: return %[[F]]
// NAMED: func.func @forward({{.*}} attributes {nsl.prepared_by = @setup}
// NAMED: func.func @setup(
func.func @forward(%x: tensor<2x3x8x8xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
                   %m: tensor<9xf32> {nsl.name = "conv.similarity", nsl.role = "parameter"})
    -> tensor<2x4x6x6xf32> {
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>)
      : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  %1 = nsl.relu %0 : tensor<2x4x6x6xf32>
  return %1 : tensor<2x4x6x6xf32>
}

// -----

// Two folds of one weight get distinct names; a fold that reads a constant
// as well as a weight is hoisted with its constant.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: {nsl.name = "w@prepared", nsl.role = "derived"}
// CHECK-SAME: {nsl.name = "w@prepared#2", nsl.role = "derived"}
// CHECK-LABEL: func.func @prepare_forward
// CHECK: nsl.fold_similarity diagonal
// CHECK: %[[HALF:.*]] = arith.constant dense<5.000000e-01> : tensor<9xf32>
// CHECK: nsl.fold_similarity diagonal %{{.*}} similarity(%[[HALF]] : tensor<9xf32>)
// CHECK: return
func.func @forward(%x: tensor<1x2x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<2x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
                   %m: tensor<9xf32> {nsl.name = "m", nsl.role = "parameter"})
    -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %half = arith.constant dense<0.5> : tensor<9xf32>
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>)
      : tensor<1x2x5x5xf32>, tensor<2x2x3x3xf32> -> tensor<1x2x3x3xf32>
  %1 = nsl.sim_conv2d diagonal %x, %w similarity(%half : tensor<9xf32>)
      : tensor<1x2x5x5xf32>, tensor<2x2x3x3xf32> -> tensor<1x2x3x3xf32>
  return %0, %1 : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

// -----

// Nothing depends on the weights alone: the function is unchanged and no
// prepare function is made.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: nsl.prepared_by
// CHECK-NOT: func.func @prepare_forward
func.func @forward(%x: tensor<1x2x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<2x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<1x2x3x3xf32> {
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x2x5x5xf32>, tensor<2x2x3x3xf32> -> tensor<1x2x3x3xf32>
  return %0 : tensor<1x2x3x3xf32>
}

