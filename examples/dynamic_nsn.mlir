// A small dynamic NSN for 1×28×28 images (Fashion-MNIST sized), batch 2:
//   conv1   static diagonal (DNS) similarity conv 1→8, 3×3, pad 1, + BN + relu
//   pool    2×2 max pool → 8×14×14
//   conv2   dynamic DNS conv 8→16, 3×3, pad 1, whose per-position mask
//           M_p = γ·P(x)_p + I is predicted by a two-layer SphereNet
//           (sphere conv 8→8 3×3 linear variant, relu, sphere conv 8→9 1×1
//           cosine), + BN + relu
//   head    global average pool → flatten → similarity linear 16→10 (groups
//           of 4 features sharing one full M)
func.func @forward(
    %x: tensor<2x1x28x28xf32> {nsl.name = "x", nsl.role = "input"},
    %w1: tensor<8x1x3x3xf32> {nsl.name = "conv1.weight", nsl.role = "parameter"},
    %m1: tensor<9xf32> {nsl.name = "conv1.similarity", nsl.role = "parameter"},
    %bn1_w: tensor<8xf32> {nsl.name = "bn1.weight", nsl.role = "parameter"},
    %bn1_b: tensor<8xf32> {nsl.name = "bn1.bias", nsl.role = "parameter"},
    %bn1_m: tensor<8xf32> {nsl.name = "bn1.running_mean", nsl.role = "buffer"},
    %bn1_v: tensor<8xf32> {nsl.name = "bn1.running_var", nsl.role = "buffer"},
    %p1: tensor<8x8x3x3xf32> {nsl.name = "conv2.predictor.0.weight", nsl.role = "parameter"},
    %p2: tensor<9x8x1x1xf32> {nsl.name = "conv2.predictor.2.weight", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "conv2.gamma", nsl.role = "parameter"},
    %w2: tensor<16x8x3x3xf32> {nsl.name = "conv2.weight", nsl.role = "parameter"},
    %b2: tensor<16xf32> {nsl.name = "conv2.bias", nsl.role = "parameter"},
    %bn2_w: tensor<16xf32> {nsl.name = "bn2.weight", nsl.role = "parameter"},
    %bn2_b: tensor<16xf32> {nsl.name = "bn2.bias", nsl.role = "parameter"},
    %bn2_m: tensor<16xf32> {nsl.name = "bn2.running_mean", nsl.role = "buffer"},
    %bn2_v: tensor<16xf32> {nsl.name = "bn2.running_var", nsl.role = "buffer"},
    %fc_w: tensor<10x16xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fc_m: tensor<4x4xf32> {nsl.name = "fc.similarity", nsl.role = "parameter"},
    %fc_b: tensor<10xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<2x10xf32> {nsl.name = "logits"}) {
  %c1 = nsl.sim_conv2d diagonal %x, %w1 similarity(%m1 : tensor<9xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x1x28x28xf32>, tensor<8x1x3x3xf32> -> tensor<2x8x28x28xf32>
  %n1 = nsl.batch_norm %c1, %bn1_w, %bn1_b, %bn1_m, %bn1_v
      : tensor<2x8x28x28xf32>, tensor<8xf32> -> tensor<2x8x28x28xf32>
  %r1 = nsl.relu %n1 : tensor<2x8x28x28xf32>
  %h1 = nsl.max_pool2d %r1 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>}
      : tensor<2x8x28x28xf32> -> tensor<2x8x14x14xf32>

  // The SphereNet predictor of conv2's dynamic mask.
  %s1 = nsl.sphere_conv2d linear %h1, %p1 {padding = array<i64: 1, 1>}
      : tensor<2x8x14x14xf32>, tensor<8x8x3x3xf32> -> tensor<2x8x14x14xf32>
  %s1r = nsl.relu %s1 : tensor<2x8x14x14xf32>
  %s2 = nsl.sphere_conv2d cosine %s1r, %p2
      : tensor<2x8x14x14xf32>, tensor<9x8x1x1xf32> -> tensor<2x9x14x14xf32>
  %mask = nsl.predicted_similarity diagonal %s2, %gamma
      : tensor<2x9x14x14xf32>, tensor<1xf32> -> tensor<2x9x14x14xf32>
  %c2 = nsl.sim_conv2d diagonal dynamic %h1, %w2
      similarity(%mask : tensor<2x9x14x14xf32>) bias(%b2 : tensor<16xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x8x14x14xf32>, tensor<16x8x3x3xf32> -> tensor<2x16x14x14xf32>
  %n2 = nsl.batch_norm %c2, %bn2_w, %bn2_b, %bn2_m, %bn2_v
      : tensor<2x16x14x14xf32>, tensor<16xf32> -> tensor<2x16x14x14xf32>
  %r2 = nsl.relu %n2 : tensor<2x16x14x14xf32>

  %g = nsl.global_avg_pool2d %r2 : tensor<2x16x14x14xf32> -> tensor<2x16x1x1xf32>
  %f = nsl.flatten %g : tensor<2x16x1x1xf32> -> tensor<2x16xf32>
  %y = nsl.sim_linear full %f, %fc_w similarity(%fc_m : tensor<4x4xf32>)
      bias(%fc_b : tensor<10xf32>) {group_size = 4 : i64}
      : tensor<2x16xf32>, tensor<10x16xf32> -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
