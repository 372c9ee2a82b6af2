// RUN: nsl-opt %s --nsl-export-graph=output=%t.json -o /dev/null
// RUN: FileCheck %s --input-file=%t.json
// RUN: nsl-opt %s --nsl-export-graph | FileCheck %s --check-prefix=STDOUT
// RUN: nsl-opt %s --nsl-export-graph="function=other output=-" | FileCheck %s --check-prefix=OTHER
// The IR itself is left unchanged.
// RUN: nsl-opt %s --nsl-export-graph=output=%t.2.json | FileCheck %s --check-prefix=IR

// Object keys are printed sorted (nlohmann::json, as llvm::json did before).
// CHECK:      "arguments": [
// CHECK-NEXT:   {
// CHECK-NEXT:     "dtype": "f32",
// CHECK-NEXT:     "name": "x",
// CHECK-NEXT:     "role": "input",
// CHECK-NEXT:     "shape": [
// CHECK-NEXT:       2,
// CHECK-NEXT:       3,
// CHECK-NEXT:       6,
// CHECK-NEXT:       6
// CHECK-NEXT:     ],
// CHECK-NEXT:     "value": 0
// CHECK:          "name": "conv.weight",
// CHECK-NEXT:     "role": "parameter",
// CHECK:          "name": "conv.similarity",
// CHECK:          "dtype": "i64",
// CHECK-NEXT:     "name": "labels",
// CHECK-NEXT:     "role": "label",
// CHECK:          "name": "bn.running_var",
// CHECK-NEXT:     "role": "buffer",
// CHECK:      "format": "nsl-graph",
// CHECK-NEXT: "function": "forward",
// CHECK-NEXT: "nodes": [
// CHECK-NEXT:   {
// CHECK-NEXT:     "attributes": {
// CHECK-NEXT:       "values": [
// CHECK-NEXT:         0.5
// CHECK-NEXT:       ]
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "constant",
// CHECK-NEXT:     "operands": {},
// CHECK-NEXT:     "results": [
// CHECK-NEXT:       {
// CHECK-NEXT:         "dtype": "f32",
// CHECK-NEXT:         "shape": [],
// CHECK-NEXT:         "value": 9
// CHECK:          "attributes": {
// CHECK-NEXT:       "alpha": 0,
// CHECK-NEXT:       "dilation": [
// CHECK-NEXT:         1,
// CHECK-NEXT:         1
// CHECK-NEXT:       ],
// CHECK-NEXT:       "dynamic": false,
// CHECK-NEXT:       "groups": 1,
// CHECK-NEXT:       "padding": [
// CHECK-NEXT:         1,
// CHECK-NEXT:         1
// CHECK-NEXT:       ],
// CHECK-NEXT:       "stride": [
// CHECK-NEXT:         1,
// CHECK-NEXT:         1
// CHECK-NEXT:       ],
// CHECK-NEXT:       "structure": "full"
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "sim_conv2d",
// CHECK-NEXT:     "operands": {
// CHECK-NEXT:       "input": 0,
// CHECK-NEXT:       "similarity": [
// CHECK-NEXT:         2
// CHECK-NEXT:       ],
// CHECK-NEXT:       "weight": 1
// CHECK-NEXT:     },
// CHECK:                "value": 10
// CHECK:            "epsilon": 9.99999974737875{{[0-9]*}}e-06,
// CHECK-NEXT:       "momentum": 0.10000000149011612
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "batch_norm_train",
// CHECK-COUNT-5:        "value": {{1[1-5]}}
// CHECK:          "op": "patch_norm",
// CHECK:            "input_only": false,
// CHECK:            "variant": "learned_sigmoid"
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "sphere_conv2d",
// CHECK-NEXT:     "operands": {
// CHECK-NEXT:       "input": 11,
// CHECK-NEXT:       "k_param": 3,
// CHECK-NEXT:       "weight": 7
// CHECK:          "op": "predicted_similarity",
// CHECK:            "dynamic": true,
// CHECK:            "structure": "diagonal"
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "sim_conv2d",
// CHECK:          "op": "global_avg_pool2d",
// CHECK:          "op": "flatten",
// CHECK:          "op": "linear",
// CHECK-NEXT:     "operands": {
// CHECK-NEXT:       "bias": 5,
// CHECK:            "label_smoothing": 0.10000000149011612
// CHECK-NEXT:     },
// CHECK-NEXT:     "op": "softmax_cross_entropy",
// CHECK-NEXT:     "operands": {
// CHECK-NEXT:       "labels": 6,
// CHECK-NEXT:       "logits": [[LOGITS:[0-9]+]]
// CHECK:                "shape": [],
// CHECK-NEXT:           "value": [[LOSS:[0-9]+]]
// CHECK:      "outputs": [
// CHECK-NEXT:   {
// CHECK-NEXT:     "name": "loss",
// CHECK-NEXT:     "value": [[LOSS]]
// CHECK-NEXT:   },
// CHECK-NEXT:   {
// CHECK-NEXT:     "name": "output1",
// CHECK-NEXT:     "value": 14
// CHECK-NEXT:   }
// CHECK-NEXT: ],
// CHECK-NEXT: "version": 1

