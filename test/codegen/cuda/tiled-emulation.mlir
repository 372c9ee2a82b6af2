// The tiled implicit-GEMM convolution kernels of the CUDA target
// (codegen/cuda/TiledConv.cpp), checked without a GPU: `nslc
// --emulate-cuda-tiles` compiles the same kernels for the CPU (each phase
// between barriers a loop over the block's threads, shared memory and the
// per-thread accumulators in memory) and `nsl-run check` compares every model
// with the reference interpreter (relative error ≤ 1e-5) — the models below,
// the end-to-end conv and SphereConv tests and every example, with the
// default tiles and with small odd ones (single buffering, thread tiles
// 4×2, BK = 4), so partial tiles, partial load rounds and every epilogue
// are exercised.
// RUN: rm -rf %t && %python %S/emulate_check.py --nslc nslc --nsl-run nsl-run --work-dir %t %s %S/tile-convs-for-gpu.mlir %nsl_src/test/e2e/conv-ops.mlir %nsl_src/test/e2e/sphere-ops.mlir %nsl_src/examples/plain_cnn.mlir %nsl_src/examples/static_nsn.mlir %nsl_src/examples/dynamic_nsn.mlir %nsl_src/examples/dynamic_uns.mlir %nsl_src/examples/shared_predictor.mlir | FileCheck %s
// RUN: rm -rf %t.small && %python %S/emulate_check.py --nslc nslc --nsl-run nsl-run --work-dir %t.small --options "--cuda-stages 1 --cuda-tile-m 16 --cuda-tile-n 32 --cuda-tile-k 4 --cuda-thread-m 4 --cuda-thread-n 2" %s %nsl_src/test/e2e/sphere-ops.mlir | FileCheck %s --check-prefix=SMALL
// The groups are one tiled kernel each, with tiles fitted to the layer
// (fewer channel rows for narrow layers, more pixels and smaller thread
// tiles to keep 128 threads).
// RUN: nsl-opt %s --nsl-optimize --nsl-outline-kernels="function=conv_bn_relu" --nsl-tile-convs-for-gpu=emulate=1 | FileCheck %s --check-prefix=TILED
// RUN: nsl-opt %s --nsl-optimize --nsl-outline-kernels="function=fused_dns_sigmoid" --nsl-tile-convs-for-gpu=emulate=1 | FileCheck %s --check-prefix=FUSED
// TILED: func.func @nsl_conv_bn_relu_k0
// TILED-SAME: nsl.block = array<i64: 128, 1, 1>, nsl.grid = array<i64: 1, 1, 2>
// TILED-SAME: nsl.tiles = array<i64: 16, 256, 8, 8, 4, 2>
// TILED-NOT: nsl.batch_norm
// TILED-NOT: func.func @nsl_conv_bn_relu_k1
// FUSED: func.func @nsl_fused_dns_sigmoid_k0
// FUSED-SAME: nsl.tiles = array<i64: 32, 128, 8, 8, 4, 2>
// FUSED-NOT: nsl.sphere_conv2d
// FUSED-NOT: func.func @nsl_fused_dns_sigmoid_k1

// CHECK-NOT: FAIL
// CHECK: tiled-emulation.conv_bn_relu: ok
// CHECK: tiled-emulation.fused_dns_linear: ok
// The default tiles unchanged (64 channels, 16 channels in, 256 pixels):
// CHECK: tile-convs-for-gpu.conv: ok
// CHECK: tile-convs-for-gpu.dns: ok
// CHECK: conv-ops.dynamic_dns: ok
// CHECK: dynamic_nsn.forward: ok
// CHECK: emulated CUDA tiles: 47 models, all within 1e-5
// SMALL-NOT: FAIL
// SMALL: emulated CUDA tiles: 13 models, all within 1e-5

