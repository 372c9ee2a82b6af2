// What --nsl-generate-train-step refuses, with one clear error each.
// RUN: not nsl-opt %s --split-input-file --nsl-generate-train-step="function=missing" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nsl-opt %s --split-input-file --nsl-generate-train-step="optimizer=lbfgs" 2>&1 | FileCheck %s --check-prefix=OPTIMIZER
// RUN: not nsl-opt %s --split-input-file --nsl-generate-train-step="trainable=nothing.*" 2>&1 | FileCheck %s --check-prefix=TRAINABLE
// RUN: not nsl-opt %s --split-input-file --nsl-generate-train-step="nesterov=1 dampening=0.1" 2>&1 | FileCheck %s --check-prefix=NESTEROV
// RUN: not nsl-opt %s --split-input-file --nsl-generate-train-step 2>&1 | FileCheck %s

// MISSING: error: --nsl-generate-train-step: the module has no function @missing
// OPTIMIZER: error: --nsl-generate-train-step: unknown optimizer 'lbfgs' (sgd or adam)
// NESTEROV: error: --nsl-generate-train-step: nesterov momentum requires a momentum and zero dampening (as torch.optim.SGD)
// TRAINABLE: error: no parameter of @forward matches --trainable 'nothing.*': nothing to train

// CHECK: error: cannot train @forward: its first result must be the logits [N, C] (f32) or a softmax_cross_entropy loss, got 'tensor<2x4x3x3xf32>'
func.func @forward(
    %x: tensor<2x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<2x4x3x3xf32> {
  %y = nsl.sim_conv2d identity %x, %w
      : tensor<2x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x3x3xf32>
  return %y : tensor<2x4x3x3xf32>
}

// -----

// CHECK: error: cannot add the argument 'labels' to @eval: the model already has one
func.func @forward(
    %x: tensor<2x4xf32> {nsl.name = "labels", nsl.role = "input"},
    %w: tensor<3x4xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<2x3xf32> {
  %y = nsl.linear %x, %w : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// CHECK: error: --nsl-generate-train-step: the module already has a symbol @train_step
func.func @forward(
    %x: tensor<2x4xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<3x4xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<2x3xf32> {
  %y = nsl.linear %x, %w : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
func.func @train_step() {
  return
}

// -----

// A model that trains (only --trainable can make it fail).
func.func @forward(
    %x: tensor<2x4xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<3x4xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> tensor<2x3xf32> {
  %y = nsl.linear %x, %w : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
