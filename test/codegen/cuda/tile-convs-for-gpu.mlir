// nslc --target cuda:sm_90 turns a convolution group into one tiled
// implicit-GEMM kernel (codegen/cuda/TiledConv.cpp, docs/gpu.md): a grid of
// (pixel tiles, output-channel tiles, samples), 16-byte aligned shared tiles
// of the weights and of the gathered input patches (two stages: double
// buffering), vector loads of the weights, register tiles of accumulators
// carried through the reduction loop, one barrier per chunk, vector stores.
// RUN: rm -rf %t && nslc %s --function conv --target cuda:sm_90 -o %t --print-gpu-ir | FileCheck %s
// RUN: FileCheck %s --check-prefix=PTX < %t/kernels.sm_90.ptx
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/manifest.json
// The dynamic layer with its SphereConv predictor is one kernel of two
// passes: the predictor's mask into shared memory, then the masked GEMM.
// RUN: rm -rf %t.dns && nslc %s --function dns --target cuda:sm_90 -o %t.dns --print-gpu-ir | FileCheck %s --check-prefix=DNS
// Explicit tiles; --cuda-tiled-conv=false keeps the generic kernels.
// RUN: rm -rf %t.t && nslc %s --function conv --target cuda:sm_90 -o %t.t --cuda-tile-m 32 --cuda-tile-n 64 --cuda-tile-k 16 --cuda-thread-m 4 --cuda-thread-n 4 --cuda-stages 1 --print-gpu-ir | FileCheck %s --check-prefix=TILES
// RUN: rm -rf %t.g && nslc %s --function conv --target cuda:sm_90 -o %t.g --cuda-tiled-conv=false --print-gpu-ir | FileCheck %s --check-prefix=GENERIC
// RUN: not nslc %s --function conv --target cuda:sm_90 -o %t.bad --cuda-tile-m 48 2>&1 | FileCheck %s --check-prefix=BAD

func.func @conv(
    %x: tensor<2x16x16x16xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<64x16x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<64xf32> {nsl.name = "conv.bias", nsl.role = "parameter"})
    -> (tensor<2x64x16x16xf32> {nsl.name = "y"}) {
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<64xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x16x16x16xf32>, tensor<64x16x3x3xf32> -> tensor<2x64x16x16xf32>
  %1 = nsl.relu %0 : tensor<2x64x16x16xf32>
  return %1 : tensor<2x64x16x16xf32>
}

func.func @dns(
    %x: tensor<2x16x16x16xf32> {nsl.name = "x", nsl.role = "input"},
    %p: tensor<9x16x3x3xf32> {nsl.name = "conv.predictor.weight", nsl.role = "parameter"},
    %gamma: tensor<1xf32> {nsl.name = "conv.gamma", nsl.role = "parameter"},
    %w: tensor<64x16x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"})
    -> (tensor<2x64x16x16xf32> {nsl.name = "y"}) {
  %s = nsl.sphere_conv2d cosine %x, %p {padding = array<i64: 1, 1>}
      : tensor<2x16x16x16xf32>, tensor<9x16x3x3xf32> -> tensor<2x9x16x16xf32>
  %m = nsl.predicted_similarity diagonal %s, %gamma : tensor<2x9x16x16xf32>, tensor<1xf32> -> tensor<2x9x16x16xf32>
  %y = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x16x16xf32>)
      {padding = array<i64: 1, 1>} : tensor<2x16x16x16xf32>, tensor<64x16x3x3xf32> -> tensor<2x64x16x16xf32>
  return %y : tensor<2x64x16x16xf32>
}

