//===- GraphTest.cpp - Tests of graph.json loading and interpretation -----===//
//
// Small hand-written graphs run by the interpreter and checked against direct
// calls of the reference ops on the same fresh random arguments; every
// validation error checked for its message; the nsl-reference tool end to
// end.
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"
#include "runtime/reference/OpTable.h"
#include "runtime/reference/Ops.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace nsl::reference;
// Documents edited by the tests keep their members in the order written.
using Json = nlohmann::ordered_json;

namespace {

/// ‖a − b‖₂ / ‖b‖₂ (DESIGN.md §1); shapes must agree.
double relativeError(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dtype, b.dtype);
  if (a.shape != b.shape || a.data.size() != b.data.size())
    return INFINITY;
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    diff += (a.data[i] - b.data[i]) * (a.data[i] - b.data[i]);
    norm += b.data[i] * b.data[i];
  }
  return norm == 0.0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

bool allZero(const Tensor &t) {
  for (double x : t.data)
    if (x != 0.0)
      return false;
  return true;
}

/// The message of the ReferenceError that f throws ("" if none).
template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const ReferenceError &e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "message: " << (haystack) << "\nexpected to contain: " << (needle)

Window window(std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
              std::array<int64_t, 2> dilation = {1, 1}) {
  Window w;
  w.stride = stride;
  w.padding = padding;
  w.dilation = dilation;
  return w;
}

//===----------------------------------------------------------------------===//
// The graphs
//===----------------------------------------------------------------------===//

// conv → bn → relu → pool → flatten → linear → cross entropy.
const char *cnnGraph = R"json({
  "format": "nsl-graph",
  "version": 1,
  "function": "forward",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [2, 3, 8, 8]},
    {"value": 1, "name": "conv.weight", "role": "parameter", "dtype": "f32", "shape": [4, 3, 3, 3]},
    {"value": 2, "name": "conv.bias", "role": "parameter", "dtype": "f32", "shape": [4]},
    {"value": 3, "name": "bn.weight", "role": "parameter", "dtype": "f32", "shape": [4]},
    {"value": 4, "name": "bn.bias", "role": "parameter", "dtype": "f32", "shape": [4]},
    {"value": 5, "name": "bn.running_mean", "role": "buffer", "dtype": "f32", "shape": [4]},
    {"value": 6, "name": "bn.running_var", "role": "buffer", "dtype": "f32", "shape": [4]},
    {"value": 7, "name": "fc.weight", "role": "parameter", "dtype": "f32", "shape": [10, 64]},
    {"value": 8, "name": "fc.bias", "role": "parameter", "dtype": "f32", "shape": [10]},
    {"value": 9, "name": "labels", "role": "label", "dtype": "i64", "shape": [2]}
  ],
  "nodes": [
    {"op": "sim_conv2d",
     "operands": {"input": 0, "weight": 1, "similarity": [], "bias": 2},
     "attributes": {"structure": "identity", "dynamic": false, "stride": [1, 1],
                    "padding": [1, 1], "dilation": [1, 1], "alpha": 0.0,
                    "groups": 1},
     "results": [{"value": 10, "dtype": "f32", "shape": [2, 4, 8, 8]}]},
    {"op": "batch_norm",
     "operands": {"input": 10, "weight": 3, "bias": 4, "running_mean": 5, "running_var": 6},
     "attributes": {"epsilon": 1e-5},
     "results": [{"value": 11, "dtype": "f32", "shape": [2, 4, 8, 8]}]},
    {"op": "relu", "operands": {"input": 11}, "attributes": {},
     "results": [{"value": 12, "dtype": "f32", "shape": [2, 4, 8, 8]}]},
    {"op": "max_pool2d", "operands": {"input": 12},
     "attributes": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0],
                    "dilation": [1, 1], "ceil_mode": false},
     "results": [{"value": 13, "dtype": "f32", "shape": [2, 4, 4, 4]}]},
    {"op": "flatten", "operands": {"input": 13}, "attributes": {},
     "results": [{"value": 14, "dtype": "f32", "shape": [2, 64]}]},
    {"op": "linear", "operands": {"input": 14, "weight": 7, "bias": 8},
     "attributes": {},
     "results": [{"value": 15, "dtype": "f32", "shape": [2, 10]}]},
    {"op": "softmax_cross_entropy", "operands": {"logits": 15, "labels": 9},
     "attributes": {"label_smoothing": 0.1},
     "results": [{"value": 16, "dtype": "f32", "shape": []}]}
  ],
  "outputs": [{"value": 15, "name": "logits"}, {"value": 16, "name": "loss"}]
})json";

// A dynamic DNS layer: a SphereConv predictor gives the tap mask of every
// output position (stride 2 in both, so that the positions align).
const char *dnsGraph = R"json({
  "format": "nsl-graph", "version": 1, "function": "forward",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [2, 3, 7, 7]},
    {"value": 1, "name": "predictor.weight", "role": "parameter", "dtype": "f32", "shape": [9, 3, 3, 3]},
    {"value": 2, "name": "gamma", "role": "parameter", "dtype": "f32", "shape": [1]},
    {"value": 3, "name": "conv.weight", "role": "parameter", "dtype": "f32", "shape": [5, 3, 3, 3]}
  ],
  "nodes": [
    {"op": "sphere_conv2d", "operands": {"input": 0, "weight": 1},
     "attributes": {"variant": "cosine", "input_only": false, "epsilon": 1e-4,
                    "sigmoid_k": 0.3, "stride": [2, 2], "padding": [1, 1],
                    "dilation": [1, 1]},
     "results": [{"value": 4, "dtype": "f32", "shape": [2, 9, 4, 4]}]},
    {"op": "predicted_similarity", "operands": {"prediction": 4, "gamma": 2},
     "attributes": {"structure": "diagonal"},
     "results": [{"value": 5, "dtype": "f32", "shape": [2, 9, 4, 4]}]},
    {"op": "sim_conv2d", "operands": {"input": 0, "weight": 3, "similarity": [5]},
     "attributes": {"structure": "diagonal", "dynamic": true, "stride": [2, 2],
                    "padding": [1, 1], "dilation": [1, 1], "alpha": 0.0,
                    "groups": 1},
     "results": [{"value": 6, "dtype": "f32", "shape": [2, 5, 4, 4]}]}
  ],
  "outputs": [{"value": 6, "name": "y"}, {"value": 5, "name": "mask"}]
})json";

