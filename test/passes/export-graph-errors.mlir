// What --nsl-export-graph refuses, with one clear error each.
// RUN: not nsl-opt %s --nsl-export-graph="function=missing output=-" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nsl-opt %s --nsl-export-graph="function=unnamed output=-" -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNNAMED
// RUN: not nsl-opt %s --nsl-export-graph="function=foreign output=-" -o /dev/null 2>&1 | FileCheck %s --check-prefix=FOREIGN
// RUN: not nsl-opt %s --nsl-export-graph="function=f64 output=-" -o /dev/null 2>&1 | FileCheck %s --check-prefix=F64
// RUN: not nsl-opt %s --nsl-export-graph="function=forward output=%t/no/such/dir/graph.json" -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNWRITABLE
// RUN: not nsl-opt %s --nsl-export-graph="function=nan output=-" -o /dev/null 2>&1 | FileCheck %s --check-prefix=NAN

// MISSING: error: --nsl-export-graph: the module has no function @missing (choose one with function=NAME)
// UNNAMED: error: argument #0 of @unnamed has no 'nsl.name' and 'nsl.role'; every argument of an exported function needs both
// FOREIGN: error: cannot export 'tensor.empty' to graph.json: the graph holds nsl ops, arith.constant and func.return only
// F64: error: graph.json carries statically shaped f32 and i64 tensors only, got 'tensor<2xf64>'
// UNWRITABLE: error: --nsl-export-graph: cannot write '{{.*}}/no/such/dir/graph.json':
// NAN: error: cannot export 'arith.constant' to graph.json: a constant value is NaN (JSON has no NaN or infinity)

func.func @forward(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

func.func @unnamed(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

func.func @foreign(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32> {
  %0 = tensor.empty() : tensor<2xf32>
  return %0 : tensor<2xf32>
}

func.func @f64(%x: tensor<2xf64> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf64> {
  return %x : tensor<2xf64>
}

func.func @nan(%x: tensor<2xf32> {nsl.name = "x", nsl.role = "input"}) -> tensor<2xf32> {
  %0 = arith.constant dense<[1.0, 0x7FC00000]> : tensor<2xf32>
  %1 = nsl.add %x, %0 : tensor<2xf32>
  return %1 : tensor<2xf32>
}
