// nslc --target cuda:sm_90: every op group is one gpu.func kernel of the
// nsl_kernels gpu.module (one block per sample, the block's threads share
// each parallel loop, a barrier after each), lowered through NVVM to PTX;
// the manifest schedules the launches with grid, block and buffers. This is
// the generic mapping, so the convolution is not tiled here
// (--cuda-tiled-conv=false; tile-convs-for-gpu.mlir tests the tiled kernels).
// RUN: rm -rf %t && nslc %s --target cuda:sm_90 --cuda-tiled-conv=false -o %t --print-gpu-ir --print-ptx | FileCheck %s
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/manifest.json
// RUN: FileCheck %s --check-prefix=PTX < %t/kernels.sm_90.ptx
// RUN: nslc %s --target cuda:sm_90 --cuda-tiled-conv=false --cuda-threads 128 --fuse-epilogues=false -o %t.128 --print-gpu-ir | FileCheck %s --check-prefix=T128
// RUN: FileCheck %s --check-prefix=M128 < %t.128/manifest.json

func.func @forward(
    %x: tensor<2x3x8x8xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %b: tensor<4xf32> {nsl.name = "conv.bias", nsl.role = "parameter"},
    %fc_w: tensor<5x64xf32> {nsl.name = "fc.weight", nsl.role = "parameter"})
    -> (tensor<2x5xf32> {nsl.name = "logits"}) {
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<4xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x8x8xf32>
  %1 = nsl.relu %0 : tensor<2x4x8x8xf32>
  %2 = nsl.max_pool2d %1 {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>}
      : tensor<2x4x8x8xf32> -> tensor<2x4x4x4xf32>
  %3 = nsl.flatten %2 : tensor<2x4x4x4xf32> -> tensor<2x64xf32>
  %4 = nsl.linear %3, %fc_w : tensor<2x64xf32>, tensor<5x64xf32> -> tensor<2x5xf32>
  return %4 : tensor<2x5xf32>
}

// The conv + relu kernel: buffers, then the workspace (2 blocks' slices of
// the padded input and the accumulator).
// CHECK-LABEL: gpu.module @nsl_kernels
// CHECK: gpu.func @nsl_forward_k0(%{{.*}}: memref<2x3x8x8xf32>, %{{.*}}: memref<4x3x3x3xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<2x4x8x8xf32>, %[[WS:.*]]: memref<[[WSB:[0-9]+]]xi8>) kernel
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK-SAME: known_grid_size = array<i32: 2, 1, 1>
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BDIM:.*]] = gpu.block_dim x
// The sample loop runs once, for this block's sample.
// CHECK: scf.for %[[N:.*]] = %[[BLOCK]] to
// CHECK: memref.subview %{{.*}}[%[[N]], 0, 0, 0] [1, 3, 8, 8]
// This block's slice of the workspace.
// CHECK: %[[SLICE:.*]] = arith.muli %[[BLOCK]], %c
// CHECK: memref.view %[[WS]][%[[SLICE]]][]
// Block-strided loops over the flattened iteration space, a barrier after
// each; reductions stay sequential inside.
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %[[BDIM]] {
// CHECK: } {nsl.thread_loop}
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} step %[[BDIM]] {
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: } {nsl.thread_loop}
// CHECK-NEXT: gpu.barrier
// CHECK: arith.maximumf
// CHECK: gpu.return
// CHECK: gpu.func @nsl_forward_k1(
// CHECK: gpu.func @nsl_forward_k2(
// CHECK: gpu.func @nsl_forward_k3(
// CHECK-NOT: gpu.func

// The PTX has one .entry per kernel, which takes device pointers only.
// CHECK: .target sm_90
// CHECK: .visible .entry nsl_forward_k0(
// CHECK-NEXT: .param .u64 .ptr .align 1 nsl_forward_k0_param_0,
// CHECK: .maxntid 256, 1, 1
// CHECK: nslc: wrote {{.*}} (1 entry point, 4 kernels, arena {{[0-9]+}} bytes, cuda-sm_90)

// PTX: .version 8.0
// PTX: .target sm_90
// PTX: .address_size 64
// PTX-LABEL: .visible .entry nsl_forward_k0(
// PTX: %ctaid.x
// PTX: %tid.x
// PTX: %ntid.x
// PTX: ld.global
// PTX: st.global
// PTX: bar.sync 0
// PTX-LABEL: .visible .entry nsl_forward_k1(
// PTX-LABEL: .visible .entry nsl_forward_k2(
// PTX-LABEL: .visible .entry nsl_forward_k3(
// PTX-NOT: .entry

// (Keys are in alphabetical order.)
// MANIFEST: "schedule": [
// MANIFEST: "block": [
// MANIFEST-NEXT: 256,
// MANIFEST-NEXT: 1,
// MANIFEST-NEXT: 1
// MANIFEST-NEXT: ],
// MANIFEST-NEXT: "buffers": [
// MANIFEST-NEXT: 0,
// MANIFEST-NEXT: 1,
// MANIFEST-NEXT: 2,
// MANIFEST-NEXT: 4
// MANIFEST-NEXT: ],
// MANIFEST-NEXT: "grid": [
// MANIFEST-NEXT: 2,
// MANIFEST-NEXT: 1,
// MANIFEST-NEXT: 1
// MANIFEST-NEXT: ],
// MANIFEST-NEXT: "kernel": "nsl_forward_k0",
// MANIFEST: "shared_bytes": 0,
// MANIFEST-NEXT: "workspace_bytes": {{[1-9][0-9]*}}
// MANIFEST: "kernel": "nsl_forward_k1",
// MANIFEST: "kernel": "nsl_forward_k2",
// MANIFEST: "kernel": "nsl_forward_k3",
// MANIFEST: "kernels": {
// MANIFEST-NEXT: "abi": "nsl-cuda-1",
// MANIFEST-NEXT: "cubin": {{("kernels.sm_90.cubin"|null)}},
// MANIFEST-NEXT: "ptx": "kernels.sm_90.ptx"
// MANIFEST: "target": "cuda-sm_90"
// MANIFEST: "threads_per_block": 256

// Per-op kernels, 128 threads.
// T128: gpu.func @nsl_forward_k0({{.*}}) kernel attributes {known_block_size = array<i32: 128, 1, 1>
// T128: gpu.func @nsl_forward_k1({{.*}}) kernel
// T128: arith.maximumf
// T128: gpu.func @nsl_forward_k4(
// M128: "block": [
// M128-NEXT: 128,
// M128: "threads_per_block": 128
