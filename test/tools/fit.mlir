// nsl-run fit trains a compiled classifier on a data set (here the npy
// layout, written by Inputs/make_image_dataset.py: 100 train and 30 test
// images of 3×14×14, padded to the model's 3×16×16), and nsl-run evaluate
// measures an inference artifact compiled from its checkpoint.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_image_dataset.py %t/data
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --train --momentum 0.9 --weight-decay 5e-4 -o %t/train.nslm > /dev/null
// RUN: nsl-run fit %t/train.nslm --data %t/data --epochs 3 --lr 0.05 --schedule step --milestones 1e,40 --crop-padding 2 --flip --seed 5 --progress lines --output-dir %t/full | FileCheck %s --check-prefix=FIT
// RUN: FileCheck %s --check-prefix=JSONL < %t/full/metrics.jsonl
//
// Killed (SIGKILL) in epoch 2 and resumed: it repeats epoch 2 from its
// start and ends with the same model, bit for bit.
// RUN: not --crash nsl-run fit %t/train.nslm --data %t/data --epochs 3 --lr 0.05 --schedule step --milestones 1e,40 --crop-padding 2 --flip --seed 5 --progress quiet --output-dir %t/killed --kill-after-steps 37
// RUN: nsl-run fit %t/train.nslm --data npy:%t/data --epochs 3 --lr 0.05 --schedule step --milestones 1e,40 --crop-padding 2 --flip --seed 5 --progress lines --output-dir %t/killed --resume | FileCheck %s --check-prefix=RESUME-EPOCH
// RUN: cmp %t/full/model.safetensors %t/killed/model.safetensors
// RUN: sed 's/, "seconds".*//; s/, "images_per_second".*//' %t/full/metrics.jsonl > %t/full.records
// RUN: sed 's/, "seconds".*//; s/, "images_per_second".*//' %t/killed/metrics.jsonl > %t/killed.records
// RUN: cmp %t/full.records %t/killed.records
//
// Interrupted (SIGTERM, as Ctrl-C) in the middle of epoch 1: the
// checkpoint is saved at that step and the run continues there.
// RUN: not nsl-run fit %t/train.nslm --data %t/data --epochs 3 --lr 0.05 --schedule step --milestones 1e,40 --crop-padding 2 --flip --seed 5 --progress quiet --output-dir %t/stopped --terminate-after-steps 13 --metrics csv > %t/stopped.log
// RUN: FileCheck %s --check-prefix=STOPPED < %t/stopped.log
// RUN: nsl-run fit %t/train.nslm --data %t/data --epochs 3 --lr 0.05 --schedule step --milestones 1e,40 --crop-padding 2 --flip --seed 5 --progress quiet --output-dir %t/stopped --resume --metrics csv | FileCheck %s --check-prefix=RESUME-STEP
// RUN: cmp %t/full/model.safetensors %t/stopped/model.safetensors
// RUN: FileCheck %s --check-prefix=CSV < %t/stopped/steps.csv
//
// The checkpoint compiles into an inference artifact that evaluates the test
// split with the training data's normalisation from its manifest.
// RUN: nslc %nsl_src/examples/plain_cnn.mlir --weights %t/full/model.safetensors -o %t/inference.nslm > /dev/null
// RUN: nsl-run evaluate %t/inference.nslm --data %t/data | FileCheck %s --check-prefix=EVALUATE
// RUN: nsl-run check %t/inference.nslm > /dev/null

// FIT: training on 100 images (25 batches of 4 per epoch), 30 test images; lr step 0.05 x0.1 at 25,40
// FIT: epoch 1/3 [25/25]
// FIT: epoch 1/3: train loss {{[0-9.]+}} acc {{[0-9.]+}}% | test loss {{[0-9.]+}} acc {{[0-9.]+}}%
// FIT: epoch 3/3: train loss
// FIT: test accuracy: {{[0-9.]+}}% (75 steps)
// FIT: wrote {{.*}}full/checkpoint.safetensors and {{.*}}full/model.safetensors
// JSONL: {"kind": "step", "epoch": 1, "step": 1, "batch": 0, "lr": 0.05,
// JSONL: {"kind": "step", "epoch": 2, "step": 26, "batch": 0, "lr": 0.005,
// JSONL: {"kind": "epoch", "epoch": 2, "train_loss":
// JSONL: {"kind": "step", "epoch": 3, "step": 51, "batch": 0, "lr": 0.0005,
// RESUME-EPOCH: resuming {{.*}}killed/checkpoint.safetensors at epoch 2, batch 0 (step 25)
// RESUME-EPOCH: test accuracy: {{[0-9.]+}}% (75 steps)
// STOPPED: interrupted by signal 15 at step 13: saved {{.*}}stopped/checkpoint.safetensors (continue with --resume)
// RESUME-STEP: resuming {{.*}}stopped/checkpoint.safetensors at epoch 1, batch 13 (step 13)
// CSV: epoch,step,batch,lr,loss,accuracy,images_per_second
// CSV-NEXT: 1,1,0,0.05,
// CSV: 1,13,12,
// CSV-NEXT: 1,14,13,
// EVALUATE: test split of {{.*}}data (30 images, the manifest's statistics)
// EVALUATE: test accuracy: {{[0-9.]+}}%, loss {{[0-9.]+}}
