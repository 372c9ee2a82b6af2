// --nsl-fold-static-similarity must not change the function a network
// computes: the reference interpreter runs the network before and after the
// fold on the same fresh random inputs (three seeds) and compares outputs.
// RUN: nsl-opt %nsl_src/examples/static_nsn.mlir --nsl-export-graph=output=%t.before.json -o /dev/null
// RUN: nsl-opt %nsl_src/examples/static_nsn.mlir --nsl-fold-static-similarity --nsl-export-graph=output=%t.after.json | FileCheck %s
// RUN: nsl-reference compare %t.before.json %t.after.json --seed 1 --tolerance 1e-12
// RUN: nsl-reference compare %t.before.json %t.after.json --seed 2 --tolerance 1e-12
// RUN: nsl-reference compare %t.before.json %t.after.json --seed 3 --tolerance 1e-12
// The default pipeline computes the same function too.
// RUN: nsl-opt %nsl_src/examples/static_nsn.mlir --nsl-optimize --nsl-export-graph=output=%t.optimized.json -o /dev/null
// RUN: nsl-reference compare %t.before.json %t.optimized.json --seed 4 --tolerance 1e-12
// RUN: nsl-opt %nsl_src/examples/dynamic_nsn.mlir --nsl-export-graph=output=%t.dyn.before.json -o /dev/null
// RUN: nsl-opt %nsl_src/examples/dynamic_nsn.mlir --nsl-optimize --nsl-export-graph=output=%t.dyn.after.json -o /dev/null
// RUN: nsl-reference compare %t.dyn.before.json %t.dyn.after.json --seed 5 --tolerance 1e-12

// CHECK-COUNT-6: nsl.fold_similarity
// CHECK-NOT: nsl.sim_conv2d {{diagonal|full|cholesky|shape_masked}}
// CHECK-NOT: nsl.sim_linear
