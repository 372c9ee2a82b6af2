//===- TorchOracleTest.cpp - The reference against PyTorch ----------------===//
//
// Every reference op is compared with PyTorch 1.13 / torchvision 0.14 in
// float64: torch's own ops where they exist (conv2d, deform_conv2d for DNS,
// batch_norm, pooling, cross_entropy, ...) and F.unfold formulations in
// torch_oracle.py for the NSL ops. The test writes fresh random inputs and a
// manifest of cases into a temporary directory, runs the Python script once
// (importing torch is slow), then each case compares the reference with the
// `.npy` outputs: relative error ‖y − r‖₂/‖r‖₂ ≤ 1e-9 (both sides compute in
// double; they agree to ~1e-15). Inputs are drawn as float32 values so that
// the f32 files carry them exactly. A missing Python, torch or torchvision
// fails every test with the reason; nothing is skipped.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Elementwise.h"
#include "runtime/reference/Layout.h"
#include "runtime/reference/Ops.h"
#include "runtime/support/Npy.h"
#include "test/runtime/reference/TorchHarness.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

using namespace nsl::reference;
using namespace nsl::reference::test;

namespace {

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

using OracleCase = TorchCase;

// A case list: one block per op family and configuration checked against
// PyTorch. NOLINTNEXTLINE(readability-function-size)
std::vector<OracleCase> buildCases() {
  const std::vector<Geometry> &geometries = torchGeometries();
  Random rng(20240611);
  std::deque<OracleCase> cases; // stable references while cases are added
  auto add = [&](const std::string &name, const std::string &op) -> auto & {
    cases.push_back(OracleCase{name, op, {}, {}, {}, {}});
    return cases.back();
  };
  auto convInputs = [&](OracleCase &c, const Geometry &g, bool bias) {
    c.input("x", rng.tensor({g.n, g.c, g.h, g.w}))
        .input("w", rng.tensor({g.o, g.c, g.kh, g.kw}))
        .window(g.window);
    if (bias)
      c.input("b", rng.tensor({g.o}));
  };
  auto simConvReference = [](const Window &window) {
    return [window](const OracleCase &c) {
      return std::vector<Tensor>{
          simConv2d(c["x"], c["w"], similarityOf(c), c.find("b"), window)};
    };
  };

  for (size_t gi = 0; gi < geometries.size(); ++gi) {
    const Geometry &g = geometries[gi];
    std::string tag = "_g" + std::to_string(gi);
    // Plain convolution: F.conv2d.
    for (bool bias : {true, false}) {
      OracleCase &c = add("conv2d" + tag + (bias ? "_bias" : ""), "conv2d");
      convInputs(c, g, bias);
      c.attr("structure", "identity");
      c.reference = simConvReference(g.window);
    }
    // DNS: torchvision deform_conv2d with zero offsets and mask = m.
    OracleCase &d = add("dns_deform_conv2d" + tag, "deform_conv2d");
    convInputs(d, g, gi != 1);
    addSimilarity(d, rng, Structure::Diagonal, true, false, g.taps(), g.n,
                  g.ho(), g.wo());
    d.reference = simConvReference(g.window);
    // Patch norm and SphereConv through F.unfold.
    OracleCase &p = add("patch_norm" + tag, "patch_norm");
    p.input("x", rng.tensor({g.n, g.c, g.h, g.w}))
        .window(g.window)
        .pair("kernel", {g.kh, g.kw})
        .attr("epsilon", 1e-4);
    p.reference = [g](const OracleCase &c) {
      return std::vector<Tensor>{
          patchNorm(c["x"], {g.kh, g.kw}, g.window, 1e-4)};
    };
    if (gi % 2 == 0) {
      for (int v = 0; v < 5; ++v) {
        SphereOptions options;
        options.inputOnly = v == 4;
        options.variant = v == 4 ? SphereVariant::Cosine : SphereVariant(v);
        options.sigmoidK = gi == 2 ? 0.45 : 0.3;
        options.epsilon = gi == 4 ? 0.01 : 1e-4;
        OracleCase &s =
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
        if (options.variant == SphereVariant::LearnedSigmoid)
          s.input("k", rng.tensor({g.o}));
        s.reference = [g, options](const OracleCase &c) {
          return std::vector<Tensor>{
              sphereConv2d(c["x"], c["w"], c.find("k"), options, g.window)};
        };
      }
    }
  }

  // SphereConv on patches (anti)parallel to the filters: |cos θ| is within
  // 1e-6 of 1, where the linear variant clamps.
  for (SphereVariant variant :
       {SphereVariant::Linear, SphereVariant::Sigmoid}) {
    OracleCase &c =
        add(std::string("sphere_") + sphereVariantName(variant) + "_parallel",
            "sphere_conv2d");
    Tensor w = rng.tensor({2, 3, 2, 2}), x({2, 3, 2, 2});
    for (int64_t i = 0; i < 12; ++i) {
      x.data[i] = 2 * w.data[i];
      x.data[12 + i] = -w.data[12 + i];
    }
    SphereOptions options;
    options.variant = variant;
    options.epsilon = 1e-9;
    c.input("x", x).input("w", w).window(Window{});
    c.attr("variant", sphereVariantName(variant))
        .attr("input_only", "0")
        .attr("epsilon", options.epsilon)
        .attr("sigmoid_k", options.sigmoidK);
    c.reference = [options](const OracleCase &c) {
      return std::vector<Tensor>{
          sphereConv2d(c["x"], c["w"], nullptr, options, Window{})};
    };
  }

  // Static structures folded into the weight, then F.conv2d; every
  // structure, static and dynamic, through F.unfold and einsum.
  for (const SimConvCase &k : simConvCases()) {
    const Geometry &g = geometries[k.geometry];
    OracleCase &c = add(k.name, k.op);
    convInputs(c, g, k.bias);
    addSimilarity(c, rng, k.structure, k.dynamic, k.diagonalR, g.taps(), g.n,
                  g.ho(), g.wo());
    c.reference = simConvReference(g.window);
  }

  // fold_similarity itself, for conv and grouped linear weights.
  for (auto [s, diagonalR] : structureVariants(false)) {
    OracleCase &conv =
        add("fold_conv_" + structureTag(s, diagonalR), "fold_similarity");
    conv.input("w", rng.tensor({4, 3, 3, 2})).attr("group_size", "0");
    addSimilarity(conv, rng, s, false, diagonalR, 6);
    conv.reference = [](const OracleCase &c) {
      return std::vector<Tensor>{foldSimilarity(c["w"], similarityOf(c), 0)};
    };
    OracleCase &lin =
        add("fold_linear_" + structureTag(s, diagonalR), "fold_similarity");
    lin.input("w", rng.tensor({5, 12})).attr("group_size", "4");
    addSimilarity(lin, rng, s, false, diagonalR, 4);
    lin.reference = [](const OracleCase &c) {
      return std::vector<Tensor>{foldSimilarity(c["w"], similarityOf(c), 4)};
    };
  }

  // Similarity linear layer.
  for (auto [s, diagonalR] : structureVariants(false)) {
    OracleCase &c =
        add("sim_linear_" + structureTag(s, diagonalR), "sim_linear");
    c.input("x", rng.tensor({3, 15}))
        .input("w", rng.tensor({4, 15}))
        .attr("group_size", "5");
    if (s != Structure::Full)
      c.input("b", rng.tensor({4}));
    addSimilarity(c, rng, s, false, diagonalR, 5);
    c.reference = [](const OracleCase &c) {
      return std::vector<Tensor>{
          simLinear(c["x"], c["w"], similarityOf(c), c.find("b"), 5)};
    };
  }

  // M_p = γ·P + I.
  for (Structure s : {Structure::Diagonal, Structure::Full}) {
    OracleCase &c = add(std::string("predicted_") + structureName(s),
                        "predicted_similarity");
    c.input("p", rng.tensor({2, s == Structure::Full ? 81 : 9, 4, 3}))
        .input("gamma", rng.tensor({1}))
        .attr("structure", structureName(s));
    c.reference = [s](const OracleCase &c) {
      return std::vector<Tensor>{predictedSimilarity(c["p"], c["gamma"], s)};
    };
  }

  // Batch norm, inference and training.
  for (Shape shape : {Shape{4, 3, 5, 6}, Shape{6, 5}, Shape{3, 4, 7}}) {
    std::string tag = "_" + std::to_string(shape.size()) + "d";
    int64_t channels = shape[1];
    for (bool training : {false, true}) {
      OracleCase &c = add((training ? "batch_norm_train" : "batch_norm") + tag,
                          training ? "batch_norm_train" : "batch_norm");
      c.input("x", rng.tensor(shape))
          .input("weight", rng.tensor({channels}))
          .input("bias", rng.tensor({channels}))
          .input("mean", rng.tensor({channels}))
          .input("var", rng.positive({channels}))
          .attr("epsilon", 1e-5)
          .attr("momentum", 0.1);
      if (training)
        c.reference = [](const OracleCase &c) {
          BatchNormTrainResult r = batchNormTrain(
              c["x"], c["weight"], c["bias"], c["mean"], c["var"], 1e-5, 0.1);
          return std::vector<Tensor>{r.output, r.batchMean, r.batchVar,
                                     r.runningMean, r.runningVar};
        };
      else
        c.reference = [](const OracleCase &c) {
          return std::vector<Tensor>{batchNorm(c["x"], c["weight"], c["bias"],
                                               c["mean"], c["var"], 1e-5)};
        };
    }
  }

  // Pooling.
  for (const Pool &p : torchPools()) {
    OracleCase &c = add("max_pool2d_" + p.tag, "max_pool2d");
    c.input("x", rng.tensor(p.shape))
        .pair("kernel", p.kernel)
        .window(p.window)
        .attr("ceil_mode", p.ceilMode ? "1" : "0");
    c.reference = [p](const OracleCase &c) {
      return std::vector<Tensor>{
          maxPool2d(c["x"], p.kernel, p.window, p.ceilMode)};
    };
    if (p.window.dilation != std::array<int64_t, 2>{1, 1})
      continue;
    for (bool includePad : {true, false}) {
      OracleCase &a = add("avg_pool2d_" + p.tag +
                              (includePad ? "_include_pad" : "_exclude_pad"),
                          "avg_pool2d");
      a.input("x", rng.tensor(p.shape))
          .pair("kernel", p.kernel)
          .window(p.window)
          .attr("count_include_pad", includePad ? "1" : "0")
          .attr("ceil_mode", p.ceilMode ? "1" : "0");
      a.reference = [p, includePad](const OracleCase &c) {
        return std::vector<Tensor>{
            avgPool2d(c["x"], p.kernel, p.window, includePad, p.ceilMode)};
      };
    }
  }
  for (const AdaptivePool &p : torchAdaptivePools()) {
    for (bool max : {false, true}) {
      std::string op = max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d";
      OracleCase &c = add(op + "_" + p.tag, op);
      c.input("x", rng.tensor(p.shape)).pair("output_size", p.outputSize);
      c.reference = [p, max](const OracleCase &c) {
        return std::vector<Tensor>{
            max ? adaptiveMaxPool2d(c["x"], p.outputSize)
                : adaptiveAvgPool2d(c["x"], p.outputSize)};
      };
    }
  }
  OracleCase &gap = add("global_avg_pool2d", "global_avg_pool2d");
  gap.input("x", rng.tensor({3, 4, 5, 7}));
  gap.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{globalAvgPool2d(c["x"])};
  };

