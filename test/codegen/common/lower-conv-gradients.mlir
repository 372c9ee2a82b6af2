// The lowering of the VJPs of the convolution family (sim_conv2d,
// sphere_conv2d, patch_norm, predicted_similarity, fold_similarity) to
// linalg/tensor/arith/math on tensors: with the CPU's explicit vector loops
// for the heaviest contractions (--nsl-cpu-lower-to-linalg), of the vector
// width asked for, or target-independent linalg only (--nsl-lower-to-linalg).
// RUN: nsl-opt %s --nsl-cpu-lower-to-linalg=vector-width=16 --split-input-file | FileCheck %s
// No nsl op survives, and the result verifies.
// RUN: nsl-opt %s --nsl-cpu-lower-to-linalg=vector-width=16 --split-input-file | FileCheck %s --check-prefix=NONSL
// NONSL-NOT: nsl.
// RUN: nsl-opt %s --nsl-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=GENERIC
// GENERIC-NOT: nsl.
// GENERIC-NOT: vector.
// RUN: nsl-opt %s --nsl-cpu-lower-to-linalg=vector-width=8 --split-input-file | FileCheck %s --check-prefix=AVX2
// AVX2: vector.transfer_read {{.*}} vector<8xf32>
// AVX2-NOT: vector<16xf32>

