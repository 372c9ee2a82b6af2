// nslc --target cuda:sm_80: PTX ISA 7.0 for sm_80, manifest target
// cuda-sm_80, and (where ptxas is found) a cubin that ptxas made for sm_80.
// RUN: rm -rf %t && nslc %nsl_src/examples/plain_cnn.mlir --target cuda:sm_80 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=PTX < %t/kernels.sm_80.ptx
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/manifest.json

// CHECK: nslc: wrote {{.*}} (1 entry point, 7 kernels, arena {{[0-9]+}} bytes, cuda-sm_80)
// PTX: .version 7.0
// PTX: .target sm_80
// PTX-COUNT-7: .visible .entry nsl_forward_k
// MANIFEST: "target": "cuda-sm_80"
