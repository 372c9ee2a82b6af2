// nsl-import translates scripted and traced PyTorch models into the nsl
// dialect: inputs, then parameters and buffers in state_dict order, named by
// their state_dict keys with their roles; every layer one nsl op.
// RUN: rm -rf %t && env PYTHONPATH=%nsl_src/frontend/python %python %nsl_src/examples/pytorch/make_models.py --out %t --only plain_cnn static_nsn dynamic_nsn shared_predictor > /dev/null
// RUN: nsl-import %t/plain_cnn.pt --input-shape 4x3x16x16 | FileCheck %s --check-prefix=CNN
// RUN: nsl-import %t/plain_cnn.traced.pt --input-shape 4x3x16x16 -o %t/plain_cnn.traced.mlir
// RUN: FileCheck %s --check-prefix=CNN < %t/plain_cnn.traced.mlir
// RUN: nsl-import %t/static_nsn.pt --input-shape 2x3x12x12 | FileCheck %s --check-prefix=STATIC
// RUN: nsl-import %t/static_nsn.traced.pt --input-shape 2x3x12x12 | FileCheck %s --check-prefix=STATIC
// RUN: nsl-import %t/dynamic_nsn.pt --input-shape 2x1x28x28 | FileCheck %s --check-prefix=DNS
// RUN: nsl-import %t/dynamic_nsn.traced.pt --input-shape 2x1x28x28 | FileCheck %s --check-prefix=DNS
// RUN: nsl-import %t/shared_predictor.pt --input-shape 2x6x10x10 | FileCheck %s --check-prefix=SHARED
// RUN: nsl-import %t/shared_predictor.traced.pt --input-shape 2x6x10x10 | FileCheck %s --check-prefix=SHARED
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %nsl_src/examples/pytorch/make_models.py --out %t --only dynamic_uns > /dev/null
// RUN: nsl-import %t/dynamic_uns.pt --input-shape 3x4x9x9 --input-shape 3 | FileCheck %s --check-prefix=UNS
// RUN: nsl-import %t/dynamic_uns.traced.pt --input-shape 3x4x9x9 --input-shape 3 | FileCheck %s --check-prefix=UNS
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/make_test_models.py --out %t
// RUN: nsl-import %t/legacy_linear.pt --input-shape 2x2x4x4 | FileCheck %s --check-prefix=LEGACY
// RUN: nsl-import %t/legacy_linear.traced.pt --input-shape 2x2x4x4 | FileCheck %s --check-prefix=LEGACY
// RUN: nsl-import %t/residual.traced.pt --input-shape 2x4x8x8 | FileCheck %s --check-prefix=RESIDUAL
// RUN: nsl-import %t/grouped_nsn.pt --input-shape 2x4x8x8 | FileCheck %s --check-prefix=GROUPED
// RUN: nsl-import %t/shapes.pt --input-shape 2x4x7x6 | FileCheck %s --check-prefix=SHAPES
// RUN: nsl-import %t/shapes.traced.pt --input-shape 2x4x7x6 | FileCheck %s --check-prefix=SHAPES
// RUN: nsl-import %t/grouped_nsn.traced.pt --input-shape 2x4x8x8 | FileCheck %s --check-prefix=GROUPED
// RUN: nsl-import %t/partial_pools.pt --input-shape 2x3x10x11 | FileCheck %s --check-prefix=POOLS
// RUN: nsl-import %t/partial_pools.traced.pt --input-shape 2x3x10x11 | FileCheck %s --check-prefix=POOLS
// The output verifies and round-trips through nsl-opt.
// RUN: nsl-opt %t/plain_cnn.traced.mlir | FileCheck %s --check-prefix=CNN