// fold_similarity + identity sim_conv2d next to the structured sim_conv2d;
// STRUCTURE, SIMILARITY_ARGUMENTS and SIMILARITY_IDS are filled in per case.
const char *foldGraph = R"json({
  "format": "nsl-graph", "version": 1, "function": "forward",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [2, 3, 7, 7]},
    {"value": 1, "name": "conv.weight", "role": "parameter", "dtype": "f32", "shape": [4, 3, 3, 3]},
    {"value": 2, "name": "conv.bias", "role": "parameter", "dtype": "f32", "shape": [4]}
    SIMILARITY_ARGUMENTS
  ],
  "nodes": [
    {"op": "fold_similarity", "operands": {"weight": 1, "similarity": [SIMILARITY_IDS]},
     "attributes": {"structure": "STRUCTURE", "group_size": 0, "alpha": 0.0},
     "results": [{"value": 10, "dtype": "f32", "shape": [4, 3, 3, 3]}]},
    {"op": "sim_conv2d",
     "operands": {"input": 0, "weight": 10, "similarity": [], "bias": 2},
     "attributes": {"structure": "identity", "dynamic": false, "stride": [1, 1],
                    "padding": [0, 0], "dilation": [2, 2], "alpha": 0.0,
                    "groups": 1},
     "results": [{"value": 11, "dtype": "f32", "shape": [2, 4, 3, 3]}]},
    {"op": "sim_conv2d",
     "operands": {"input": 0, "weight": 1, "similarity": [SIMILARITY_IDS], "bias": 2},
     "attributes": {"structure": "STRUCTURE", "dynamic": false, "stride": [1, 1],
                    "padding": [0, 0], "dilation": [2, 2], "alpha": 0.0,
                    "groups": 1},
     "results": [{"value": 12, "dtype": "f32", "shape": [2, 4, 3, 3]}]}
  ],
  "outputs": [{"value": 11, "name": "folded"}, {"value": 12, "name": "structured"}]
})json";

const char *batchNormTrainGraph = R"json({
  "format": "nsl-graph", "version": 1, "function": "train_step",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [4, 3, 2, 5]},
    {"value": 1, "name": "bn.weight", "role": "parameter", "dtype": "f32", "shape": [3]},
    {"value": 2, "name": "bn.bias", "role": "parameter", "dtype": "f32", "shape": [3]},
    {"value": 3, "name": "bn.running_mean", "role": "buffer", "dtype": "f32", "shape": [3]},
    {"value": 4, "name": "bn.running_var", "role": "buffer", "dtype": "f32", "shape": [3]}
  ],
  "nodes": [
    {"op": "batch_norm_train",
     "operands": {"input": 0, "weight": 1, "bias": 2, "running_mean": 3, "running_var": 4},
     "attributes": {"epsilon": 1e-5, "momentum": 0.1},
     "results": [{"value": 5, "dtype": "f32", "shape": [4, 3, 2, 5]},
                 {"value": 6, "dtype": "f32", "shape": [3]},
                 {"value": 7, "dtype": "f32", "shape": [3]},
                 {"value": 8, "dtype": "f32", "shape": [3]},
                 {"value": 9, "dtype": "f32", "shape": [3]}]}
  ],
  "outputs": [{"value": 5, "name": "y"}, {"value": 6, "name": "batch_mean"},
              {"value": 7, "name": "batch_var"},
              {"value": 8, "name": "bn.running_mean"},
              {"value": 9, "name": "bn.running_var"}]
})json";

// The remaining ops: constant, add, patch_norm, the poolings, sim_linear.
const char *miscGraph = R"json({
  "format": "nsl-graph", "version": 1, "function": "forward",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [2, 2, 5, 5]},
    {"value": 1, "name": "fc.weight", "role": "parameter", "dtype": "f32", "shape": [3, 8]},
    {"value": 2, "name": "fc.similarity", "role": "parameter", "dtype": "f32", "shape": [4, 4]}
  ],
  "nodes": [
    {"op": "avg_pool2d", "operands": {"input": 0},
     "attributes": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0],
                    "count_include_pad": false, "ceil_mode": false},
     "results": [{"value": 3, "dtype": "f32", "shape": [2, 2, 2, 2]}]},
    {"op": "flatten", "operands": {"input": 3},
     "results": [{"value": 4, "dtype": "f32", "shape": [2, 8]}]},
    {"op": "sim_linear", "operands": {"input": 4, "weight": 1, "similarity": [2]},
     "attributes": {"structure": "full", "group_size": 4, "alpha": 0},
     "results": [{"value": 5, "dtype": "f32", "shape": [2, 3]}]},
    {"op": "patch_norm", "operands": {"input": 0},
     "attributes": {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                    "dilation": [1, 1], "epsilon": 1e-4},
     "results": [{"value": 6, "dtype": "f32", "shape": [2, 1, 3, 3]}]},
    {"op": "global_avg_pool2d", "operands": {"input": 0},
     "results": [{"value": 7, "dtype": "f32", "shape": [2, 2, 1, 1]}]},
    {"op": "constant", "attributes": {"values": [0.5, -1, 2.25, 3e-3]},
     "results": [{"value": 8, "dtype": "f32", "shape": [2, 2, 1, 1]}]},
    {"op": "add", "operands": {"lhs": 7, "rhs": 8},
     "results": [{"value": 9, "dtype": "f32", "shape": [2, 2, 1, 1]}]},
    {"op": "avg_pool2d", "operands": {"input": 0},
     "attributes": {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                    "count_include_pad": true, "ceil_mode": true},
     "results": [{"value": 10, "dtype": "f32", "shape": [2, 2, 3, 3]}]},
    {"op": "adaptive_avg_pool2d", "operands": {"input": 0},
     "attributes": {"output_size": [3, 4]},
     "results": [{"value": 11, "dtype": "f32", "shape": [2, 2, 3, 4]}]},
    {"op": "adaptive_max_pool2d", "operands": {"input": 0},
     "attributes": {"output_size": [7, 2]},
     "results": [{"value": 12, "dtype": "f32", "shape": [2, 2, 7, 2]}]}
  ],
  "outputs": [{"value": 5}, {"value": 6}, {"value": 9}, {"value": 10},
              {"value": 11}, {"value": 12}]
})json";

