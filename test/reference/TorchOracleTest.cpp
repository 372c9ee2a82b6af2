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

#include "runtime/reference/Ops.h"
#include "runtime/support/Npy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <sys/wait.h>

using namespace nsl::reference;

namespace {

constexpr double kTolerance = 1e-9;

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

/// One comparison: operands written as NAME.OPERAND.npy, attributes for the
/// manifest, and the reference computation of the outputs.
struct OracleCase {
  std::string name, op;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, Tensor>> inputs;
  std::function<std::vector<Tensor>(const OracleCase &)> reference;

  OracleCase &attr(const std::string &key, const std::string &value) {
    attributes.emplace_back(key, value);
    return *this;
  }
  OracleCase &attr(const std::string &key, double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    return attr(key, std::string(buffer));
  }
  OracleCase &pair(const std::string &key, std::array<int64_t, 2> v) {
    return attr(key, std::to_string(v[0]) + "," + std::to_string(v[1]));
  }
  OracleCase &window(const Window &w) {
    return pair("stride", w.stride)
        .pair("padding", w.padding)
        .pair("dilation", w.dilation);
  }
  OracleCase &input(const std::string &key, Tensor t) {
    inputs.emplace_back(key, std::move(t));
    return *this;
  }
  const Tensor *find(const std::string &key) const {
    for (const auto &[k, t] : inputs)
      if (k == key)
        return &t;
    return nullptr;
  }
  const Tensor &operator[](const std::string &key) const {
    if (const Tensor *t = find(key))
      return *t;
    throw std::runtime_error("case " + name + " has no input " + key);
  }
};

class Random {
public:
  explicit Random(uint32_t seed) : engine(seed) {}
  /// uniform(−1, 1) rounded to float (so that <f4 files hold it exactly),
  /// never zero.
  double next() {
    double v;
    do
      v = static_cast<float>(dist(engine));
    while (v == 0.0);
    return v;
  }
  Tensor tensor(Shape shape) {
    Tensor t(std::move(shape));
    for (double &v : t.data)
      v = next();
    return t;
  }
  Tensor positive(Shape shape) {
    Tensor t = tensor(std::move(shape));
    for (double &v : t.data)
      v = static_cast<float>(0.25 + std::fabs(v));
    return t;
  }

private:
  std::mt19937 engine;
  std::uniform_real_distribution<double> dist{-1.0, 1.0};
};

Window makeWindow(std::array<int64_t, 2> stride, std::array<int64_t, 2> pad,
                  std::array<int64_t, 2> dilation) {
  Window w;
  w.stride = stride;
  w.padding = pad;
  w.dilation = dilation;
  return w;
}

struct Geometry {
  int64_t n, c, h, w, o, kh, kw;
  Window window;
  int64_t taps() const { return kh * kw; }
  int64_t ho() const {
    return windowOutputSize(h, kh, window.stride[0], window.padding[0],
                            window.dilation[0]);
  }
  int64_t wo() const {
    return windowOutputSize(w, kw, window.stride[1], window.padding[1],
                            window.dilation[1]);
  }
};

/// Stride 2, padding 0/1/2, dilation 2, batch 1, odd and non-square sizes,
/// channel counts not divisible by 8.
const std::vector<Geometry> kGeometries = {
    {2, 3, 7, 6, 4, 3, 3, makeWindow({1, 1}, {1, 1}, {1, 1})},
    {1, 5, 9, 8, 3, 3, 3, makeWindow({2, 2}, {0, 0}, {1, 1})},
    {2, 3, 8, 7, 5, 3, 3, makeWindow({1, 2}, {2, 1}, {2, 2})},
    {2, 9, 6, 5, 2, 3, 1, makeWindow({1, 1}, {1, 0}, {1, 1})},
    {1, 4, 7, 7, 2, 2, 3, makeWindow({2, 1}, {1, 1}, {1, 2})},
    {2, 3, 5, 6, 3, 5, 5, makeWindow({1, 1}, {2, 2}, {1, 1})},
};

const Structure kStaticStructures[] = {Structure::Identity, Structure::Diagonal,
                                       Structure::Full, Structure::Cholesky,
                                       Structure::ShapeMasked};

/// The operands of a similarity as named in torch_oracle.py, in the order of
/// Similarity::operands.
std::vector<std::string> similarityOperandNames(Structure s) {
  switch (s) {
  case Structure::Identity:
    return {};
  case Structure::Diagonal:
    return {"m"};
  case Structure::Full:
    return {"mat"};
  case Structure::Cholesky:
    return {"L"};
  case Structure::ShapeMasked:
    return {"d_r", "R"};
  }
  return {};
}

/// Adds random similarity operands for K taps (dynamic ones aligned with
/// N × Ho × Wo) and the structure/alpha/dynamic attributes.
void addSimilarity(OracleCase &c, Random &rng, Structure s, bool dynamic,
                   bool diagonalR, int64_t taps, int64_t n = 0, int64_t ho = 0,
                   int64_t wo = 0) {
  auto operand = [&](bool square) {
    int64_t channels = square ? taps * taps : taps;
    if (dynamic)
      return rng.tensor({n, channels, ho, wo});
    return square ? rng.tensor({taps, taps}) : rng.tensor({taps});
  };
  c.attr("structure", structureName(s))
      .attr("dynamic", dynamic ? "1" : "0")
      .attr("alpha", -0.25);
  switch (s) {
  case Structure::Identity:
    break;
  case Structure::Diagonal:
    c.input("m", operand(false));
    break;
  case Structure::Full:
    c.input("mat", operand(true));
    break;
  case Structure::Cholesky:
    c.input("L", rng.tensor({taps, taps}));
    break;
  case Structure::ShapeMasked:
    c.input("d_r", rng.tensor({taps})).input("R", operand(!diagonalR));
    c.inputs[c.inputs.size() - 2].second.data[0] = -0.25; // == alpha: masked
    break;
  }
}

Similarity similarityOf(const OracleCase &c) {
  Similarity sim;
  for (const auto &[key, value] : c.attributes) {
    if (key == "structure")
      sim.structure = parseStructure(value);
    else if (key == "dynamic")
      sim.dynamic = value == "1";
    else if (key == "alpha")
      sim.alpha = std::stod(value);
  }
  for (const std::string &name : similarityOperandNames(sim.structure))
    sim.operands.push_back(c[name]);
  return sim;
}

std::string structureTag(Structure s, bool diagonalR) {
  if (s == Structure::ShapeMasked)
    return diagonalR ? "shape_masked_vecR" : "shape_masked_matR";
  return structureName(s);
}

/// Every structure to cover, with shape_masked in both R forms.
std::vector<std::pair<Structure, bool>> structureVariants(bool dynamicOnly) {
  std::vector<std::pair<Structure, bool>> v;
  for (Structure s : kStaticStructures) {
    if (dynamicOnly && (s == Structure::Identity || s == Structure::Cholesky))
      continue;
    v.emplace_back(s, false);
    if (s == Structure::ShapeMasked)
      v.emplace_back(s, true);
  }
  return v;
}

std::vector<OracleCase> buildCases() {
  Random rng(20240611);
  std::deque<OracleCase> cases; // stable references while cases are added
  auto add = [&](const std::string &name, const std::string &op) -> auto & {
    cases.push_back(OracleCase{name, op, {}, {}, {}});
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

  for (size_t gi = 0; gi < kGeometries.size(); ++gi) {
    const Geometry &g = kGeometries[gi];
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

  // Static structures folded into the weight, then F.conv2d.
  for (size_t gi : {0, 2, 3})
    for (auto [s, diagonalR] : structureVariants(false)) {
      if (s == Structure::Identity)
        continue;
      const Geometry &g = kGeometries[gi];
      OracleCase &c = add("folded_" + structureTag(s, diagonalR) + "_g" +
                              std::to_string(gi),
                          "folded_conv2d");
      convInputs(c, g, gi != 3);
      addSimilarity(c, rng, s, false, diagonalR, g.taps());
      c.reference = simConvReference(g.window);
    }
  // Every structure, static and dynamic, through F.unfold and einsum.
  for (bool dynamic : {false, true})
    for (size_t gi :
         dynamic ? std::vector<size_t>{0, 2, 5} : std::vector<size_t>{1, 4})
      for (auto [s, diagonalR] : structureVariants(dynamic)) {
        const Geometry &g = kGeometries[gi];
        OracleCase &c =
            add(std::string("unfold_") + (dynamic ? "dynamic_" : "static_") +
                    structureTag(s, diagonalR) + "_g" + std::to_string(gi),
                "unfold_sim_conv2d");
        convInputs(c, g, true);
        addSimilarity(c, rng, s, dynamic, diagonalR, g.taps(), g.n, g.ho(),
                      g.wo());
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
  struct Pool {
    std::string tag;
    Shape shape;
    std::array<int64_t, 2> kernel;
    Window window;
  };
  const std::vector<Pool> pools = {
      {"k3s2p1", {2, 3, 7, 6}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1})},
      {"k2s2", {1, 5, 8, 8}, {2, 2}, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {"k3x2_dilated",
       {2, 2, 9, 8},
       {3, 2},
       makeWindow({1, 2}, {1, 1}, {2, 2})},
      {"k5x4p2", {1, 3, 6, 7}, {5, 4}, makeWindow({1, 3}, {2, 2}, {1, 1})},
  };
  for (const Pool &p : pools) {
    OracleCase &c = add("max_pool2d_" + p.tag, "max_pool2d");
    c.input("x", rng.tensor(p.shape)).pair("kernel", p.kernel).window(p.window);
    c.reference = [p](const OracleCase &c) {
      return std::vector<Tensor>{maxPool2d(c["x"], p.kernel, p.window)};
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
          .attr("count_include_pad", includePad ? "1" : "0");
      a.reference = [p, includePad](const OracleCase &c) {
        return std::vector<Tensor>{
            avgPool2d(c["x"], p.kernel, p.window, includePad)};
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

std::string readText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string manifestText() {
  std::ostringstream manifest;
  for (const OracleCase &c : oracleCases()) {
    manifest << c.name << " " << c.op;
    for (const auto &[key, value] : c.attributes)
      manifest << " " << key << "=" << value;
    manifest << "\n";
  }
  return manifest.str();
}

/// Writes every case into a fresh temporary directory and runs
/// torch_oracle.py once on all of them (importing torch takes about a
/// second, so the suite runs as one process: see CMakeLists.txt). A failed
/// run fails every test with the script's output.
class OracleRun {
public:
  static const OracleRun &get() {
    static const OracleRun run;
    return run;
  }
  ~OracleRun() {
    std::error_code ec;
    if (!dir.empty())
      std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  /// Why the Python run failed, or empty.
  std::string error;

private:
  OracleRun() {
    std::string stage =
        (std::filesystem::temp_directory_path() / "nsl-torch-oracle-XXXXXX")
            .string();
    if (!mkdtemp(stage.data())) {
      error = "cannot create a directory from " + stage;
      return;
    }
    dir = stage;
    const std::string script =
        std::string(NSL_SOURCE_DIR) + "/test/reference/torch_oracle.py";
    const std::string python = "'" + std::string(NSL_PYTHON) + "'";
    try {
      std::ofstream(stage + "/manifest.txt") << manifestText();
      for (const OracleCase &c : oracleCases())
        for (const auto &[key, tensor] : c.inputs)
          saveNpy(stage + "/" + c.name + "." + key + ".npy", tensor);
    } catch (const std::exception &e) {
      error = std::string("cannot write the oracle inputs: ") + e.what();
      return;
    }
    const std::string log = stage + "/python.log";
    const std::string command =
        python + " '" + script + "' '" + stage + "' > '" + log + "' 2>&1";
    int status = std::system(command.c_str());
    if (status != 0) {
      std::string how =
          WIFEXITED(status)
              ? "exited with code " + std::to_string(WEXITSTATUS(status))
              : "failed (status " + std::to_string(status) + ")";
      error = "the PyTorch oracle failed: `" + command + "` " + how +
              " (NSL_PYTHON must be a Python 3 with numpy, torch 1.13 and "
              "torchvision 0.14; scripts/setup.sh installs them). Its "
              "output:\n" +
              readText(log);
    }
  }
};

::testing::AssertionResult closeToOracle(const Tensor &y, const Tensor &r) {
  if (y.shape != r.shape)
    return ::testing::AssertionFailure()
           << "reference shape " << shapeToString(y.shape) << ", PyTorch shape "
           << shapeToString(r.shape);
  double diff = 0, norm = 0, maxAbs = 0;
  for (size_t i = 0; i < y.data.size(); ++i) {
    double d = y.data[i] - r.data[i];
    diff += d * d;
    norm += r.data[i] * r.data[i];
    maxAbs = std::max(maxAbs, std::fabs(d));
  }
  double rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
  if (rel <= kTolerance && std::isfinite(diff))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "relative error " << rel << " > " << kTolerance
         << ", max abs error " << maxAbs;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

class TorchOracle : public ::testing::TestWithParam<size_t> {
protected:
  static void SetUpTestSuite() { OracleRun::get(); }
};

TEST_P(TorchOracle, Matches) {
  const OracleRun &run = OracleRun::get();
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
  static void SetUpTestSuite() { OracleRun::get(); }
  std::string path(const std::string &name) {
    return OracleRun::get().dir + "/" + name;
  }
};

TEST_F(NumpyWritten, ReadsF64I32Version2AndRejectsFortranOrder) {
  const OracleRun &run = OracleRun::get();
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
