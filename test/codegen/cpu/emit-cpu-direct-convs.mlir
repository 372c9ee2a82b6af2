// Kernel groups and the direct (register-blocked, vectorised) convolution
// of --nsl-emit-cpu-direct-convs.
// RUN: nsl-opt %s --nsl-outline-kernels="function=conv_bn_relu" --nsl-emit-cpu-direct-convs="vector-width=16 conv-output-channels=4 conv-pixel-vectors=2 conv-parallel-iterations=1" | FileCheck %s --check-prefix=GROUP
// RUN: nsl-opt %s --nsl-outline-kernels="function=conv_bn_relu" --nsl-emit-cpu-direct-convs="vector-width=16 conv-output-channels=4 conv-pixel-vectors=2" | FileCheck %s --check-prefix=SPLIT
// RUN: nsl-opt %s --nsl-outline-kernels="function=dns" --nsl-emit-cpu-direct-convs="vector-width=8 conv-output-channels=3 conv-pixel-vectors=1" | FileCheck %s --check-prefix=DNS
// RUN: nsl-opt %s --nsl-outline-kernels="function=sphere" --nsl-emit-cpu-direct-convs="vector-width=16" | FileCheck %s --check-prefix=SPHERE
// RUN: nsl-opt %s --nsl-outline-kernels="function=strided" --nsl-emit-cpu-direct-convs="vector-width=16" | FileCheck %s --check-prefix=STRIDED
// RUN: nsl-opt %s --nsl-outline-kernels="function=conv_bn_relu fuse-epilogues=0" --nsl-emit-cpu-direct-convs | FileCheck %s --check-prefix=NOFUSE

// conv → batch_norm → relu is one kernel: once per call, before the loop
// over the samples, the padded input's zero borders; per sample the input
// copied into the padded scratch in vectors (the row tail masked); blocks
// of 4 output channels × 2 vectors of 16 pixels (a 20-wide row: one full
// vector and a 4-lane masked one), the weights broadcast from where they
// are (no packing), BN and relu in the epilogue.
// GROUP: nsl.sim_conv2d {{.*}}nsl.kernel = "nsl_conv_bn_relu_k0"
// GROUP: nsl.batch_norm {{.*}}nsl.kernel = "nsl_conv_bn_relu_k0"
// GROUP: nsl.relu {{.*}}nsl.kernel = "nsl_conv_bn_relu_k0"
// GROUP: func.func @nsl_conv_bn_relu_k0(%{{.*}}: memref<2x3x6x20xf32>, %{{.*}}: memref<8x3x3x3xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<2x8x6x20xf32>, %{{.*}}: index, %{{.*}}: index)
// GROUP: %[[PADDED:.*]] = memref.alloc() : memref<3x8x1x34xf32>
// GROUP: linalg.fill ins(%{{.*}} : f32) outs(%[[PADDED]] : memref<3x8x1x34xf32>)
// GROUP-NOT: memref.alloc
// GROUP: scf.for
// GROUP: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step
// GROUP: %[[ROW:.*]] = vector.load %{{.*}} : memref<1x3x6x20xf32, strided<{{.*}}>>, vector<16xf32>
// GROUP: vector.store %[[ROW]], %[[PADDED]]
// GROUP: vector.maskedload
// GROUP: vector.maskedstore %[[PADDED]]
// GROUP: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// GROUP-COUNT-2: vector.load
// GROUP: memref.load
// GROUP: vector.broadcast
// GROUP-COUNT-2: vector.fma
// GROUP: math.rsqrt
// GROUP: vector.fma
// GROUP: arith.maximumf
// GROUP: vector.store
// GROUP: vector.constant_mask [4] : vector<16xi1>
// GROUP: vector.maskedstore
// GROUP-NOT: nsl.