// CNN-LABEL: func.func @forward(
// CNN-SAME: %arg0: tensor<4x3x16x16xf32> {nsl.name = "x", nsl.role = "input"}
// CNN-SAME: %arg1: tensor<8x3x3x3xf32> {nsl.name = "conv1.weight", nsl.role = "parameter"}
// CNN-SAME: %arg2: tensor<8xf32> {nsl.name = "conv1.bias", nsl.role = "parameter"}
// CNN-SAME: %arg3: tensor<8xf32> {nsl.name = "bn1.weight", nsl.role = "parameter"}
// CNN-SAME: %arg4: tensor<8xf32> {nsl.name = "bn1.bias", nsl.role = "parameter"}
// CNN-SAME: %arg5: tensor<8xf32> {nsl.name = "bn1.running_mean", nsl.role = "buffer"}
// CNN-SAME: %arg6: tensor<8xf32> {nsl.name = "bn1.running_var", nsl.role = "buffer"}
// CNN-SAME: {nsl.name = "fc.bias", nsl.role = "parameter"}) -> (tensor<4x10xf32> {nsl.name = "output"})
// CNN-NEXT: %[[C1:.*]] = nsl.sim_conv2d identity %arg0, %arg1 bias(%arg2 : tensor<8xf32>) {padding = array<i64: 1, 1>} : tensor<4x3x16x16xf32>, tensor<8x3x3x3xf32> -> tensor<4x8x16x16xf32>
// CNN-NEXT: %[[B1:.*]] = nsl.batch_norm %[[C1]], %arg3, %arg4, %arg5, %arg6 : tensor<4x8x16x16xf32>, tensor<8xf32> -> tensor<4x8x16x16xf32>
// CNN-NEXT: %[[R1:.*]] = nsl.relu %[[B1]]
// CNN-NEXT: %[[P1:.*]] = nsl.max_pool2d %[[R1]] {kernel_size = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<4x8x16x16xf32> -> tensor<4x8x8x8xf32>
// CNN-NEXT: %[[C2:.*]] = nsl.sim_conv2d identity %[[P1]], %arg7 {padding = array<i64: 1, 1>}
// CNN-NEXT: %[[B2:.*]] = nsl.batch_norm %[[C2]]
// CNN-NEXT: %[[S:.*]] = nsl.add %[[B2]], %[[P1]] : tensor<4x8x8x8xf32>
// CNN-NEXT: %[[R2:.*]] = nsl.relu %[[S]]
// CNN-NEXT: %[[G:.*]] = nsl.global_avg_pool2d %[[R2]] : tensor<4x8x8x8xf32> -> tensor<4x8x1x1xf32>
// CNN-NEXT: %[[F:.*]] = nsl.flatten %[[G]] : tensor<4x8x1x1xf32> -> tensor<4x8xf32>
// CNN-NEXT: %[[L:.*]] = nsl.linear %[[F]], %arg12 bias(%arg13 : tensor<10xf32>) : tensor<4x8xf32>, tensor<10x8xf32> -> tensor<4x10xf32>
// CNN-NEXT: return %[[L]] : tensor<4x10xf32>

// STATIC-LABEL: func.func @forward(
// STATIC-SAME: {nsl.name = "conv1.similarity", nsl.role = "parameter"}
// STATIC: nsl.sim_conv2d diagonal %arg0, %arg1 similarity(%arg3 : tensor<9xf32>) bias(%arg2 : tensor<6xf32>) {padding = array<i64: 1, 1>}
// STATIC: nsl.sim_conv2d full {{.*}} similarity({{.*}} : tensor<9x9xf32>) {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x6x12x12xf32>, tensor<6x6x3x3xf32> -> tensor<2x6x6x6xf32>
// STATIC: nsl.sim_conv2d cholesky {{.*}} {dilation = array<i64: 2, 2>, padding = array<i64: 2, 2>}
// STATIC: nsl.sim_conv2d shape_masked {{.*}} similarity({{.*}} : tensor<9xf32>, tensor<9x9xf32>)
// STATIC: nsl.sim_conv2d shape_masked {{.*}} similarity({{.*}} : tensor<6xf32>, tensor<6xf32>) {alpha = 2.000000e-01 : f32, padding = array<i64: 0, 1>} : tensor<2x4x6x6xf32>, tensor<4x4x2x3xf32> -> tensor<2x4x5x6xf32>
// STATIC: nsl.avg_pool2d {{.*}} {kernel_size = array<i64: 2, 2>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x5x6xf32> -> tensor<2x4x3x4xf32>
// STATIC: nsl.max_pool2d {{.*}} {kernel_size = array<i64: 2, 3>} : tensor<2x4x3x4xf32> -> tensor<2x4x2x2xf32>
// STATIC: nsl.flatten
// STATIC: nsl.sim_linear cholesky {{.*}} similarity({{.*}} : tensor<4x4xf32>) bias({{.*}} : tensor<7xf32>) {group_size = 4 : i64} : tensor<2x16xf32>, tensor<7x16xf32> -> tensor<2x7xf32>

