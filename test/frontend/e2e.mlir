// End to end: nslc compiles scripted and traced PyTorch models (their own
// weights in weights.safetensors), nsl-run runs them on the input PyTorch
// saw, and the outputs match PyTorch's (relative error <= 1e-5).
// RUN: rm -rf %t && mkdir -p %t
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %nsl_src/examples/pytorch/make_models.py --out %t --only plain_cnn static_nsn dynamic_nsn shared_predictor > /dev/null
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/make_test_models.py --out %t

// A plain CNN (conv, batch norm, relu, max pool, residual add, global
// average pool, flatten, linear).
// RUN: nslc %t/plain_cnn.pt --input-shape 4x3x16x16 -o %t/cnn.nslm | FileCheck %s
// RUN: nsl-run run %t/cnn.nslm --input x=%t/plain_cnn.x.npy --output-dir %t/cnn.out > /dev/null
// RUN: %python %S/compare.py %t/cnn.out/output.npy %t/plain_cnn.out.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/plain_cnn.traced.pt --input-shape 4x3x16x16 -o %t/cnn.traced.nslm > /dev/null
// RUN: nsl-run run %t/cnn.traced.nslm --input x=%t/plain_cnn.x.npy --output-dir %t/cnn.traced.out > /dev/null
// RUN: %python %S/compare.py %t/cnn.traced.out/output.npy %t/plain_cnn.out.npy | FileCheck %s --check-prefix=CLOSE

// A static NSN (every static structure, SimLinear head).
// RUN: nslc %t/static_nsn.pt --input-shape 2x3x12x12 -o %t/static.nslm > /dev/null
// RUN: nsl-run run %t/static.nslm --input x=%t/static_nsn.x.npy --output-dir %t/static.out > /dev/null
// RUN: %python %S/compare.py %t/static.out/output.npy %t/static_nsn.out.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/static_nsn.traced.pt --input-shape 2x3x12x12 -o %t/static.traced.nslm > /dev/null
// RUN: nsl-run run %t/static.traced.nslm --input x=%t/static_nsn.x.npy --output-dir %t/static.traced.out > /dev/null
// RUN: %python %S/compare.py %t/static.traced.out/output.npy %t/static_nsn.out.npy | FileCheck %s --check-prefix=CLOSE

// A dynamic DNS NSN (SphereNet predictor, predicted similarity).
// RUN: nslc %t/dynamic_nsn.pt --input-shape 2x1x28x28 -o %t/dns.nslm > /dev/null
// RUN: nsl-run run %t/dns.nslm --input x=%t/dynamic_nsn.x.npy --output-dir %t/dns.out > /dev/null
// RUN: %python %S/compare.py %t/dns.out/output.npy %t/dynamic_nsn.out.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/dynamic_nsn.traced.pt --input-shape 2x1x28x28 -o %t/dns.traced.nslm > /dev/null
// RUN: nsl-run run %t/dns.traced.nslm --input x=%t/dynamic_nsn.x.npy --output-dir %t/dns.traced.out > /dev/null
// RUN: %python %S/compare.py %t/dns.traced.out/output.npy %t/dynamic_nsn.out.npy | FileCheck %s --check-prefix=CLOSE

// A shared SphereNet predictor with adaptation convs.
// RUN: nslc %t/shared_predictor.pt --input-shape 2x6x10x10 -o %t/shared.nslm > /dev/null
// RUN: nsl-run run %t/shared.nslm --input x=%t/shared_predictor.x.npy --output-dir %t/shared.out > /dev/null
// RUN: %python %S/compare.py %t/shared.out/output.npy %t/shared_predictor.out.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/shared_predictor.traced.pt --input-shape 2x6x10x10 -o %t/shared.traced.nslm > /dev/null
// RUN: nsl-run run %t/shared.traced.nslm --input x=%t/shared_predictor.x.npy --output-dir %t/shared.traced.out > /dev/null
// RUN: %python %S/compare.py %t/shared.traced.out/output.npy %t/shared_predictor.out.npy | FileCheck %s --check-prefix=CLOSE

