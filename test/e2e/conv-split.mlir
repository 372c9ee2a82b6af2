// Direct convolutions with each sample split into chunks of output rows and
// of output channel blocks (--conv-parallel-iterations, DirectConvSplit)
// compute what the reference interpreter computes, at batch 1, with odd
// sizes, stride 2, dilation 2, partial pixel and channel blocks, chunks of
// unequal size and empty ones, on 1, 2 and 3 threads: plain + BN + relu,
// SphereConv (cosine, linear + relu, sigmoid), DNS with a fused predictor,
// UNS.
// RUN: nslc %s -o %t.default | FileCheck %s --check-prefix=WROTE
// RUN: nsl-run check %t.default --seed 1 --threads 1 | FileCheck %s
// RUN: nsl-run check %t.default --seed 2 --threads 2 | FileCheck %s
// RUN: nsl-run check %t.default --seed 3 --threads 3 | FileCheck %s
// Four iterations: the DNS and UNS layers (per-pixel taps) in 4 chunks of
// their 5 rows, of 2, 2, 1 and 0 rows; the plain layers in 3 channel blocks
// × 2 row chunks.
// RUN: nslc %s --conv-parallel-iterations=4 --conv-output-channels=8 --conv-pixel-vectors=1 -o %t.four > /dev/null
// RUN: nsl-run check %t.four --seed 4 --threads 2 | FileCheck %s
// RUN: nsl-run check %t.four --seed 5 --threads 3 | FileCheck %s
// 64 iterations: the first layer in its 3 blocks of 8 output channels × 5
// rows (15 iterations).
// RUN: nslc %s --conv-parallel-iterations=64 --conv-output-channels=8 --conv-pixel-vectors=1 -o %t.many > /dev/null
// RUN: FileCheck %s --check-prefix=MANY --input-file %t.many/manifest.json
// RUN: nsl-run check %t.many --seed 6 --threads 2 | FileCheck %s
// RUN: nsl-run check %t.many --seed 7 --threads 3 | FileCheck %s
// No split: one iteration per sample.
// RUN: nslc %s --conv-parallel-iterations=1 -o %t.one > /dev/null
// RUN: FileCheck %s --check-prefix=ONE --input-file %t.one/manifest.json
// RUN: nsl-run check %t.one --seed 8 --threads 2 | FileCheck %s
// RUN: not nslc %s --conv-parallel-iterations=0 -o %t.bad 2>&1 | FileCheck %s --check-prefix=BAD