// Plain convolution, stride (1, 2), padding (1, 2), dilation (2, 1):
// ∂X gathers (vector loops) from the upstream gradient zero-upsampled by
// the stride (offset ((kh−1)·dh, (kw−1)·dw) = (4, 2)) with the flipped taps;
// ∂W reads the padded input's 2 column phases (strided slices, copied
// contiguous) so that each window column is a contiguous vector; ∂bias sums
// in f64.
// CHECK-LABEL: func.func @conv_identity
// CHECK: %[[UP:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 4, 2] [2, 4, 7, 5] [1, 1, 1, 2] : tensor<2x4x7x5xf32> into tensor<2x4x15x13xf32>
// CHECK: %[[DX:.*]] = scf.for
// CHECK: vector.transfer_read %[[UP]]{{.*}} : tensor<2x4x15x13xf32>, vector<16xf32>
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<2x3x9x7xf32>
// CHECK: %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 2] high[0, 0, 1, 2]
// CHECK: %[[P0:.*]] = tensor.extract_slice %[[PAD]][0, 0, 0, 0] [2, 3, 11, 6] [1, 1, 1, 2]
// CHECK: linalg.copy ins(%[[P0]] : tensor<2x3x11x6xf32>)
// CHECK: %[[P1:.*]] = tensor.extract_slice %[[PAD]][0, 0, 0, 1] [2, 3, 11, 5] [1, 1, 1, 2]
// CHECK: linalg.copy ins(%[[P1]] : tensor<2x3x11x5xf32>)
// CHECK: %[[DW:.*]] = scf.for
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "reduction", "reduction"]} ins(%{{.*}} : tensor<2x4x7x5xf32>) outs(%{{.*}} : tensor<4xf64>)
// CHECK: arith.extf
// CHECK: %[[DB:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4xf64>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: arith.truncf
// CHECK: return %[[DX]], %[[DW]], %[[DB]]
func.func @conv_identity(%x: tensor<2x3x9x7xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %g: tensor<2x4x7x5xf32>) -> (tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) {
  %0:3 = nsl.sim_conv2d_vjp identity %x, %w bias(%b : tensor<4xf32>) grad(%g : tensor<2x4x7x5xf32>) wrt [0, 1, 2]
      {stride = array<i64: 1, 2>, padding = array<i64: 1, 2>, dilation = array<i64: 2, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
}

// -----

// Only what `wrt` asks for: the weight gradient alone needs neither the
// upsampled gradient nor a bias sum. At stride 1 it is explicit vector code:
// for each sample, block of 4 output channels, input channel and kernel row,
// 4 × 3 accumulators of 16 lanes run over the rows and their pixel chunks
// (FMAs of the upstream gradient with the padded input, masked reads past
// the row), then reduce across lanes into ∂W[o, c, ky, kx] (+=).
// CHECK-LABEL: func.func @conv_weight_only
// CHECK-NOT: tensor.insert_slice
// CHECK: %[[PAD:.*]] = tensor.pad
// CHECK: scf.for
// CHECK: scf.for %[[O:.*]] = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.transfer_read %[[PAD]]{{.*}} : tensor<2x3x11x9xf32>, vector<16xf32>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x4x9x7xf32>, vector<16xf32>
// CHECK-COUNT-3: vector.fma
// CHECK: vector.reduction <add>
// CHECK: tensor.extract
// CHECK: arith.addf
// CHECK: tensor.insert
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @conv_weight_only(%x: tensor<2x3x9x7xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %g: tensor<2x4x9x7xf32>) -> tensor<4x3x3x3xf32> {
  %0 = nsl.sim_conv2d_vjp identity %x, %w bias(%b : tensor<4xf32>) grad(%g : tensor<2x4x9x7xf32>) wrt [1]
      {padding = array<i64: 1, 1>}
      : tensor<2x3x9x7xf32>, tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// -----

// The input gradient of a stride-1 DNS layer, as vector code: per sample,
// block of 4 input channels and row, accumulators over the row's pixel
// chunks gather the zero-padded upstream gradient times the padded mask of
// each tap (contiguous reads: stride 1) and a broadcast weight.
// CHECK-LABEL: func.func @conv_dns_input_stride1
// CHECK: %[[GU:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 2, 2] [2, 8, 6, 6] [1, 1, 1, 1] : tensor<2x8x6x6xf32> into tensor<2x8x10x10xf32>
// CHECK: scf.for
// CHECK: scf.for {{.*}} step %c4
// CHECK: scf.for
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.transfer_read %[[GU]]{{.*}} : tensor<2x8x10x10xf32>, vector<16xf32>
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: tensor.extract
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<2x4x6x6xf32>
func.func @conv_dns_input_stride1(%x: tensor<2x4x6x6xf32>, %w: tensor<8x4x3x3xf32>, %m: tensor<2x9x6x6xf32>, %g: tensor<2x8x6x6xf32>) -> tensor<2x4x6x6xf32> {
  %0 = nsl.sim_conv2d_vjp diagonal dynamic %x, %w similarity(%m : tensor<2x9x6x6xf32>) grad(%g : tensor<2x8x6x6xf32>) wrt [0]
      {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<8x4x3x3xf32> -> tensor<2x4x6x6xf32>
  return %0 : tensor<2x4x6x6xf32>
}

// -----

// DNS, stride 2, padding 1: the mask is upsampled like the gradient and read
// at the same position by ∂X; ∂W multiplies each tap by its mask; ∂m keeps
// D = Wᵀ·G in registers; both read the input's column phases; ∂m is
// collapsed back to [N, K, Ho, Wo].
// CHECK-LABEL: func.func @conv_dns
// CHECK: %[[MASK:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] output_shape [2, 3, 3, 4, 4] : tensor<2x9x4x4xf32> into tensor<2x3x3x4x4xf32>
// CHECK: %[[MU5:.*]] = tensor.insert_slice %[[MASK]] into %{{.*}}[0, 0, 0, 2, 2] [2, 3, 3, 4, 4] [1, 1, 1, 2, 2] : tensor<2x3x3x4x4xf32> into tensor<2x3x3x12x12xf32>
// CHECK: %[[GU:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 2, 2] [2, 5, 4, 4] [1, 1, 2, 2] : tensor<2x5x4x4xf32> into tensor<2x5x12x12xf32>
// CHECK: vector.transfer_read %[[GU]]{{.*}} : tensor<2x5x12x12xf32>, vector<16xf32>
// CHECK: vector.transfer_read %[[MU5]]{{.*}} : tensor<2x3x3x12x12xf32>, vector<16xf32>
// CHECK: tensor.extract_slice {{.*}} [1, 1, 1, 2]
// CHECK: vector.transfer_read %[[MASK]]{{.*}} : tensor<2x3x3x4x4xf32>, vector<16xf32>
// CHECK: vector.reduction <add>
// CHECK: %[[DM:.*]] = scf.for
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<2x3x3x4x4xf32>
// CHECK: tensor.collapse_shape %[[DM]] {{\[\[}}0], [1, 2], [3], [4]] : tensor<2x3x3x4x4xf32> into tensor<2x9x4x4xf32>
func.func @conv_dns(%x: tensor<2x3x8x8xf32>, %w: tensor<5x3x3x3xf32>, %m: tensor<2x9x4x4xf32>, %g: tensor<2x5x4x4xf32>) -> (tensor<2x3x8x8xf32>, tensor<5x3x3x3xf32>, tensor<2x9x4x4xf32>) {
  %0:3 = nsl.sim_conv2d_vjp diagonal dynamic %x, %w similarity(%m : tensor<2x9x4x4xf32>) grad(%g : tensor<2x5x4x4xf32>) wrt [0, 1, 2]
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<2x3x8x8xf32>, tensor<5x3x3x3xf32> -> tensor<2x3x8x8xf32>, tensor<5x3x3x3xf32>, tensor<2x9x4x4xf32>
  return %0#0, %0#1, %0#2 : tensor<2x3x8x8xf32>, tensor<5x3x3x3xf32>, tensor<2x9x4x4xf32>
}

// -----

// UNS weight gradient: the mixed taps Z[n,c,t,p] = Σ_s M_p[t,s]·Xp[n,c,
// window(p,s)] (vector loops: per row, one accumulator per tap t and chunk,
// each source tap's input row read once from the column phases: stride 2),
// then the vector weight gradient of a 1×1 convolution over C·K = 24
// channels.
// CHECK-LABEL: func.func @conv_uns_weight
// CHECK: %[[M7:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2, 3, 4], [5], [6]] output_shape [1, 2, 3, 2, 3, 4, 4]
// CHECK: tensor.extract_slice {{.*}} [1, 1, 1, 2]
// CHECK: %[[Z:.*]] = scf.for {{.*}} -> (tensor<1x4x2x3x4x4xf32>)
// CHECK: vector.transfer_read %[[M7]]
// CHECK: vector.fma
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<1x4x2x3x4x4xf32>
// CHECK: %[[ZF:.*]] = tensor.collapse_shape %[[Z]] {{\[\[}}0], [1, 2, 3], [4], [5]] : tensor<1x4x2x3x4x4xf32> into tensor<1x24x4x4xf32>
// CHECK: scf.for
// CHECK: vector.transfer_read %[[ZF]]
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: tensor.expand_shape {{.*}} : tensor<3x24xf32> into tensor<3x4x2x3xf32>
// CHECK: return
func.func @conv_uns_weight(%x: tensor<1x4x8x9xf32>, %w: tensor<3x4x2x3xf32>, %m: tensor<1x36x4x4xf32>, %g: tensor<1x3x4x4xf32>) -> tensor<3x4x2x3xf32> {
  %0 = nsl.sim_conv2d_vjp full dynamic %x, %w similarity(%m : tensor<1x36x4x4xf32>) grad(%g : tensor<1x3x4x4xf32>) wrt [1]
      {stride = array<i64: 2, 2>}
      : tensor<1x4x8x9xf32>, tensor<3x4x2x3xf32> -> tensor<3x4x2x3xf32>
  return %0 : tensor<3x4x2x3xf32>
}

// -----

// UNS input and similarity gradients share Q[n,c,t,p] = Σ_o G·W[o,c,t]
// (the gradient of the mixed taps, vector loops): ∂X mixes Q by M_p (Σ over
// t, vector loops with one accumulator per source tap and row chunk), then
// gathers the upsampled result over the source taps; ∂M contracts Q with the
// input window of the source tap over c (vector loops over the input's
// column phases: stride 2).
// CHECK-DAG: #[[RU:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5, d2 - d4 + 1, d3 - d5 + 2)>
// CHECK-LABEL: func.func @conv_uns_input
// CHECK: %[[Q:.*]] = scf.for
// CHECK: vector.fma
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<1x4x2x3x4x4xf32>
// CHECK: %[[R:.*]] = scf.for {{.*}} -> (tensor<1x4x2x3x4x4xf32>)
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.transfer_read %[[Q]]
// CHECK: %[[RUP:.*]] = tensor.insert_slice %[[R]] into %{{.*}}[0, 0, 0, 0, 1, 2] [1, 4, 2, 3, 4, 4] [1, 1, 1, 1, 2, 2]
// CHECK: %[[DX:.*]] = linalg.generic {indexing_maps = [#[[RU]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[RUP]] : tensor<1x4x2x3x9x11xf32>) outs(%{{.*}} : tensor<1x4x8x9xf32>)
// CHECK: tensor.extract_slice {{.*}} [1, 1, 1, 2]
// CHECK: %[[DM:.*]] = scf.for {{.*}} -> (tensor<1x2x3x2x3x4x4xf32>)
// CHECK: vector.transfer_read %[[Q]]
// CHECK: vector.fma
// CHECK: %[[DMC:.*]] = tensor.collapse_shape %[[DM]] {{\[\[}}0], [1, 2, 3, 4], [5], [6]] : tensor<1x2x3x2x3x4x4xf32> into tensor<1x36x4x4xf32>
// CHECK: return %[[DX]], %[[DMC]]
func.func @conv_uns_input(%x: tensor<1x4x8x9xf32>, %w: tensor<3x4x2x3xf32>, %m: tensor<1x36x4x4xf32>, %g: tensor<1x3x4x4xf32>) -> (tensor<1x4x8x9xf32>, tensor<1x36x4x4xf32>) {
  %0:2 = nsl.sim_conv2d_vjp full dynamic %x, %w similarity(%m : tensor<1x36x4x4xf32>) grad(%g : tensor<1x3x4x4xf32>) wrt [0, 2]
      {stride = array<i64: 2, 2>}
      : tensor<1x4x8x9xf32>, tensor<3x4x2x3xf32> -> tensor<1x4x8x9xf32>, tensor<1x36x4x4xf32>
  return %0#0, %0#1 : tensor<1x4x8x9xf32>, tensor<1x36x4x4xf32>
}

// -----

// SphereConv (learned sigmoid): the forward quantities are recomputed (the
// dot product as a named convolution, ‖x_p‖, ‖w_o‖), then g'(θ) through
// acos; ∂k' accumulates in f64.
// CHECK-LABEL: func.func @sphere_learned
// CHECK: linalg.conv_2d_nchw_fchw
// CHECK: math.sqrt
// CHECK: math.acos
// CHECK: math.rsqrt
// CHECK: tensor.insert_slice
// CHECK: outs(%{{.*}} : tensor<4xf64>)
// CHECK: math.absf
// CHECK: math.acos
// CHECK: arith.truncf
func.func @sphere_learned(%x: tensor<1x3x7x7xf32>, %w: tensor<4x3x3x3xf32>, %k: tensor<4xf32>, %g: tensor<1x4x4x4xf32>) -> (tensor<1x3x7x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) {
  %0:3 = nsl.sphere_conv2d_vjp learned_sigmoid %x, %w k_param(%k : tensor<4xf32>) grad(%g : tensor<1x4x4x4xf32>) wrt [0, 1, 2]
      {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : tensor<1x3x7x7xf32>, tensor<4x3x3x3xf32> -> tensor<1x3x7x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<1x3x7x7xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
}

// -----

// Patch norm: ∂X = X · (the adjoint box filter of G/‖x_p‖).
// CHECK-DAG: #[[BOX:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, 0, d1 - d3 * 2 + 5, d2 - d4 + 2)>
// CHECK-LABEL: func.func @patch_norm
// CHECK: math.sqrt
// CHECK: arith.divf
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 4, 2] [2, 1, 3, 3] [1, 1, 2, 2] : tensor<2x1x3x3xf32> into tensor<2x1x14x9xf32>
// CHECK: linalg.generic {indexing_maps = [#[[BOX]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} {{.*}} outs(%{{.*}} : tensor<2x8x7xf32>)
// CHECK: arith.mulf
func.func @patch_norm(%x: tensor<2x3x8x7xf32>, %g: tensor<2x1x3x3xf32>) -> tensor<2x3x8x7xf32> {
  %0 = nsl.patch_norm_vjp %x grad(%g : tensor<2x1x3x3xf32>) wrt [0] {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 0>, dilation = array<i64: 2, 1>} : tensor<2x3x8x7xf32> -> tensor<2x3x8x7xf32>
  return %0 : tensor<2x3x8x7xf32>
}

// -----

// Predicted similarity: ∂P = γ·G; ∂γ = Σ G·P in f64, reshaped to γ's [1].
// CHECK-LABEL: func.func @predicted
// CHECK: arith.mulf
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "reduction", "reduction"]} {{.*}} outs(%{{.*}} : tensor<f64>)
// CHECK: arith.truncf
// CHECK: tensor.expand_shape %{{.*}} [] output_shape [1] : tensor<f32> into tensor<1xf32>
func.func @predicted(%p: tensor<2x9x4x4xf32>, %gamma: tensor<1xf32>, %g: tensor<2x9x4x4xf32>) -> (tensor<2x9x4x4xf32>, tensor<1xf32>) {
  %0:2 = nsl.predicted_similarity_vjp diagonal %p, %gamma grad(%g : tensor<2x9x4x4xf32>) wrt [0, 1] : tensor<2x9x4x4xf32>, tensor<1xf32> -> tensor<2x9x4x4xf32>, tensor<1xf32>
  return %0#0, %0#1 : tensor<2x9x4x4xf32>, tensor<1xf32>
}

// -----

// Cholesky fold: G_M = Σ_r W[r,t]·G[r,s] over the weight's rows, then
// ∂L[t,j] = Σ_s (G_M[t,s] + G_M[s,t])·L[s,j] restricted to j ≤ t, s ≥ j.
// CHECK-DAG: #[[WR:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[GR:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func.func @fold_cholesky
// CHECK: %[[GM:.*]] = linalg.generic {indexing_maps = [#[[WR]], #[[GR]], {{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<12x9xf32>, tensor<12x9xf32>) outs(%{{.*}} : tensor<9x9xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[GM]], %[[GM]], %{{.*}} : tensor<9x9xf32>, tensor<9x9xf32>, tensor<9x9xf32>)
// CHECK: arith.cmpi ule
// CHECK: arith.cmpi uge
// CHECK: arith.select
func.func @fold_cholesky(%w: tensor<4x3x3x3xf32>, %l: tensor<9x9xf32>, %g: tensor<4x3x3x3xf32>) -> tensor<9x9xf32> {
  %0 = nsl.fold_similarity_vjp cholesky %w similarity(%l : tensor<9x9xf32>) grad(%g : tensor<4x3x3x3xf32>) wrt [1] : tensor<4x3x3x3xf32> -> tensor<9x9xf32>
  return %0 : tensor<9x9xf32>
}

// -----

// The DNS mask gradient at stride 1, as vector code: D = Σ_o G·W[o, c, t]
// stays in registers (block of channels × kw taps × row chunks) and is
// contracted with the shifted input rows; nothing of size C·K·Ho·Wo is
// materialised.
// CHECK-LABEL: func.func @conv_dns_mask_stride1
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for {{.*}} step %c4{{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.fma
// CHECK: vector.transfer_read %{{.*}} : tensor<2x4x8x8xf32>, vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<2x3x3x6x6xf32>
// CHECK: tensor.collapse_shape {{.*}} : tensor<2x3x3x6x6xf32> into tensor<2x9x6x6xf32>
// CHECK-NOT: tensor<2x4x3x3x6x6xf32>
func.func @conv_dns_mask_stride1(%x: tensor<2x4x6x6xf32>, %w: tensor<8x4x3x3xf32>, %m: tensor<2x9x6x6xf32>, %g: tensor<2x8x6x6xf32>) -> tensor<2x9x6x6xf32> {
  %0 = nsl.sim_conv2d_vjp diagonal dynamic %x, %w similarity(%m : tensor<2x9x6x6xf32>) grad(%g : tensor<2x8x6x6xf32>) wrt [2]
      {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<8x4x3x3xf32> -> tensor<2x9x6x6xf32>
  return %0 : tensor<2x9x6x6xf32>
}
