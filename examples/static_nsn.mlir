// A static NSN using every static similarity structure, batch 2, 3×12×12
// inputs: each layer's M is a learned parameter that
// --nsl-fold-static-similarity folds into the weights (W' = W·M).
func.func @forward(
    %x: tensor<2x3x12x12xf32> {nsl.name = "x", nsl.role = "input"},
    %w1: tensor<6x3x3x3xf32> {nsl.name = "conv1.weight", nsl.role = "parameter"},
    %m1: tensor<9xf32> {nsl.name = "conv1.similarity", nsl.role = "parameter"},
    %b1: tensor<6xf32> {nsl.name = "conv1.bias", nsl.role = "parameter"},
    %w2: tensor<6x6x3x3xf32> {nsl.name = "conv2.weight", nsl.role = "parameter"},
    %m2: tensor<9x9xf32> {nsl.name = "conv2.similarity", nsl.role = "parameter"},
    %w3: tensor<5x6x3x3xf32> {nsl.name = "conv3.weight", nsl.role = "parameter"},
    %l3: tensor<9x9xf32> {nsl.name = "conv3.cholesky", nsl.role = "parameter"},
    %w4: tensor<4x5x3x3xf32> {nsl.name = "conv4.weight", nsl.role = "parameter"},
    %d4: tensor<9xf32> {nsl.name = "conv4.shape", nsl.role = "parameter"},
    %r4: tensor<9x9xf32> {nsl.name = "conv4.similarity", nsl.role = "parameter"},
    %w5: tensor<4x4x2x3xf32> {nsl.name = "conv5.weight", nsl.role = "parameter"},
    %d5: tensor<6xf32> {nsl.name = "conv5.shape", nsl.role = "parameter"},
    %r5: tensor<6xf32> {nsl.name = "conv5.similarity", nsl.role = "parameter"},
    %fc_w: tensor<7x16xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fc_l: tensor<4x4xf32> {nsl.name = "fc.cholesky", nsl.role = "parameter"},
    %fc_b: tensor<7xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<2x7xf32> {nsl.name = "logits"}) {
  %0 = nsl.sim_conv2d diagonal %x, %w1 similarity(%m1 : tensor<9xf32>) bias(%b1 : tensor<6xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x3x12x12xf32>, tensor<6x3x3x3xf32> -> tensor<2x6x12x12xf32>
  %1 = nsl.relu %0 : tensor<2x6x12x12xf32>
  %2 = nsl.sim_conv2d full %1, %w2 similarity(%m2 : tensor<9x9xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<2x6x12x12xf32>, tensor<6x6x3x3xf32> -> tensor<2x6x6x6xf32>
  %3 = nsl.relu %2 : tensor<2x6x6x6xf32>
  %4 = nsl.sim_conv2d cholesky %3, %w3 similarity(%l3 : tensor<9x9xf32>)
      {padding = array<i64: 2, 2>, dilation = array<i64: 2, 2>}
      : tensor<2x6x6x6xf32>, tensor<5x6x3x3xf32> -> tensor<2x5x6x6xf32>
  %5 = nsl.relu %4 : tensor<2x5x6x6xf32>
  %6 = nsl.sim_conv2d shape_masked %5, %w4 similarity(%d4, %r4 : tensor<9xf32>, tensor<9x9xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<2x5x6x6xf32>, tensor<4x5x3x3xf32> -> tensor<2x4x6x6xf32>
  %7 = nsl.sim_conv2d shape_masked %6, %w5 similarity(%d5, %r5 : tensor<6xf32>, tensor<6xf32>)
      {padding = array<i64: 0, 1>, alpha = 0.2 : f32}
      : tensor<2x4x6x6xf32>, tensor<4x4x2x3xf32> -> tensor<2x4x5x6xf32>
  %8 = nsl.avg_pool2d %7 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<2x4x5x6xf32> -> tensor<2x4x3x4xf32>
  %9 = nsl.max_pool2d %8 {kernel_size = array<i64: 2, 3>}
      : tensor<2x4x3x4xf32> -> tensor<2x4x2x2xf32>
  %10 = nsl.flatten %9 : tensor<2x4x2x2xf32> -> tensor<2x16xf32>
  %11 = nsl.sim_linear cholesky %10, %fc_w similarity(%fc_l : tensor<4x4xf32>)
      bias(%fc_b : tensor<7xf32>) {group_size = 4 : i64}
      : tensor<2x16xf32>, tensor<7x16xf32> -> tensor<2x7xf32>
  return %11 : tensor<2x7xf32>
}