// A plain convolution (C·K = 36: vector weight loads) with bias, batch norm
// and relu in its epilogue; 12 output channels (a partial channel tile).
func.func @conv_bn_relu(
    %x: tensor<2x4x10x13xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<12x4x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<12xf32> {nsl.name = "conv.bias", nsl.role = "parameter"},
    %g: tensor<12xf32> {nsl.name = "bn.weight", nsl.role = "parameter"},
    %be: tensor<12xf32> {nsl.name = "bn.bias", nsl.role = "parameter"},
    %m: tensor<12xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"},
    %v: tensor<12xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"})
    -> (tensor<2x12x10x13xf32> {nsl.name = "y"}) {
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<12xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x4x10x13xf32>, tensor<12x4x3x3xf32> -> tensor<2x12x10x13xf32>
  %1 = nsl.batch_norm %0, %g, %be, %m, %v : tensor<2x12x10x13xf32>, tensor<12xf32> -> tensor<2x12x10x13xf32>
  %2 = nsl.relu %1 : tensor<2x12x10x13xf32>
  return %2 : tensor<2x12x10x13xf32>
}

// Stride 2, dilation 2, padding 2, 70 output channels (two channel tiles).
func.func @conv_strided(
    %x: tensor<3x5x10x13xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<70x5x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"})
    -> (tensor<3x70x5x7xf32> {nsl.name = "y"}) {
  %0 = nsl.sim_conv2d identity %x, %w {padding = array<i64: 2, 2>, stride = array<i64: 2, 2>, dilation = array<i64: 2, 2>}
      : tensor<3x5x10x13xf32>, tensor<70x5x3x3xf32> -> tensor<3x70x5x7xf32>
  return %0 : tensor<3x70x5x7xf32>
}

// A DNS convolution whose mask is a model input (loaded from global memory).
func.func @dns_mask_input(
    %x: tensor<2x6x9x9xf32> {nsl.name = "x", nsl.role = "input"},
    %mask: tensor<2x9x9x9xf32> {nsl.name = "mask", nsl.role = "input"},
    %w: tensor<10x6x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<10xf32> {nsl.name = "conv.bias", nsl.role = "parameter"})
    -> (tensor<2x10x9x9xf32> {nsl.name = "y"}) {
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%mask : tensor<2x9x9x9xf32>) bias(%b : tensor<10xf32>)
      {padding = array<i64: 1, 1>} : tensor<2x6x9x9xf32>, tensor<10x6x3x3xf32> -> tensor<2x10x9x9xf32>
  return %0 : tensor<2x10x9x9xf32>
}

// A DNS convolution with M = γ·P + 1 of a given prediction P, then relu.
func.func @dns_predicted(
    %x: tensor<2x6x9x9xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<2x9x9x9xf32> {nsl.name = "prediction", nsl.role = "input"},
    %gamma: tensor<1xf32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<10x6x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"})
    -> (tensor<2x10x9x9xf32> {nsl.name = "y"}) {
  %m = nsl.predicted_similarity diagonal %p, %gamma : tensor<2x9x9x9xf32>, tensor<1xf32> -> tensor<2x9x9x9xf32>
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x9x9xf32>)
      {padding = array<i64: 1, 1>} : tensor<2x6x9x9xf32>, tensor<10x6x3x3xf32> -> tensor<2x10x9x9xf32>
  %1 = nsl.relu %0 : tensor<2x10x9x9xf32>
  return %1 : tensor<2x10x9x9xf32>
}

// The whole dynamic layer in one kernel: the SphereConv predictor (linear
// variant) of the mask over the layer's own input, M = γ·P + 1, the DNS
// convolution with bias.
func.func @fused_dns_linear(
    %x: tensor<2x5x9x11xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<9x5x3x3xf32> {nsl.name = "conv.predictor.weight", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<7x5x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<7xf32> {nsl.name = "conv.bias", nsl.role = "parameter"})
    -> (tensor<2x7x9x11xf32> {nsl.name = "y"}) {
  %s = nsl.sphere_conv2d linear %x, %p {padding = array<i64: 1, 1>}
      : tensor<2x5x9x11xf32>, tensor<9x5x3x3xf32> -> tensor<2x9x9x11xf32>
  %m = nsl.predicted_similarity diagonal %s, %gamma : tensor<2x9x9x11xf32>, tensor<1xf32> -> tensor<2x9x9x11xf32>
  %y = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x9x11xf32>) bias(%b : tensor<7xf32>)
      {padding = array<i64: 1, 1>} : tensor<2x5x9x11xf32>, tensor<7x5x3x3xf32> -> tensor<2x7x9x11xf32>
  return %y : tensor<2x7x9x11xf32>
}

// Fused, learned-sigmoid predictor (k' per predictor filter), stride 2, 20
// channels (C·K = 180), batch norm and relu after the layer.
func.func @fused_dns_sigmoid(
    %x: tensor<2x20x12x12xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<9x20x3x3xf32> {nsl.name = "conv.predictor.weight", nsl.role = "parameter"},
    %k: tensor<9xf32> {nsl.name = "conv.predictor.k", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<24x20x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %g: tensor<24xf32> {nsl.name = "bn.weight", nsl.role = "parameter"},
    %be: tensor<24xf32> {nsl.name = "bn.bias", nsl.role = "parameter"},
    %mean: tensor<24xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"},
    %var: tensor<24xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"})
    -> (tensor<2x24x6x6xf32> {nsl.name = "y"}) {
  %s = nsl.sphere_conv2d learned_sigmoid %x, %p k_param(%k : tensor<9xf32>) {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
      : tensor<2x20x12x12xf32>, tensor<9x20x3x3xf32> -> tensor<2x9x6x6xf32>
  %m = nsl.predicted_similarity diagonal %s, %gamma : tensor<2x9x6x6xf32>, tensor<1xf32> -> tensor<2x9x6x6xf32>
  %y = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x6x6xf32>)
      {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x20x12x12xf32>, tensor<24x20x3x3xf32> -> tensor<2x24x6x6xf32>
  %n = nsl.batch_norm %y, %g, %be, %mean, %var : tensor<2x24x6x6xf32>, tensor<24xf32> -> tensor<2x24x6x6xf32>
  %r = nsl.relu %n : tensor<2x24x6x6xf32>
  return %r : tensor<2x24x6x6xf32>
}

// Fused, the authors' CNN-predictor form (cosine, input_only).
func.func @fused_dns_input_only(
    %x: tensor<1x3x8x8xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<9x3x3x3xf32> {nsl.name = "conv.predictor.weight", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"})
    -> (tensor<1x4x8x8xf32> {nsl.name = "y"}) {
  %s = nsl.sphere_conv2d cosine input_only %x, %p {padding = array<i64: 1, 1>}
      : tensor<1x3x8x8xf32>, tensor<9x3x3x3xf32> -> tensor<1x9x8x8xf32>
  %m = nsl.predicted_similarity diagonal %s, %gamma : tensor<1x9x8x8xf32>, tensor<1xf32> -> tensor<1x9x8x8xf32>
  %y = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x8x8xf32>)
      {padding = array<i64: 1, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x8x8xf32>
  return %y : tensor<1x4x8x8xf32>
}

// SphereConv (sigmoid) with its norms accumulated in the product's pass,
// then relu.
func.func @sphere_relu(
    %x: tensor<2x7x11x9xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<17x7x3x3xf32> {nsl.name = "sphere.weight", nsl.role = "parameter"})
    -> (tensor<2x17x11x9xf32> {nsl.name = "y"}) {
  %0 = nsl.sphere_conv2d sigmoid %x, %w {padding = array<i64: 1, 1>}
      : tensor<2x7x11x9xf32>, tensor<17x7x3x3xf32> -> tensor<2x17x11x9xf32>
  %1 = nsl.relu %0 : tensor<2x17x11x9xf32>
  return %1 : tensor<2x17x11x9xf32>
}
