// The shipped dynamic NSN (examples/dynamic_nsn.mlir), exported and run in the
// reference interpreter, matches a PyTorch/torchvision re-implementation of
// it on fresh random inputs, before and after the default pipeline.
// RUN: nsl-opt %nsl_src/examples/dynamic_nsn.mlir --nsl-export-graph=output=%t.json -o /dev/null
// RUN: rm -rf %t.in %t.out && nsl-reference run %t.json --seed 11 --save-inputs %t.in --output-dir %t.out | FileCheck %s
// RUN: %python %S/dynamic_nsn_torch.py %t.in %t.out/logits.npy 1e-6
// RUN: nsl-opt %nsl_src/examples/dynamic_nsn.mlir --nsl-optimize --nsl-export-graph=output=%t.opt.json -o /dev/null
// RUN: rm -rf %t.in2 %t.out2 && nsl-reference run %t.opt.json --seed 12 --save-inputs %t.in2 --output-dir %t.out2
// RUN: %python %S/dynamic_nsn_torch.py %t.in2 %t.out2/logits.npy 1e-6

// CHECK: logits
