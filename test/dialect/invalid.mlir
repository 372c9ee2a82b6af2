// Every verifier diagnostic of the nsl dialect, with its exact text.
// RUN: nsl-opt %s -split-input-file -verify-diagnostics

func.func @conv_input_rank(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'nsl.sim_conv2d' op input must be a 4-D tensor [N, C, H, W], got [3, 8, 8]}}
  %0 = nsl.sim_conv2d identity %x, %w : tensor<3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_weight_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x27xf32>) {
  // expected-error @+1 {{weight must be a 4-D tensor [O, C, kh, kw], got [4, 27]}}
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x8x8xf32>, tensor<4x27xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_groups_channels(%x: tensor<1x6x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{weight [4, 2, 3, 3] expects 2 × 2 groups = 4 input channels but the input [1, 6, 8, 8] has 6}}
  %0 = nsl.sim_conv2d identity %x, %w {groups = 2} : tensor<1x6x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_groups_input(%x: tensor<1x6x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{groups = 4 must divide the 6 input channels}}
  %0 = nsl.sim_conv2d identity %x, %w {groups = 4} : tensor<1x6x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_groups_output(%x: tensor<1x6x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{groups = 3 must divide the 4 output channels}}
  %0 = nsl.sim_conv2d identity %x, %w {groups = 3} : tensor<1x6x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_groups_zero(%x: tensor<1x6x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{groups must be positive, got 0}}
  %0 = nsl.sim_conv2d identity %x, %w {groups = 0} : tensor<1x6x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x8x4x4xf32>) {
  // expected-error @+1 {{'nsl.reshape' op shape [2, 8, 4, 5] holds 320 elements but the input [2, 8, 4, 4] holds 256}}
  %0 = nsl.reshape %x {shape = array<i64: 2, 8, 4, 5>} : tensor<2x8x4x4xf32> -> tensor<2x8x4x5xf32>
  return
}

// -----

func.func @reshape_rank(%x: tensor<2x8x4x4xf32>) {
  // expected-error @+1 {{'nsl.reshape' op shape must have rank 1 to 6, got [2, 2, 2, 2, 2, 2, 2, 2]}}
  %0 = nsl.reshape %x {shape = array<i64: 2, 2, 2, 2, 2, 2, 2, 2>} : tensor<2x8x4x4xf32> -> tensor<2x2x2x2x2x2x2x2xf32>
  return
}

// -----

func.func @reshape_sizes(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'nsl.reshape' op shape must have positive sizes, got [-1, 16]}}
  %0 = "nsl.reshape"(%x) <{shape = array<i64: -1, 16>}> : (tensor<2x8xf32>) -> tensor<1x16xf32>
  return
}

// -----

func.func @reshape_result(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'nsl.reshape' op result #0 must be 'tensor<16xf32>', got 'tensor<4x4xf32>'}}
  %0 = nsl.reshape %x {shape = array<i64: 16>} : tensor<2x8xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @transpose_permutation(%x: tensor<2x8x4x4xf32>) {
  // expected-error @+1 {{'nsl.transpose' op permutation [0, 2, 2, 1] must order the input's dimensions 0 to 3, each once}}
  %0 = nsl.transpose %x {permutation = array<i64: 0, 2, 2, 1>} : tensor<2x8x4x4xf32> -> tensor<2x4x4x8xf32>
  return
}

// -----

func.func @transpose_rank(%x: tensor<2x8x4x4xf32>) {
  // expected-error @+1 {{'nsl.transpose' op permutation [1, 0] must order the input's dimensions 0 to 3, each once}}
  %0 = nsl.transpose %x {permutation = array<i64: 1, 0>} : tensor<2x8x4x4xf32> -> tensor<8x2xf32>
  return
}

// -----

func.func @slice_dim(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'nsl.slice' op dim must be 0 to 1, got 2}}
  %0 = nsl.slice %x {dim = 2, start = 0, size = 1} : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @slice_range(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'nsl.slice' op the range [6, 10) must be non-empty and lie in [0, 8) along dim 1 of the input [2, 8]}}
  %0 = nsl.slice %x {dim = 1, start = 6, size = 4} : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @reduce_dims(%x: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'nsl.reduce_sum' op dims [2, 1] must be distinct ascending dimensions of the input [2, 8, 4], at least one}}
  %0 = nsl.reduce_sum %x {dims = array<i64: 2, 1>} : tensor<2x8x4xf32> -> tensor<2xf32>
  return
}

