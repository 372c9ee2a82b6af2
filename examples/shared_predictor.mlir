// Two dynamic DNS layers sharing one SphereNet predictor. Each layer first
// maps its input to the predictor's common shape (8 channels) with its own
// small adaptation conv (1×1 SphereConv, input-only normalisation), then the
// shared predictor (sphere conv 8→9 3×3) gives that layer's tap masks.
// Batch 2, 6×10×10 inputs; training-mode batch norm between the layers.
func.func @forward(
    %x: tensor<2x6x10x10xf32> {nsl.name = "x", nsl.role = "input"},
    %a1: tensor<8x6x1x1xf32> {nsl.name = "conv1.adapt.weight", nsl.role = "parameter"},
    %a2: tensor<8x12x1x1xf32> {nsl.name = "conv2.adapt.weight", nsl.role = "parameter"},
    %p: tensor<9x8x3x3xf32> {nsl.name = "predictor.weight", nsl.role = "parameter"},
    %k: tensor<9xf32> {nsl.name = "predictor.k", nsl.role = "parameter"},
    %g1: tensor<1xf32> {nsl.name = "conv1.gamma", nsl.role = "parameter"},
    %g2: tensor<1xf32> {nsl.name = "conv2.gamma", nsl.role = "parameter"},
    %w1: tensor<12x6x3x3xf32> {nsl.name = "conv1.weight", nsl.role = "parameter"},
    %w2: tensor<12x12x3x3xf32> {nsl.name = "conv2.weight", nsl.role = "parameter"},
    %bn_w: tensor<12xf32> {nsl.name = "bn.weight", nsl.role = "parameter"},
    %bn_b: tensor<12xf32> {nsl.name = "bn.bias", nsl.role = "parameter"},
    %bn_m: tensor<12xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"},
    %bn_v: tensor<12xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"})
    -> (tensor<2x12x10x10xf32> {nsl.name = "features"}, tensor<12xf32> {nsl.name = "bn.running_mean"},
        tensor<12xf32> {nsl.name = "bn.running_var"}) {
  // Layer 1: adapt, shared predictor, DNS conv.
  %u1 = nsl.sphere_conv2d cosine input_only %x, %a1 : tensor<2x6x10x10xf32>, tensor<8x6x1x1xf32> -> tensor<2x8x10x10xf32>
  %q1 = nsl.sphere_conv2d learned_sigmoid %u1, %p k_param(%k : tensor<9xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x8x10x10xf32>, tensor<9x8x3x3xf32> -> tensor<2x9x10x10xf32>
  %m1 = nsl.predicted_similarity diagonal %q1, %g1 : tensor<2x9x10x10xf32>, tensor<1xf32> -> tensor<2x9x10x10xf32>
  %y1 = nsl.sim_conv2d diagonal dynamic %x, %w1 similarity(%m1 : tensor<2x9x10x10xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x6x10x10xf32>, tensor<12x6x3x3xf32> -> tensor<2x12x10x10xf32>
  %n1:5 = nsl.batch_norm_train %y1, %bn_w, %bn_b, %bn_m, %bn_v
      : tensor<2x12x10x10xf32>, tensor<12xf32> -> tensor<2x12x10x10xf32>, tensor<12xf32>, tensor<12xf32>, tensor<12xf32>, tensor<12xf32>
  %r1 = nsl.relu %n1#0 : tensor<2x12x10x10xf32>
  // Layer 2: its own adaptation, the same predictor weights.
  %u2 = nsl.sphere_conv2d cosine input_only %r1, %a2 : tensor<2x12x10x10xf32>, tensor<8x12x1x1xf32> -> tensor<2x8x10x10xf32>
  %q2 = nsl.sphere_conv2d learned_sigmoid %u2, %p k_param(%k : tensor<9xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x8x10x10xf32>, tensor<9x8x3x3xf32> -> tensor<2x9x10x10xf32>
  %m2 = nsl.predicted_similarity diagonal %q2, %g2 : tensor<2x9x10x10xf32>, tensor<1xf32> -> tensor<2x9x10x10xf32>
  %y2 = nsl.sim_conv2d diagonal dynamic %r1, %w2 similarity(%m2 : tensor<2x9x10x10xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x12x10x10xf32>, tensor<12x12x3x3xf32> -> tensor<2x12x10x10xf32>
  return %y2, %n1#3, %n1#4 : tensor<2x12x10x10xf32>, tensor<12xf32>, tensor<12xf32>
}
