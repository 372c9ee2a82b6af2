// nsl-run --device cuda: a CUDA artifact needs the CUDA driver; without one
// (as on this machine, or with NSL_CUDA_DRIVER naming a missing file) the
// run fails with one clear error. Each device refuses the other's artifacts.
// RUN: rm -rf %t && mkdir -p %t
// RUN: nslc %s --target cuda:sm_90 -o %t/gpu.nslm > /dev/null
// RUN: nslc %s -o %t/cpu.nslm > /dev/null
// RUN: env NSL_CUDA_DRIVER=%t/no-libcuda.so.1 not nsl-run check %t/gpu.nslm --device cuda 2>&1 | FileCheck %s --check-prefix=NODRIVER
// RUN: env NSL_CUDA_DRIVER=%t/no-libcuda.so.1 not nsl-run bench %t/gpu.nslm --device cuda 2>&1 | FileCheck %s --check-prefix=NODRIVER
// RUN: env NSL_CUDA_DRIVER=%t/no-libcuda.so.1 not nsl-run run %t/gpu.nslm --device cuda 2>&1 | FileCheck %s --check-prefix=NODRIVER
// RUN: not nsl-run run %t/gpu.nslm 2>&1 | FileCheck %s --check-prefix=ONCPU
// RUN: not nsl-run run %t/cpu.nslm --device cuda 2>&1 | FileCheck %s --check-prefix=CPUART
// RUN: not nsl-run run %t/gpu.nslm --device tpu 2>&1 | FileCheck %s --check-prefix=BADDEVICE
// RUN: nsl-run check --help | FileCheck %s --check-prefix=HELP

// NODRIVER: nsl-run: error: no CUDA driver: dlopen({{.*}}no-libcuda.so.1) failed
// ONCPU: nsl-run: error: {{.*}}gpu.nslm/manifest.json: target 'cuda-sm_90' is an NVIDIA GPU, and this runtime runs CPU artifacts only on the CPU (run it with --device cuda)
// CPUART: nsl-run: error: {{.*}}cpu.nslm/manifest.json: target 'cpu-{{.*}}' is not an NVIDIA GPU (run it with --device cpu, or compile the model with nslc --target cuda:sm_90)
// BADDEVICE: nsl-run: error: invalid --device 'tpu': expected cpu or cuda
// HELP: --device D

func.func @forward(%x: tensor<2x4xf32> {nsl.name = "x", nsl.role = "input"})
    -> (tensor<2x4xf32> {nsl.name = "y"}) {
  %0 = nsl.relu %x : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