  // The rest.
  for (bool bias : {true, false}) {
    OracleCase &c = add(bias ? "linear_bias" : "linear", "linear");
    c.input("x", rng.tensor({5, 7})).input("w", rng.tensor({3, 7}));
    if (bias)
      c.input("b", rng.tensor({3}));
    c.reference = [](const OracleCase &c) {
      return std::vector<Tensor>{linear(c["x"], c["w"], c.find("b"))};
    };
  }
  OracleCase &r = add("relu", "relu");
  r.input("x", rng.tensor({2, 3, 4, 5}));
  r.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{relu(c["x"])};
  };
  OracleCase &sum = add("add", "add");
  sum.input("a", rng.tensor({2, 3, 5})).input("b", rng.tensor({2, 3, 5}));
  sum.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{nsl::reference::add(c["a"], c["b"])};
  };
  // Grouped and depthwise convolutions: F.conv2d(groups=G).
  for (size_t gi = 0; gi < geometries.size(); ++gi) {
    const Geometry &g = geometries[gi];
    const int64_t groups = g.c; // depthwise, times a multiplier of 2
    OracleCase &c = add("conv2d_depthwise_g" + std::to_string(gi), "conv2d");
    c.input("x", rng.tensor({g.n, g.c, g.h, g.w}))
        .input("w", rng.tensor({2 * g.c, 1, g.kh, g.kw}))
        .input("b", rng.tensor({2 * g.c}))
        .window(g.window)
        .attr("groups", std::to_string(groups));
    c.reference = [window = g.window, groups](const OracleCase &c) {
      return std::vector<Tensor>{
          simConv2d(c["x"], c["w"], Similarity{}, c.find("b"), window, groups)};
    };
  }
  // Every elementwise row (Elementwise.h), broadcast as in PyTorch: a row
  // torch_oracle.py does not know fails.
  for (const ElementwiseRow &row : elementwiseRows())
    for (const ElementwiseCase &shapes : elementwiseCases(row.name)) {
      OracleCase &c =
          add(std::string("elementwise_") + row.name + shapes.tag, row.name);
      c.input("a", elementwiseOperand(rng, row.name, 0, shapes.a));
      if (row.arity == 2)
        c.input("b", elementwiseOperand(rng, row.name, 1, shapes.b));
      c.reference = [&row](const OracleCase &c) {
        std::vector<Tensor> operands = {c["a"]};
        if (row.arity == 2)
          operands.push_back(c["b"]);
        return std::vector<Tensor>{elementwise(row, operands)};
      };
    }
  // torch.cat along channels and along the width (inputs in name order).
  for (int64_t dim : {1, 3}) {
    OracleCase &c = add("concat_dim" + std::to_string(dim), "concat");
    Shape a{2, 3, 4, 5}, b = a;
    b[dim] = 2;
    c.input("a", rng.tensor(a))
        .input("b", rng.tensor(b))
        .input("c", rng.tensor(a));
    c.attr("dim", std::to_string(dim));
    c.reference = [dim](const OracleCase &c) {
      return std::vector<Tensor>{concat({c["a"], c["b"], c["c"]}, dim)};
    };
  }
  // Reshapes, transposes, slices and reductions (Layout.h).
  OracleCase &reshaped = add("reshape", "reshape");
  reshaped.input("x", rng.tensor({2, 6, 4})).attr("shape", "2,3,2,4");
  reshaped.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{reshape(c["x"], {2, 3, 2, 4})};
  };
  OracleCase &permuted = add("transpose", "transpose");
  permuted.input("x", rng.tensor({2, 3, 4, 5})).attr("permutation", "0,2,3,1");
  permuted.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{transpose(c["x"], {0, 2, 3, 1})};
  };
  OracleCase &shuffled = add("transpose_5d", "transpose");
  shuffled.input("x", rng.tensor({2, 2, 3, 4, 5}))
      .attr("permutation", "0,2,1,4,3");
  shuffled.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{transpose(c["x"], {0, 2, 1, 4, 3})};
  };
  for (int64_t dim : {0, 1, 2}) {
    OracleCase &c = add("slice_dim" + std::to_string(dim), "slice");
    c.input("x", rng.tensor({3, 7, 5}))
        .attr("dim", std::to_string(dim))
        .attr("start", "1")
        .attr("size", "2");
    c.reference = [dim](const OracleCase &c) {
      return std::vector<Tensor>{slice(c["x"], dim, 1, 2)};
    };
  }
  for (const char *op : {"reduce_sum", "reduce_mean", "reduce_max"})
    for (bool keep : {false, true}) {
      Reduction kind = std::string(op) == "reduce_sum"    ? Reduction::Sum
                       : std::string(op) == "reduce_mean" ? Reduction::Mean
                                                          : Reduction::Max;
      OracleCase &c = add(std::string(op) + (keep ? "_keepdim" : ""), op);
      c.input("x", rng.tensor({2, 3, 4, 5}))
          .attr("dims", "1,3")
          .attr("keepdim", keep ? "1" : "0");
      c.reference = [kind, keep](const OracleCase &c) {
        return std::vector<Tensor>{reduce(c["x"], kind, {1, 3}, keep)};
      };
    }
  OracleCase &flat = add("flatten", "flatten");
  flat.input("x", rng.tensor({3, 2, 4, 5}));
  flat.reference = [](const OracleCase &c) {
    return std::vector<Tensor>{flatten(c["x"])};
  };
  for (double smoothing : {0.0, 0.1}) {
    OracleCase &c =
        add(smoothing == 0 ? "cross_entropy" : "cross_entropy_label_smoothing",
            "cross_entropy");
    const int64_t n = 7, classes = 10;
    Tensor logits = rng.tensor({n, classes});
    for (double &v : logits.data)
      v *= 4; // exact in float: a power of two
    Tensor labels({n}, DType::I64);
    for (int64_t i = 0; i < n; ++i)
      labels.data[i] = static_cast<double>((i * 3 + 1) % classes);
    c.input("logits", logits)
        .input("labels", labels)
        .attr("label_smoothing", smoothing);
    c.reference = [smoothing](const OracleCase &c) {
      return std::vector<Tensor>{
          softmaxCrossEntropy(c["logits"], c["labels"], smoothing)};
    };
  }

  // Operand names travel in the manifest.
  for (OracleCase &c : cases) {
    std::string names;
    for (const auto &[key, tensor] : c.inputs)
      names += (names.empty() ? "" : ",") + key;
    c.attr("inputs", names);
  }
  return {cases.begin(), cases.end()};
}

