// A MobileNet-style NSN, batch 4, 3×16×16 inputs: a stem conv-BN-hardswish,
// an inverted residual (1×1 expand, 3×3 depthwise, 1×1 project; ReLU6 as
// clamp_min/clamp_max), a static diagonal NSL layer with 4 groups, a
// squeeze-and-excitation gate (global pool, 1×1 convs, hardsigmoid, mul),
// global average pool and a linear classifier. The static M acts on the
// taps of every group (docs/NSLDialect.md, sim_conv2d).
func.func @forward(
    %x: tensor<4x3x16x16xf32> {nsl.name = "x", nsl.role = "input"},
    %w0: tensor<8x3x3x3xf32> {nsl.name = "stem.weight", nsl.role = "parameter"},
    %g0: tensor<8xf32> {nsl.name = "stem_bn.weight", nsl.role = "parameter"},
    %h0: tensor<8xf32> {nsl.name = "stem_bn.bias", nsl.role = "parameter"},
    %m0: tensor<8xf32> {nsl.name = "stem_bn.running_mean", nsl.role = "buffer"},
    %v0: tensor<8xf32> {nsl.name = "stem_bn.running_var", nsl.role = "buffer"},
    %we: tensor<16x8x1x1xf32> {nsl.name = "expand.weight", nsl.role = "parameter"},
    %wd: tensor<16x1x3x3xf32> {nsl.name = "depthwise.weight", nsl.role = "parameter"},
    %gd: tensor<16xf32> {nsl.name = "depthwise_bn.weight", nsl.role = "parameter"},
    %hd: tensor<16xf32> {nsl.name = "depthwise_bn.bias", nsl.role = "parameter"},
    %md: tensor<16xf32> {nsl.name = "depthwise_bn.running_mean", nsl.role = "buffer"},
    %vd: tensor<16xf32> {nsl.name = "depthwise_bn.running_var", nsl.role = "buffer"},
    %wp: tensor<8x16x1x1xf32> {nsl.name = "project.weight", nsl.role = "parameter"},
    %wg: tensor<16x2x3x3xf32> {nsl.name = "grouped.weight", nsl.role = "parameter"},
    %sg: tensor<9xf32> {nsl.name = "grouped.similarity", nsl.role = "parameter"},
    %bg: tensor<16xf32> {nsl.name = "grouped.bias", nsl.role = "parameter"},
    %ws: tensor<4x16x1x1xf32> {nsl.name = "squeeze.weight", nsl.role = "parameter"},
    %wx: tensor<16x4x1x1xf32> {nsl.name = "excite.weight", nsl.role = "parameter"},
    %fc_w: tensor<10x16xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fc_b: tensor<10xf32> {nsl.name = "fc.bias", nsl.role = "parameter"})
    -> (tensor<4x10xf32> {nsl.name = "logits"}) {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %six = arith.constant dense<6.0> : tensor<f32>
  %0 = nsl.sim_conv2d identity %x, %w0 {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
      : tensor<4x3x16x16xf32>, tensor<8x3x3x3xf32> -> tensor<4x8x8x8xf32>
  %1 = nsl.batch_norm %0, %g0, %h0, %m0, %v0 : tensor<4x8x8x8xf32>, tensor<8xf32> -> tensor<4x8x8x8xf32>
  %2 = nsl.hardswish %1 : tensor<4x8x8x8xf32>
  // Inverted residual.
  %3 = nsl.sim_conv2d identity %2, %we : tensor<4x8x8x8xf32>, tensor<16x8x1x1xf32> -> tensor<4x16x8x8xf32>
  %4 = nsl.relu %3 : tensor<4x16x8x8xf32>
  %5 = nsl.sim_conv2d identity %4, %wd {groups = 16, padding = array<i64: 1, 1>}
      : tensor<4x16x8x8xf32>, tensor<16x1x3x3xf32> -> tensor<4x16x8x8xf32>
  %6 = nsl.batch_norm %5, %gd, %hd, %md, %vd : tensor<4x16x8x8xf32>, tensor<16xf32> -> tensor<4x16x8x8xf32>
  %7 = nsl.clamp_min %6, %zero : tensor<4x16x8x8xf32>, tensor<f32>
  %8 = nsl.clamp_max %7, %six : tensor<4x16x8x8xf32>, tensor<f32>
  %9 = nsl.sim_conv2d identity %8, %wp : tensor<4x16x8x8xf32>, tensor<8x16x1x1xf32> -> tensor<4x8x8x8xf32>
  %10 = nsl.add %9, %2 : tensor<4x8x8x8xf32>
  // A static DNS layer with 4 groups.
  %11 = nsl.sim_conv2d diagonal %10, %wg similarity(%sg : tensor<9xf32>) bias(%bg : tensor<16xf32>)
      {groups = 4, padding = array<i64: 1, 1>}
      : tensor<4x8x8x8xf32>, tensor<16x2x3x3xf32> -> tensor<4x16x8x8xf32>
  %12 = nsl.silu %11 : tensor<4x16x8x8xf32>
  // Squeeze and excitation.
  %13 = nsl.global_avg_pool2d %12 : tensor<4x16x8x8xf32> -> tensor<4x16x1x1xf32>
  %14 = nsl.sim_conv2d identity %13, %ws : tensor<4x16x1x1xf32>, tensor<4x16x1x1xf32> -> tensor<4x4x1x1xf32>
  %15 = nsl.relu %14 : tensor<4x4x1x1xf32>
  %16 = nsl.sim_conv2d identity %15, %wx : tensor<4x4x1x1xf32>, tensor<16x4x1x1xf32> -> tensor<4x16x1x1xf32>
  %17 = nsl.hardsigmoid %16 : tensor<4x16x1x1xf32>
  %18 = nsl.mul %12, %17 : tensor<4x16x8x8xf32>, tensor<4x16x1x1xf32>
  %19 = nsl.global_avg_pool2d %18 : tensor<4x16x8x8xf32> -> tensor<4x16x1x1xf32>
  %20 = nsl.flatten %19 : tensor<4x16x1x1xf32> -> tensor<4x16xf32>
  %21 = nsl.linear %20, %fc_w bias(%fc_b : tensor<10xf32>) : tensor<4x16xf32>, tensor<10x16xf32> -> tensor<4x10xf32>
  return %21 : tensor<4x10xf32>
}