// A dynamic UNS NSN with a linear head and the label-smoothed
// cross-entropy: the labels input is i64 with role label; the loss is
// compared.
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %nsl_src/examples/pytorch/make_models.py --out %t --only dynamic_uns > /dev/null
// RUN: nslc %t/dynamic_uns.pt --input-shape 3x4x9x9 --input-shape 3 -o %t/uns.nslm > /dev/null
// RUN: nsl-run run %t/uns.nslm --input x=%t/dynamic_uns.x.npy --input labels=%t/dynamic_uns.labels.npy --output-dir %t/uns.out > /dev/null
// RUN: %python %S/compare.py %t/uns.out/output0.npy %t/dynamic_uns.out.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/dynamic_uns.traced.pt --input-shape 3x4x9x9 --input-shape 3 -o %t/uns.traced.nslm > /dev/null
// RUN: nsl-run run %t/uns.traced.nslm --input x=%t/dynamic_uns.x.npy --input labels=%t/dynamic_uns.labels.npy --output-dir %t/uns.traced.out > /dev/null
// RUN: %python %S/compare.py %t/uns.traced.out/output0.npy %t/dynamic_uns.out.npy | FileCheck %s --check-prefix=CLOSE

// Linear layers as addmm / matmul with a transposed weight.
// RUN: nslc %t/legacy_linear.pt --input-shape 2x2x4x4 -o %t/legacy.nslm > /dev/null
// RUN: nsl-run run %t/legacy.nslm --input x=%t/legacy_linear.x.npy --output-dir %t/legacy.out > /dev/null
// RUN: %python %S/compare.py %t/legacy.out/output.npy %t/legacy_linear.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/legacy_linear.traced.pt --input-shape 2x2x4x4 -o %t/legacy.traced.nslm > /dev/null
// RUN: nsl-run run %t/legacy.traced.nslm --input x=%t/legacy_linear.x.npy --output-dir %t/legacy.traced.out > /dev/null
// RUN: %python %S/compare.py %t/legacy.traced.out/output.npy %t/legacy_linear.out0.npy | FileCheck %s --check-prefix=CLOSE

// Elementwise rows with broadcasting, Python numbers and in-place forms.
// RUN: nslc %t/elementwise.pt --input-shape 2x3x8x8 -o %t/elementwise.nslm > /dev/null
// RUN: nsl-run run %t/elementwise.nslm --input x=%t/elementwise.x.npy --output-dir %t/elementwise.out > /dev/null
// RUN: %python %S/compare.py %t/elementwise.out/output.npy %t/elementwise.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/elementwise.traced.pt --input-shape 2x3x8x8 -o %t/elementwise.traced.nslm > /dev/null
// RUN: nsl-run run %t/elementwise.traced.nslm --input x=%t/elementwise.x.npy --output-dir %t/elementwise.traced.out > /dev/null
// RUN: %python %S/compare.py %t/elementwise.traced.out/output.npy %t/elementwise.out0.npy | FileCheck %s --check-prefix=CLOSE

// Every activation: relu6/hardtanh/clamp as clamp_min + clamp_max, silu,
// hardswish, hardsigmoid, gelu (exact and tanh), elu, leaky_relu, in place.
// RUN: nslc %t/activations.pt --input-shape 2x3x8x8 -o %t/activations.nslm > /dev/null
// RUN: nsl-run run %t/activations.nslm --input x=%t/activations.x.npy --output-dir %t/activations.out > /dev/null
// RUN: %python %S/compare.py %t/activations.out/output.npy %t/activations.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/activations.traced.pt --input-shape 2x3x8x8 -o %t/activations.traced.nslm > /dev/null
// RUN: nsl-run run %t/activations.traced.nslm --input x=%t/activations.x.npy --output-dir %t/activations.traced.out > /dev/null
// RUN: %python %S/compare.py %t/activations.traced.out/output.npy %t/activations.out0.npy | FileCheck %s --check-prefix=CLOSE