const std::vector<OracleCase> &oracleCases() {
  static const std::vector<OracleCase> cases = buildCases();
  return cases;
}

//===----------------------------------------------------------------------===//
// The one Python run
//===----------------------------------------------------------------------===//

const PythonRun &oracleRun() {
  static const PythonRun run("nsl-torch-oracle-XXXXXX", "torch_oracle.py",
                             "PyTorch oracle", oracleCases());
  return run;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

using TorchOracle = PythonSuite<oracleRun>;

TEST_P(TorchOracle, Matches) {
  const PythonRun &run = oracleRun();
  ASSERT_TRUE(run.error.empty()) << run.error;
  const OracleCase &c = oracleCases()[GetParam()];
  const std::string prefix = run.dir + "/" + c.name;
  ASSERT_FALSE(std::filesystem::exists(prefix + ".error.txt"))
      << "torch_oracle.py failed on " << c.name << ":\n"
      << readText(prefix + ".error.txt");
  std::vector<Tensor> outputs = c.reference(c);
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor expected = loadNpy(prefix + ".out" + std::to_string(i) + ".npy");
    EXPECT_TRUE(closeToOracle(outputs[i], expected))
        << c.name << " (" << c.op << ") output " << i;
  }
  EXPECT_FALSE(std::filesystem::exists(prefix + ".out" +
                                       std::to_string(outputs.size()) + ".npy"))
      << "PyTorch produced more outputs than the reference";
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchOracle,
                         ::testing::Range<size_t>(0, oracleCases().size()),
                         [](const ::testing::TestParamInfo<size_t> &info) {
                           return oracleCases()[info.param].name;
                         });

