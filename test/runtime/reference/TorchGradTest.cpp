//===- TorchGradTest.cpp - The reference VJPs against PyTorch autograd ----===//
//
// Every VJP of runtime/reference/Gradients.h is compared with PyTorch 1.13 /
// torchvision 0.14 autograd in float64 (torch_grad_oracle.py): torch's own
// ops where they exist (conv2d, deform_conv2d with zero offsets and a mask
// for DNS, batch_norm, pooling, cross_entropy, ...), F.unfold/einsum
// formulations of the NSL ops, cholesky as tril(L)·tril(L)ᵀ and shape_masked
// through a straight-through step. The test writes fresh random operands and
// upstream gradients (`gy`) with a manifest into a temporary directory, runs
// the Python script once for all cases (importing torch is slow), then each
// case compares the gradient of every differentiated operand:
// relative error ‖g − r‖₂/‖r‖₂ ≤ 1e-9 (both sides compute in double).
// Values are drawn as float32 so that the f32 files carry them exactly. The
// kinks are exercised on purpose where PyTorch defines them: relu at exact
// zeros, max-pool ties, the linear SphereConv's clamp, |k'| and |M| at 0.
// A missing Python, torch or torchvision fails every test with the reason.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Elementwise.h"
#include "runtime/reference/Gradients.h"
#include "runtime/reference/Layout.h"
#include "test/runtime/reference/TorchHarness.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <filesystem>

using namespace nsl::reference;
using namespace nsl::reference::test;