std::string replaceAll(std::string text, const std::string &from,
                       const std::string &to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

//===----------------------------------------------------------------------===//
// Execution against direct calls of the ops
//===----------------------------------------------------------------------===//

constexpr double tolerance = 1e-12;

TEST(GraphRun, ConvBatchNormReluPoolLinearCrossEntropy) {
  Graph graph = parseGraph(cnnGraph);
  ASSERT_EQ(graph.arguments.size(), 10u);
  ASSERT_EQ(graph.nodes.size(), 7u);
  EXPECT_EQ(graph.function, "forward");
  EXPECT_EQ(graph.nodes[3].label(), "node 3 (max_pool2d)");

  RandomArgumentOptions options;
  options.seed = 1234;
  std::vector<Tensor> a = randomArguments(graph, options);
  for (const Tensor &t : a)
    EXPECT_FALSE(allZero(t));
  std::vector<Tensor> outputs = run(graph, a);
  ASSERT_EQ(outputs.size(), 2u);

  Tensor conv =
      simConv2d(a[0], a[1], Similarity(), &a[2], window({1, 1}, {1, 1}));
  Tensor bn = batchNorm(conv, a[3], a[4], a[5], a[6], 1e-5);
  Tensor pooled = maxPool2d(relu(bn), {2, 2}, window({2, 2}, {0, 0}));
  Tensor logits = linear(flatten(pooled), a[7], &a[8]);
  Tensor loss = softmaxCrossEntropy(logits, a[9], 0.1);
  EXPECT_LE(relativeError(outputs[0], logits), tolerance);
  EXPECT_LE(relativeError(outputs[1], loss), tolerance);
  EXPECT_EQ(outputs[1].shape, Shape{});
  EXPECT_GT(outputs[1].data[0], 0.0);

  // The same by name.
  std::map<std::string, Tensor> byName;
  for (size_t i = 0; i < a.size(); ++i)
    byName[graph.arguments[i].name] = a[i];
  EXPECT_LE(relativeError(runByName(graph, byName)[0], logits), tolerance);
}

TEST(GraphRun, DynamicDnsLayer) {
  Graph graph = parseGraph(dnsGraph);
  RandomArgumentOptions options;
  options.seed = 77;
  std::vector<Tensor> a = randomArguments(graph, options);
  std::vector<Tensor> outputs = run(graph, a);
  ASSERT_EQ(outputs.size(), 2u);

  SphereOptions sphere; // cosine, ε = 1e-4
  Tensor prediction =
      sphereConv2d(a[0], a[1], nullptr, sphere, window({2, 2}, {1, 1}));
  Tensor mask = predictedSimilarity(prediction, a[2], Structure::Diagonal);
  Similarity dns;
  dns.structure = Structure::Diagonal;
  dns.dynamic = true;
  dns.operands = {mask};
  Tensor y = simConv2d(a[0], a[3], dns, nullptr, window({2, 2}, {1, 1}));
  EXPECT_LE(relativeError(outputs[0], y), tolerance);
  EXPECT_LE(relativeError(outputs[1], mask), tolerance);

  // Independently: Y[n,o,p] = Σ_c Σ_t W[o,c,t]·m[n,t,p]·X_p[c,t].
  const Tensor &x = a[0], &w = a[3];
  Tensor expected({2, 5, 4, 4});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 5; ++o)
      for (int64_t oy = 0; oy < 4; ++oy)
        for (int64_t ox = 0; ox < 4; ++ox) {
          double sum = 0.0;
          for (int64_t c = 0; c < 3; ++c)
            for (int64_t t = 0; t < 9; ++t) {
              int64_t iy = oy * 2 - 1 + t / 3, ix = ox * 2 - 1 + t % 3;
              if (iy < 0 || iy >= 7 || ix < 0 || ix >= 7)
                continue;
              sum += w.data[((o * 3 + c) * 9) + t] *
                     mask.data[((n * 9 + t) * 4 + oy) * 4 + ox] *
                     x.data[((n * 3 + c) * 7 + iy) * 7 + ix];
            }
          expected.data[((n * 5 + o) * 4 + oy) * 4 + ox] = sum;
        }
  EXPECT_LE(relativeError(outputs[0], expected), tolerance);
}

TEST(GraphRun, FoldedSimilarityEqualsStructuredConvolution) {
  struct Case {
    const char *structure;
    const char *arguments;
    const char *ids;
  };
  const Case cases[] = {
      {"full",
       R"(,{"value": 3, "name": "m", "role": "parameter", "dtype": "f32", "shape": [9, 9]})",
       "3"},
      {"diagonal",
       R"(,{"value": 3, "name": "m", "role": "parameter", "dtype": "f32", "shape": [9]})",
       "3"},
      {"cholesky",
       R"(,{"value": 3, "name": "l", "role": "parameter", "dtype": "f32", "shape": [9, 9]})",
       "3"},
      {"shape_masked",
       R"(,{"value": 3, "name": "d_r", "role": "parameter", "dtype": "f32", "shape": [9]},
           {"value": 4, "name": "r", "role": "parameter", "dtype": "f32", "shape": [9, 9]})",
       "3, 4"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.structure);
    std::string text = replaceAll(foldGraph, "STRUCTURE", c.structure);
    text = replaceAll(text, "SIMILARITY_ARGUMENTS", c.arguments);
    text = replaceAll(text, "SIMILARITY_IDS", c.ids);
    Graph graph = parseGraph(text);
    RandomArgumentOptions options;
    options.seed = 5;
    std::vector<Tensor> a = randomArguments(graph, options);
    std::vector<Tensor> outputs = run(graph, a);
    ASSERT_EQ(outputs.size(), 2u);
    EXPECT_LE(relativeError(outputs[0], outputs[1]), tolerance);

    Similarity sim;
    sim.structure = parseStructure(c.structure);
    sim.operands.assign(a.begin() + 3, a.end());
    Tensor direct =
        simConv2d(a[0], a[1], sim, &a[2], window({1, 1}, {0, 0}, {2, 2}));
    EXPECT_LE(relativeError(outputs[1], direct), tolerance);
    Tensor folded = foldSimilarity(a[1], sim, 0);
    Tensor plain = simConv2d(a[0], folded, Similarity(), &a[2],
                             window({1, 1}, {0, 0}, {2, 2}));
    EXPECT_LE(relativeError(outputs[0], plain), tolerance);
  }
}

