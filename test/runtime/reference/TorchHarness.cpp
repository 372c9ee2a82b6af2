//===- TorchHarness.cpp - Comparing the reference with PyTorch ------------===//
//
// Shared by TorchOracleTest and TorchGradTest; see TorchHarness.h.
//
//===----------------------------------------------------------------------===//

#include "test/runtime/reference/TorchHarness.h"

#include "runtime/reference/Elementwise.h"

#include <array>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/wait.h>

namespace nsl::reference::test {

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

TorchCase &TorchCase::attr(const std::string &key, const std::string &value) {
  attributes.emplace_back(key, value);
  return *this;
}

TorchCase &TorchCase::attr(const std::string &key, double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return attr(key, std::string(buffer));
}

TorchCase &TorchCase::pair(const std::string &key, std::array<int64_t, 2> v) {
  return attr(key, std::to_string(v[0]) + "," + std::to_string(v[1]));
}

TorchCase &TorchCase::window(const Window &w) {
  return pair("stride", w.stride)
      .pair("padding", w.padding)
      .pair("dilation", w.dilation);
}

TorchCase &TorchCase::input(const std::string &key, Tensor t,
                            bool differentiate) {
  inputs.emplace_back(key, std::move(t));
  if (differentiate)
    wrt.push_back(key);
  return *this;
}

const Tensor *TorchCase::find(const std::string &key) const {
  for (const auto &[k, t] : inputs)
    if (k == key)
      return &t;
  return nullptr;
}

const Tensor &TorchCase::operator[](const std::string &key) const {
  if (const Tensor *t = find(key))
    return *t;
  throw std::runtime_error("case " + name + " has no input " + key);
}

double Random::next() {
  double v;
  do
    v = static_cast<float>(dist(engine));
  while (v == 0.0);
  return v;
}

Tensor Random::tensor(Shape shape) {
  Tensor t(std::move(shape));
  for (double &v : t.data)
    v = next();
  return t;
}

Tensor Random::positive(Shape shape) {
  Tensor t = tensor(std::move(shape));
  for (double &v : t.data)
    v = static_cast<float>(0.25 + std::fabs(v));
  return t;
}

bool elementwiseNumberOperand(const std::string &row) {
  return row == "leaky_relu" || row == "elu";
}

std::vector<ElementwiseCase> elementwiseCases(const std::string &row) {
  const ElementwiseRow *found = findElementwiseRow(row);
  if (!found || found->arity == 1)
    return {{"", {2, 3, 4, 5}, {}}};
  if (elementwiseNumberOperand(row))
    return {{"_scalar", {2, 3, 4, 5}, {}}};
  return {{"", {2, 3, 5}, {2, 3, 5}},
          {"_channel", {2, 3, 4, 5}, {3, 1, 1}},
          {"_scalar", {2, 3, 5}, {}},
          {"_leading", {2, 3, 4, 5}, {1, 3, 1, 5}}};
}

Tensor elementwiseOperand(Random &rng, const std::string &row, int k,
                          const Shape &shape) {
  static const std::map<std::string, std::array<const char *, 2>> domains = {
      {"div", {"", "positive"}},
      {"pow", {"positive", ""}},
      {"reciprocal", {"positive"}},
      {"sqrt", {"positive"}},
      {"rsqrt", {"positive"}},
      {"log", {"positive"}},
      {"exp", {"wide"}},
      {"tanh", {"wide"}},
      {"sigmoid", {"wide"}},
      {"silu", {"wide"}},
      {"gelu", {"wide"}},
      {"gelu_tanh", {"wide"}},
      {"hardswish", {"wide"}},
      {"hardsigmoid", {"wide"}},
      {"elu", {"wide", ""}},
      {"leaky_relu", {"wide", ""}},
      {"clamp_min", {"wide", ""}},
      {"clamp_max", {"wide", ""}}};
  Tensor t = rng.tensor(shape);
  auto it = domains.find(row);
  std::string domain =
      it == domains.end() || !it->second[k] ? "" : it->second[k];
  for (double &v : t.data)
    v = domain == "wide"       ? v * 4 // exact in float: a power of two
        : domain == "positive" ? static_cast<float>(std::fabs(v) + 0.5)
                               : v;
  return t;
}

Tensor Random::quantized(Shape shape) {
  Tensor t(std::move(shape));
  for (double &v : t.data)
    v = std::round(next() * 2) / 2;
  return t;
}

const std::vector<Geometry> &torchGeometries() {
  static const std::vector<Geometry> geometries = {
      {2, 3, 7, 6, 4, 3, 3, makeWindow({1, 1}, {1, 1}, {1, 1})},
      {1, 5, 9, 8, 3, 3, 3, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {2, 3, 8, 7, 5, 3, 3, makeWindow({1, 2}, {2, 1}, {2, 2})},
      {2, 9, 6, 5, 2, 3, 1, makeWindow({1, 1}, {1, 0}, {1, 1})},
      {1, 4, 7, 7, 2, 2, 3, makeWindow({2, 1}, {1, 1}, {1, 2})},
      {2, 3, 5, 6, 3, 5, 5, makeWindow({1, 1}, {2, 2}, {1, 1})},
  };
  return geometries;
}

const std::vector<Pool> &torchPools() {
  static const std::vector<Pool> pools = {
      {"k3s2p1", {2, 3, 7, 6}, {3, 3}, makeWindow({2, 2}, {1, 1}, {1, 1})},
      {"k2s2", {1, 5, 8, 8}, {2, 2}, makeWindow({2, 2}, {0, 0}, {1, 1})},
      {"k3x2_dilated",
       {2, 2, 9, 8},
       {3, 2},
       makeWindow({1, 2}, {1, 1}, {2, 2})},
      {"k5x4p2", {1, 3, 6, 7}, {5, 4}, makeWindow({1, 3}, {2, 2}, {1, 1})},
      // ceil_mode: partial last windows (GoogLeNet's 3x3/2 pools), in the
      // padding too, one that PyTorch drops (it would start in the right
      // padding), a dilated one, a kernel taller than the input.
      {"k3s2_ceil",
       {2, 3, 8, 9},
       {3, 3},
       makeWindow({2, 2}, {0, 0}, {1, 1}),
       true},
      {"k3s2p1_ceil",
       {1, 2, 6, 7},
       {3, 3},
       makeWindow({2, 2}, {1, 1}, {1, 1}),
       true},
      {"k2s2p1_ceil_dropped",
       {1, 3, 7, 5},
       {2, 2},
       makeWindow({2, 2}, {1, 1}, {1, 1}),
       true},
      {"k3x2_dilated_ceil",
       {1, 2, 8, 9},
       {3, 2},
       makeWindow({2, 3}, {1, 1}, {2, 1}),
       true},
      {"k3s2_ceil_tall_kernel",
       {2, 2, 2, 5},
       {3, 3},
       makeWindow({2, 2}, {0, 0}, {1, 1}),
       true},
  };
  return pools;
}

const std::vector<AdaptivePool> &torchAdaptivePools() {
  static const std::vector<AdaptivePool> pools = {
      {"7x5_to_3x2", {2, 3, 7, 5}, {3, 2}}, // uneven, overlapping
      {"6x9_to_4x5", {1, 4, 6, 9}, {4, 5}}, // uneven both ways
      {"2x1_to_7x7", {1, 2, 2, 1}, {7, 7}}, // larger than the input
      {"1x1_to_6x6", {2, 3, 1, 1}, {6, 6}}, // AlexNet at 64×64
      {"8x6_to_4x3", {1, 2, 8, 6}, {4, 3}}, // dividing: equal windows
      {"5x7_to_1x1", {2, 2, 5, 7}, {1, 1}}, // global
      {"3x4_to_5x2", {1, 3, 3, 4}, {5, 2}}, // larger and smaller
  };
  return pools;
}

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

void addSimilarity(TorchCase &c, Random &rng, Structure s, bool dynamic,
                   bool diagonalR, int64_t taps, int64_t n, int64_t ho,
                   int64_t wo) {
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
    c.input("m", operand(false), true);
    break;
  case Structure::Full:
    c.input("mat", operand(true), true);
    break;
  case Structure::Cholesky:
    c.input("L", rng.tensor({taps, taps}), true);
    break;
  case Structure::ShapeMasked: {
    Tensor dr = rng.tensor({taps});
    dr.data[0] = -0.25; // == alpha: masked
    c.input("d_r", dr, true).input("R", operand(!diagonalR), true);
    break;
  }
  }
}

Similarity similarityOf(const TorchCase &c) {
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

std::vector<std::pair<Structure, bool>> structureVariants(bool dynamicOnly) {
  static const Structure structures[] = {
      Structure::Identity, Structure::Diagonal, Structure::Full,
      Structure::Cholesky, Structure::ShapeMasked};
  std::vector<std::pair<Structure, bool>> v;
  for (Structure s : structures) {
    if (dynamicOnly && (s == Structure::Identity || s == Structure::Cholesky))
      continue;
    v.emplace_back(s, false);
    if (s == Structure::ShapeMasked)
      v.emplace_back(s, true);
  }
  return v;
}

std::vector<SimConvCase> simConvCases() {
  std::vector<SimConvCase> cases;
  for (size_t gi : {0, 2, 3})
    for (auto [s, diagonalR] : structureVariants(false)) {
      if (s == Structure::Identity)
        continue;
      cases.push_back(
          {"folded_" + structureTag(s, diagonalR) + "_g" + std::to_string(gi),
           "folded_conv2d", gi, s, diagonalR, false, gi != 3});
    }
  for (bool dynamic : {false, true})
    for (size_t gi :
         dynamic ? std::vector<size_t>{0, 2, 5} : std::vector<size_t>{1, 4})
      for (auto [s, diagonalR] : structureVariants(dynamic))
        cases.push_back(
            {std::string("unfold_") + (dynamic ? "dynamic_" : "static_") +
                 structureTag(s, diagonalR) + "_g" + std::to_string(gi),
             "unfold_sim_conv2d", gi, s, diagonalR, dynamic, true});
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

namespace {

std::string manifestText(const std::vector<TorchCase> &cases) {
  std::ostringstream manifest;
  for (const TorchCase &c : cases) {
    manifest << c.name << " " << c.op;
    for (const auto &[key, value] : c.attributes)
      manifest << " " << key << "=" << value;
    manifest << "\n";
  }
  return manifest.str();
}

} // namespace

PythonRun::PythonRun(const std::string &dirPattern, const std::string &script,
                     const std::string &what,
                     const std::vector<TorchCase> &cases) {
  std::string stage =
      (std::filesystem::temp_directory_path() / dirPattern).string();
  if (!mkdtemp(stage.data())) {
    error = "cannot create a directory from " + stage;
    return;
  }
  dir = stage;
  const std::string scriptPath =
      std::string(NSL_SOURCE_DIR) + "/test/runtime/reference/" + script;
  const std::string python = "'" + std::string(NSL_PYTHON) + "'";
  try {
    std::ofstream(stage + "/manifest.txt") << manifestText(cases);
    for (const TorchCase &c : cases)
      for (const auto &[key, tensor] : c.inputs)
        saveNpy(stage + "/" + c.name + "." + key + ".npy", tensor);
  } catch (const std::exception &e) {
    error = std::string("cannot write the oracle inputs: ") + e.what();
    return;
  }
  const std::string log = stage + "/python.log";
  const std::string command =
      python + " '" + scriptPath + "' '" + stage + "' > '" + log + "' 2>&1";
  int status = std::system(command.c_str());
  if (status != 0) {
    std::string how =
        WIFEXITED(status)
            ? "exited with code " + std::to_string(WEXITSTATUS(status))
            : "failed (status " + std::to_string(status) + ")";
    error = "the " + what + " failed: `" + command + "` " + how +
            " (NSL_PYTHON must be a Python 3 with numpy, torch 1.13 and "
            "torchvision 0.14; scripts/setup.sh installs them). Its "
            "output:\n" +
            readText(log);
  }
}

PythonRun::~PythonRun() {
  std::error_code ec;
  if (!dir.empty())
    std::filesystem::remove_all(dir, ec);
}

double &worstRelativeError() {
  static double worst = 0;
  return worst;
}

::testing::AssertionResult closeToOracle(const Tensor &y, const Tensor &r) {
  if (y.shape != r.shape)
    return ::testing::AssertionFailure()
           << "reference shape " << shapeToString(y.shape) << ", PyTorch shape "
           << shapeToString(r.shape);
  Difference d = difference(y, r);
  if (std::isfinite(d.relative))
    worstRelativeError() = std::max(worstRelativeError(), d.relative);
  if (d.relative <= kTorchTolerance && std::isfinite(d.diff))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "relative error " << d.relative << " > " << kTorchTolerance
         << ", max abs error " << d.maxAbs;
}

} // namespace nsl::reference::test