// CHECK-LABEL: gpu.module @nsl_kernels
// CHECK: gpu.func @nsl_conv_k0(%{{.*}}: memref<2x16x16x16xf32>, %{{.*}}: memref<64x16x3x3xf32>, %{{.*}}: memref<64xf32>, %{{.*}}: memref<2x64x16x16xf32>)
// CHECK-SAME: workgroup(%[[A:.*]] : memref<2x8x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[B:.*]] : memref<2x8x128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 2, 1, 2>
// CHECK-SAME: nsl.tiles = array<i64: 64, 128, 8, 8, 8, 2>
// CHECK-DAG: gpu.block_id x
// CHECK-DAG: gpu.block_id y
// CHECK-DAG: gpu.block_id z
// CHECK-DAG: gpu.thread_id x
// The prologue: chunk 0's weights by vector loads, into stage 0.
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x144xf32>, vector<4xf32>
// CHECK: gpu.barrier
// The reduction: the 8 accumulator rows are loop-carried (registers); the
// next chunk's loads come before this chunk's products.
// CHECK: scf.for %{{.*}} = %c0 to %c18 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %{{.*}} : memref<64x144xf32>, vector<4xf32>
// CHECK: vector.load %[[A]][{{.*}}] {alignment = 16 : i64} : memref<2x8x64xf32, #gpu.address_space<workgroup>>, vector<8xf32>
// CHECK: vector.load %[[B]][{{.*}}] {alignment = 16 : i64} : memref<2x8x128xf32, #gpu.address_space<workgroup>>, vector<8xf32>
// CHECK: vector.fma
// CHECK: memref.store %{{.*}}, %[[B]]
// CHECK: gpu.barrier
// CHECK: scf.yield
// The epilogue: bias and relu, then 8 pixels per vector store.
// CHECK: arith.maximumf
// CHECK: vector.store %{{.*}} {alignment = 16 : i64} : memref<2x64x256xf32>, vector<8xf32>
// CHECK: gpu.return

// PTX: .visible .entry nsl_conv_k0(
// PTX: .maxntid 128, 1, 1
// PTX: .shared .align 16 .b8 __wg_nsl_conv_k0_0[4096];
// PTX: .shared .align 16 .b8 __wg_nsl_conv_k0_1[8192];
// PTX: %ctaid.z
// PTX: ld.global.v4
// PTX: bar.sync 0
// PTX: ld.shared.v4
// PTX: fma.rn.f32
// PTX: st.global.v4

// MANIFEST: "block": [
// MANIFEST-NEXT: 128,
// MANIFEST: "grid": [
// MANIFEST-NEXT: 2,
// MANIFEST-NEXT: 1,
// MANIFEST-NEXT: 2
// MANIFEST: "kernel": "nsl_conv_k0",
// MANIFEST: "tiles": [
// MANIFEST-NEXT: 64,
// MANIFEST-NEXT: 128,
// MANIFEST: "tiled_conv": true

// One kernel: the predictor's weights (9 rows padded to 16) and the mask
// tile in shared memory besides the convolution's tiles; pass 1 carries the
// predictor's accumulators, its SphereConv norms and the mask γ·g + 1 go to
// shared memory; pass 2 is the convolution.
// DNS: gpu.func @nsl_dns_k0(
// DNS-SAME: workgroup(%{{.*}} : memref<2x8x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[B:.*]] : memref<2x8x128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[P:.*]] : memref<2x8x16xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[MASK:.*]] : memref<9x128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// DNS: scf.for {{.*}} -> (vector<16xf32>, vector<1xf32>, vector<16xf32>)
// DNS: vector.load %[[P]]
// DNS: gpu.barrier
// DNS: math.sqrt
// DNS: memref.store %{{.*}}, %[[MASK]]
// DNS: gpu.barrier
// DNS: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// DNS: memref.load %[[MASK]]
// DNS: vector.fma
// DNS: gpu.return
// DNS-NOT: gpu.func

// TILES: workgroup(%{{.*}} : memref<1x16x32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<1x16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// TILES-SAME: known_grid_size = array<i32: 4, 2, 2>
// TILES-SAME: nsl.tiles = array<i64: 32, 64, 16, 4, 4, 1>

// GENERIC: gpu.func @nsl_conv_k0(
// GENERIC-NOT: workgroup(
// GENERIC-SAME: known_block_size = array<i32: 256, 1, 1>

// BAD: error: nsl-tile-convs-for-gpu: tiles must be powers of two {{.*}} got tile 48x128x8
