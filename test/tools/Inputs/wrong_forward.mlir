// The model of nsl-run-errors.mlir with different math under the same
// kernel names: a SphereConv instead of the convolution.
func.func @forward(%x: tensor<2x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<2x4x5x5xf32> {
  %0 = nsl.sphere_conv2d cosine %x, %w {padding = array<i64: 1, 1>} : tensor<2x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x5xf32>
  return %0 : tensor<2x4x5x5xf32>
}
