// nslc refuses bad input with one clear error and a non-zero exit.
// RUN: not nslc %s --target tpu -o %t.a 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not nslc %t.model.pt --input-shape 1x3x5x5 -o %t.a 2>&1 | FileCheck %s --check-prefix=PT
// RUN: not nslc %t.missing.mlir -o %t.a 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nslc %s --function nope -o %t.a 2>&1 | FileCheck %s --check-prefix=FUNCTION
// RUN: not nslc %s --function foreign -o %t.a 2>&1 | FileCheck %s --check-prefix=FOREIGN
// RUN: not nslc %S/Inputs/malformed.mlir -o %t.a 2>&1 | FileCheck %s --check-prefix=MALFORMED
// RUN: rm -rf %t.file && touch %t.file
// RUN: not nslc %s -o %t.file 2>&1 | FileCheck %s --check-prefix=OUTPUT
// Weights: another model's weights lack and mis-shape ours; garbage is no
// safetensors file.
// RUN: nslc %s --function other -o %t.other > /dev/null
// RUN: not nslc %s -o %t.a --weights %t.other/weights.safetensors 2>&1 | FileCheck %s --check-prefix=LACKS
// RUN: nslc %s --function same_names -o %t.same > /dev/null
// RUN: not nslc %s -o %t.a --weights %t.same/weights.safetensors 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: echo garbage > %t.bad.safetensors
// RUN: not nslc %s -o %t.a --weights %t.bad.safetensors 2>&1 | FileCheck %s --check-prefix=CORRUPT
// Given weights are used as given.
// RUN: nslc %s -o %t.good > /dev/null
// RUN: nslc %s -o %t.again --weights %t.good/weights.safetensors > /dev/null
// RUN: cmp %t.good/weights.safetensors %t.again/weights.safetensors

// TARGET: nslc: error: target 'tpu' is not supported; the targets are 'cpu', 'cuda:sm_80' and 'cuda:sm_90' (any cuda:sm_XY)
// PT: nslc: error: cannot open '{{.*}}model.pt': No such file or directory
// MISSING: nslc: error: cannot open '{{.*}}missing.mlir': No such file or directory
// FUNCTION: nslc: error: '{{.*}}nslc-errors.mlir' has no function @nope
// FOREIGN: error: cannot export 'tensor.empty' to graph.json
// MALFORMED: malformed.mlir:4:23: error: custom op 'nsl.sim_conv2d' expected string or keyword containing one of the following enum values for attribute 'structure' [identity, diagonal, full, cholesky, shape_masked]
// MALFORMED-NOT: error
// OUTPUT: nslc: error: cannot create '{{.*}}.file'
// LACKS: nslc: error: {{.*}}weights.safetensors: no tensor 'w' (f32[4, 3, 3, 3]) for the model's parameter
// SHAPE: nslc: error: {{.*}}weights.safetensors: tensor 'w' is f32[2, 3, 1, 1], the model needs f32[4, 3, 3, 3]
// CORRUPT: nslc: error: {{.*}}bad.safetensors

func.func @forward(%x: tensor<1x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<1x4x3x3xf32> {
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

func.func @other(%x: tensor<1x3xf32> {nsl.name = "x", nsl.role = "input"},
                 %v: tensor<2x3xf32> {nsl.name = "v", nsl.role = "parameter"}) -> tensor<1x2xf32> {
  %0 = nsl.linear %x, %v : tensor<1x3xf32>, tensor<2x3xf32> -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

func.func @same_names(%x: tensor<1x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                      %w: tensor<2x3x1x1xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<1x2x5x5xf32> {
  %0 = nsl.sim_conv2d identity %x, %w : tensor<1x3x5x5xf32>, tensor<2x3x1x1xf32> -> tensor<1x2x5x5xf32>
  return %0 : tensor<1x2x5x5xf32>
}

func.func @foreign(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32> {
  %0 = tensor.empty() : tensor<2xf32>
  return %0 : tensor<2xf32>
}
