// nslc's CUDA target refuses what it cannot do with one clear error.
// RUN: not nslc %s --target cuda:sm_9 -o %t.a 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not nslc %s --target gpu -o %t.b 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not nslc %s --target cuda:sm_90 --train -o %t.c 2>&1 | FileCheck %s --check-prefix=TRAIN
// RUN: not nslc %s --target cuda:sm_90 --cuda-threads 2048 -o %t.d 2>&1 | FileCheck %s --check-prefix=THREADS

// TARGET: nslc: error: target '{{.*}}' is not supported; the targets are 'cpu', 'cuda:sm_80' and 'cuda:sm_90' (any cuda:sm_XY)
// TRAIN: nslc: error: --train is not supported yet with --target cuda:sm_90
// THREADS: nslc: error: --cuda-threads must be in [1, 1024]

func.func @forward(%x: tensor<2x4xf32> {nsl.name = "x", nsl.role = "input"})
    -> (tensor<2x4xf32> {nsl.name = "y"}) {
  %0 = nsl.relu %x : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