namespace {

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

using GradCase = TorchCase;

/// Appends the similarity gradients to the input/weight(/bias) ones, in the
/// order the operands were added (x, w, b, then the similarity's).
std::vector<Tensor> convGrads(SimConv2dGrads g) {
  std::vector<Tensor> out{g.input, g.weight};
  if (g.bias)
    out.push_back(*g.bias);
  for (Tensor &t : g.similarity)
    out.push_back(t);
  return out;
}

// A case list: one block per op family and configuration checked against
// PyTorch. NOLINTNEXTLINE(readability-function-size)
std::vector<GradCase> buildCases() {
  const std::vector<Geometry> &geometries = torchGeometries();
  Random rng(20240612);
  std::deque<GradCase> cases; // stable references while cases are added
  auto add = [&](const std::string &name, const std::string &op) -> auto & {
    cases.push_back(GradCase{name, op, {}, {}, {}, {}});
    return cases.back();
  };
  auto convInputs = [&](GradCase &c, const Geometry &g, bool bias) {
    c.input("x", rng.tensor({g.n, g.c, g.h, g.w}), true)
        .input("w", rng.tensor({g.o, g.c, g.kh, g.kw}), true)
        .window(g.window);
    if (bias)
      c.input("b", rng.tensor({g.o}), true);
  };
  auto upstream = [&](GradCase &c, const Shape &shape) {
    c.input("gy", rng.tensor(shape), false);
  };
  auto simConvReference = [](const Window &window) {
    return [window](const GradCase &c) {
      return convGrads(simConv2dVJP(c["x"], c["w"], similarityOf(c),
                                    c.find("b"), window, c["gy"]));
    };
  };

  for (size_t gi = 0; gi < geometries.size(); ++gi) {
    const Geometry &g = geometries[gi];
    const Shape out{g.n, g.o, g.ho(), g.wo()};
    std::string tag = "_g" + std::to_string(gi);
    // Plain convolution: F.conv2d's autograd.
    GradCase &conv = add("conv2d" + tag, "conv2d");
    convInputs(conv, g, gi % 2 == 0);
    conv.attr("structure", "identity").attr("dynamic", "0").attr("alpha", 0.0);
    upstream(conv, out);
    conv.reference = simConvReference(g.window);
    // Depthwise with a channel multiplier of 2: F.conv2d(groups=C).
    GradCase &dw = add("conv2d_depthwise" + tag, "conv2d");
    dw.input("x", rng.tensor({g.n, g.c, g.h, g.w}), true)
        .input("w", rng.tensor({2 * g.c, 1, g.kh, g.kw}), true)
        .input("b", rng.tensor({2 * g.c}), true)
        .window(g.window)
        .attr("groups", std::to_string(g.c));
    upstream(dw, {g.n, 2 * g.c, g.ho(), g.wo()});
    dw.reference = [window = g.window, groups = g.c](const GradCase &c) {
      return convGrads(simConv2dVJP(c["x"], c["w"], Similarity{}, c.find("b"),
                                    window, c["gy"], groups));
    };
    // DNS: torchvision deform_conv2d with zero offsets and mask = m.
    GradCase &d = add("dns_deform_conv2d" + tag, "deform_conv2d");
    convInputs(d, g, gi != 1);
    addSimilarity(d, rng, Structure::Diagonal, true, false, g.taps(), g.n,
                  g.ho(), g.wo());
    upstream(d, out);
    d.reference = simConvReference(g.window);
    // Patch norm through F.unfold.
    GradCase &p = add("patch_norm" + tag, "patch_norm");
    p.input("x", rng.tensor({g.n, g.c, g.h, g.w}), true)
        .window(g.window)
        .pair("kernel", {g.kh, g.kw})
        .attr("epsilon", 1e-4);
    upstream(p, {g.n, 1, g.ho(), g.wo()});
    p.reference = [g](const GradCase &c) {
      return std::vector<Tensor>{
          patchNormVJP(c["x"], {g.kh, g.kw}, g.window, 1e-4, c["gy"])};
    };
    if (gi % 2 != 0)
      continue;
    // SphereConv: every variant.
    for (int v = 0; v < 5; ++v) {
      SphereOptions options;
      options.inputOnly = v == 4;
      options.variant = v == 4 ? SphereVariant::Cosine : SphereVariant(v);
      options.sigmoidK = gi == 2 ? 0.45 : 0.3;
      options.epsilon = gi == 4 ? 0.01 : 1e-4;
      const bool learned = options.variant == SphereVariant::LearnedSigmoid;
      GradCase &s =
          add(std::string("sphere_") +
                  (options.inputOnly ? "input_only"
                                     : sphereVariantName(options.variant)) +
                  tag,
              "sphere_conv2d");
      convInputs(s, g, false);
      s.attr("variant", sphereVariantName(options.variant))
          .attr("input_only", options.inputOnly ? "1" : "0")
          .attr("epsilon", options.epsilon)
          .attr("sigmoid_k", options.sigmoidK);
      if (learned) {
        Tensor k = rng.tensor({g.o});
        k.data[0] = 0.0; // the kink of |k'|: sign(0) = 0
        s.input("k", k, true);
      }
      upstream(s, out);
      s.reference = [g, options](const GradCase &c) {
        SphereConv2dGrads r = sphereConv2dVJP(c["x"], c["w"], c.find("k"),
                                              options, g.window, c["gy"]);
        std::vector<Tensor> grads{r.input, r.weight};
        if (r.kParam)
          grads.push_back(*r.kParam);
        return grads;
      };
    }
  }

  // The linear variant where it clamps: filter 0 is parallel (sample 0) and
  // antiparallel (sample 1) to the only patch, filter 1 is random.
  {
    GradCase &c = add("sphere_linear_clamped", "sphere_conv2d");
    Tensor w = rng.tensor({2, 3, 2, 2}), x({2, 3, 2, 2});
    for (int64_t i = 0; i < 12; ++i) {
      x.data[i] = 2 * w.data[i];
      x.data[12 + i] = -w.data[i];
    }
    SphereOptions options;
    options.variant = SphereVariant::Linear;
    options.epsilon = 1e-9;
    c.input("x", x, true).input("w", w, true).window(Window{});
    c.attr("variant", "linear")
        .attr("input_only", "0")
        .attr("epsilon", options.epsilon)
        .attr("sigmoid_k", 0.3);
    upstream(c, {2, 2, 1, 1});
    c.reference = [options](const GradCase &c) {
      SphereConv2dGrads r =
          sphereConv2dVJP(c["x"], c["w"], nullptr, options, Window{}, c["gy"]);
      return std::vector<Tensor>{r.input, r.weight};
    };
  }

  // Static structures folded into the weight, then F.conv2d; every
  // structure, static and dynamic, through F.unfold and einsum.
  for (const SimConvCase &k : simConvCases()) {
    const Geometry &g = geometries[k.geometry];
    GradCase &c = add(k.name, k.op);
    convInputs(c, g, k.bias);
    addSimilarity(c, rng, k.structure, k.dynamic, k.diagonalR, g.taps(), g.n,
                  g.ho(), g.wo());
    upstream(c, {g.n, g.o, g.ho(), g.wo()});
    c.reference = simConvReference(g.window);
  }

  // fold_similarity itself, for conv and grouped linear weights.
  auto foldReference = [](int64_t group) {
    return [group](const GradCase &c) {
      FoldSimilarityGrads r =
          foldSimilarityVJP(c["w"], similarityOf(c), group, c["gy"]);
      std::vector<Tensor> grads{r.weight};
      grads.insert(grads.end(), r.similarity.begin(), r.similarity.end());
      return grads;
    };
  };
  for (auto [s, diagonalR] : structureVariants(false)) {
    GradCase &conv =
        add("fold_conv_" + structureTag(s, diagonalR), "fold_similarity");
    conv.input("w", rng.tensor({4, 3, 3, 2}), true).attr("group_size", "0");
    addSimilarity(conv, rng, s, false, diagonalR, 6);
    upstream(conv, {4, 3, 3, 2});
    conv.reference = foldReference(0);
    GradCase &lin =
        add("fold_linear_" + structureTag(s, diagonalR), "fold_similarity");
    lin.input("w", rng.tensor({5, 12}), true).attr("group_size", "4");
    addSimilarity(lin, rng, s, false, diagonalR, 4);
    upstream(lin, {5, 12});
    lin.reference = foldReference(4);
  }

  // Similarity linear layer.
  for (auto [s, diagonalR] : structureVariants(false)) {
    GradCase &c = add("sim_linear_" + structureTag(s, diagonalR), "sim_linear");
    c.input("x", rng.tensor({3, 15}), true)
        .input("w", rng.tensor({4, 15}), true)
        .attr("group_size", "5");
    if (s != Structure::Full)
      c.input("b", rng.tensor({4}), true);
    addSimilarity(c, rng, s, false, diagonalR, 5);
    upstream(c, {3, 4});
    c.reference = [](const GradCase &c) {
      SimLinearGrads r = simLinearVJP(c["x"], c["w"], similarityOf(c),
                                      c.find("b"), 5, c["gy"]);
      std::vector<Tensor> grads{r.input, r.weight};
      if (r.bias)
        grads.push_back(*r.bias);
      grads.insert(grads.end(), r.similarity.begin(), r.similarity.end());
      return grads;
    };
  }

  // M_p = γ·P + I.
  for (Structure s : {Structure::Diagonal, Structure::Full}) {
    GradCase &c = add(std::string("predicted_") + structureName(s),
                      "predicted_similarity");
    Shape shape{2, s == Structure::Full ? 81 : 9, 4, 3};
    c.input("p", rng.tensor(shape), true)
        .input("gamma", rng.tensor({1}), true)
        .attr("structure", structureName(s));
    upstream(c, shape);
    c.reference = [s](const GradCase &c) {
      PredictedSimilarityGrads r =
          predictedSimilarityVJP(c["p"], c["gamma"], s, c["gy"]);
      return std::vector<Tensor>{r.prediction, r.gamma};
    };
  }

  // Batch norm, inference and training.
  for (Shape shape : {Shape{4, 3, 5, 6}, Shape{6, 5}, Shape{3, 4, 7}}) {
    std::string tag = "_" + std::to_string(shape.size()) + "d";
    int64_t channels = shape[1];
    for (bool training : {false, true}) {
      GradCase &c = add((training ? "batch_norm_train" : "batch_norm") + tag,
                        training ? "batch_norm_train" : "batch_norm");
      c.input("x", rng.tensor(shape), true)
          .input("weight", rng.tensor({channels}), true)
          .input("bias", rng.tensor({channels}), true)
          .input("mean", rng.tensor({channels}), false)
          .input("var", rng.positive({channels}), false)
          .attr("epsilon", 1e-5)
          .attr("momentum", 0.1);
      upstream(c, shape);
      c.reference = [training](const GradCase &c) {
        BatchNormGrads r =
            training
                ? batchNormTrainVJP(c["x"], c["weight"], c["bias"], c["mean"],
                                    c["var"], 1e-5, 0.1, c["gy"])
                : batchNormVJP(c["x"], c["weight"], c["bias"], c["mean"],
                               c["var"], 1e-5, c["gy"]);
        return std::vector<Tensor>{r.input, r.weight, r.bias};
      };
    }
  }

  // Pooling: random values, and quantized ones full of exact ties.
  for (const Pool &p : torchPools()) {
    const Shape out{p.shape[0], p.shape[1],
                    windowOutputSize(p.shape[2], p.kernel[0],
                                     p.window.stride[0], p.window.padding[0],
                                     p.window.dilation[0], p.ceilMode),
                    windowOutputSize(p.shape[3], p.kernel[1],
                                     p.window.stride[1], p.window.padding[1],
                                     p.window.dilation[1], p.ceilMode)};
    const char *ceil = p.ceilMode ? "1" : "0";
    for (bool ties : {false, true}) {
      GradCase &c =
          add("max_pool2d_" + p.tag + (ties ? "_ties" : ""), "max_pool2d");
      c.input("x", ties ? rng.quantized(p.shape) : rng.tensor(p.shape), true)
          .pair("kernel", p.kernel)
          .window(p.window)
          .attr("ceil_mode", ceil);
      upstream(c, out);
      c.reference = [p](const GradCase &c) {
        return std::vector<Tensor>{
            maxPool2dVJP(c["x"], p.kernel, p.window, c["gy"], p.ceilMode)};
      };
    }
    if (p.window.dilation != std::array<int64_t, 2>{1, 1})
      continue;
    for (bool includePad : {true, false}) {
      GradCase &a = add("avg_pool2d_" + p.tag +
                            (includePad ? "_include_pad" : "_exclude_pad"),
                        "avg_pool2d");
      a.input("x", rng.tensor(p.shape), true)
          .pair("kernel", p.kernel)
          .window(p.window)
          .attr("count_include_pad", includePad ? "1" : "0")
          .attr("ceil_mode", ceil);
      upstream(a, out);
      a.reference = [p, includePad](const GradCase &c) {
        return std::vector<Tensor>{avgPool2dVJP(
            c["x"], p.kernel, p.window, includePad, c["gy"], p.ceilMode)};
      };
    }
  }
  for (const AdaptivePool &p : torchAdaptivePools()) {
    const Shape out{p.shape[0], p.shape[1], p.outputSize[0], p.outputSize[1]};
    GradCase &a = add("adaptive_avg_pool2d_" + p.tag, "adaptive_avg_pool2d");
    a.input("x", rng.tensor(p.shape), true).pair("output_size", p.outputSize);
    upstream(a, out);
    a.reference = [p](const GradCase &c) {
      return std::vector<Tensor>{
          adaptiveAvgPool2dVJP(c["x"], p.outputSize, c["gy"])};
    };
    for (bool ties : {false, true}) {
      GradCase &m = add("adaptive_max_pool2d_" + p.tag + (ties ? "_ties" : ""),
                        "adaptive_max_pool2d");
      m.input("x", ties ? rng.quantized(p.shape) : rng.tensor(p.shape), true)
          .pair("output_size", p.outputSize);
      upstream(m, out);
      m.reference = [p](const GradCase &c) {
        return std::vector<Tensor>{
            adaptiveMaxPool2dVJP(c["x"], p.outputSize, c["gy"])};
      };
    }
  }
  GradCase &gap = add("global_avg_pool2d", "global_avg_pool2d");
  gap.input("x", rng.tensor({3, 4, 5, 7}), true);
  upstream(gap, {3, 4, 1, 1});
  gap.reference = [](const GradCase &c) {
    return std::vector<Tensor>{globalAvgPool2dVJP(c["x"], c["gy"])};
  };

  // The rest.
  for (bool bias : {true, false}) {
    GradCase &c = add(bias ? "linear_bias" : "linear", "linear");
    c.input("x", rng.tensor({5, 7}), true).input("w", rng.tensor({3, 7}), true);
    if (bias)
      c.input("b", rng.tensor({3}), true);
    upstream(c, {5, 3});
    c.reference = [](const GradCase &c) {
      LinearGrads r = linearVJP(c["x"], c["w"], c.find("b"), c["gy"]);
      std::vector<Tensor> grads{r.input, r.weight};
      if (r.bias)
        grads.push_back(*r.bias);
      return grads;
    };
  }
  GradCase &r = add("relu_with_zeros", "relu");
  r.input("x", rng.quantized({2, 3, 4, 5}), true);
  upstream(r, {2, 3, 4, 5});
  r.reference = [](const GradCase &c) {
    return std::vector<Tensor>{reluVJP(c["x"], c["gy"])};
  };
  GradCase &sum = add("add", "add");
  sum.input("a", rng.tensor({2, 3, 5}), true)
      .input("b", rng.tensor({2, 3, 5}), true);
  upstream(sum, {2, 3, 5});
  sum.reference = [](const GradCase &c) {
    AddGrads r = addVJP(c["a"], c["b"], c["gy"]);
    return std::vector<Tensor>{r.lhs, r.rhs};
  };
  // Every elementwise row's VJP: a broadcast operand's gradient sums over
  // the dimensions it was stretched along. A number operand in PyTorch
  // (leaky_relu's slope, elu's alpha) is not differentiated.
  for (const ElementwiseRow &row : elementwiseRows())
    for (const ElementwiseCase &shapes : elementwiseCases(row.name)) {
      GradCase &c =
          add(std::string("elementwise_") + row.name + shapes.tag, row.name);
      bool number = elementwiseNumberOperand(row.name);
      c.input("a", elementwiseOperand(rng, row.name, 0, shapes.a), true);
      if (row.arity == 2)
        c.input("b", elementwiseOperand(rng, row.name, 1, shapes.b), !number);
      upstream(c, row.arity == 2 ? broadcastShapes(shapes.a, shapes.b, row.name)
                                 : shapes.a);
      c.reference = [&row, number](const GradCase &c) {
        std::vector<Tensor> operands = {c["a"]};
        if (row.arity == 2)
          operands.push_back(c["b"]);
        std::vector<int64_t> wrt = {0};
        if (row.arity == 2 && !number)
          wrt.push_back(1);
        return elementwiseVJP(row, operands, c["gy"], wrt);
      };
    }
  for (int64_t dim : {1, 3}) {
    GradCase &c = add("concat_dim" + std::to_string(dim), "concat");
    Shape a{2, 3, 4, 5}, b = a, out = a;
    b[dim] = 2;
    out[dim] = 2 * a[dim] + 2;
    c.input("a", rng.tensor(a), true)
        .input("b", rng.tensor(b), true)
        .input("c", rng.tensor(a), true);
    c.attr("dim", std::to_string(dim));
    upstream(c, out);
    c.reference = [dim](const GradCase &c) {
      return concatVJP({c["a"], c["b"], c["c"]}, dim, c["gy"]);
    };
  }
  // Reshapes and transposes: the compiler's VJP is the inverse reshape or
  // transpose of the upstream gradient.
  GradCase &reshaped = add("reshape", "reshape");
  reshaped.input("x", rng.tensor({2, 6, 4}), true).attr("shape", "2,3,2,4");
  upstream(reshaped, {2, 3, 2, 4});
  reshaped.reference = [](const GradCase &c) {
    return std::vector<Tensor>{reshape(c["gy"], c["x"].shape)};
  };
  GradCase &permuted = add("transpose", "transpose");
  permuted.input("x", rng.tensor({2, 3, 4, 5}), true)
      .attr("permutation", "0,2,3,1");
  upstream(permuted, {2, 4, 5, 3});
  permuted.reference = [](const GradCase &c) {
    return std::vector<Tensor>{transpose(c["gy"], {0, 3, 1, 2})};
  };
  for (int64_t dim : {0, 1, 2}) {
    GradCase &c = add("slice_dim" + std::to_string(dim), "slice");
    Shape x{3, 7, 5}, out = x;
    out[dim] = 2;
    c.input("x", rng.tensor(x), true)
        .attr("dim", std::to_string(dim))
        .attr("start", "1")
        .attr("size", "2");
    upstream(c, out);
    c.reference = [dim](const GradCase &c) {
      return std::vector<Tensor>{sliceVJP(c["x"], dim, 1, 2, c["gy"])};
    };
  }
  // The reductions; "ties" holds values from {-1, 0, 1}, so that maxima tie
  // and torch.amax shares their gradient evenly.
  for (const char *op : {"reduce_sum", "reduce_mean", "reduce_max"})
    for (int variant = 0; variant < 3; ++variant) {
      bool keep = variant == 1, ties = variant == 2;
      if (ties && std::string(op) != "reduce_max")
        continue;
      Reduction kind = std::string(op) == "reduce_sum"    ? Reduction::Sum
                       : std::string(op) == "reduce_mean" ? Reduction::Mean
                                                          : Reduction::Max;
      GradCase &c = add(std::string(op) + (keep ? "_keepdim" : "") +
                            (ties ? "_ties" : ""),
                        op);
      Tensor x = rng.tensor({2, 3, 4, 5});
      if (ties)
        for (double &v : x.data)
          v = v < -0.3 ? -1.0 : v > 0.3 ? 1.0 : 0.0;
      c.input("x", x, true)
          .attr("dims", "1,3")
          .attr("keepdim", keep ? "1" : "0");
      upstream(c, keep ? Shape{2, 1, 4, 1} : Shape{2, 4});
      c.reference = [kind, keep](const GradCase &c) {
        return std::vector<Tensor>{
            reduceVJP(c["x"], kind, {1, 3}, keep, c["gy"])};
      };
    }
  GradCase &flat = add("flatten", "flatten");
  flat.input("x", rng.tensor({3, 2, 4, 5}), true);
  upstream(flat, {3, 40});
  flat.reference = [](const GradCase &c) {
    return std::vector<Tensor>{flattenVJP(c["x"], c["gy"])};
  };
  for (double smoothing : {0.0, 0.1}) {
    GradCase &c =
        add(smoothing == 0 ? "cross_entropy" : "cross_entropy_label_smoothing",
            "cross_entropy");
    const int64_t n = 7, classes = 10;
    Tensor logits = rng.tensor({n, classes});
    for (double &v : logits.data)
      v *= 4; // exact in float: a power of two
    Tensor labels({n}, DType::I64);
    for (int64_t i = 0; i < n; ++i)
      labels.data[i] = static_cast<double>((i * 3 + 1) % classes);
    c.input("logits", logits, true)
        .input("labels", labels, false)
        .attr("label_smoothing", smoothing);
    upstream(c, {});
    c.reference = [smoothing](const GradCase &c) {
      return std::vector<Tensor>{
          softmaxCrossEntropyVJP(c["logits"], c["labels"], smoothing, c["gy"])};
    };
  }

  // Regularisers.
  GradCase &l1 = add("l1_with_zeros", "l1");
  l1.input("m", rng.quantized({5, 5}), true).attr("strength", 0.3);
  upstream(l1, {});
  l1.reference = [](const GradCase &c) {
    return std::vector<Tensor>{l1RegularizerVJP(c["m"], 0.3, c["gy"])};
  };
  for (Shape shape : {Shape{4, 3, 3, 3}, Shape{3, 5}, Shape{6, 2}}) {
    GradCase &c = add("orthogonality_" + std::to_string(shape.size()) + "d_" +
                          std::to_string(shape[0]),
                      "orthogonality");
    c.input("w", rng.tensor(shape), true).attr("strength", 0.7);
    upstream(c, {});
    c.reference = [](const GradCase &c) {
      return std::vector<Tensor>{
          orthogonalityRegularizerVJP(c["w"], 0.7, c["gy"])};
    };
  }

  // Operand names travel in the manifest.
  for (GradCase &c : cases) {
    std::string names, wrt;
    for (const auto &[key, tensor] : c.inputs)
      names += (names.empty() ? "" : ",") + key;
    for (const std::string &key : c.wrt)
      wrt += (wrt.empty() ? "" : ",") + key;
    c.attr("inputs", names).attr("wrt", wrt);
  }
  return {cases.begin(), cases.end()};
}

const std::vector<GradCase> &gradCases() {
  static const std::vector<GradCase> cases = buildCases();
  return cases;
}

//===----------------------------------------------------------------------===//
// The one Python run
//===----------------------------------------------------------------------===//

const PythonRun &oracleRun() {
  static const PythonRun run("nsl-torch-grad-oracle-XXXXXX",
                             "torch_grad_oracle.py", "PyTorch gradient oracle",
                             gradCases());
  return run;
}

/// The worst relative error of all comparisons, printed at the end.
class ReportWorst : public ::testing::Environment {
public:
  void TearDown() override {
    std::printf("[ worst    ] relative error %.3g against PyTorch autograd\n",
                worstRelativeError());
  }
};
const auto *const kReportWorst =
    ::testing::AddGlobalTestEnvironment(new ReportWorst);

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

using TorchGrad = PythonSuite<oracleRun>;

TEST_P(TorchGrad, Matches) {
  const PythonRun &run = oracleRun();
  ASSERT_TRUE(run.error.empty()) << run.error;
  const GradCase &c = gradCases()[GetParam()];
  const std::string prefix = run.dir + "/" + c.name;
  ASSERT_FALSE(std::filesystem::exists(prefix + ".error.txt"))
      << "torch_grad_oracle.py failed on " << c.name << ":\n"
      << readText(prefix + ".error.txt");
  std::vector<Tensor> grads = c.reference(c);
  ASSERT_EQ(grads.size(), c.wrt.size())
      << c.name << ": the reference VJP gives " << grads.size()
      << " gradients for " << c.wrt.size() << " operands";
  for (size_t i = 0; i < grads.size(); ++i) {
    Tensor expected = loadNpy(prefix + ".grad." + c.wrt[i] + ".npy");
    EXPECT_TRUE(closeToOracle(grads[i], expected))
        << c.name << " (" << c.op << ") ∂" << c.wrt[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchGrad,
                         ::testing::Range<size_t>(0, gradCases().size()),
                         [](const ::testing::TestParamInfo<size_t> &info) {
                           return gradCases()[info.param].name;
                         });

} // namespace