TEST(GraphRun, BatchNormTrainHasFiveResults) {
  Graph graph = parseGraph(batchNormTrainGraph);
  RandomArgumentOptions options;
  options.seed = 99;
  std::vector<Tensor> a = randomArguments(graph, options);
  std::vector<Tensor> outputs = run(graph, a);
  ASSERT_EQ(outputs.size(), 5u);
  BatchNormTrainResult r =
      batchNormTrain(a[0], a[1], a[2], a[3], a[4], 1e-5, 0.1);
  EXPECT_LE(relativeError(outputs[0], r.output), tolerance);
  EXPECT_LE(relativeError(outputs[1], r.batchMean), tolerance);
  EXPECT_LE(relativeError(outputs[2], r.batchVar), tolerance);
  EXPECT_LE(relativeError(outputs[3], r.runningMean), tolerance);
  EXPECT_LE(relativeError(outputs[4], r.runningVar), tolerance);
  EXPECT_EQ(graph.outputs[3].name, "bn.running_mean");
}

TEST(GraphRun, ConstantAddPoolingPatchNormSimLinear) {
  Graph graph = parseGraph(miscGraph);
  RandomArgumentOptions options;
  options.seed = 3;
  std::vector<Tensor> a = randomArguments(graph, options);
  std::vector<Tensor> outputs = run(graph, a);
  ASSERT_EQ(outputs.size(), 6u);
  EXPECT_EQ(graph.outputs[2].name, "output2");

  Tensor pooled = avgPool2d(a[0], {2, 2}, window({2, 2}, {0, 0}), false);
  Similarity full;
  full.structure = Structure::Full;
  full.operands = {a[2]};
  EXPECT_LE(relativeError(outputs[0],
                          simLinear(flatten(pooled), a[1], full, nullptr, 4)),
            tolerance);
  EXPECT_LE(relativeError(outputs[1], patchNorm(a[0], {3, 3},
                                                window({2, 2}, {1, 1}), 1e-4)),
            tolerance);
  Tensor constant({2, 2, 1, 1}, {0.5, -1, 2.25, 3e-3});
  EXPECT_LE(relativeError(outputs[2], add(globalAvgPool2d(a[0]), constant)),
            tolerance);
  EXPECT_LE(relativeError(outputs[3],
                          avgPool2d(a[0], {3, 3}, window({2, 2}, {1, 1}), true,
                                    /*ceilMode=*/true)),
            tolerance);
  EXPECT_LE(relativeError(outputs[4], adaptiveAvgPool2d(a[0], {3, 4})),
            tolerance);
  EXPECT_LE(relativeError(outputs[5], adaptiveMaxPool2d(a[0], {7, 2})),
            tolerance);
}

TEST(GraphRun, IntegerConstant) {
  Graph graph = parseGraph(R"({"format": "nsl-graph", "version": 1,
    "function": "forward", "arguments": [],
    "nodes": [{"op": "constant", "attributes": {"values": [3, 1]},
               "results": [{"value": 0, "dtype": "i64", "shape": [2]}]}],
    "outputs": [{"value": 0, "name": "c"}]})");
  std::vector<Tensor> outputs = run(graph, {});
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].dtype, DType::I64);
  EXPECT_EQ(outputs[0].data, (std::vector<double>{3, 1}));
}

//===----------------------------------------------------------------------===//
// Random arguments
//===----------------------------------------------------------------------===//

TEST(RandomArguments, RangesFollowTheUse) {
  Graph graph = parseGraph(cnnGraph);
  std::vector<Tensor> a = randomArguments(graph);
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(graph.arguments[i].name);
    EXPECT_EQ(typeOf(a[i]), graph.arguments[i].type);
    for (double v : a[i].data) {
      if (graph.arguments[i].name == "labels") {
        EXPECT_TRUE(v >= 0 && v < 10 && v == std::floor(v));
      } else if (graph.arguments[i].name == "bn.running_var") {
        EXPECT_TRUE(v >= 0.5 && v < 1.5);
      } else {
        EXPECT_TRUE(v >= -1.0 && v < 1.0);
      }
      // Exact in float32, so that f32 backends see the same numbers.
      EXPECT_EQ(static_cast<double>(static_cast<float>(v)), v);
    }
  }
  // Seeded: the same seed gives the same numbers, another seed others.
  EXPECT_EQ(randomArguments(graph)[0].data, a[0].data);
  RandomArgumentOptions other;
  other.seed = 1;
  EXPECT_NE(randomArguments(graph, other)[0].data, a[0].data);
  // An explicit class count.
  other.numClasses = 3;
  Tensor labels = randomArguments(graph, other)[9];
  for (double v : labels.data)
    EXPECT_TRUE(v >= 0 && v < 3);
}

TEST(RandomArguments, LabelsAreSpreadOverTheClasses) {
  std::string text =
      replaceAll(cnnGraph, R"("shape": [2]})", R"("shape": [2000]})");
  text = replaceAll(text, "[2, 3, 8, 8]", "[2000, 3, 8, 8]");
  Graph graph = parseGraph(text);
  std::vector<Tensor> a = randomArguments(graph);
  std::vector<int> counts(10, 0);
  for (double v : a[9].data)
    ++counts[static_cast<size_t>(v)];
  for (int count : counts)
    EXPECT_GT(count, 120); // 200 expected per class
}