// WROTE: nslc: wrote
// MANY: "parallel_extent": 15
// MANY: "conv_parallel_iterations": 64
// ONE: "conv_parallel_iterations": 1
// ONE-NOT: "parallel_extent": {{[2-9]}}
// BAD: nslc: error: --vector-width must be at least 0, --conv-output-channels, --conv-pixel-vectors and --conv-parallel-iterations at least 1
// CHECK: all 1 outputs agree with the reference within relative error 1e-05
func.func @forward(
    %x: tensor<1x5x9x13xf32> {nsl.name = "x", nsl.role = "input"},
    %wa: tensor<24x5x3x3xf32> {nsl.name = "a.weight", nsl.role = "parameter"},
    %ba: tensor<24xf32> {nsl.name = "a.bias", nsl.role = "parameter"},
    %gw: tensor<24xf32> {nsl.name = "bn.weight", nsl.role = "parameter"},
    %gb: tensor<24xf32> {nsl.name = "bn.bias", nsl.role = "parameter"},
    %gm: tensor<24xf32> {nsl.name = "bn.running_mean", nsl.role = "buffer"},
    %gv: tensor<24xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"},
    %wb: tensor<16x24x3x3xf32> {nsl.name = "b.weight", nsl.role = "parameter"},
    %ws: tensor<8x16x3x3xf32> {nsl.name = "s.weight", nsl.role = "parameter"},
    %wl: tensor<8x8x3x3xf32> {nsl.name = "l.weight", nsl.role = "parameter"},
    %wg: tensor<8x8x3x3xf32> {nsl.name = "g.weight", nsl.role = "parameter"},
    %pd: tensor<9x8x3x3xf32> {nsl.name = "d.predictor.weight", nsl.role = "parameter"},
    %gd: tensor<1xf32> {nsl.name = "d.gamma", nsl.role = "parameter"},
    %wd: tensor<12x8x3x3xf32> {nsl.name = "d.weight", nsl.role = "parameter"},
    %pu: tensor<81x12x1x1xf32> {nsl.name = "u.predictor.weight", nsl.role = "parameter"},
    %gu: tensor<f32> {nsl.name = "u.gamma", nsl.role = "parameter"},
    %wu: tensor<6x12x3x3xf32> {nsl.name = "u.weight", nsl.role = "parameter"},
    %bu: tensor<6xf32> {nsl.name = "u.bias", nsl.role = "parameter"})
    -> (tensor<1x6x5x7xf32> {nsl.name = "output"}) {
  // Plain, stride 2: 24 output channels (3 blocks of 8), 5×7 pixels.
  %a = nsl.sim_conv2d identity %x, %wa bias(%ba : tensor<24xf32>)
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x5x9x13xf32>, tensor<24x5x3x3xf32> -> tensor<1x24x5x7xf32>
  %an = nsl.batch_norm %a, %gw, %gb, %gm, %gv
      : tensor<1x24x5x7xf32>, tensor<24xf32> -> tensor<1x24x5x7xf32>
  %ar = nsl.relu %an : tensor<1x24x5x7xf32>
  // Dilation 2.
  %b = nsl.sim_conv2d identity %ar, %wb
      {padding = array<i64: 2, 2>, dilation = array<i64: 2, 2>}
      : tensor<1x24x5x7xf32>, tensor<16x24x3x3xf32> -> tensor<1x16x5x7xf32>
  // Cosine SphereConv, then the linear and sigmoid variants (g(θ) in the
  // epilogue) with relu.
  %sc = nsl.sphere_conv2d cosine %b, %ws {padding = array<i64: 1, 1>}
      : tensor<1x16x5x7xf32>, tensor<8x16x3x3xf32> -> tensor<1x8x5x7xf32>
  %sl = nsl.sphere_conv2d linear %sc, %wl {padding = array<i64: 1, 1>}
      : tensor<1x8x5x7xf32>, tensor<8x8x3x3xf32> -> tensor<1x8x5x7xf32>
  %slr = nsl.relu %sl : tensor<1x8x5x7xf32>
  %s = nsl.sphere_conv2d sigmoid %slr, %wg {padding = array<i64: 1, 1>, sigmoid_k = 0.3 : f32}
      : tensor<1x8x5x7xf32>, tensor<8x8x3x3xf32> -> tensor<1x8x5x7xf32>
  // DNS with its cosine predictor fused.
  %pdm = nsl.sphere_conv2d cosine %s, %pd {padding = array<i64: 1, 1>}
      : tensor<1x8x5x7xf32>, tensor<9x8x3x3xf32> -> tensor<1x9x5x7xf32>
  %md = nsl.predicted_similarity diagonal %pdm, %gd
      : tensor<1x9x5x7xf32>, tensor<1xf32> -> tensor<1x9x5x7xf32>
  %d = nsl.sim_conv2d diagonal dynamic %s, %wd similarity(%md : tensor<1x9x5x7xf32>)
      {padding = array<i64: 1, 1>}
      : tensor<1x8x5x7xf32>, tensor<12x8x3x3xf32> -> tensor<1x12x5x7xf32>
  %dr = nsl.relu %d : tensor<1x12x5x7xf32>
  // UNS with a 1×1 predictor.
  %pum = nsl.sphere_conv2d cosine %dr, %pu
      : tensor<1x12x5x7xf32>, tensor<81x12x1x1xf32> -> tensor<1x81x5x7xf32>
  %mu = nsl.predicted_similarity full %pum, %gu
      : tensor<1x81x5x7xf32>, tensor<f32> -> tensor<1x81x5x7xf32>
  %u = nsl.sim_conv2d full dynamic %dr, %wu similarity(%mu : tensor<1x81x5x7xf32>)
      bias(%bu : tensor<6xf32>) {padding = array<i64: 1, 1>}
      : tensor<1x12x5x7xf32>, tensor<6x12x3x3xf32> -> tensor<1x6x5x7xf32>
  return %u : tensor<1x6x5x7xf32>
}