// DNS-LABEL: func.func @forward(
// DNS-SAME: {nsl.name = "conv2.gamma", nsl.role = "parameter"}
// DNS-SAME: {nsl.name = "conv2.predictor.layers.0.weight", nsl.role = "parameter"}
// DNS: %[[H:.*]] = nsl.max_pool2d
// DNS-NEXT: %[[P0:.*]] = nsl.sphere_conv2d linear %[[H]], {{.*}} {padding = array<i64: 1, 1>} : tensor<2x8x14x14xf32>, tensor<8x8x3x3xf32> -> tensor<2x8x14x14xf32>
// DNS-NEXT: %[[P1:.*]] = nsl.relu %[[P0]]
// DNS-NEXT: %[[P2:.*]] = nsl.sphere_conv2d cosine %[[P1]], {{.*}} -> tensor<2x9x14x14xf32>
// DNS-NEXT: %[[M:.*]] = nsl.predicted_similarity diagonal %[[P2]], {{.*}} : tensor<2x9x14x14xf32>, tensor<1xf32> -> tensor<2x9x14x14xf32>
// DNS-NEXT: nsl.sim_conv2d diagonal dynamic %[[H]], {{.*}} similarity(%[[M]] : tensor<2x9x14x14xf32>) bias({{.*}} : tensor<16xf32>)
// DNS: nsl.sim_linear full

// A predictor shared by two layers is one set of arguments, under its first
// state_dict key.
// SHARED-LABEL: func.func @forward(
// SHARED-SAME: %arg1: tensor<9x8x3x3xf32> {nsl.name = "predictor.layers.0.weight", nsl.role = "parameter"}
// SHARED-SAME: %arg2: tensor<9xf32> {nsl.name = "predictor.layers.0.k", nsl.role = "parameter"}
// SHARED-NOT: conv1.predictor
// SHARED-NOT: conv2.predictor
// SHARED: nsl.sphere_conv2d cosine input_only
// SHARED-NEXT: nsl.sphere_conv2d learned_sigmoid {{.*}}, %arg1 k_param(%arg2 : tensor<9xf32>)
// SHARED: nsl.sphere_conv2d cosine input_only
// SHARED-NEXT: nsl.sphere_conv2d learned_sigmoid {{.*}}, %arg1 k_param(%arg2 : tensor<9xf32>)

// The labels of the cross-entropy are an i64 input with role label; a tuple
// output is several results.
// UNS-LABEL: func.func @forward(
// UNS-SAME: %arg1: tensor<3xi64> {nsl.name = "labels", nsl.role = "label"}
// UNS-SAME: -> (tensor<f32> {nsl.name = "output0"}, tensor<3x5xf32> {nsl.name = "output1"})
// UNS: nsl.sphere_conv2d sigmoid
// UNS: nsl.sphere_conv2d linear
// UNS: nsl.predicted_similarity full {{.*}} : tensor<3x16x5x5xf32>, tensor<1xf32> -> tensor<3x16x5x5xf32>
// UNS: nsl.sim_conv2d full dynamic
// UNS: nsl.avg_pool2d {{.*}} {count_include_pad = false, kernel_size = array<i64: 2, 2>}
// UNS: %[[LOGITS:.*]] = nsl.linear
// UNS: %[[LOSS:.*]] = nsl.softmax_cross_entropy %[[LOGITS]], %arg1 {label_smoothing = 1.000000e-01 : f32}
// UNS: return %[[LOSS]], %[[LOGITS]]

// LEGACY-LABEL: func.func @forward(
// LEGACY-SAME: {nsl.name = "w1", nsl.role = "parameter"}
// LEGACY: nsl.linear {{.*}}, %arg1 bias(%arg2 : tensor<5xf32>) : tensor<2x12xf32>, tensor<5x12xf32> -> tensor<2x5xf32>
// LEGACY: nsl.linear {{.*}}, %arg3 : tensor<2x5xf32>, tensor<4x5xf32> -> tensor<2x4xf32>

// Traced x.view(x.size(0), -1) goes through prim::NumToTensor and aten::Int.
// RESIDUAL: nsl.sim_conv2d full
// RESIDUAL: nsl.add
// RESIDUAL: nsl.flatten {{.*}} : tensor<2x4x4x4xf32> -> tensor<2x64xf32>
// RESIDUAL-NEXT: nsl.sim_linear diagonal {{.*}} {group_size = 8 : i64}

