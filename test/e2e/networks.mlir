// The shipped networks compiled for the host CPU match the reference
// interpreter (relative error ≤ 1e-5) on fresh random inputs and weights,
// with one thread and with several.
// RUN: nslc %nsl_src/examples/plain_cnn.mlir -o %t.plain > /dev/null
// RUN: nsl-run check %t.plain --seed 1 --threads 1 | FileCheck %s
// RUN: nsl-run check %t.plain --seed 2 --threads 3 | FileCheck %s
// RUN: nslc %nsl_src/examples/static_nsn.mlir --seed 5 -o %t.static > /dev/null
// RUN: nsl-run check %t.static --seed 3 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir -o %t.dns > /dev/null
// RUN: nsl-run check %t.dns --seed 4 --threads 1 | FileCheck %s
// RUN: nsl-run check %t.dns --seed 5 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/dynamic_uns.mlir -o %t.uns > /dev/null
// RUN: nsl-run check %t.uns --seed 6 --threads 3 | FileCheck %s --check-prefixes=CHECK,UNS
// Other code generation choices compute the same.
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --direct-conv=0 --fuse-epilogues=0 -o %t.plain.generic > /dev/null
// RUN: nsl-run check %t.plain.generic --seed 8 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir --vector-width=8 --conv-output-channels=3 --conv-pixel-vectors=3 -o %t.dns.tiles > /dev/null
// RUN: nsl-run check %t.dns.tiles --seed 9 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/shared_predictor.mlir -o %t.shared > /dev/null
// RUN: nsl-run check %t.shared --seed 7 --threads 2 | FileCheck %s --check-prefixes=CHECK,SHARED

// UNS: loss f32[]: relative error
// UNS: logits f32[3, 5]: relative error
// SHARED: features f32[2, 12, 10, 10]: relative error
// SHARED: bn.running_mean f32[12]: relative error
// SHARED: bn.running_var f32[12]: relative error
// CHECK: all {{[0-9]+}} outputs agree with the reference within relative error 1e-05
