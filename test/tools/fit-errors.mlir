// nsl-run fit and evaluate refuse bad data, options and checkpoints with one
// clear error each (exit code 2), and never overwrite a checkpoint.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_image_dataset.py %t/data
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --train -o %t/train.nslm > /dev/null
// RUN: nslc %nsl_src/examples/plain_cnn.mlir -o %t/forward.nslm > /dev/null
// RUN: not nsl-run fit %t/train.nslm 2>&1 | FileCheck %s --check-prefix=NODATA
// RUN: not nsl-run fit %t/train.nslm --data %t/nowhere 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nsl-run fit %t/train.nslm --data %t/data-badlabel --output-dir %t/o1 2>&1 | FileCheck %s --check-prefix=LABEL
// RUN: not nsl-run fit %t/train.nslm --data %t/data-channels --output-dir %t/o2 2>&1 | FileCheck %s --check-prefix=CHANNELS
// RUN: not nsl-run fit %t/train.nslm --data %t/data-truncated --output-dir %t/o3 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// RUN: not nsl-run fit %t/forward.nslm --data %t/data --output-dir %t/o4 2>&1 | FileCheck %s --check-prefix=NOTRAIN
// RUN: not nsl-run fit %t/train.nslm --data %t/data --schedule linear 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: not nsl-run fit %t/train.nslm --data %t/data --schedule step --milestones 30,20 --output-dir %t/o5 2>&1 | FileCheck %s --check-prefix=MILESTONES
// RUN: not nsl-run fit %t/train.nslm --data %t/data --mean 0.5 2>&1 | FileCheck %s --check-prefix=MEANSTD
// RUN: not nsl-run fit %t/train.nslm --data %t/data --mean 0.5,0.5 --std 1,1 --output-dir %t/o6 2>&1 | FileCheck %s --check-prefix=NORMCHANNELS
// RUN: not nsl-run fit %t/train.nslm --data %t/data --resume --output-dir %t/none 2>&1 | FileCheck %s --check-prefix=NOTHING
// RUN: not nsl-run fit %t/train.nslm --data %t/data --lr 1e30 --output-dir %t/diverged 2>&1 | FileCheck %s --check-prefix=DIVERGED
//
// A finished run's folder is not trained over, and a resumed run must keep
// the options that fix its trajectory.
// RUN: nsl-run fit %t/train.nslm --data %t/data --epochs 1 --seed 1 --progress quiet --output-dir %t/run > /dev/null
// RUN: cp %t/run/checkpoint.safetensors %t/checkpoint.copy
// RUN: not nsl-run fit %t/train.nslm --data %t/data --epochs 2 --seed 1 --output-dir %t/run 2>&1 | FileCheck %s --check-prefix=EXISTS
// RUN: not nsl-run fit %t/train.nslm --data %t/data --epochs 2 --seed 2 --resume --output-dir %t/run 2>&1 | FileCheck %s --check-prefix=SEED
// RUN: cmp %t/run/checkpoint.safetensors %t/checkpoint.copy
// RUN: head -c 100 %t/checkpoint.copy > %t/run/checkpoint.safetensors
// RUN: not nsl-run fit %t/train.nslm --data %t/data --epochs 2 --seed 1 --resume --output-dir %t/run 2>&1 | FileCheck %s --check-prefix=CORRUPT
// RUN: not nsl-run evaluate %t/forward.nslm --data %t/data --split validation 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: not nsl-run evaluate %t/forward.nslm --data %t/data-badlabel 2>&1 | FileCheck %s --check-prefix=LABEL

// NODATA: nsl-run: error: 'fit' needs --data [FORMAT:]DIR (see 'nsl-run fit --help')
// MISSING: nsl-run: error: {{.*}}nowhere
// LABEL: nsl-run: error: {{.*}}data-badlabel/test_labels.npy{{.*}}label
// CHANNELS: nsl-run: error: {{.*}}data-channels{{.*}}channels
// TRUNCATED: nsl-run: error: {{.*}}data-truncated/train_images.npy
// NOTRAIN: nsl-run: error: {{.*}}forward.nslm has no entry point 'train_step'
// SCHEDULE: nsl-run: error: unknown schedule 'linear': expected constant, step or cosine
// MILESTONES: nsl-run: error: milestones '30,20' are not in ascending order
// MEANSTD: nsl-run: error: --mean and --std go together
// NORMCHANNELS: nsl-run: error: {{.*}}normali{{.*}}
// NOTHING: nsl-run: error: nothing to resume: no {{.*}}none/checkpoint.safetensors
// DIVERGED: nsl-run: error: the loss is {{.*}} at step {{[0-9]+}} (epoch 1, batch {{[0-9]+}}): training diverged; lower --lr or add --warmup-steps (the last checkpoint, if any, is kept)
// EXISTS: nsl-run: error: {{.*}}run/checkpoint.safetensors exists already; continue it with --resume, or choose another --output-dir
// SEED: nsl-run: error: cannot resume {{.*}}run/checkpoint.safetensors: its seed is '1', this run's is '2' (resume with the options of the interrupted run)
// CORRUPT: nsl-run: error: {{.*}}run/checkpoint.safetensors
// SPLIT: nsl-run: error: invalid --split 'validation': expected test or train