class NumpyWritten : public ::testing::Test {
protected:
  static void SetUpTestSuite() { oracleRun(); }
  std::string path(const std::string &name) {
    return oracleRun().dir + "/" + name;
  }
};

TEST_F(NumpyWritten, ReadsF64I32Version2AndRejectsFortranOrder) {
  const PythonRun &run = oracleRun();
  ASSERT_TRUE(run.error.empty()) << run.error;

  nsl::support::NpyArray f64 = nsl::support::readNpy(path("numpy_f64.npy"));
  EXPECT_EQ(f64.dtype, "f64");
  EXPECT_EQ(f64.shape, (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f64.values[i], i / 7.0 - 0.3) << i; // bit-exact IEEE doubles
  Tensor asTensor = loadNpy(path("numpy_f64.npy"));
  EXPECT_EQ(asTensor.dtype, DType::F32);
  EXPECT_EQ(asTensor.data, f64.values);

  Tensor i32 = loadNpy(path("numpy_i32.npy"));
  EXPECT_EQ(i32.dtype, DType::I64);
  EXPECT_EQ(i32.shape, (Shape{3, 2, 1}));
  EXPECT_EQ(i32.data, (std::vector<double>{-3, -2, -1, 0, 1, 2}));

  Tensor scalar = loadNpy(path("numpy_i64_scalar.npy"));
  EXPECT_EQ(scalar.shape, Shape{});
  EXPECT_EQ(scalar.data, std::vector<double>{-42});

  Tensor v2 = loadNpy(path("numpy_v2.npy"));
  EXPECT_EQ(v2.data, (std::vector<double>{0, 0.25, 0.5, 0.75}));

  try {
    loadNpy(path("numpy_fortran.npy"));
    ADD_FAILURE() << "a Fortran-order file was accepted";
  } catch (const nsl::support::NpyError &e) {
    EXPECT_NE(std::string(e.what()).find("Fortran-order"), std::string::npos)
        << e.what();
  }
}

} // namespace