TEST(RandomArguments, UnknownIntegerRange) {
  Graph graph = parseGraph(R"({"format": "nsl-graph", "version": 1,
    "function": "forward", "arguments": [
      {"value": 0, "name": "index", "role": "input", "dtype": "i64", "shape": [3]}],
    "nodes": [], "outputs": [{"value": 0}]})");
  EXPECT_CONTAINS(errorOf([&] { randomArguments(graph); }),
                  "cannot choose values for i64 argument 'index'");
  RandomArgumentOptions options;
  options.numClasses = 4;
  EXPECT_EQ(randomArguments(graph, options)[0].shape, Shape{3});
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

/// The load error of the CNN graph after `edit`.
template <typename F> std::string loadErrorAfter(F &&edit) {
  Json doc = Json::parse(cnnGraph);
  edit(doc);
  return errorOf([&] { parseGraph(doc.dump()); });
}

Json &node(Json &doc, size_t i) { return doc["nodes"].at(i); }
Json &argument(Json &doc, size_t i) { return doc["arguments"].at(i); }
void erase(Json &object, const std::string &key) {
  ASSERT_EQ(object.erase(key), 1u) << key;
}

TEST(GraphValidation, LoadErrors) {
  struct Case {
    const char *what;
    std::function<void(Json &)> edit;
    const char *message;
  };
  const Case cases[] = {
      {"unknown op", [](Json &d) { node(d, 2)["op"] = "erfinv"; },
       "graph.json: node 2 (erfinv): unknown op 'erfinv' (known ops: constant, "
       "sim_conv2d, "},
      {"op not a string", [](Json &d) { node(d, 2)["op"] = 3; },
       "graph.json: node 2: expected a string at 'nodes[2].op', got 3"},
      {"missing operand",
       [](Json &d) { erase(node(d, 0)["operands"], "weight"); },
       "node 0 (sim_conv2d): missing operand 'weight' (sim_conv2d takes "
       "input, weight, similarity[], bias?) at 'nodes[0].operands'"},
      {"missing operands object",
       [](Json &d) { erase(node(d, 2), "operands"); },
       "node 2 (relu): missing operand 'input' (relu takes input) at "
       "'nodes[2]'"},
      {"unknown operand", [](Json &d) { node(d, 2)["operands"]["x"] = 1; },
       "node 2 (relu): unknown operand 'x' (relu takes input) at "
       "'nodes[2].operands.x'"},
      {"variadic operand not an array",
       [](Json &d) { node(d, 0)["operands"]["similarity"] = 1; },
       "node 0 (sim_conv2d): expected an array at "
       "'nodes[0].operands.similarity', got 1"},
      {"single operand not an id",
       [](Json &d) { node(d, 2)["operands"]["input"] = "x"; },
       "node 2 (relu): expected an integer at 'nodes[2].operands.input', got "
       "the string \"x\""},
      {"use before definition",
       [](Json &d) { node(d, 0)["operands"]["input"] = 12; },
       "node 0 (sim_conv2d): value 12 is used before it is defined at "
       "'nodes[0].operands.input'"},
      {"use of own result",
       [](Json &d) { node(d, 2)["operands"]["input"] = 12; },
       "node 2 (relu): value 12 is used before it is defined"},
      {"undefined value", [](Json &d) { node(d, 2)["operands"]["input"] = 99; },
       "node 2 (relu): value 99 is used before it is defined"},
      {"duplicate result value",
       [](Json &d) { node(d, 1)["results"][0]["value"] = 10; },
       "node 1 (batch_norm): value 10 is defined twice (first by node 0 "
       "(sim_conv2d)) at 'nodes[1].results[0].value'"},
      {"duplicate argument value", [](Json &d) { argument(d, 3)["value"] = 1; },
       "argument 3: value 1 is defined twice (first by argument 1 "
       "('conv.weight'))"},
      {"negative value id", [](Json &d) { argument(d, 0)["value"] = -1; },
       "argument 0: value ids are non-negative integers, got -1"},
      {"duplicate argument name", [](Json &d) { argument(d, 2)["name"] = "x"; },
       "argument 2: argument name 'x' is used twice"},
      {"unknown role", [](Json &d) { argument(d, 0)["role"] = "data"; },
       "argument 0: unknown role 'data' (expected one of input, parameter, "
       "buffer, label, optimizer_state, learning_rate)"},
      {"unknown dtype", [](Json &d) { argument(d, 0)["dtype"] = "f16"; },
       "argument 0: unknown dtype 'f16' (expected f32 or i64) at "
       "'arguments[0].dtype'"},
      {"negative dimension", [](Json &d) { argument(d, 0)["shape"][1] = -3; },
       "argument 0: dimensions are non-negative, got -3 at "
       "'arguments[0].shape[1]'"},
      {"fractional dimension",
       [](Json &d) { argument(d, 0)["shape"][1] = 2.5; },
       "argument 0: expected an integer at 'arguments[0].shape[1]', got 2.5"},
      {"huge shape",
       [](Json &d) {
         argument(d, 0)["shape"] =
             Json::array({1 << 30, 1 << 30, 1 << 30, 1 << 30});
       },
       "is too large for the reference interpreter"},
      {"shape not an array", [](Json &d) { argument(d, 0)["shape"] = 4; },
       "argument 0: expected an array at 'arguments[0].shape', got 4"},
      {"labels not i64", [](Json &d) { argument(d, 9)["dtype"] = "f32"; },
       "node 6 (softmax_cross_entropy): operand 'labels' must be i64, but "
       "value 9 is f32"},
      {"f32 operand given i64",
       [](Json &d) { node(d, 2)["operands"]["input"] = 9; },
       "node 2 (relu): operand 'input' must be f32, but value 9 is i64"},
      {"missing attribute",
       [](Json &d) { erase(node(d, 0)["attributes"], "stride"); },
       "node 0 (sim_conv2d): missing attribute 'stride' at "
       "'nodes[0].attributes'"},
      {"missing attributes object",
       [](Json &d) { erase(node(d, 1), "attributes"); },
       "node 1 (batch_norm): missing attribute 'epsilon' at 'nodes[1]'"},
      {"unknown attribute",
       [](Json &d) { node(d, 0)["attributes"]["strides"] = 1; },
       "node 0 (sim_conv2d): unknown attribute 'strides' (sim_conv2d takes "
       "structure, dynamic, alpha, stride, padding, dilation, groups)"},
      {"attribute on an op without attributes",
       [](Json &d) { node(d, 2)["attributes"]["inplace"] = true; },
       "node 2 (relu): unknown attribute 'inplace' (relu has no attributes)"},
      {"pair of the wrong length",
       [](Json &d) { node(d, 0)["attributes"]["stride"] = Json::array({1}); },
       "node 0 (sim_conv2d): expected a pair of integers [height, width] at "
       "'nodes[0].attributes.stride'"},
      {"integer attribute out of range",
       [](Json &d) {
         node(d, 0)["attributes"]["stride"] =
             Json::array({1, int64_t(1) << 40});
       },
       "node 0 (sim_conv2d): integer attribute 1099511627776 is out of range "
       "(at most 2^24 in magnitude) at 'nodes[0].attributes.stride[1]'"},
      {"bool attribute of the wrong type",
       [](Json &d) { node(d, 0)["attributes"]["dynamic"] = "no"; },
       "node 0 (sim_conv2d): expected a boolean at "
       "'nodes[0].attributes.dynamic', got the string \"no\""},
      {"number attribute of the wrong type",
       [](Json &d) { node(d, 1)["attributes"]["epsilon"] = "1e-5"; },
       "node 1 (batch_norm): expected a number at "
       "'nodes[1].attributes.epsilon'"},
      {"unknown structure",
       [](Json &d) { node(d, 0)["attributes"]["structure"] = "banded"; },
       "node 0 (sim_conv2d): unknown structure 'banded' (expected one of "
       "identity, diagonal, full, cholesky, shape_masked)"},
      {"too many results",
       [](Json &d) {
         node(d, 2)["results"].push_back(
             Json::parse(R"({"value": 40, "dtype": "f32", "shape": [1]})"));
       },
       "node 2 (relu): relu has 1 result, got 2 at 'nodes[2].results'"},
      {"result without dtype",
       [](Json &d) { erase(node(d, 2)["results"][0], "dtype"); },
       "node 2 (relu): missing member 'dtype' at 'nodes[2].results[0]'"},
      {"wrong format", [](Json &d) { d["format"] = "onnx"; },
       "graph.json: not an nsl graph: \"format\" is \"onnx\", expected "
       "\"nsl-graph\" at 'format'"},
      {"missing format", [](Json &d) { erase(d, "format"); },
       "graph.json: missing member 'format' at the top level"},
      {"wrong version", [](Json &d) { d["version"] = 2; },
       "graph.json: unsupported graph version 2 (this interpreter reads "
       "version 1) at 'version'"},
      {"version not an integer", [](Json &d) { d["version"] = "1"; },
       "graph.json: expected an integer at 'version', got the string \"1\""},
      {"nodes not an array", [](Json &d) { d["nodes"] = 1; },
       "graph.json: expected an array at 'nodes', got 1"},
      {"output of an undefined value",
       [](Json &d) { d["outputs"][1]["value"] = 50; },
       "graph.json: output 1: value 50 is used before it is defined at "
       "'outputs[1].value'"},
      {"duplicate output name",
       [](Json &d) { d["outputs"][1]["name"] = "logits"; },
       "output 1: output name 'logits' is used twice"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_CONTAINS(loadErrorAfter(c.edit), c.message);
  }
}

TEST(GraphValidation, ConstantValues) {
  const char *graph = R"({"format": "nsl-graph", "version": 1,
    "function": "f", "arguments": [],
    "nodes": [{"op": "constant", "attributes": {"values": VALUES},
               "results": [{"value": 0, "dtype": "DTYPE", "shape": [2]}]}],
    "outputs": [{"value": 0}]})";
  auto error = [&](const char *values, const char *dtype) {
    std::string text = replaceAll(graph, "VALUES", values);
    return errorOf([&] { parseGraph(replaceAll(text, "DTYPE", dtype)); });
  };
  EXPECT_EQ(error("[1, 2]", "f32"), "");
  EXPECT_CONTAINS(error("[1, 2, 3]", "f32"),
                  "node 0 (constant): the constant has 3 values but its "
                  "type f32[2] needs 2 at 'nodes[0].attributes.values'");
  EXPECT_CONTAINS(error("[1, 2.5]", "i64"),
                  "node 0 (constant): expected an integer at "
                  "'nodes[0].attributes.values[1]', got 2.5");
  EXPECT_CONTAINS(error("[1, \"a\"]", "f32"),
                  "expected a number at 'nodes[0].attributes.values[1]'");
}