// ShuffleNet's chunk and channel shuffle, ConvNeXt's permute and layer norm.
// SHAPES-LABEL: func.func @forward(
// SHAPES: nsl.slice %{{.*}} {dim = 1 : i64, size = 4 : i64, start = 0 : i64} : tensor<2x8x7x6xf32> -> tensor<2x4x7x6xf32>
// SHAPES: nsl.slice %{{.*}} {dim = 1 : i64, size = 4 : i64, start = 4 : i64} : tensor<2x8x7x6xf32> -> tensor<2x4x7x6xf32>
// SHAPES: nsl.reshape %{{.*}} {shape = array<i64: 2, 2, 4, 7, 6>} : tensor<2x8x7x6xf32> -> tensor<2x2x4x7x6xf32>
// SHAPES: nsl.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3, 4>} : tensor<2x2x4x7x6xf32> -> tensor<2x4x2x7x6xf32>
// SHAPES: nsl.reshape %{{.*}} {shape = array<i64: 2, 8, 7, 6>} : tensor<2x4x2x7x6xf32> -> tensor<2x8x7x6xf32>
// SHAPES: nsl.transpose %{{.*}} {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x8x7x6xf32> -> tensor<2x7x6x8xf32>
// SHAPES: nsl.reduce_mean %{{.*}} {dims = array<i64: 3>, keepdim} : tensor<2x7x6x8xf32> -> tensor<2x7x6x1xf32>
// SHAPES: nsl.rsqrt
// SHAPES: nsl.linear
// Static NSL layers with groups (nsl.SimConv2d(groups=...)): nsl::sim_conv2d's
// groups becomes the op's groups attribute.
// GROUPED-LABEL: func.func @forward(
// GROUPED-SAME: {nsl.name = "depthwise.similarity", nsl.role = "parameter"}
// GROUPED: nsl.sim_conv2d full %arg0, {{.*}} similarity({{.*}} : tensor<9x9xf32>) {groups = 4 : i64, padding = array<i64: 1, 1>} : tensor<2x4x8x8xf32>, tensor<8x1x3x3xf32> -> tensor<2x8x8x8xf32>
// GROUPED: nsl.batch_norm
// GROUPED: nsl.sim_conv2d diagonal {{.*}} similarity({{.*}} : tensor<9xf32>) bias({{.*}} : tensor<6xf32>) {groups = 2 : i64, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x8x8x8xf32>, tensor<6x4x3x3xf32> -> tensor<2x6x4x4xf32>

// ceil_mode (PyTorch's sizes, partial last windows); adaptive pools to any
// size (1x1 max too); the values of adaptive_max_pool2d(return_indices=True)
// (scripted: through prim::TupleUnpack).
// POOLS: %[[Y:.*]] = nsl.sim_conv2d identity
// POOLS: %[[P:.*]] = nsl.max_pool2d %[[Y]] {ceil_mode = true, kernel_size = array<i64: 3, 3>, stride = array<i64: 2, 2>} : tensor<2x4x10x11xf32> -> tensor<2x4x5x5xf32>
// POOLS: nsl.avg_pool2d %[[Y]] {ceil_mode = true, kernel_size = array<i64: 3, 3>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x10x11xf32> -> tensor<2x4x6x6xf32>
// POOLS: nsl.avg_pool2d %[[Y]] {ceil_mode = true, count_include_pad = false, kernel_size = array<i64: 2, 2>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x10x11xf32> -> tensor<2x4x6x6xf32>
// POOLS: nsl.adaptive_max_pool2d %[[P]] {output_size = array<i64: 2, 3>} : tensor<2x4x5x5xf32> -> tensor<2x4x2x3xf32>
// POOLS: nsl.adaptive_avg_pool2d %[[P]] {output_size = array<i64: 7, 7>} : tensor<2x4x5x5xf32> -> tensor<2x4x7x7xf32>
// POOLS: nsl.adaptive_max_pool2d %[[Y]] {output_size = array<i64: 5, 3>} : tensor<2x4x10x11xf32> -> tensor<2x4x5x3xf32>
// POOLS: nsl.adaptive_max_pool2d %[[P]] {output_size = array<i64: 1, 1>} : tensor<2x4x5x5xf32> -> tensor<2x4x1x1xf32>
// POOLS: nsl.adaptive_avg_pool2d %[[Y]] {output_size = array<i64: 3, 4>} : tensor<2x4x10x11xf32> -> tensor<2x4x3x4xf32>
