// A dynamic UNS layer: each output position mixes the taps of its input
// patch by M_p = γ·P(x)_p + I, with K·K = 9 channels predicted by a
// SphereNet (sphere conv 4→8 3×3 sigmoid, relu, sphere conv 8→9 1×1 linear)
// for a 2×2 kernel; stride 2. Batch 3, 4×9×9 inputs; the loss is the
// label-smoothed cross-entropy of a linear head.
func.func @forward(
    %x: tensor<3x4x9x9xf32> {nsl.name = "x", nsl.role = "input"},
    %labels: tensor<3xi64> {nsl.name = "labels", nsl.role = "label"},
    %p1: tensor<8x4x3x3xf32> {nsl.name = "conv.predictor.0.weight", nsl.role = "parameter"},
    %p2: tensor<16x8x1x1xf32> {nsl.name = "conv.predictor.2.weight", nsl.role = "parameter"},
    %gamma: tensor<f32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<6x4x2x2xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<6xf32> {nsl.name = "conv.bias", nsl.role = "parameter"},
    %fc_w: tensor<5x96xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fc_b: tensor<5xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<f32> {nsl.name = "loss"}, tensor<3x5xf32> {nsl.name = "logits"}) {
  %s1 = nsl.sphere_conv2d sigmoid %x, %p1 {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
      : tensor<3x4x9x9xf32>, tensor<8x4x3x3xf32> -> tensor<3x8x5x5xf32>
  %s1r = nsl.relu %s1 : tensor<3x8x5x5xf32>
  // A 1×1 predictor over an output-sized map: 4·4 = 16 channels for K = 4.
  %s2 = nsl.sphere_conv2d linear %s1r, %p2 : tensor<3x8x5x5xf32>, tensor<16x8x1x1xf32> -> tensor<3x16x5x5xf32>
  %m = nsl.predicted_similarity full %s2, %gamma : tensor<3x16x5x5xf32>, tensor<f32> -> tensor<3x16x5x5xf32>
  %y = nsl.sim_conv2d full dynamic %x, %w similarity(%m : tensor<3x16x5x5xf32>) bias(%b : tensor<6xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<3x4x9x9xf32>, tensor<6x4x2x2xf32> -> tensor<3x6x5x5xf32>
  %r = nsl.relu %y : tensor<3x6x5x5xf32>
  %a = nsl.avg_pool2d %r {kernel_size = array<i64: 2, 2>, stride = array<i64: 1, 1>, count_include_pad = false}
      : tensor<3x6x5x5xf32> -> tensor<3x6x4x4xf32>
  %f = nsl.flatten %a : tensor<3x6x4x4xf32> -> tensor<3x96xf32>
  %logits = nsl.linear %f, %fc_w bias(%fc_b : tensor<5xf32>) : tensor<3x96xf32>, tensor<5x96xf32> -> tensor<3x5xf32>
  %loss = nsl.softmax_cross_entropy %logits, %labels {label_smoothing = 0.1 : f32}
      : tensor<3x5xf32>, tensor<3xi64> -> tensor<f32>
  return %loss, %logits : tensor<f32>, tensor<3x5xf32>
}