// Arithmetic with tensors and numbers on either side (rsub, sub with alpha,
// div, pow, sqrt, rsqrt, exp, log, reciprocal, neg, abs) and shape arithmetic.
// RUN: nslc %t/arithmetic.pt --input-shape 2x3x8x8 -o %t/arithmetic.nslm > /dev/null
// RUN: nsl-run run %t/arithmetic.nslm --input x=%t/arithmetic.x.npy --output-dir %t/arithmetic.out > /dev/null
// RUN: %python %S/compare.py %t/arithmetic.out/output.npy %t/arithmetic.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/arithmetic.traced.pt --input-shape 2x3x8x8 -o %t/arithmetic.traced.nslm > /dev/null
// RUN: nsl-run run %t/arithmetic.traced.nslm --input x=%t/arithmetic.x.npy --output-dir %t/arithmetic.traced.out > /dev/null
// RUN: %python %S/compare.py %t/arithmetic.traced.out/output.npy %t/arithmetic.out0.npy | FileCheck %s --check-prefix=CLOSE

// Grouped and depthwise convolutions (MobileNetV2, ResNeXt, a squeeze-and-excitation gate).
// RUN: nslc %t/grouped_blocks.pt --input-shape 2x8x9x9 -o %t/grouped_blocks.nslm > /dev/null
// RUN: nsl-run run %t/grouped_blocks.nslm --input x=%t/grouped_blocks.x.npy --output-dir %t/grouped_blocks.out > /dev/null
// RUN: %python %S/compare.py %t/grouped_blocks.out/output.npy %t/grouped_blocks.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/grouped_blocks.traced.pt --input-shape 2x8x9x9 -o %t/grouped_blocks.traced.nslm > /dev/null
// RUN: nsl-run run %t/grouped_blocks.traced.nslm --input x=%t/grouped_blocks.x.npy --output-dir %t/grouped_blocks.traced.out > /dev/null
// RUN: %python %S/compare.py %t/grouped_blocks.traced.out/output.npy %t/grouped_blocks.out0.npy | FileCheck %s --check-prefix=CLOSE

// Static NSL layers with groups: a depthwise (full M) and a grouped (diagonal M) SimConv2d.
// RUN: nslc %t/grouped_nsn.pt --input-shape 2x4x8x8 -o %t/grouped_nsn.nslm > /dev/null
// RUN: nsl-run run %t/grouped_nsn.nslm --input x=%t/grouped_nsn.x.npy --output-dir %t/grouped_nsn.out > /dev/null
// RUN: %python %S/compare.py %t/grouped_nsn.out/output.npy %t/grouped_nsn.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/grouped_nsn.traced.pt --input-shape 2x4x8x8 -o %t/grouped_nsn.traced.nslm > /dev/null
// RUN: nsl-run run %t/grouped_nsn.traced.nslm --input x=%t/grouped_nsn.x.npy --output-dir %t/grouped_nsn.traced.out > /dev/null
// RUN: %python %S/compare.py %t/grouped_nsn.traced.out/output.npy %t/grouped_nsn.out0.npy | FileCheck %s --check-prefix=CLOSE

// torch.cat: a SqueezeNet fire module and a DenseNet layer.
// RUN: nslc %t/concatenation.pt --input-shape 2x4x7x6 -o %t/concatenation.nslm > /dev/null
// RUN: nsl-run run %t/concatenation.nslm --input x=%t/concatenation.x.npy --output-dir %t/concatenation.out > /dev/null
// RUN: %python %S/compare.py %t/concatenation.out/output.npy %t/concatenation.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/concatenation.traced.pt --input-shape 2x4x7x6 -o %t/concatenation.traced.nslm > /dev/null
// RUN: nsl-run run %t/concatenation.traced.nslm --input x=%t/concatenation.x.npy --output-dir %t/concatenation.traced.out > /dev/null
// RUN: %python %S/compare.py %t/concatenation.traced.out/output.npy %t/concatenation.out0.npy | FileCheck %s --check-prefix=CLOSE