TEST(GraphValidation, MalformedJson) {
  EXPECT_EQ(errorOf([] {
              parseGraph("{\"format\": \"nsl-graph\",\n  "
                         "\"version\": 1,,}",
                         "model.json");
            }),
            "model.json: line 2, column 16: unexpected ','; expected string "
            "literal (while parsing object key)");
  EXPECT_CONTAINS(errorOf([] { parseGraph(""); }),
                  "graph.json: line 1, column 1: unexpected end of input");
  EXPECT_EQ(errorOf([] { parseGraph("[]"); }),
            "graph.json: expected an object at the top level, got an array");
  EXPECT_CONTAINS(errorOf([] { loadGraph("/nonexistent/graph.json"); }),
                  "cannot open graph file '/nonexistent/graph.json'");
}

TEST(GraphValidation, RunErrors) {
  Graph graph = parseGraph(cnnGraph);
  std::vector<Tensor> a = randomArguments(graph);

  // An argument of the wrong shape or dtype.
  std::vector<Tensor> bad = a;
  bad[0] = Tensor({2, 3, 8, 9});
  EXPECT_EQ(errorOf([&] { run(graph, bad); }),
            "argument 0 ('x'): expected f32[2, 3, 8, 8], got f32[2, 3, 8, 9]");
  bad = a;
  bad[9].dtype = DType::F32;
  EXPECT_EQ(errorOf([&] { run(graph, bad); }),
            "argument 9 ('labels'): expected i64[2], got f32[2]");
  bad = a;
  bad[2].data.push_back(1.0);
  EXPECT_EQ(errorOf([&] { run(graph, bad); }),
            "argument 2 ('conv.bias') holds 5 values but its shape [4] needs "
            "4");
  EXPECT_EQ(
      errorOf([&] { run(graph, std::vector<Tensor>(a.begin(), a.end() - 1)); }),
      "the graph takes 10 arguments, got 9");

  // By name: missing and unknown names.
  std::map<std::string, Tensor> byName;
  for (size_t i = 0; i < a.size(); ++i)
    byName[graph.arguments[i].name] = a[i];
  byName.erase("fc.bias");
  EXPECT_EQ(errorOf([&] { runByName(graph, byName); }),
            "missing argument 'fc.bias' (f32[10])");
  byName["fc.bias"] = a[8];
  byName["fc.biass"] = a[8];
  EXPECT_CONTAINS(errorOf([&] { runByName(graph, byName); }),
                  "the graph has no argument named 'fc.biass' (its "
                  "arguments: x, conv.weight, ");

  // A declared result type that disagrees with the computation.
  Json doc = Json::parse(cnnGraph);
  node(doc, 3)["results"][0]["shape"] = Json::array({2, 4, 3, 3});
  Graph wrongShape = parseGraph(doc.dump());
  // Windowed ops are checked before they allocate their output.
  EXPECT_EQ(errorOf([&] { run(wrongShape, a); }),
            "node 3 (max_pool2d): result 0 is declared f32[2, 4, 3, 3], but "
            "kernel [2, 2] with stride [2, 2], padding [0, 0] and dilation "
            "[1, 1] on the input [2, 4, 8, 8] gives 4x4 output positions");
  doc = Json::parse(cnnGraph);
  node(doc, 3)["attributes"]["ceil_mode"] = true;
  node(doc, 3)["attributes"]["kernel_size"] = Json::array({3, 3});
  node(doc, 3)["attributes"]["stride"] = Json::array({3, 3});
  Graph ceilMode = parseGraph(doc.dump());
  EXPECT_EQ(errorOf([&] { run(ceilMode, a); }),
            "node 3 (max_pool2d): result 0 is declared f32[2, 4, 4, 4], but "
            "kernel [3, 3] with stride [3, 3], padding [0, 0] and dilation "
            "[1, 1] in ceil mode on the input [2, 4, 8, 8] gives 3x3 output "
            "positions");
  doc = Json::parse(miscGraph);
  node(doc, 8)["attributes"]["output_size"] = Json::array({1 << 20, 1 << 20});
  Graph hugeOutput = parseGraph(doc.dump());
  EXPECT_EQ(errorOf([&] { run(hugeOutput, randomArguments(hugeOutput)); }),
            "node 8 (adaptive_avg_pool2d): result 0 is declared f32[2, 2, 3, "
            "4], but output_size is [1048576, 1048576]");
  doc = Json::parse(cnnGraph);
  node(doc, 0)["attributes"]["padding"] = Json::array({1 << 20, 1 << 20});
  Graph hugePadding = parseGraph(doc.dump());
  EXPECT_CONTAINS(errorOf([&] { run(hugePadding, a); }),
                  "node 0 (sim_conv2d): result 0 is declared f32[2, 4, 8, 8], "
                  "but kernel [3, 3] with stride [1, 1], padding [1048576, "
                  "1048576] and dilation [1, 1] on the input [2, 3, 8, 8] "
                  "gives 2097158x2097158 output positions");
  // Other ops after computing.
  doc = Json::parse(cnnGraph);
  node(doc, 5)["results"][0]["shape"] = Json::array({2, 11});
  Graph wrongLinear = parseGraph(doc.dump());
  EXPECT_EQ(errorOf([&] { run(wrongLinear, a); }),
            "node 5 (linear): result 0 (output, value 15) is declared "
            "f32[2, 11] but computes f32[2, 10]");

  doc = Json::parse(batchNormTrainGraph);
  node(doc, 0)["results"][4]["shape"] = Json::array({4});
  Graph wrongStatistics = parseGraph(doc.dump());
  EXPECT_EQ(
      errorOf([&] { run(wrongStatistics, randomArguments(wrongStatistics)); }),
      "node 0 (batch_norm_train): result 4 (new_running_var, value 9) "
      "is declared f32[4] but computes f32[3]");

  // Inconsistent operand shapes: the op's own message, named by node.
  doc = Json::parse(cnnGraph);
  argument(doc, 1)["shape"] = Json::array({4, 2, 3, 3});
  Graph wrongChannels = parseGraph(doc.dump());
  std::string message =
      errorOf([&] { run(wrongChannels, randomArguments(wrongChannels)); });
  EXPECT_EQ(message.rfind("node 0 (sim_conv2d): weight [4, 2, 3, 3]", 0), 0u)
      << message;

  // Out-of-range labels are the op's business, but must not crash.
  bad = a;
  bad[9].data[0] = 10;
  EXPECT_CONTAINS(errorOf([&] { run(graph, bad); }),
                  "node 6 (softmax_cross_entropy): ");
}

