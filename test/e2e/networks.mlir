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
// RUN: nslc %nsl_src/examples/mobile_nsn.mlir -o %t.mobile > /dev/null
// RUN: nsl-run check %t.mobile --seed 7 --threads 1 | FileCheck %s
// RUN: nsl-run check %t.mobile --seed 7 --threads 3 | FileCheck %s
// Other code generation choices compute the same.
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --direct-conv=0 --fuse-epilogues=0 -o %t.plain.generic > /dev/null
// RUN: nsl-run check %t.plain.generic --seed 8 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir --vector-width=8 --conv-output-channels=3 --conv-pixel-vectors=3 -o %t.dns.tiles > /dev/null
// RUN: nsl-run check %t.dns.tiles --seed 9 --threads 2 | FileCheck %s
// The static layers' folds are prepared once, in their own entry point
// (--prepare-weights-once, the default): it matches the reference, and so
// does forward with a weight given for one call (prepared for that call).
// Without it, the folds run inside forward, which computes the same.
// RUN: FileCheck %s --check-prefix=PREPARED --input-file %t.static/manifest.json
// RUN: nsl-run check %t.static --entry prepare_forward --seed 3 | FileCheck %s
// RUN: %python -c "import numpy as np; np.save('%t.w2.npy', np.random.default_rng(4).uniform(-1, 1, (6, 6, 3, 3)).astype(np.float32))"
// RUN: nsl-run check %t.static --input conv2.weight=%t.w2.npy --seed 3 --threads 2 | FileCheck %s --check-prefix=GIVEN
// RUN: nslc %nsl_src/examples/static_nsn.mlir --prepare-weights-once=0 --seed 5 -o %t.static.inline | FileCheck %s --check-prefix=INLINE
// RUN: nsl-run check %t.static.inline --seed 3 --threads 2 | FileCheck %s
// RUN: nslc %nsl_src/examples/shared_predictor.mlir -o %t.shared > /dev/null
// RUN: nsl-run check %t.shared --seed 7 --threads 2 | FileCheck %s --check-prefixes=CHECK,SHARED

// PREPARED: "name": "forward"
// PREPARED: "prepared_by": "prepare_forward"
// PREPARED: "name": "prepare_forward"
// GIVEN: 1 given, 1 drawn at random, 21 from the weights
// GIVEN: all 1 outputs agree with the reference
// INLINE: (1 entry point,
// UNS: loss f32[]: relative error
// UNS: logits f32[3, 5]: relative error
// SHARED: features f32[2, 12, 10, 10]: relative error
// SHARED: bn.running_mean f32[12]: relative error
// SHARED: bn.running_var f32[12]: relative error
// CHECK: all {{[0-9]+}} outputs agree with the reference within relative error 1e-05