// ShuffleNet's split and channel shuffle, ConvNeXt's channels-last block, slices, (un)squeeze, partial flatten.
// RUN: nslc %t/shapes.pt --input-shape 2x4x7x6 -o %t/shapes.nslm > /dev/null
// RUN: nsl-run run %t/shapes.nslm --input x=%t/shapes.x.npy --output-dir %t/shapes.out > /dev/null
// RUN: %python %S/compare.py %t/shapes.out/output.npy %t/shapes.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/shapes.traced.pt --input-shape 2x4x7x6 -o %t/shapes.traced.nslm > /dev/null
// RUN: nsl-run run %t/shapes.traced.nslm --input x=%t/shapes.x.npy --output-dir %t/shapes.traced.out > /dev/null
// RUN: %python %S/compare.py %t/shapes.traced.out/output.npy %t/shapes.out0.npy | FileCheck %s --check-prefix=CLOSE
// softmax, log_softmax, layer_norm over two dimensions, amax, sum, norm, max.
// RUN: nslc %t/normalizations.pt --input-shape 2x3x5x6 -o %t/normalizations.nslm > /dev/null
// RUN: nsl-run run %t/normalizations.nslm --input x=%t/normalizations.x.npy --output-dir %t/normalizations.out > /dev/null
// RUN: %python %S/compare.py %t/normalizations.out/output0.npy %t/normalizations.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: %python %S/compare.py %t/normalizations.out/output1.npy %t/normalizations.out1.npy | FileCheck %s --check-prefix=CLOSE
// RUN: %python %S/compare.py %t/normalizations.out/output2.npy %t/normalizations.out2.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/normalizations.traced.pt --input-shape 2x3x5x6 -o %t/normalizations.traced.nslm > /dev/null
// RUN: nsl-run run %t/normalizations.traced.nslm --input x=%t/normalizations.x.npy --output-dir %t/normalizations.traced.out > /dev/null
// RUN: %python %S/compare.py %t/normalizations.traced.out/output0.npy %t/normalizations.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: %python %S/compare.py %t/normalizations.traced.out/output1.npy %t/normalizations.out1.npy | FileCheck %s --check-prefix=CLOSE
// RUN: %python %S/compare.py %t/normalizations.traced.out/output2.npy %t/normalizations.out2.npy | FileCheck %s --check-prefix=CLOSE
// F.unfold, matmul with broadcasting, bmm.
// RUN: nslc %t/unfolded.pt --input-shape 2x3x7x6 -o %t/unfolded.nslm > /dev/null
// RUN: nsl-run run %t/unfolded.nslm --input x=%t/unfolded.x.npy --output-dir %t/unfolded.out > /dev/null
// RUN: %python %S/compare.py %t/unfolded.out/output.npy %t/unfolded.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/unfolded.traced.pt --input-shape 2x3x7x6 -o %t/unfolded.traced.nslm > /dev/null
// RUN: nsl-run run %t/unfolded.traced.nslm --input x=%t/unfolded.x.npy --output-dir %t/unfolded.traced.out > /dev/null
// RUN: %python %S/compare.py %t/unfolded.traced.out/output.npy %t/unfolded.out0.npy | FileCheck %s --check-prefix=CLOSE
// A DNS predictor in plain PyTorch ops feeding torch.ops.nsl.sim_conv2d (#17).
// RUN: nslc %t/hand_written_predictor.pt --input-shape 2x4x7x6 -o %t/hand_written_predictor.nslm > /dev/null
// RUN: nsl-run run %t/hand_written_predictor.nslm --input x=%t/hand_written_predictor.x.npy --output-dir %t/hand_written_predictor.out > /dev/null
// RUN: %python %S/compare.py %t/hand_written_predictor.out/output.npy %t/hand_written_predictor.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/hand_written_predictor.traced.pt --input-shape 2x4x7x6 -o %t/hand_written_predictor.traced.nslm > /dev/null
// RUN: nsl-run run %t/hand_written_predictor.traced.nslm --input x=%t/hand_written_predictor.x.npy --output-dir %t/hand_written_predictor.traced.out > /dev/null
// RUN: %python %S/compare.py %t/hand_written_predictor.traced.out/output.npy %t/hand_written_predictor.out0.npy | FileCheck %s --check-prefix=CLOSE
// Adaptive average pooling to a dividing size, mean over H and W,
// StochasticDepth, ceil_mode where no window is partial.
// RUN: nslc %t/pooling.pt --input-shape 2x3x6x8 -o %t/pooling.nslm > /dev/null
// RUN: nsl-run run %t/pooling.nslm --input x=%t/pooling.x.npy --output-dir %t/pooling.out > /dev/null
// RUN: %python %S/compare.py %t/pooling.out/output.npy %t/pooling.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/pooling.traced.pt --input-shape 2x3x6x8 -o %t/pooling.traced.nslm > /dev/null
// RUN: nsl-run run %t/pooling.traced.nslm --input x=%t/pooling.x.npy --output-dir %t/pooling.traced.out > /dev/null
// RUN: %python %S/compare.py %t/pooling.traced.out/output.npy %t/pooling.out0.npy | FileCheck %s --check-prefix=CLOSE