//===----------------------------------------------------------------------===//
// The nsl-reference tool, end to end
//===----------------------------------------------------------------------===//

#ifdef NSL_REFERENCE_TOOL

class ToolTest : public ::testing::Test {
protected:
  std::filesystem::path dir;

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("nsl-graph-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string write(const std::string &name, const std::string &text) {
    std::string path = (dir / name).string();
    std::ofstream(path) << text;
    return path;
  }

  struct Result {
    int exitCode;
    std::string out, err;
  };
  Result tool(const std::string &arguments) {
    std::string out = (dir / "stdout").string(),
                err = (dir / "stderr").string();
    int status = std::system((std::string(NSL_REFERENCE_TOOL) + " " +
                              arguments + " >" + out + " 2>" + err)
                                 .c_str());
    auto slurp = [](const std::string &path) {
      std::ifstream file(path);
      std::stringstream s;
      s << file.rdbuf();
      return s.str();
    };
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out),
            slurp(err)};
  }
};

TEST_F(ToolTest, RunSavesInputsAndOutputs) {
  std::string graphPath = write("cnn.json", cnnGraph);
  std::string inputs = (dir / "in").string(), outputs = (dir / "out").string();
  Result r = tool("run " + graphPath + " --seed 7 --save-inputs " + inputs +
                  " --output-dir=" + outputs);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_CONTAINS(r.out, "logits: f32[2, 10]");
  EXPECT_CONTAINS(r.out, "loss: f32[]");
  EXPECT_CONTAINS(r.out, "min ");

  // The saved inputs are the seeded random arguments; the saved outputs are
  // what the interpreter computes from them (rounded to float32).
  Graph graph = parseGraph(cnnGraph);
  RandomArgumentOptions options;
  options.seed = 7;
  std::vector<Tensor> a = randomArguments(graph, options);
  for (size_t i = 0; i < a.size(); ++i) {
    Tensor saved =
        loadNpy((dir / "in" / (graph.arguments[i].name + ".npy")).string());
    EXPECT_EQ(saved.data, a[i].data) << graph.arguments[i].name;
  }
  Tensor logits = loadNpy((dir / "out" / "logits.npy").string());
  EXPECT_LE(relativeError(logits, run(graph, a)[0]), 1e-6);

  // Given inputs replace the random ones.
  Tensor x = a[0];
  for (double &v : x.data)
    v = -v;
  saveNpy((dir / "x.npy").string(), x);
  r = tool("run " + graphPath + " --seed 7 --input x=" +
           (dir / "x.npy").string() + " --output-dir " + outputs);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_CONTAINS(r.out, "1 given");
  a[0] = x;
  logits = loadNpy((dir / "out" / "logits.npy").string());
  EXPECT_LE(relativeError(logits, run(graph, a)[0]), 1e-6);
}

