// nsl-run refuses damaged artifacts with one clear error (exit 2).
// RUN: rm -rf %t && mkdir -p %t
// RUN: nslc %s -o %t/good.nslm > /dev/null
// RUN: nsl-run check %t/good.nslm | FileCheck %s --check-prefix=GOOD
// RUN: cp -r %t/good.nslm %t/truncated.nslm && %python -c "import sys; p=sys.argv[1]; d=open(p,'rb').read(); open(p,'wb').write(d[:len(d)//2])" %t/truncated.nslm/manifest.json
// RUN: not nsl-run run %t/truncated.nslm 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// RUN: cp -r %t/good.nslm %t/version.nslm && sed -i 's/"version": 1/"version": 7/' %t/version.nslm/manifest.json
// RUN: not nsl-run run %t/version.nslm 2>&1 | FileCheck %s --check-prefix=VERSION
// RUN: cp -r %t/good.nslm %t/target.nslm && sed -i 's/"target": "cpu-[a-z0-9_-]*"/"target": "cuda-sm_90"/' %t/target.nslm/manifest.json
// RUN: not nsl-run run %t/target.nslm 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: cp -r %t/good.nslm %t/nokernels.nslm && rm %t/nokernels.nslm/kernels.so
// RUN: not nsl-run run %t/nokernels.nslm 2>&1 | FileCheck %s --check-prefix=NOKERNELS
// RUN: cp -r %t/good.nslm %t/weights.nslm && %python -c "import sys; p=sys.argv[1]; d=open(p,'rb').read(); open(p,'wb').write(d[:-7])" %t/weights.nslm/weights.safetensors
// RUN: not nsl-run run %t/weights.nslm 2>&1 | FileCheck %s --check-prefix=WEIGHTS
// RUN: not nsl-run run %t/missing.nslm 2>&1 | FileCheck %s --check-prefix=MISSING
// Another model's kernels under the same names compute something else:
// the library's id tells it from the manifest's.
// RUN: nslc %S/Inputs/wrong_forward.mlir -o %t/wrong.nslm > /dev/null
// RUN: cp -r %t/good.nslm %t/swapped.nslm && cp %t/wrong.nslm/kernels.so %t/swapped.nslm/kernels.so
// RUN: not nsl-run check %t/swapped.nslm 2>&1 | FileCheck %s --check-prefix=SWAPPED

// GOOD: all 1 outputs agree with the reference within relative error 1e-05
// TRUNCATED: nsl-run: error: {{.*}}truncated.nslm/manifest.json
// TRUNCATED-NOT: error
// VERSION: nsl-run: error: {{.*}}version 7
// TARGET: nsl-run: error: {{.*}}cuda-sm_90
// NOKERNELS: nsl-run: error: {{.*}}kernels.so
// WEIGHTS: nsl-run: error: {{.*}}weights.safetensors
// MISSING: nsl-run: error: {{.*}}missing.nslm
// SWAPPED: nsl-run: error: {{.*}}swapped.nslm/kernels.so: the library was not built for this manifest (its kernels id is '{{[0-9a-f]+}}', the manifest expects '{{[0-9a-f]+}}')

func.func @forward(%x: tensor<2x3x5x5xf32> {nsl.name = "x", nsl.role = "input"},
                   %w: tensor<4x3x3x3xf32> {nsl.name = "w", nsl.role = "parameter"}) -> tensor<2x4x5x5xf32> {
  %0 = nsl.sim_conv2d identity %x, %w {padding = array<i64: 1, 1>} : tensor<2x3x5x5xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x5x5xf32>
  return %0 : tensor<2x4x5x5xf32>
}