// ceil_mode with partial last windows, adaptive average and max pooling to
// sizes that do not divide the input or exceed it.
// RUN: nslc %t/partial_pools.pt --input-shape 2x3x10x11 -o %t/partial_pools.nslm > /dev/null
// RUN: nsl-run run %t/partial_pools.nslm --input x=%t/partial_pools.x.npy --output-dir %t/partial_pools.out > /dev/null
// RUN: %python %S/compare.py %t/partial_pools.out/output.npy %t/partial_pools.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/partial_pools.traced.pt --input-shape 2x3x10x11 -o %t/partial_pools.traced.nslm > /dev/null
// RUN: nsl-run run %t/partial_pools.traced.nslm --input x=%t/partial_pools.x.npy --output-dir %t/partial_pools.traced.out > /dev/null
// RUN: %python %S/compare.py %t/partial_pools.traced.out/output.npy %t/partial_pools.out0.npy | FileCheck %s --check-prefix=CLOSE

// GoogLeNet's scripted pattern: the input keeps its name x though inlining
// renames it; a returned tuple with a None: the tensors are the outputs.
// RUN: nslc %t/optional_outputs.pt --input-shape 2x3x6x7 -o %t/optional_outputs.nslm > /dev/null
// RUN: nsl-run run %t/optional_outputs.nslm --input x=%t/optional_outputs.x.npy --output-dir %t/optional_outputs.out > /dev/null
// RUN: %python %S/compare.py %t/optional_outputs.out/output.npy %t/optional_outputs.out0.npy | FileCheck %s --check-prefix=CLOSE

// A ResNet block with a UNS (full) static conv, in-place relu, x.view(N, -1),
// dropout and a DNS SimLinear head.
// RUN: nslc %t/residual.pt --input-shape 2x4x8x8 -o %t/residual.nslm > /dev/null
// RUN: nsl-run run %t/residual.nslm --input x=%t/residual.x.npy --output-dir %t/residual.out > /dev/null
// RUN: %python %S/compare.py %t/residual.out/output.npy %t/residual.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: nslc %t/residual.traced.pt --input-shape 2x4x8x8 -o %t/residual.traced.nslm > /dev/null
// RUN: nsl-run run %t/residual.traced.nslm --input x=%t/residual.x.npy --output-dir %t/residual.traced.out > /dev/null
// RUN: %python %S/compare.py %t/residual.traced.out/output.npy %t/residual.out0.npy | FileCheck %s --check-prefix=CLOSE

// Two inputs and a tuple of outputs.
// RUN: nslc %t/two_inputs.traced.pt --input-shape 1x2x4x4 --input-shape 1x2x4x4 -o %t/two.nslm > /dev/null
// RUN: nsl-run run %t/two.nslm --input a=%t/two_inputs.x.npy --input b=%t/two_inputs.y.npy --output-dir %t/two.out > /dev/null
// RUN: %python %S/compare.py %t/two.out/output0.npy %t/two_inputs.out0.npy | FileCheck %s --check-prefix=CLOSE
// RUN: %python %S/compare.py %t/two.out/output1.npy %t/two_inputs.out1.npy | FileCheck %s --check-prefix=CLOSE

// CHECK: nslc: wrote {{.*}}cnn.nslm
// CLOSE: relative error

// The artifact's weights load back into the PyTorch models by name.
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/weights_roundtrip.py %t/plain_cnn.pt %t/cnn.nslm %t/plain_cnn.x.npy | FileCheck %s --check-prefix=WEIGHTS
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/weights_roundtrip.py %t/dynamic_nsn.traced.pt %t/dns.traced.nslm %t/dynamic_nsn.x.npy | FileCheck %s --check-prefix=WEIGHTS
// RUN: env PYTHONPATH=%nsl_src/frontend/python %python %S/weights_roundtrip.py %t/shared_predictor.pt %t/shared.nslm %t/shared_predictor.x.npy | FileCheck %s --check-prefix=WEIGHTS
// WEIGHTS: weights: {{[0-9]+}} tensors load back by name

