// The shipped networks compiled with --train: train_step (with the
// gradients returned) and eval agree with the reference interpreter running
// the same graphs with the double-precision VJPs and optimizers, forward is
// unchanged, and `nsl-run train` lowers the loss on a fixed batch.
// Tolerances: 1e-4 relative for train_step (whole-network gradients in f32,
// through batch norms whose backward cancels), plus --atol 1e-6 for outputs
// that are zero up to rounding (a convolution bias before a batch norm has a
// zero gradient); 1e-5 for forward and eval.

// RUN: nslc %nsl_src/examples/plain_cnn.mlir --train --return-gradients --weight-decay 5e-4 --seed 1 -o %t.plain > /dev/null
// RUN: nsl-run check %t.plain --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK
// RUN: nsl-run check %t.plain --entry eval --seed 2 | FileCheck %s --check-prefix=OK
// RUN: nsl-run check %t.plain --seed 2 | FileCheck %s --check-prefix=OK
// RUN: nsl-run train %t.plain --steps 30 --lr 0.05 --seed 4 > %t.plain.log
// RUN: FileCheck %s --check-prefix=TRAIN < %t.plain.log
// RUN: awk '/^step 1:/ {first = $4} /^step 30:/ {last = $4} END {exit !(last + 0 < first + 0)}' %t.plain.log

// RUN: nslc %nsl_src/examples/static_nsn.mlir --train --return-gradients --optimizer adam --amsgrad --l1 1e-3 --seed 1 -o %t.static > /dev/null
// RUN: nsl-run check %t.static --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK
// RUN: nsl-run check %t.static --entry eval --seed 2 | FileCheck %s --check-prefix=OK

// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir --train --return-gradients --orthogonality 1e-3 --label-smoothing 0.1 --seed 1 -o %t.dynamic > /dev/null
// RUN: nsl-run check %t.dynamic --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK
// RUN: nsl-run check %t.dynamic --entry eval --seed 2 | FileCheck %s --check-prefix=OK
// RUN: nsl-run train %t.dynamic --steps 30 --lr 0.05 --seed 4 > %t.dynamic.log
// RUN: FileCheck %s --check-prefix=TRAIN < %t.dynamic.log
// RUN: awk '/^step 1:/ {first = $4} /^step 30:/ {last = $4} END {exit !(last + 0 < first + 0)}' %t.dynamic.log

// Grouped and depthwise convolutions (a static DNS layer with 4 groups),
// the clamp rows as ReLU6, hardswish, silu, hardsigmoid and a broadcast mul.
// RUN: nslc %nsl_src/examples/mobile_nsn.mlir --train --return-gradients --momentum 0.9 --seed 1 -o %t.mobile > /dev/null
// RUN: nsl-run check %t.mobile --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK
// RUN: nsl-run check %t.mobile --entry eval --seed 2 | FileCheck %s --check-prefix=OK
// RUN: nsl-run train %t.mobile --steps 30 --lr 0.05 --seed 4 > %t.mobile.log
// RUN: FileCheck %s --check-prefix=TRAIN < %t.mobile.log
// RUN: awk '/^step 1:/ {first = $4} /^step 30:/ {last = $4} END {exit !(last + 0 < first + 0)}' %t.mobile.log

// The CPU's gradient vector loops at the AVX2 width (8 lanes, 12
// accumulators) compute the same gradients.
// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir --train --return-gradients --vector-width 8 --seed 1 -o %t.dynamic8 > /dev/null
// RUN: nsl-run check %t.dynamic8 --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK
// RUN: nslc %nsl_src/examples/dynamic_uns.mlir --train --return-gradients --vector-width 8 --seed 1 -o %t.uns8 > /dev/null
// RUN: nsl-run check %t.uns8 --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK

// Only the similarity, the predictor and γ train: the backbone is frozen
// (no gradient, no state, unchanged).
// RUN: nslc %nsl_src/examples/dynamic_nsn.mlir --train --trainable '*similarity*,*predictor*,*gamma' --seed 1 -o %t.frozen | FileCheck %s --check-prefix=WROTE
// RUN: nsl-run check %t.frozen --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=FROZEN

// The UNS example computes its own (label-smoothed) loss from its labels.
// RUN: nslc %nsl_src/examples/dynamic_uns.mlir --train --return-gradients --seed 1 -o %t.uns > /dev/null
// RUN: nsl-run check %t.uns --entry train_step --seed 2 --tolerance 1e-4 --atol 1e-6 | FileCheck %s --check-prefix=OK

// OK: all {{[0-9]+}} outputs agree with the reference
// TRAIN: step 1: loss
// TRAIN: step 30: loss
// TRAIN: 30 steps: median
// forward, train_step, eval, and the weight preparation of the two
// inference entry points (the static layers' folds, run when weights change).
// WROTE: 5 entry points
// FROZEN-NOT: conv1.weight f32
// FROZEN: conv1.similarity f32[9]
// FROZEN-NOT: conv1.weight f32
// FROZEN: all {{[0-9]+}} outputs agree with the reference