TEST_F(ToolTest, UnsafeNamesBecomeUnderscores) {
  std::string graphPath =
      write("g.json", replaceAll(batchNormTrainGraph, "\"bn.weight\"",
                                 "\"layer1/bn weight\""));
  Result r = tool("run " + graphPath + " --save-inputs " + dir.string());
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "layer1_bn_weight.npy"));
}

TEST_F(ToolTest, Compare) {
  std::string a = write("a.json", cnnGraph);
  Result r = tool("compare " + a + " " + a + " --seed 3");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_CONTAINS(r.out, "logits f32[2, 10]: relative error 0.000e+00");
  EXPECT_CONTAINS(r.out, "all 2 outputs agree");

  // A different network on the same arguments: relu on the logits.
  Json doc = Json::parse(cnnGraph);
  node(doc, 6)["operands"]["logits"] = 20;
  doc["nodes"].insert(doc["nodes"].begin() + 6,
                      Json::parse(R"({"op": "relu", "operands": {"input": 15},
                    "results": [{"value": 20, "dtype": "f32",
                                 "shape": [2, 10]}]})"));
  doc["outputs"][0]["value"] = 20;
  std::string b = write("b.json", doc.dump());
  r = tool("compare " + a + " " + b);
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_CONTAINS(r.out, "FAILED");
  EXPECT_CONTAINS(r.out, "exceed relative error 1e-06");
  // A loose enough tolerance accepts it.
  r = tool("compare " + a + " " + b + " --tolerance 10");
  EXPECT_EQ(r.exitCode, 0) << r.out;

  // Arguments must match by name and type.
  std::string c =
      write("c.json", replaceAll(cnnGraph, "\"fc.bias\"", "\"fc.b\""));
  r = tool("compare " + a + " " + c);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_CONTAINS(r.err, "nsl-reference: error: argument 'fc.bias' of ");
  EXPECT_CONTAINS(r.err, "is not an argument of ");
}

TEST_F(ToolTest, ErrorsAreOneLineWithExitCode2) {
  std::string good = write("good.json", cnnGraph);
  std::string badJson = write("bad.json", "{\"format\": ");
  std::string badNpy = write("bad.npy", "not a numpy file");
  struct Case {
    std::string arguments;
    std::string message;
  };
  const Case cases[] = {
      {"", "missing command"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"run", "'run' takes one GRAPH.json, got 0"},
      {"run " + good + " --frob", "unknown option '--frob' for 'run'"},
      {"run " + good + " --seed", "option '--seed' needs a value"},
      {"run " + good + " --seed abc", "invalid --seed 'abc'"},
      {"run " + good + " --seed -1", "invalid --seed '-1'"},
      {"run " + (dir / "missing.json").string(), "cannot open graph file"},
      {"run " + badJson,
       "bad.json: line 1, column 12: unexpected end of input"},
      {"run " + good + " --input x=" + badNpy, "bad.npy"},
      {"run " + good + " --input x=" + (dir / "none.npy").string(), "none.npy"},
      {"run " + good + " --input nope=" + badNpy,
       "the graph has no argument 'nope'"},
      {"run " + good + " --input x", "--input takes NAME=FILE.npy"},
      {"compare " + good, "'compare' takes two graph files"},
      {"compare " + good + " " + good + " --tolerance x",
       "invalid --tolerance 'x'"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.arguments);
    Result r = tool(c.arguments);
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_EQ(r.err.rfind("nsl-reference: error: ", 0), 0u) << r.err;
    EXPECT_CONTAINS(r.err, c.message);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // An input of the wrong shape.
  saveNpy((dir / "small.npy").string(), Tensor({2, 3}));
  Result r = tool("run " + good + " --input x=" + (dir / "small.npy").string());
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_CONTAINS(r.err, "holds f32[2, 3], but the argument is f32[2, 3, 8, "
                         "8]");
}

TEST_F(ToolTest, Help) {
  for (const char *arguments : {"--help", "-h", "run --help", "compare -h"}) {
    Result r = tool(arguments);
    EXPECT_EQ(r.exitCode, 0) << arguments;
    EXPECT_CONTAINS(r.out, "usage: nsl-reference");
  }
  EXPECT_CONTAINS(tool("run -h").out, "--save-inputs DIR");
  EXPECT_CONTAINS(tool("compare --help").out, "--tolerance T");
}

#endif // NSL_REFERENCE_TOOL

} // namespace

// The interpreter's schemas come from the dialect's ODS (OpSchema.inc): every
// op there has a reference computation, so no op of the dialect is unknown
// to the interpreter.
TEST(OpTable, EveryDialectOpHasAComputation) {
  EXPECT_EQ(nsl::reference::detail::opsWithoutComputation(),
            std::vector<std::string>{});
  EXPECT_GT(nsl::reference::detail::dialectSchemas().size(), 30u);
}
