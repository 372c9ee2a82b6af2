// nslc --train and nsl-run train refuse bad input with one clear error each
// (and no IR dump under the error).
// RUN: not nslc %nsl_src/examples/shared_predictor.mlir --train -o %t.a 2>&1 | FileCheck %s --check-prefix=LOGITS
// RUN: not nslc %nsl_src/examples/plain_cnn.mlir --train --optimizer rmsprop -o %t.a 2>&1 | FileCheck %s --check-prefix=OPTIMIZER
// RUN: not nslc %nsl_src/examples/plain_cnn.mlir --train --trainable 'nope*' -o %t.a 2>&1 | FileCheck %s --check-prefix=TRAINABLE
// RUN: nslc %nsl_src/examples/plain_cnn.mlir -o %t.forward > /dev/null
// RUN: not nsl-run train %t.forward 2>&1 | FileCheck %s --check-prefix=NOTRAIN
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --train -o %t.train > /dev/null
// RUN: not nsl-run train %t.train --lr -1 2>&1 | FileCheck %s --check-prefix=LR
// RUN: not nsl-run train %t.train --steps 0 2>&1 | FileCheck %s --check-prefix=STEPS
// RUN: not nsl-run train %t.train --input labels=%t.missing.npy 2>&1 | FileCheck %s --check-prefix=MISSING
// A checkpoint written by nsl-run train starts the next compile where the
// training left off (optimizer state included), and resuming continues the
// same losses: 2 + 2 steps from a checkpoint equal 4 steps in one run.
// RUN: nsl-run train %t.train --steps 4 --seed 3 > %t.four.log
// RUN: nsl-run train %t.train --steps 2 --seed 3 --save %t.ckpt.safetensors > /dev/null
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --train --weights %t.ckpt.safetensors -o %t.resumed > /dev/null
// RUN: nsl-run train %t.resumed --steps 2 --seed 3 > %t.resumed.log
// RUN: grep '^step 3:' %t.four.log | sed 's/step 3/step N/' > %t.expect3
// RUN: grep '^step 1:' %t.resumed.log | sed 's/step 1/step N/' > %t.got3
// RUN: cmp %t.expect3 %t.got3
// RUN: grep '^step 4:' %t.four.log | sed 's/step 4/step N/' > %t.expect4
// RUN: grep '^step 2:' %t.resumed.log | sed 's/step 2/step N/' > %t.got4
// RUN: cmp %t.expect4 %t.got4

// LOGITS: error: cannot train @forward: its first result must be the logits [N, C] (f32) or a softmax_cross_entropy loss, got 'tensor<2x12x10x10xf32>'
// LOGITS-NOT: see current operation
// LOGITS: nslc: error: generating the training step of '{{.*}}shared_predictor.mlir' failed
// OPTIMIZER: error: --nsl-generate-train-step: unknown optimizer 'rmsprop' (sgd or adam)
// OPTIMIZER-NOT: see current operation
// TRAINABLE: error: no parameter of @forward matches --trainable 'nope*': nothing to train
// NOTRAIN: nsl-run: error: {{.*}} has no entry point 'train_step' (it has 'forward')
// LR: nsl-run: error: invalid --lr '-1': expected a finite non-negative number
// STEPS: nsl-run: error: invalid --steps '0'
// MISSING: nsl-run: error: {{.*}}missing.npy