// -----

func.func @reduce_range(%x: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'nsl.reduce_max' op dims [3] must be distinct ascending dimensions of the input [2, 8, 4], at least one}}
  %0 = nsl.reduce_max %x {dims = array<i64: 3>} : tensor<2x8x4xf32> -> tensor<2x8x4xf32>
  return
}

// -----

func.func @reduce_empty(%x: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'nsl.reduce_mean' op dims [] must be distinct ascending dimensions of the input [2, 8, 4], at least one}}
  %0 = nsl.reduce_mean %x {dims = array<i64>} : tensor<2x8x4xf32> -> tensor<2x8x4xf32>
  return
}

// -----

func.func @reduce_result(%x: tensor<2x8x4xf32>) {
  // expected-error @+1 {{'nsl.reduce_mean' op result #0 must be 'tensor<2x1x4xf32>', got 'tensor<2x4xf32>'}}
  %0 = nsl.reduce_mean %x {dims = array<i64: 1>, keepdim} : tensor<2x8x4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @slice_vjp_upstream(%x: tensor<2x8xf32>, %g: tensor<2x3xf32>) {
  // expected-error @+1 {{'nsl.slice_vjp' op the upstream gradient must have the forward result type 'tensor<2x4xf32>', got 'tensor<2x3xf32>'}}
  %0 = nsl.slice_vjp %x grad(%g : tensor<2x3xf32>) wrt [0] {dim = 1, start = 0, size = 4} : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @concat_batch(%a: tensor<2x3x4x4xf32>, %b: tensor<2x3x4x4xf32>) {
  // expected-error @+1 {{dim must be a dimension after the batch, 1 to 3, got 0}}
  %0 = nsl.concat %a, %b {dim = 0} : tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32> -> tensor<4x3x4x4xf32>
  return
}

// -----

func.func @concat_shapes(%a: tensor<2x3x4x4xf32>, %b: tensor<2x3x5x4xf32>) {
  // expected-error @+1 {{input #1 [2, 3, 5, 4] must have the shape of input #0 [2, 3, 4, 4] but along dim 1}}
  %0 = nsl.concat %a, %b {dim = 1} : tensor<2x3x4x4xf32>, tensor<2x3x5x4xf32> -> tensor<2x6x4x4xf32>
  return
}

// -----

func.func @concat_result(%a: tensor<2x3x4x4xf32>, %b: tensor<2x2x4x4xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<2x5x4x4xf32>', got 'tensor<2x6x4x4xf32>'}}
  %0 = nsl.concat %a, %b {dim = 1} : tensor<2x3x4x4xf32>, tensor<2x2x4x4xf32> -> tensor<2x6x4x4xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{weight [4, 2, 3, 3] expects 2 input channels but the input [1, 3, 8, 8] has 3}}
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_stride_zero(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{stride values must be at least 1, got [0, 1]}}
  %0 = nsl.sim_conv2d identity %x, %w {stride = array<i64: 0, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_stride_arity(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{stride must have 2 values [height, width], got [1, 1, 1]}}
  %0 = nsl.sim_conv2d identity %x, %w {stride = array<i64: 1, 1, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_negative_padding(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{padding values must be at least 0, got [-1, 0]}}
  %0 = nsl.sim_conv2d identity %x, %w {padding = array<i64: -1, 0>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_dilation_zero(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{dilation values must be at least 1, got [1, 0]}}
  %0 = nsl.sim_conv2d identity %x, %w {dilation = array<i64: 1, 0>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_window_too_large(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{the 3x3 window (dilation [2, 2], padding [0, 0]) does not fit the 4x4 input}}
  %0 = nsl.sim_conv2d identity %x, %w {dilation = array<i64: 2, 2>} : tensor<1x3x4x4xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x1x1xf32>
  return
}

// -----

func.func @conv_result_type(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<1x4x6x6xf32>', got 'tensor<1x4x8x8xf32>'}}
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x8x8xf32>
  return
}

// -----

func.func @conv_bias_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{bias must have shape [O] = [4], got [3]}}
  %0 = nsl.sim_conv2d identity %x, %w bias(%b : tensor<3xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_operand_count(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{structure 'identity' takes 0 similarity operand(s) (none), got 1}}
  %0 = nsl.sim_conv2d identity %x, %w similarity(%m : tensor<9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_shape_masked_count(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{structure 'shape_masked' takes 2 similarity operand(s) (d_r, R), got 1}}
  %0 = nsl.sim_conv2d shape_masked %x, %w similarity(%m : tensor<9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_diagonal_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<3x3xf32>) {
  // expected-error @+1 {{static diagonal similarity operand m must have shape [9] for K = 9 taps, got [3, 3]}}
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<3x3xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_full_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<4x4xf32>) {
  // expected-error @+1 {{static full similarity operand M must have shape [9, 9] for K = 9 taps, got [4, 4]}}
  %0 = nsl.sim_conv2d full %x, %w similarity(%m : tensor<4x4xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_cholesky_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{static cholesky similarity operand L must have shape [9, 9] for K = 9 taps, got [9]}}
  %0 = nsl.sim_conv2d cholesky %x, %w similarity(%m : tensor<9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_shape_masked_r(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %d: tensor<9xf32>, %r: tensor<9x4xf32>) {
  // expected-error @+1 {{static shape_masked similarity operand R must have shape [9] or [9, 9] for K = 9 taps, got [9, 4]}}
  %0 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %r : tensor<9xf32>, tensor<9x4xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_shape_masked_dr(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %d: tensor<8xf32>, %r: tensor<9xf32>) {
  // expected-error @+1 {{static shape_masked similarity operand d_r must have shape [9] for K = 9 taps, got [8]}}
  %0 = nsl.sim_conv2d shape_masked %x, %w similarity(%d, %r : tensor<8xf32>, tensor<9xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_alpha(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{'alpha' (the kernel shape threshold) applies only to the shape_masked structure}}
  %0 = nsl.sim_conv2d diagonal %x, %w similarity(%m : tensor<9xf32>) {alpha = 1.0 : f32} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @dynamic_cholesky(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<1x81x6x6xf32>) {
  // expected-error @+1 {{structure 'cholesky' cannot be dynamic (dynamic structures: diagonal, full, shape_masked)}}
  %0 = nsl.sim_conv2d cholesky dynamic %x, %w similarity(%m : tensor<1x81x6x6xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @dynamic_identity(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{structure 'identity' cannot be dynamic (dynamic structures: diagonal, full, shape_masked)}}
  %0 = nsl.sim_conv2d identity dynamic %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @dynamic_spatial(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x9x8x8xf32>) {
  // expected-error @+1 {{dynamic diagonal similarity operand m must have shape [2, 9, 6, 6] (N, K, Ho, Wo) for K = 9 taps and the 6x6 output, got [2, 9, 8, 8]}}
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x8x8xf32>) : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @dynamic_stride(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x9x8x8xf32>) {
  // expected-error @+1 {{dynamic diagonal similarity operand m must have shape [2, 9, 4, 4] (N, K, Ho, Wo) for K = 9 taps and the 4x4 output, got [2, 9, 8, 8]}}
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x9x8x8xf32>) {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x4x4xf32>
  return
}

// -----

func.func @dynamic_batch(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<1x9x6x6xf32>) {
  // expected-error @+1 {{dynamic diagonal similarity operand m must have shape [2, 9, 6, 6] (N, K, Ho, Wo) for K = 9 taps and the 6x6 output, got [1, 9, 6, 6]}}
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<1x9x6x6xf32>) : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @dynamic_dns_given_uns(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x81x6x6xf32>) {
  // expected-error @+1 {{dynamic diagonal similarity operand m must have shape [2, 9, 6, 6] (N, K, Ho, Wo) for K = 9 taps and the 6x6 output, got [2, 81, 6, 6] (K·K channels is the layout of a full (UNS) similarity)}}
  %0 = nsl.sim_conv2d diagonal dynamic %x, %w similarity(%m : tensor<2x81x6x6xf32>) : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @dynamic_uns_given_dns(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x9x6x6xf32>) {
  // expected-error @+1 {{dynamic full similarity operand M must have shape [2, 81, 6, 6] (N, K·K, Ho, Wo) for K = 9 taps and the 6x6 output, got [2, 9, 6, 6] (K channels is the layout of a diagonal (DNS) similarity)}}
  %0 = nsl.sim_conv2d full dynamic %x, %w similarity(%m : tensor<2x9x6x6xf32>) : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @dynamic_shape_masked_r(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %d: tensor<9xf32>, %r: tensor<2x9x5x6xf32>) {
  // expected-error @+1 {{dynamic shape_masked similarity operand R must have shape [2, 9, 6, 6] (N, K, Ho, Wo) or [2, 81, 6, 6] (N, K·K, Ho, Wo) for K = 9 taps and the 6x6 output, got [2, 9, 5, 6]}}
  %0 = nsl.sim_conv2d shape_masked dynamic %x, %w similarity(%d, %r : tensor<9xf32>, tensor<2x9x5x6xf32>) : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @sphere_needs_k(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{variant 'learned_sigmoid' needs a k_param operand of shape [O] = [4]}}
  %0 = nsl.sphere_conv2d learned_sigmoid %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_unused_k(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %k: tensor<4xf32>) {
  // expected-error @+1 {{k_param is only used by the 'learned_sigmoid' variant, not by 'sigmoid'}}
  %0 = nsl.sphere_conv2d sigmoid %x, %w k_param(%k : tensor<4xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_k_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %k: tensor<3xf32>) {
  // expected-error @+1 {{k_param must have shape [O] = [4], got [3]}}
  %0 = nsl.sphere_conv2d learned_sigmoid %x, %w k_param(%k : tensor<3xf32>) : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_input_only(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'input_only' applies to the cosine variant only, got 'linear'}}
  %0 = nsl.sphere_conv2d linear input_only %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_epsilon(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %0 = nsl.sphere_conv2d cosine %x, %w {epsilon = 0.0 : f32} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_sigmoid_k(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{sigmoid_k must be positive, got -1}}
  %0 = nsl.sphere_conv2d sigmoid %x, %w {sigmoid_k = -1.0 : f32} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @sphere_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x5x3x3xf32>) {
  // expected-error @+1 {{weight [4, 5, 3, 3] expects 5 input channels but the input [1, 3, 8, 8] has 3}}
  %0 = nsl.sphere_conv2d cosine %x, %w : tensor<1x3x8x8xf32>, tensor<4x5x3x3xf32> -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @patch_norm_kernel(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{kernel size must have 2 values [height, width], got [3]}}
  %0 = nsl.patch_norm %x {kernel_size = array<i64: 3>} : tensor<1x3x8x8xf32> -> tensor<1x1x6x6xf32>
  return
}

// -----

func.func @patch_norm_kernel_zero(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{kernel size values must be at least 1, got [0, 3]}}
  %0 = nsl.patch_norm %x {kernel_size = array<i64: 0, 3>} : tensor<1x3x8x8xf32> -> tensor<1x1x6x6xf32>
  return
}

// -----

func.func @patch_norm_epsilon(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{epsilon must be positive, got -1}}
  %0 = nsl.patch_norm %x {kernel_size = array<i64: 3, 3>, epsilon = -1.0 : f32} : tensor<1x3x8x8xf32> -> tensor<1x1x6x6xf32>
  return
}

// -----

func.func @patch_norm_result(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<1x1x6x6xf32>', got 'tensor<1x3x6x6xf32>'}}
  %0 = nsl.patch_norm %x {kernel_size = array<i64: 3, 3>} : tensor<1x3x8x8xf32> -> tensor<1x3x6x6xf32>
  return
}

// -----

func.func @predicted_structure(%p: tensor<1x9x4x4xf32>, %g: tensor<f32>) {
  // expected-error @+1 {{a predicted similarity is 'diagonal' (DNS) or 'full' (UNS), got 'cholesky'}}
  %0 = nsl.predicted_similarity cholesky %p, %g : tensor<1x9x4x4xf32>, tensor<f32> -> tensor<1x9x4x4xf32>
  return
}

// -----

func.func @predicted_not_square(%p: tensor<1x10x4x4xf32>, %g: tensor<f32>) {
  // expected-error @+1 {{a full (UNS) prediction needs K·K channels, got 10 (not a square)}}
  %0 = nsl.predicted_similarity full %p, %g : tensor<1x10x4x4xf32>, tensor<f32> -> tensor<1x10x4x4xf32>
  return
}

// -----

func.func @predicted_gamma(%p: tensor<1x9x4x4xf32>, %g: tensor<3xf32>) {
  // expected-error @+1 {{gamma must have one element (shape [] or [1]), got [3]}}
  %0 = nsl.predicted_similarity diagonal %p, %g : tensor<1x9x4x4xf32>, tensor<3xf32> -> tensor<1x9x4x4xf32>
  return
}

// -----

func.func @predicted_rank(%p: tensor<9x4x4xf32>, %g: tensor<f32>) {
  // expected-error @+1 {{prediction must be a 4-D tensor [N, K or K·K, Ho, Wo], got [9, 4, 4]}}
  %0 = nsl.predicted_similarity diagonal %p, %g : tensor<9x4x4xf32>, tensor<f32> -> tensor<9x4x4xf32>
  return
}

// -----

func.func @sim_linear_group(%x: tensor<2x10xf32>, %w: tensor<3x10xf32>, %m: tensor<4x4xf32>) {
  // expected-error @+1 {{group_size 4 does not divide the 10 input features}}
  %0 = nsl.sim_linear full %x, %w similarity(%m : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<2x10xf32>, tensor<3x10xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @sim_linear_features(%x: tensor<2x8xf32>, %w: tensor<3x12xf32>, %m: tensor<4x4xf32>) {
  // expected-error @+1 {{weight [3, 12] expects 12 input features but the input [2, 8] has 8}}
  %0 = nsl.sim_linear full %x, %w similarity(%m : tensor<4x4xf32>) {group_size = 4 : i64} : tensor<2x8xf32>, tensor<3x12xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @sim_linear_similarity(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>, %m: tensor<2x2xf32>) {
  // expected-error @+1 {{static full similarity operand M must have shape [4, 4] for K = 4 taps, got [2, 2]}}
  %0 = nsl.sim_linear full %x, %w similarity(%m : tensor<2x2xf32>) {group_size = 4 : i64} : tensor<2x8xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @sim_linear_group_positive(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) {
  // expected-error @+1 {{attribute 'group_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = nsl.sim_linear identity %x, %w {group_size = 0 : i64} : tensor<2x8xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @sim_linear_rank(%x: tensor<2x2x4xf32>, %w: tensor<3x8xf32>) {
  // expected-error @+1 {{input must be a 2-D tensor [N, F], got [2, 2, 4]}}
  %0 = nsl.sim_linear identity %x, %w {group_size = 4 : i64} : tensor<2x2x4xf32>, tensor<3x8xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @fold_conv_group(%w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{group_size applies to a linear weight [O, F], not to a convolution weight [4, 3, 3, 3]}}
  %0 = nsl.fold_similarity diagonal %w similarity(%m : tensor<9xf32>) {group_size = 9 : i64} : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
  return
}

// -----

func.func @fold_linear_needs_group(%w: tensor<4x8xf32>, %m: tensor<8xf32>) {
  // expected-error @+1 {{a linear weight [O, F] needs group_size}}
  %0 = nsl.fold_similarity diagonal %w similarity(%m : tensor<8xf32>) : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @fold_weight_rank(%w: tensor<4x3x9xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{weight must be a convolution weight [O, C, kh, kw] or a linear weight [O, F], got [4, 3, 9]}}
  %0 = nsl.fold_similarity diagonal %w similarity(%m : tensor<9xf32>) : tensor<4x3x9xf32> -> tensor<4x3x9xf32>
  return
}

// -----

func.func @fold_group_divides(%w: tensor<4x8xf32>, %m: tensor<3xf32>) {
  // expected-error @+1 {{group_size 3 does not divide the 8 input features}}
  %0 = nsl.fold_similarity diagonal %w similarity(%m : tensor<3xf32>) {group_size = 3 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @fold_result(%w: tensor<4x3x3x3xf32>, %m: tensor<9xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<4x3x3x3xf32>', got 'tensor<4x27xf32>'}}
  %0 = nsl.fold_similarity diagonal %w similarity(%m : tensor<9xf32>) : tensor<4x3x3x3xf32> -> tensor<4x27xf32>
  return
}

// -----

func.func @bn_rank(%x: tensor<2x4x8xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{input must be [N, C] or [N, C, H, W], got [2, 4, 8]}}
  %0 = nsl.batch_norm %x, %p, %p, %p, %p : tensor<2x4x8xf32>, tensor<4xf32> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @bn_channels(%x: tensor<2x4x3x3xf32>, %p: tensor<8xf32>) {
  // expected-error @+1 {{weight must have shape [C] = [4], got [8]}}
  %0 = nsl.batch_norm %x, %p, %p, %p, %p : tensor<2x4x3x3xf32>, tensor<8xf32> -> tensor<2x4x3x3xf32>
  return
}

// -----

func.func @bn_parameter_types(%x: tensor<2x4x3x3xf32>, %p: tensor<4xf32>, %q: tensor<5xf32>) {
  // expected-error @+1 {{failed to verify that all of {weight, bias, running_mean, running_var} have same type}}
  %0 = "nsl.batch_norm"(%x, %p, %p, %p, %q) : (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<5xf32>) -> tensor<2x4x3x3xf32>
  return
}

// -----

func.func @bn_epsilon(%x: tensor<2x4x3x3xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %0 = nsl.batch_norm %x, %p, %p, %p, %p {epsilon = 0.0 : f32} : tensor<2x4x3x3xf32>, tensor<4xf32> -> tensor<2x4x3x3xf32>
  return
}

// -----

func.func @bn_train_momentum(%x: tensor<2x4x3x3xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 2}}
  %0:5 = nsl.batch_norm_train %x, %p, %p, %p, %p {momentum = 2.0 : f32} : tensor<2x4x3x3xf32>, tensor<4xf32> -> tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bn_train_single_value(%x: tensor<1x4xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{training batch norm needs more than one value per channel to estimate the variance, got input [1, 4]}}
  %0:5 = nsl.batch_norm_train %x, %p, %p, %p, %p : tensor<1x4xf32>, tensor<4xf32> -> tensor<1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bn_train_results(%x: tensor<2x4xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{result #2 must be 'tensor<4xf32>', got 'tensor<2x4xf32>'}}
  %0:5 = "nsl.batch_norm_train"(%x, %p, %p, %p, %p) : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @max_pool_padding(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{padding [2, 2] must be at most half of the kernel size [3, 3]}}
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 3, 3>, padding = array<i64: 2, 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x10x10xf32>
  return
}

// -----

func.func @max_pool_kernel_missing(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{requires attribute 'kernel_size'}}
  %0 = nsl.max_pool2d %x : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @max_pool_rank(%x: tensor<3x8x8xf32>) {
  // expected-error @+1 {{input must be a 4-D tensor [N, C, H, W], got [3, 8, 8]}}
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 2, 2>} : tensor<3x8x8xf32> -> tensor<3x7x7xf32>
  return
}

// -----

func.func @avg_pool_padding(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{padding [1, 2] must be at most half of the kernel size [2, 2]}}
  %0 = nsl.avg_pool2d %x {kernel_size = array<i64: 2, 2>, padding = array<i64: 1, 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x9x11xf32>
  return
}

// -----

func.func @avg_pool_result(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<1x3x4x4xf32>', got 'tensor<1x3x8x8xf32>'}}
  %0 = nsl.avg_pool2d %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @max_pool_ceil_result(%x: tensor<1x3x7x7xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<1x3x4x4xf32>', got 'tensor<1x3x3x3xf32>'}}
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true} : tensor<1x3x7x7xf32> -> tensor<1x3x3x3xf32>
  return
}

// -----

func.func @max_pool_ceil_too_small(%x: tensor<1x3x1x1xf32>) {
  // expected-error @+1 {{the 3x3 window (dilation [1, 1], padding [0, 0], ceil_mode) does not fit the 1x1 input}}
  %0 = nsl.max_pool2d %x {kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>, ceil_mode = true} : tensor<1x3x1x1xf32> -> tensor<1x3x1x1xf32>
  return
}

// -----

func.func @avg_pool_ceil_result(%x: tensor<1x3x7x7xf32>) {
  // A fifth window would start in the right padding: PyTorch drops it.
  // expected-error @+1 {{result #0 must be 'tensor<1x3x4x4xf32>', got 'tensor<1x3x5x5xf32>'}}
  %0 = nsl.avg_pool2d %x {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, ceil_mode = true} : tensor<1x3x7x7xf32> -> tensor<1x3x5x5xf32>
  return
}

// -----

func.func @adaptive_pool_rank(%x: tensor<3x8x8xf32>) {
  // expected-error @+1 {{input must be a 4-D tensor [N, C, H, W], got [3, 8, 8]}}
  %0 = nsl.adaptive_avg_pool2d %x {output_size = array<i64: 2, 2>} : tensor<3x8x8xf32> -> tensor<3x8x2x2xf32>
  return
}

// -----

func.func @adaptive_pool_size_count(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{output size must have 2 values [height, width], got [2]}}
  %0 = nsl.adaptive_max_pool2d %x {output_size = array<i64: 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x2x2xf32>
  return
}

// -----

func.func @adaptive_pool_size_zero(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{output size values must be at least 1, got [0, 2]}}
  %0 = nsl.adaptive_avg_pool2d %x {output_size = array<i64: 0, 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x0x2xf32>
  return
}

// -----

func.func @adaptive_pool_result(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<1x3x7x7xf32>', got 'tensor<1x3x8x8xf32>'}}
  %0 = nsl.adaptive_max_pool2d %x {output_size = array<i64: 7, 7>} : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @adaptive_pool_size_missing(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{requires attribute 'output_size'}}
  %0 = nsl.adaptive_avg_pool2d %x : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @adaptive_pool_vjp_gradient(%x: tensor<1x3x8x8xf32>, %g: tensor<1x3x3x3xf32>) {
  // expected-error @+1 {{'nsl.adaptive_avg_pool2d_vjp' op the upstream gradient must have the forward result type 'tensor<1x3x2x2xf32>', got 'tensor<1x3x3x3xf32>'}}
  %0 = nsl.adaptive_avg_pool2d_vjp %x grad(%g : tensor<1x3x3x3xf32>) wrt [0] {output_size = array<i64: 2, 2>} : tensor<1x3x8x8xf32> -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @global_pool_rank(%x: tensor<3x8xf32>) {
  // expected-error @+1 {{input must be a 4-D tensor [N, C, H, W], got [3, 8]}}
  %0 = nsl.global_avg_pool2d %x : tensor<3x8xf32> -> tensor<3x8x1x1xf32>
  return
}

// -----

func.func @linear_features(%x: tensor<2x5xf32>, %w: tensor<3x4xf32>) {
  // expected-error @+1 {{weight [3, 4] expects 4 input features but the input [2, 5] has 5}}
  %0 = nsl.linear %x, %w : tensor<2x5xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{weight must be a 2-D tensor [O, F], got [4]}}
  %0 = nsl.linear %x, %w : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{bias must have shape [O] = [3], got [4]}}
  %0 = nsl.linear %x, %w bias(%b : tensor<4xf32>) : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @add_types(%a: tensor<2x4xf32>, %b: tensor<2x5xf32>) {
  // expected-error @+1 {{'nsl.add' op operands of shapes [2, 4] and [2, 5] do not broadcast (a dimension must be equal or 1)}}
  %0 = "nsl.add"(%a, %b) : (tensor<2x4xf32>, tensor<2x5xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @mul_result(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'nsl.mul' op the operands broadcast to 'tensor<2x4xf32>', but the result is 'tensor<4xf32>'}}
  %0 = "nsl.mul"(%a, %b) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @mul_vjp_grad(%a: tensor<2x4xf32>, %b: tensor<4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'nsl.mul_vjp' op the upstream gradient must have the forward result type 'tensor<2x4xf32>', got 'tensor<4xf32>'}}
  %0 = nsl.mul_vjp %a, %b grad(%g : tensor<4xf32>) wrt [1] : tensor<2x4xf32>, tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @mul_vjp_type(%a: tensor<2x4xf32>, %b: tensor<4xf32>, %g: tensor<2x4xf32>) {
  // expected-error @+1 {{'nsl.mul_vjp' op the gradient of operand 1 must have its type 'tensor<4xf32>', got 'tensor<2x4xf32>'}}
  %0 = nsl.mul_vjp %a, %b grad(%g : tensor<2x4xf32>) wrt [1] : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @relu_types(%a: tensor<2x4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "nsl.relu"(%a) : (tensor<2x4xf32>) -> tensor<4x2xf32>
  return
}

// -----

func.func @flatten_rank(%x: tensor<8xf32>) {
  // expected-error @+1 {{input must have a batch dimension and at least one more, got [8]}}
  %0 = nsl.flatten %x : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

func.func @flatten_result(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{result #0 must be 'tensor<2x12xf32>', got 'tensor<6x4xf32>'}}
  %0 = nsl.flatten %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  return
}

// -----

func.func @cross_entropy_labels(%l: tensor<4x10xf32>, %y: tensor<3xi64>) {
  // expected-error @+1 {{labels must have shape [N] = [4] to match the logits [4, 10], got [3]}}
  %0 = nsl.softmax_cross_entropy %l, %y : tensor<4x10xf32>, tensor<3xi64> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_smoothing(%l: tensor<4x10xf32>, %y: tensor<4xi64>) {
  // expected-error @+1 {{label_smoothing must be in [0, 1], got 1.5}}
  %0 = nsl.softmax_cross_entropy %l, %y {label_smoothing = 1.5 : f32} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_rank(%l: tensor<4x10x1xf32>, %y: tensor<4xi64>) {
  // expected-error @+1 {{logits must be a 2-D tensor [N, C], got [4, 10, 1]}}
  %0 = nsl.softmax_cross_entropy %l, %y : tensor<4x10x1xf32>, tensor<4xi64> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_label_type(%l: tensor<4x10xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = "nsl.softmax_cross_entropy"(%l, %y) : (tensor<4x10xf32>, tensor<4xf32>) -> tensor<f32>
  return
}

// -----

func.func @dynamic_shapes(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 32-bit float values, but got 'tensor<?x3x8x8xf32>'}}
  %0 = "nsl.sim_conv2d"(%x, %w) <{structure = 0 : i32, operandSegmentSizes = array<i32: 1, 1, 0, 0>}> : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

// expected-error @+1 {{argument #1 of @forward: 'nsl.role' must be one of input, parameter, buffer, label, optimizer_state, learning_rate, derived; got "weights"}}
func.func @forward(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<2xf32> {nsl.name = "w", nsl.role = "weights"}) {
  return
}

// -----

// expected-error @+1 {{argument #1 of @forward: 'nsl.name' "x" is already the name of argument #0}}
func.func @forward(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<2xf32> {nsl.name = "x", nsl.role = "parameter"}) {
  return
}

// -----

// expected-error @+1 {{argument #0 of @forward: 'nsl.name' must be a non-empty string}}
func.func @forward(%x: tensor<2xf32> {nsl.name = 3 : i64, nsl.role = "input"}) {
  return
}

// -----

// expected-error @+1 {{argument #0 of @forward: has 'nsl.role' but no 'nsl.name'; model arguments need both}}
func.func @forward(%x: tensor<2xf32> {nsl.role = "input"}) {
  return
}

// -----

// expected-error @+1 {{argument #0 of @forward: unknown argument attribute 'nsl.kind' (the nsl argument attributes are 'nsl.name' and 'nsl.role')}}
func.func @forward(%x: tensor<2xf32> {nsl.kind = "input"}) {
  return
}

// -----

// expected-error @+1 {{result #0: 'nsl.name' must be a non-empty string}}
func.func @forward(%x: tensor<2xf32>) -> (tensor<2xf32> {nsl.name = ""}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{unknown result attribute 'nsl.role' (the nsl result attribute is 'nsl.name')}}
func.func @forward(%x: tensor<2xf32>) -> (tensor<2xf32> {nsl.role = "output"}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{'nsl.prepared_by' names @missing, which is not a function of the module}}
func.func @forward(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32>
    attributes {nsl.prepared_by = @missing} {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{'nsl.prepared_by' must be a symbol reference on a function}}
func.func @forward(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32>
    attributes {nsl.prepared_by = "prepare_forward"} {
  return %x : tensor<2xf32>
}
