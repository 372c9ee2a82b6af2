// The importer refuses what it cannot translate with one clear message per
// problem (node kind, Python source location, what is supported), and
// nsl-import / nslc exit non-zero without crashing.
// RUN: rm -rf %t && env PYTHONPATH=%nsl_src/frontend/python %python %S/make_test_models.py --out %t
// RUN: not nsl-import %t/erfinv.pt --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=ERFINV
// RUN: not nslc %t/erfinv.pt --input-shape 1x1x5x5 -o %t/erfinv.nslm 2>&1 | FileCheck %s --check-prefix=NSLC-ERFINV
// RUN: not nsl-import %t/unsupported_arithmetic.pt --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=ARITH
// RUN: not nsl-import %t/adaptive_max_indices.pt --input-shape 1x2x5x5 2>&1 | FileCheck %s --check-prefix=INDICES
// RUN: not nsl-import %t/data_dependent.pt --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=DATA
// RUN: not nsl-import %t/corrupt.pt --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=CORRUPT
// RUN: not nslc %t/corrupt.pt --input-shape 1x1x5x5 -o %t/corrupt.nslm 2>&1 | FileCheck %s --check-prefix=NSLC-CORRUPT
// RUN: not nsl-import %t/two_inputs.pt 2>&1 | FileCheck %s --check-prefix=NOSHAPE
// RUN: not nsl-import %t/two_inputs.pt --input-shape 1x2x4x4 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not nslc %t/two_inputs.pt -o %t/two.nslm 2>&1 | FileCheck %s --check-prefix=NSLC-NOSHAPE
// RUN: not nsl-import %t/two_inputs.pt --input-shape 1x2x0x4 2>&1 | FileCheck %s --check-prefix=BADSHAPE
// RUN: not nsl-import %t/missing.pt --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nsl-import --input-shape 1x1x5x5 2>&1 | FileCheck %s --check-prefix=NOMODEL
// RUN: nsl-import --help | FileCheck %s --check-prefix=HELP
// Dropout imports as its eval-mode identity; nslc --train refuses a model
// whose dropout has p > 0 (train_step has no masks) unless told to train
// without it.
// RUN: not nslc %t/residual.pt --input-shape 2x4x8x8 --train -o %t/residual-train.nslm 2>&1 | FileCheck %s --check-prefix=DROPOUT
// RUN: nslc %t/residual.pt --input-shape 2x4x8x8 --train --dropout-as-identity -o %t/residual-train.nslm
// --report lists every node that cannot be imported, grouped by kind, and
// the supported kinds once; exit 1 when there is one, 0 when there is none.
// RUN: not nsl-import %t/unsupported_arithmetic.pt --input-shape 1x1x5x5 --report | FileCheck %s --check-prefix=REPORT
// RUN: not nslc %t/unsupported_arithmetic.pt --input-shape 1x1x5x5 --report | FileCheck %s --check-prefix=REPORT
// RUN: nsl-import %t/residual.pt --input-shape 2x4x8x8 --report | FileCheck %s --check-prefix=REPORT-OK
// RUN: nslc %t/residual.pt --input-shape 2x4x8x8 --report | FileCheck %s --check-prefix=REPORT-OK
// RUN: not nslc %t/missing.pt --input-shape 1x1x5x5 --report 2>&1 | FileCheck %s --check-prefix=REPORT-MISSING

// ERFINV: nsl-import: error: {{.*}}erfinv.pt: {{.*}}make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: unsupported TorchScript node 'aten::erfinv' (inputs: Tensor 1x2x3x3); the importer supports nsl::sim_conv2d,
// ERFINV-NOT: error
// NSLC-ERFINV: nslc: error: '{{.*}}erfinv.pt': {{.*}}make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: unsupported TorchScript node 'aten::erfinv'
// ARITH: nsl-import: error: {{.*}}unsupported_arithmetic.pt: {{.*}}make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: aten::div with a rounding_mode is not supported
// ARITH-NEXT: nsl-import: error: {{.*}}: aten::elu is supported with scale 1 and input_scale 1 only (F.elu; not selu or celu)
// REPORT: unsupported_arithmetic.pt: 2 of {{[0-9]+}} nodes of forward cannot be imported (2 kinds)
// REPORT-NEXT: aten::div: 1 node
// REPORT-NEXT: make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: aten::div with a rounding_mode is not supported
// REPORT-NEXT: aten::elu: 1 node
// REPORT-NEXT: make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: aten::elu is supported with scale 1 and input_scale 1 only
// REPORT-NEXT: the importer supports nsl::sim_conv2d,
// REPORT-OK: residual.pt: all {{[0-9]+}} nodes of forward can be imported
// REPORT-MISSING: nslc: error: cannot open '{{.*}}missing.pt': No such file or directory
// DROPOUT: nslc: error: '{{.*}}residual.pt' has 1 dropout layer(s) with p > 0, and train_step has no dropout masks: set their p to 0 before saving the model, or pass --dropout-as-identity to train without dropout:
// DROPOUT-NEXT: {{.*}}.py:{{[0-9]+}}:{{[0-9]+}}{{.*}}(p = 0.500000)
// INDICES: nsl-import: error: {{.*}}adaptive_max_indices.pt: {{.*}}functional.py:{{[0-9]+}}:{{[0-9]+}}: aten::adaptive_max_pool2d's indices (its second result) are not supported: use only the pooled values (return_indices=False)
// INDICES-NOT: error
// DATA: nsl-import: error: {{.*}}data_dependent.pt: {{.*}}: argument '%{{[0-9]+}}' of aten::gt must be a constant (it is made by aten::sum); data-dependent values are not supported
// DATA-NEXT: nsl-import: error: {{.*}}data_dependent.pt: {{.*}}make_test_models.py:{{[0-9]+}}:{{[0-9]+}}: data-dependent control flow (prim::If on a value computed from tensor data) is not supported
// CORRUPT: nsl-import: error: {{.*}}corrupt.pt: cannot load '{{.*}}corrupt.pt' as TorchScript: PytorchStreamReader failed reading zip archive
// NSLC-CORRUPT: nslc: error: '{{.*}}corrupt.pt': cannot load
// NOSHAPE: nsl-import: error: no --input-shape given; give one per tensor input of forward, e.g. --input-shape 1x1x28x28
// COUNT: nsl-import: error: {{.*}}two_inputs.pt: forward takes 2 tensor input(s); 1 --input-shape given
// NSLC-NOSHAPE: nslc: error: '{{.*}}two_inputs.pt' is a TorchScript model: give the shape of each tensor input of its forward with --input-shape
// BADSHAPE: nsl-import: error: bad --input-shape '1x2x0x4'
// MISSING: nsl-import: error: {{.*}}missing.pt: cannot open '{{.*}}missing.pt': No such file or directory
// NOMODEL: nsl-import: error: no model given
// HELP: --input-shape=<NxCxHxW>
