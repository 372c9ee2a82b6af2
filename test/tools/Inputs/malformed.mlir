// Not a valid model: an unknown structure keyword.
func.func @forward(%x: tensor<1x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<1x4x3x3xf32> {
  %0 = nsl.sim_conv2d triangular %x, %w : tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}
