// The README's path from PyTorch: a plain nn.Sequential CNN converted by
// nsl.to_static_nsn / nsl.to_dynamic_nsn, scripted, compiled by nslc and
// run by nsl-run matches PyTorch (relative error <= 1e-5). The input keeps
// the name of forward's parameter ("input" for nn.Sequential).
// RUN: rm -rf %t && mkdir -p %t
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/make_converted.py %t
// RUN: nsl-import %t/static.pt --input-shape 2x3x16x16 | FileCheck %s --check-prefix=STATIC
// RUN: nslc %t/static.pt --input-shape 2x3x16x16 -o %t/static.nslm > /dev/null
// RUN: nsl-run run %t/static.nslm --input input=%t/x.npy --output-dir %t/static.out > /dev/null
// RUN: %python %S/compare.py %t/static.out/output.npy %t/static.out.npy | FileCheck %s
// RUN: nsl-import %t/dynamic.pt --input-shape 2x3x16x16 | FileCheck %s --check-prefix=DYNAMIC
// RUN: nslc %t/dynamic.pt --input-shape 2x3x16x16 -o %t/dynamic.nslm > /dev/null
// RUN: nsl-run run %t/dynamic.nslm --input input=%t/x.npy --output-dir %t/dynamic.out > /dev/null
// RUN: %python %S/compare.py %t/dynamic.out/output.npy %t/dynamic.out.npy | FileCheck %s

// STATIC: func.func @forward(%{{.*}}: tensor<2x3x16x16xf32> {nsl.name = "input", nsl.role = "input"}
// STATIC: nsl.sim_conv2d full
// STATIC: nsl.batch_norm
// STATIC: nsl.sim_conv2d full
// DYNAMIC: nsl.sphere_conv2d
// DYNAMIC: nsl.predicted_similarity diagonal
// DYNAMIC: nsl.sim_conv2d diagonal dynamic
// CHECK: relative error
