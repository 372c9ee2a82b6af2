// A plain CNN (every similarity the identity), batch 4, 3×16×16 inputs:
// conv-BN-relu ×2 with a max pool, a residual add, global average pool and a
// linear classifier.
func.func @forward(
    %x: tensor<4x3x16x16xf32> {nsl.name = "x", nsl.role = "input"},
    %w1: tensor<8x3x3x3xf32> {nsl.name = "conv1.weight", nsl.role = "parameter"},
    %b1: tensor<8xf32> {nsl.name = "conv1.bias", nsl.role = "parameter"},
    %g1: tensor<8xf32> {nsl.name = "bn1.weight", nsl.role = "parameter"},
    %h1: tensor<8xf32> {nsl.name = "bn1.bias", nsl.role = "parameter"},
    %m1: tensor<8xf32> {nsl.name = "bn1.running_mean", nsl.role = "buffer"},
    %v1: tensor<8xf32> {nsl.name = "bn1.running_var", nsl.role = "buffer"},
    %w2: tensor<8x8x3x3xf32> {nsl.name = "conv2.weight", nsl.role = "parameter"},
    %g2: tensor<8xf32> {nsl.name = "bn2.weight", nsl.role = "parameter"},
    %h2: tensor<8xf32> {nsl.name = "bn2.bias", nsl.role = "parameter"},
    %m2: tensor<8xf32> {nsl.name = "bn2.running_mean", nsl.role = "buffer"},
    %v2: tensor<8xf32> {nsl.name = "bn2.running_var", nsl.role = "buffer"},
    %fc_w: tensor<10x8xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fc_b: tensor<10xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<4x10xf32> {nsl.name = "logits"}) {
  %0 = nsl.sim_conv2d identity %x, %w1 bias(%b1 : tensor<8xf32>) {padding = array<i64: 1, 1>}
      : tensor<4x3x16x16xf32>, tensor<8x3x3x3xf32> -> tensor<4x8x16x16xf32>
  %1 = nsl.batch_norm %0, %g1, %h1, %m1, %v1 : tensor<4x8x16x16xf32>, tensor<8xf32> -> tensor<4x8x16x16xf32>
  %2 = nsl.relu %1 : tensor<4x8x16x16xf32>
  %3 = nsl.max_pool2d %2 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>}
      : tensor<4x8x16x16xf32> -> tensor<4x8x8x8xf32>
  %4 = nsl.sim_conv2d identity %3, %w2 {padding = array<i64: 1, 1>}
      : tensor<4x8x8x8xf32>, tensor<8x8x3x3xf32> -> tensor<4x8x8x8xf32>
  %5 = nsl.batch_norm %4, %g2, %h2, %m2, %v2 : tensor<4x8x8x8xf32>, tensor<8xf32> -> tensor<4x8x8x8xf32>
  %6 = nsl.add %5, %3 : tensor<4x8x8x8xf32>
  %7 = nsl.relu %6 : tensor<4x8x8x8xf32>
  %8 = nsl.global_avg_pool2d %7 : tensor<4x8x8x8xf32> -> tensor<4x8x1x1xf32>
  %9 = nsl.flatten %8 : tensor<4x8x1x1xf32> -> tensor<4x8xf32>
  %10 = nsl.linear %9, %fc_w bias(%fc_b : tensor<10xf32>) : tensor<4x8xf32>, tensor<10x8xf32> -> tensor<4x10xf32>
  return %10 : tensor<4x10xf32>
}