// With the default 8 parallel iterations, the 2 samples are split into 4
// chunks each: the 2 blocks of 4 output channels × 2 halves of the 6 rows
// (6 rows are fewer than 2 per wanted chunk); iteration i is chunk i mod 4
// of sample i / 4, and the chunk's rows bound the copy and the row loop.
// SPLIT: func.func @nsl_conv_bn_relu_k0({{.*}}) attributes {nsl.channel_chunks = 2 : i64, nsl.kernel, nsl.parallel_extent = 8 : i64, nsl.row_chunks = 2 : i64}
// SPLIT: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// SPLIT: %[[SAMPLE:.*]] = arith.divui %[[I]], %[[FOUR:.*]] : index
// SPLIT: %[[CHUNK:.*]] = arith.remui %[[I]], %[[FOUR]] : index
// SPLIT: memref.subview %{{.*}}[%[[SAMPLE]], 0, 0, 0] [1, 3, 6, 20]
// SPLIT: %[[ROWS:.*]] = arith.divui %[[CHUNK]], %{{.*}} : index
// SPLIT: arith.muli %[[ROWS]], %{{.*}} : index
// SPLIT: %[[BLOCKS:.*]] = arith.remui %[[CHUNK]], %{{.*}} : index
// SPLIT: arith.minsi %[[BLOCKS]], %{{.*}} : index
func.func @conv_bn_relu(%x: tensor<2x3x6x20xf32> {nsl.name = "x", nsl.role = "input"},
                        %w: tensor<8x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
                        %b: tensor<8xf32> {nsl.name = "b", nsl.role = "parameter"},
                        %g: tensor<8xf32> {nsl.name = "g", nsl.role = "parameter"},
                        %h: tensor<8xf32> {nsl.name = "h", nsl.role = "parameter"},
                        %m: tensor<8xf32> {nsl.name = "m", nsl.role = "buffer"},
                        %v: tensor<8xf32> {nsl.name = "v", nsl.role = "buffer"}) -> tensor<2x8x6x20xf32> {
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<8xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x3x6x20xf32>, tensor<8x3x3x3xf32> -> tensor<2x8x6x20xf32>
  %1 = nsl.batch_norm %0, %g, %h, %m, %v : tensor<2x8x6x20xf32>, tensor<8xf32> -> tensor<2x8x6x20xf32>
  %2 = nsl.relu %1 : tensor<2x8x6x20xf32>
  return %2 : tensor<2x8x6x20xf32>
}

// A DNS layer: per block of pixels the masked taps m[t]·X_p[c,t] go to a
// [C, K, pixels] scratch once, which every output channel block reads.
// DNS: func.func @nsl_dns_k0
// DNS: %[[TAPS:.*]] = memref.alloc() : memref<2x9x8xf32>
// DNS: %[[M:.*]] = vector.load %{{.*}} : memref<1x9x8x8xf32, strided<{{.*}}>>, vector<8xf32>
// DNS: %[[X:.*]] = vector.load %{{.*}} : memref<2x10x1x10xf32>, vector<8xf32>
// DNS: %[[MX:.*]] = arith.mulf %[[X]], %[[M]] : vector<8xf32>
// DNS: vector.store %[[MX]], %[[TAPS]]
// DNS: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>)
// DNS: vector.load %[[TAPS]]
// DNS-NOT: arith.mulf
// DNS-COUNT-3: vector.fma
func.func @dns(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
               %w: tensor<6x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
               %m: tensor<1x9x8x8xf32> {nsl.name = "m", nsl.role = "input"}) -> tensor<1x6x8x8xf32> {
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x8x8xf32>) {padding = array<i64: 1, 1>}
      : tensor<1x2x8x8xf32>, tensor<6x2x3x3xf32> -> tensor<1x6x8x8xf32>
  return %0 : tensor<1x6x8x8xf32>
}

