// --nsl-generate-train-step on small networks: the training-mode forward,
// the loss, the reverse pass (each VJP asks only for the gradients it
// needs) and the optimizer updates, plus eval.
// RUN: nsl-opt %s --split-input-file --nsl-generate-train-step | FileCheck %s
// RUN: nsl-opt %s --split-input-file --nsl-generate-train-step="optimizer=adam amsgrad=true weight-decay=0.01 trainable=*.similarity,fc.*,gamma l1=0.001" | FileCheck %s --check-prefix=ADAM
// RUN: nsl-opt %s --split-input-file --nsl-generate-train-step="momentum=0 return-gradients=true" | FileCheck %s --check-prefix=PLAIN

// A static DNS conv + BN + relu + linear head.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x6x6xf32> {nsl.name = "x", nsl.role = "input"}
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<4x3x3x3xf32> {nsl.name = "conv.weight"
// CHECK-SAME: %[[M:[a-z0-9]+]]: tensor<9xf32> {nsl.name = "conv.similarity"
// CHECK-SAME: %[[LABELS:[a-z0-9]+]]: tensor<2xi64> {nsl.name = "labels", nsl.role = "label"}
// CHECK-SAME: %[[LR:[a-z0-9]+]]: tensor<f32> {nsl.name = "lr", nsl.role = "learning_rate"}
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<f32> {nsl.name = "optimizer.step", nsl.role = "optimizer_state"}
// CHECK-SAME: %[[WBUF:[a-z0-9]+]]: tensor<4x3x3x3xf32> {nsl.name = "conv.weight.momentum_buffer", nsl.role = "optimizer_state"}
// CHECK-SAME: -> (tensor<f32> {nsl.name = "loss"}, tensor<i64> {nsl.name = "correct"}, tensor<4x3x3x3xf32> {nsl.name = "conv.weight"}
// CHECK-SAME: tensor<f32> {nsl.name = "optimizer.step"}, tensor<4xf32> {nsl.name = "bn.running_mean"}, tensor<4xf32> {nsl.name = "bn.running_var"})
// The static similarity is folded on the operands, so it trains.
// CHECK: %[[FOLD:.+]] = nsl.fold_similarity diagonal %[[W]] similarity(%[[M]] : tensor<9xf32>)
// CHECK: %[[CONV:.+]] = nsl.sim_conv2d identity %[[X]], %[[FOLD]]
// CHECK: nsl.batch_norm_train %[[CONV]]
// CHECK: %[[LOSS:.+]] = nsl.softmax_cross_entropy %[[LOGITS:[0-9]+]], %[[LABELS]]
// CHECK: %[[CORRECT:.+]] = nsl.count_correct %[[LOGITS]], %[[LABELS]]
// CHECK: %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: nsl.softmax_cross_entropy_vjp %[[LOGITS]], %[[LABELS]] grad(%[[ONE]] : tensor<f32>) wrt [0]
// CHECK: nsl.linear_vjp {{.*}} wrt [0, 1, 2]
// CHECK: nsl.flatten_vjp
// CHECK: nsl.global_avg_pool2d_vjp
// CHECK: nsl.relu_vjp
// CHECK: nsl.batch_norm_train_vjp {{.*}} wrt [0, 1, 2]
// The input needs no gradient: only the folded weight's is asked for.
// CHECK: %[[GFOLD:.+]] = nsl.sim_conv2d_vjp identity %[[X]], %[[FOLD]] grad({{.*}}) wrt [1]
// CHECK: %[[GW:.+]]:2 = nsl.fold_similarity_vjp diagonal %[[W]] similarity(%[[M]] : tensor<9xf32>) grad(%[[GFOLD]] : tensor<4x3x3x3xf32>) wrt [0, 1]
// CHECK: %[[NEXT:.+]] = nsl.add %[[STEP]], %{{.+}} : tensor<f32>
// CHECK: %[[NEWW:.+]], %[[NEWWBUF:.+]] = nsl.sgd_update %[[W]], %[[GW]]#0 momentum_buffer(%[[WBUF]] : tensor<4x3x3x3xf32>) step(%[[STEP]]) lr(%[[LR]]) {momentum = 0.899999976 : f32}
// CHECK: return %[[LOSS]], %[[CORRECT]], %[[NEWW]],
// CHECK-LABEL: func.func @eval(
// CHECK-SAME: -> (tensor<f32> {nsl.name = "loss"}, tensor<i64> {nsl.name = "correct"})
// CHECK: nsl.sim_conv2d diagonal
// CHECK: nsl.batch_norm %
// CHECK: nsl.softmax_cross_entropy
// CHECK: nsl.count_correct
// CHECK-NOT: _vjp

// Adam with AMSGrad trains only the similarity and the head, with an L1
// penalty on the similarity.
// ADAM-LABEL: func.func @train_step(
// ADAM-SAME: {nsl.name = "conv.similarity.exp_avg", nsl.role = "optimizer_state"}
// ADAM-SAME: {nsl.name = "conv.similarity.exp_avg_sq", nsl.role = "optimizer_state"}
// ADAM-SAME: {nsl.name = "conv.similarity.max_exp_avg_sq", nsl.role = "optimizer_state"}
// ADAM-NOT: conv.weight.exp_avg
// ADAM: %[[CE:.+]] = nsl.softmax_cross_entropy
// ADAM: %[[L1:.+]] = nsl.l1_penalty %{{.+}} {strength = 1.000000e-03 : f32}
// ADAM: %[[TOTAL:.+]] = nsl.add %[[CE]], %[[L1]] : tensor<f32>
// ADAM: nsl.l1_penalty_vjp
// ADAM: nsl.fold_similarity_vjp diagonal {{.*}} wrt [1]
// ADAM: nsl.adam_update {{.*}} max_exp_avg_sq({{.*}}) step({{.*}}) {amsgrad, weight_decay = 0.00999999977 : f32}
// ADAM: return %[[TOTAL]],

// PLAIN: func.func @train_step(
// PLAIN-NOT: momentum_buffer
// PLAIN-SAME: tensor<4x3x3x3xf32> {nsl.name = "conv.weight.grad"}
// PLAIN: nsl.sgd_update
// PLAIN-NOT: momentum_buffer
func.func @forward(
    %x: tensor<2x3x6x6xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %m: tensor<9xf32> {nsl.name = "conv.similarity", nsl.role = "parameter"},
    %g: tensor<4xf32> {nsl.name = "bn.weight", nsl.role = "parameter"},
    %b: tensor<4xf32> {nsl.name = "bn.bias", nsl.role = "parameter"},
    %rm: tensor<4xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"},
    %rv: tensor<4xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"},
    %fw: tensor<5x4xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fb: tensor<5xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<2x5xf32> {nsl.name = "logits"}) {
  %c = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  %n = nsl.batch_norm %c, %g, %b, %rm, %rv
      : tensor<2x4x6x6xf32>, tensor<4xf32> -> tensor<2x4x6x6xf32>
  %r = nsl.relu %n : tensor<2x4x6x6xf32>
  %p = nsl.global_avg_pool2d %r : tensor<2x4x6x6xf32> -> tensor<2x4x1x1xf32>
  %f = nsl.flatten %p : tensor<2x4x1x1xf32> -> tensor<2x4xf32>
  %y = nsl.linear %f, %fw bias(%fb : tensor<5xf32>)
      : tensor<2x4xf32>, tensor<5x4xf32> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

// A dynamic DNS layer with a one-layer SphereNet predictor: the mask's
// gradient flows into the predictor and the input gets two contributions.
// CHECK-LABEL: func.func @train_step(
// CHECK: %[[S:.+]] = nsl.sphere_conv2d cosine %[[X:[a-z0-9]+]], %[[P:[a-z0-9]+]]
// CHECK: %[[MASK:.+]] = nsl.predicted_similarity diagonal %[[S]], %[[GAMMA:[a-z0-9]+]]
// CHECK: nsl.sim_conv2d diagonal dynamic %[[X]], %[[W:[a-z0-9]+]] similarity(%[[MASK]]
// The per-sample gradients (of the mask) and the batch sums (of the weight)
// are separate ops, so that the first can be split over the batch.
// CHECK: %[[GM:.+]] = nsl.sim_conv2d_vjp diagonal dynamic %[[X]], %[[W]] similarity(%[[MASK]] : tensor<2x9x5x5xf32>) grad({{.*}}) wrt [2]
// CHECK: nsl.sim_conv2d_vjp diagonal dynamic %[[X]], %[[W]] similarity(%[[MASK]] : tensor<2x9x5x5xf32>) grad({{.*}}) wrt [1]
// CHECK: %[[GP:.+]] = nsl.predicted_similarity_vjp diagonal %[[S]], %[[GAMMA]] grad(%[[GM]] : tensor<2x9x5x5xf32>) wrt [0]
// CHECK: nsl.predicted_similarity_vjp diagonal %[[S]], %[[GAMMA]] grad(%[[GM]] : tensor<2x9x5x5xf32>) wrt [1]
// CHECK: nsl.sphere_conv2d_vjp cosine %[[X]], %[[P]] grad(%[[GP]] : tensor<2x9x5x5xf32>) wrt [1]
// CHECK-COUNT-3: nsl.sgd_update
func.func @forward(
    %x: tensor<2x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<9x3x3x3xf32> {nsl.name = "predictor.weight", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "gamma", nsl.role = "parameter"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"})
    -> (tensor<2x100xf32> {nsl.name = "logits"}) {
  %s = nsl.sphere_conv2d cosine %x, %p {padding = array<i64: 1, 1>}
      : tensor<2x3x5x5xf32>, tensor<9x3x3x3xf32> -> tensor<2x9x5x5xf32>
  %mask = nsl.predicted_similarity diagonal %s, %gamma
      : tensor<2x9x5x5xf32>, tensor<1xf32> -> tensor<2x9x5x5xf32>
  %c = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%mask : tensor<2x9x5x5xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x5xf32>
  %f = nsl.flatten %c : tensor<2x4x5x5xf32> -> tensor<2x100xf32>
  return %f : tensor<2x100xf32>
}