// STDOUT: "function": "forward"
// OTHER: "function": "other"
// IR: func.func @forward

func.func @forward(
    %x: tensor<2x3x6x6xf32> {nsl.name = "x", nsl.role = "input"},
    %w: tensor<4x3x3x3xf32> {nsl.name = "conv.weight", nsl.role = "parameter"},
    %m: tensor<9x9xf32> {nsl.name = "conv.similarity", nsl.role = "parameter"},
    %k: tensor<9xf32> {nsl.name = "pred.k", nsl.role = "parameter"},
    %fc: tensor<5x4xf32> {nsl.name = "fc.weight", nsl.role = "parameter"},
    %fcb: tensor<5xf32> {nsl.name = "fc.bias", nsl.role = "parameter"},
    %labels: tensor<2xi64> {nsl.name = "labels", nsl.role = "label"},
    %pw: tensor<9x4x3x3xf32> {nsl.name = "pred.weight", nsl.role = "parameter"},
    %bn_v: tensor<4xf32> {nsl.name = "bn.running_var", nsl.role = "buffer"})
    -> (tensor<f32> {nsl.name = "loss"}, tensor<4xf32>) {
  %gamma = arith.constant dense<0.5> : tensor<f32>
  %0 = nsl.sim_conv2d full %x, %w similarity(%m : tensor<9x9xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  %1:5 = nsl.batch_norm_train %0, %bn_v, %bn_v, %bn_v, %bn_v
      : tensor<2x4x6x6xf32>, tensor<4xf32> -> tensor<2x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %2 = nsl.patch_norm %1#0 {kernel_size = array<i64: 3, 3>, padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32> -> tensor<2x1x6x6xf32>
  %3 = nsl.sphere_conv2d learned_sigmoid %1#0, %pw k_param(%k : tensor<9xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  %4 = nsl.predicted_similarity diagonal %3, %gamma : tensor<2x9x6x6xf32>, tensor<f32> -> tensor<2x9x6x6xf32>
  %5 = nsl.sim_conv2d diagonal dynamic %1#0, %pw similarity(%4 : tensor<2x9x6x6xf32>) {padding = array<i64: 1, 1>}
      : tensor<2x4x6x6xf32>, tensor<9x4x3x3xf32> -> tensor<2x9x6x6xf32>
  %6 = nsl.global_avg_pool2d %1#0 : tensor<2x4x6x6xf32> -> tensor<2x4x1x1xf32>
  %7 = nsl.flatten %6 : tensor<2x4x1x1xf32> -> tensor<2x4xf32>
  %8 = nsl.linear %7, %fc bias(%fcb : tensor<5xf32>) : tensor<2x4xf32>, tensor<5x4xf32> -> tensor<2x5xf32>
  %9 = nsl.softmax_cross_entropy %8, %labels {label_smoothing = 0.1 : f32} : tensor<2x5xf32>, tensor<2xi64> -> tensor<f32>
  return %9, %1#3 : tensor<f32>, tensor<4xf32>
}

func.func @other(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32> {
  %0 = nsl.relu %x : tensor<2xf32>
  return %0 : tensor<2xf32>
}