// SphereConv: ‖w_o‖ once per sample, ‖x_p‖ from the same input rows before
// the channel blocks, both applied in the epilogue.
// SPHERE: func.func @nsl_sphere_k0
// SPHERE: memref.alloc() : memref<4xf32>
// SPHERE: math.fma
// SPHERE: math.sqrt
// SPHERE: vector.fma
// SPHERE: math.rsqrt {{.*}} : vector<16xf32>
func.func @sphere(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
                  %w: tensor<4x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<1x4x8x8xf32> {
  %0 = nsl.sphere_conv2d cosine %x, %w {padding = array<i64: 1, 1>} : tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// Stride 2: the padded input is split by column phase, [C, Hp, 2, Wq], so
// the taps of consecutive output pixels stay contiguous: the copy stores
// element by element into the phases, the loads read phase kx·dw mod 2.
// A linear SphereConv takes the direct path too: g(θ) = 1 − 2θ/π of the
// cosine in the epilogue, acos as MLIR's polynomial approximation in
// vectors (no libm call per lane).
// STRIDED: func.func @nsl_strided_k0
// STRIDED: %[[PHASES:.*]] = memref.alloc() : memref<2x10x2x17xf32>
// STRIDED: memref.store %{{.*}}, %[[PHASES]][%{{.*}}, %{{.*}}, %c1{{.*}}, %c0
// STRIDED: vector.load %[[PHASES]][%{{.*}}, %{{.*}}, %c0{{.*}}, %{{.*}}] : memref<2x10x2x17xf32>, vector<16xf32>
// STRIDED: vector.load %[[PHASES]][%{{.*}}, %{{.*}}, %c1{{.*}}, %{{.*}}] : memref<2x10x2x17xf32>, vector<16xf32>
// STRIDED: vector.fma
// STRIDED-NOT: nsl.sim_conv2d
// STRIDED: func.func @nsl_strided_k1
// STRIDED-NOT: nsl.sphere_conv2d
// STRIDED: vector.fma
// STRIDED: math.rsqrt {{.*}} : vector<16xf32>
// STRIDED: math.sqrt {{.*}} : vector<16xf32>
// STRIDED-NOT: math.acos
// STRIDED-NOT: math.asin
// STRIDED: vector.maskedstore
func.func @strided(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"})
    -> (tensor<1x4x4x4xf32>, tensor<1x4x6x6xf32>) {
  %0 = nsl.sim_conv2d identity %x, %w {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x4x4xf32>
  %2 = nsl.sphere_conv2d linear %x, %w : tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0, %2 : tensor<1x4x4x4xf32>, tensor<1x4x6x6xf32>
}

// A UNS layer: per block of pixels the taps are mixed by M_p into scratch Z
// [C, K, pixels] once for all output channels (M_p[t, ·] held over the
// channel loop), then the channel blocks contract W with Z.
// RUN: nsl-opt %s --nsl-outline-kernels="function=uns" --nsl-emit-cpu-direct-convs="vector-width=8 conv-pixel-vectors=1" | FileCheck %s --check-prefix=UNS
// UNS: func.func @nsl_uns_k0
// UNS: memref.alloc() : memref<2x9x8xf32>
// UNS-COUNT-9: vector.maskedload %{{.*}} : memref<1x81x6x6xf32
// UNS: scf.for
// UNS-COUNT-9: vector.fma
// UNS: vector.store %{{.*}}, %{{.*}} : memref<2x9x8xf32>, vector<8xf32>
// UNS: vector.load %{{.*}} : memref<2x9x8xf32>, vector<8xf32>
func.func @uns(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
               %w: tensor<4x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
               %u: tensor<1x81x6x6xf32> {nsl.name = "u", nsl.role = "input"}) -> tensor<1x4x6x6xf32> {
  %0 = nsl.sim_conv2d full dynamic %x, %w similarity(%u : tensor<1x81x6x6xf32>)
      : tensor<1x2x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// Without fusion each op is its own kernel.
// NOFUSE: nsl.kernel = "nsl_conv_bn_relu_k0"
// NOFUSE: nsl.kernel = "nsl_conv_bn_relu_k1"
// NOFUSE: nsl.kernel = "nsl_conv_bn_relu_k2"

// A predicted DNS mask joins the kernel of its convolution: γ·P + 1 is an
// FMA on the loaded prediction, and the mask is never stored as such.
// RUN: nsl-opt %s --nsl-outline-kernels="function=predicted" --nsl-emit-cpu-direct-convs="vector-width=8" | FileCheck %s --check-prefix=PRED
// PRED: nsl.predicted_similarity {{.*}}nsl.kernel = "nsl_predicted_k0"
// PRED: nsl.sim_conv2d {{.*}}nsl.kernel = "nsl_predicted_k0"
// PRED: func.func @nsl_predicted_k0(%{{.*}}: memref<1x9x8x8xf32>, %{{.*}}: memref<f32>, %{{.*}}: memref<1x2x8x8xf32>, %{{.*}}: memref<6x2x3x3xf32>, %{{.*}}: memref<1x6x8x8xf32>, %{{.*}}: index, %{{.*}}: index)
// PRED: %[[GAMMA:.*]] = memref.load %{{.*}}[] : memref<f32>
// PRED: %[[G:.*]] = vector.broadcast %[[GAMMA]] : f32 to vector<8xf32>
// PRED: %[[P:.*]] = vector.load %{{.*}} : memref<1x9x8x8xf32
// PRED: %[[M:.*]] = vector.fma %[[P]], %[[G]], %{{.*}} : vector<8xf32>
// PRED: %[[X:.*]] = vector.load
// PRED: arith.mulf %[[X]], %[[M]] : vector<8xf32>
func.func @predicted(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
                     %w: tensor<6x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"},
                     %p: tensor<1x9x8x8xf32> {nsl.name = "p", nsl.role = "input"},
                     %g: tensor<f32> {nsl.name = "g", nsl.role = "parameter"}) -> tensor<1x6x8x8xf32> {
  %m = nsl.predicted_similarity diagonal %p, %g : tensor<1x9x8x8xf32>, tensor<f32> -> tensor<1x9x8x8xf32>
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x8x8xf32>) {padding = array<i64: 1, 1>}
      : tensor<1x2x8x8xf32>, tensor<6x2x3x3xf32> -> tensor<1x6x8x8xf32>
  return %0 : tensor<1x6x8x8xf32>
}

// A SphereConv predicting the DNS mask of a convolution on the same input
// and window is fused into it: per block of pixels the K predictor channels
// are accumulated from the padded input, scaled by 1/(‖p_t‖·‖x_p‖), turned
// into γ·P + 1 in a [K, pixels] mask block, which the channel blocks read.
// RUN: nsl-opt %s --nsl-outline-kernels="function=fused_predictor" --nsl-emit-cpu-direct-convs="vector-width=8 conv-pixel-vectors=1" | FileCheck %s --check-prefix=FUSED
// FUSED: nsl.sphere_conv2d {{.*}}nsl.kernel = "nsl_fused_predictor_k0"
// FUSED: nsl.predicted_similarity {{.*}}nsl.kernel = "nsl_fused_predictor_k0"
// FUSED: nsl.sim_conv2d {{.*}}nsl.kernel = "nsl_fused_predictor_k0"
// FUSED: nsl.relu {{.*}}nsl.kernel = "nsl_fused_predictor_k0"
// FUSED: func.func @nsl_fused_predictor_k0(%{{.*}}: memref<1x2x8x8xf32>, %{{.*}}: memref<9x2x3x3xf32>, %{{.*}}: memref<f32>, %{{.*}}: memref<6x2x3x3xf32>, %{{.*}}: memref<1x6x8x8xf32>, %{{.*}}: index, %{{.*}}: index)
// FUSED: memref.alloc() : memref<1x2x9x9xf32>
// FUSED: memref.alloc() : memref<9xf32>
// FUSED: %[[MASK:.*]] = memref.alloc() : memref<9x8xf32>
// FUSED: math.rsqrt {{.*}} : vector<8xf32>
// FUSED-COUNT-9: vector.store %{{.*}}, %[[MASK]]
// FUSED: vector.load %[[MASK]]
// FUSED: arith.mulf {{.*}} : vector<8xf32>
// FUSED: vector.store
// FUSED: arith.maximumf
// FUSED-NOT: nsl.sim_conv2d
func.func @fused_predictor(%x: tensor<1x2x8x8xf32> {nsl.name = "x", nsl.role = "input"},
                           %p: tensor<9x2x3x3xf32> {nsl.name = "p", nsl.role = "parameter"},
                           %g: tensor<f32> {nsl.name = "g", nsl.role = "parameter"},
                           %w: tensor<6x2x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<1x6x8x8xf32> {
  %q = nsl.sphere_conv2d cosine %x, %p {padding = array<i64: 1, 1>} : tensor<1x2x8x8xf32>, tensor<9x2x3x3xf32> -> tensor<1x9x8x8xf32>
  %m = nsl.predicted_similarity diagonal %q, %g : tensor<1x9x8x8xf32>, tensor<f32> -> tensor<1x9x8x8xf32>
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x8x8xf32>) {padding = array<i64: 1, 1>}
      : tensor<1x2x8x8xf32>, tensor<6x2x3x3xf32> -> tensor<1x6x8x8xf32>
  %1 = nsl.relu %0 : tensor<1x6x8x8xf32>
  return %1 : tensor<1x6x8x8xf32>
}
