//===- TrainingGraphTest.cpp - The training ops in the graph interpreter --===//
//
// Small graphs with the ops of the training step (VJPs, penalties,
// count_correct, sgd_update, adam_update) run by the interpreter and compared
// with direct calls of Gradients.h and Optimizers.h on the same arguments:
// the VJPs select the gradients named by `wrt`, the functional updates match
// the stateful sgdStep/adamStep bit for bit over several steps, and every
// malformed node is a ReferenceError naming it.
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Gradients.h"
#include "runtime/reference/Graph.h"
#include "runtime/reference/Optimizers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace nsl::reference;
using Json = nlohmann::ordered_json;

namespace {

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

Json shapeJson(const Shape &shape) { return shape; }

Json ints(std::vector<int64_t> values) { return values; }

/// Builds a graph.json document value by value.
class Builder {
public:
  Builder() {
    doc_["format"] = "nsl-graph";
    doc_["version"] = 1;
    doc_["function"] = "f";
    doc_["arguments"] = Json::array();
    doc_["nodes"] = Json::array();
    doc_["outputs"] = Json::array();
  }

  int64_t arg(const std::string &name, Shape shape,
              const std::string &role = "input",
              const std::string &dtype = "f32") {
    Json a = Json::object();
    a["value"] = next_;
    a["name"] = name;
    a["role"] = role;
    a["dtype"] = dtype;
    a["shape"] = shapeJson(shape);
    doc_["arguments"].push_back(std::move(a));
    return next_++;
  }

  /// Adds a node; results are (shape, dtype). Returns the result ids.
  std::vector<int64_t>
  node(const std::string &op, Json operands, Json attributes,
       std::vector<std::pair<Shape, std::string>> results) {
    Json n = Json::object();
    n["op"] = op;
    n["operands"] = std::move(operands);
    n["attributes"] = std::move(attributes);
    Json rs = Json::array();
    std::vector<int64_t> ids;
    for (auto &[shape, dtype] : results) {
      Json r = Json::object();
      r["value"] = next_;
      r["dtype"] = dtype;
      r["shape"] = shapeJson(shape);
      rs.push_back(std::move(r));
      ids.push_back(next_++);
    }
    n["results"] = std::move(rs);
    doc_["nodes"].push_back(std::move(n));
    return ids;
  }

  void output(int64_t value) {
    Json o = Json::object();
    o["value"] = value;
    o["name"] = "out" + std::to_string(outputs_++);
    doc_["outputs"].push_back(std::move(o));
  }
  void outputs(const std::vector<int64_t> &values) {
    for (int64_t v : values)
      output(v);
  }

  Json &doc() { return doc_; }
  Json &lastNode() { return doc_["nodes"].back(); }
  std::string json() const { return doc_.dump(); }
  Graph graph() const { return parseGraph(json()); }

private:
  Json doc_ = Json::object();
  int64_t next_ = 0;
  int outputs_ = 0;
};

Json object(std::vector<std::pair<std::string, Json>> members) {
  Json o = Json::object();
  for (auto &[k, v] : members)
    o[k] = std::move(v);
  return o;
}

std::vector<std::pair<Shape, std::string>> f32s(std::vector<Shape> shapes) {
  std::vector<std::pair<Shape, std::string>> r;
  for (Shape &s : shapes)
    r.push_back({std::move(s), "f32"});
  return r;
}

void expectSame(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.data, b.data);
}

Window window(std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
              std::array<int64_t, 2> dilation = {1, 1}) {
  Window w;
  w.stride = stride;
  w.padding = padding;
  w.dilation = dilation;
  return w;
}

//===----------------------------------------------------------------------===//
// VJPs
//===----------------------------------------------------------------------===//

/// A DNS sim_conv2d_vjp (input 0, weight 1, mask 2, bias 3) with `wrt`.
Builder dnsVJP(std::vector<int64_t> wrt) {
  Builder b;
  // Ho = (7 + 2 - 2 - 1) / 2 + 1 = 4, Wo = (6 - 2 - 1) / 2 + 1 = 2.
  Shape x{2, 3, 7, 6}, w{4, 3, 3, 3}, m{2, 9, 4, 2}, bias{4}, y{2, 4, 4, 2};
  int64_t ix = b.arg("x", x), iw = b.arg("w", w, "parameter"),
          im = b.arg("m", m), ib = b.arg("b", bias, "parameter"),
          ig = b.arg("gy", y);
  std::vector<Shape> all = {x, w, m, bias}, shapes;
  for (int64_t i : wrt)
    shapes.push_back(all.at(static_cast<size_t>(i)));
  Json operands = object({{"input", ix},
                          {"weight", iw},
                          {"similarity", ints({im})},
                          {"bias", ib},
                          {"grad_output", ig}});
  Json attributes = object({{"structure", "diagonal"},
                            {"dynamic", true},
                            {"alpha", 0.0},
                            {"stride", ints({2, 2})},
                            {"padding", ints({1, 0})},
                            {"dilation", ints({1, 1})},
                            {"groups", 1},
                            {"wrt", ints(wrt)}});
  b.outputs(b.node("sim_conv2d_vjp", std::move(operands), std::move(attributes),
                   f32s(shapes)));
  return b;
}

TEST(ReferenceTrainingGraph, SimConv2dVJPSelectsWrt) {
  for (std::vector<int64_t> wrt : std::vector<std::vector<int64_t>>{
           {0, 1, 2, 3}, {0}, {1}, {2}, {1, 3}, {0, 2}}) {
    SCOPED_TRACE(::testing::PrintToString(wrt));
    Graph graph = dnsVJP(wrt).graph();
    std::vector<Tensor> a = randomArguments(graph);
    std::vector<Tensor> out = run(graph, a);
    Similarity sim;
    sim.structure = Structure::Diagonal;
    sim.dynamic = true;
    sim.operands = {a[2]};
    SimConv2dGrads g =
        simConv2dVJP(a[0], a[1], sim, &a[3], window({2, 2}, {1, 0}), a[4]);
    std::vector<Tensor> all = {g.input, g.weight, g.similarity.at(0), *g.bias};
    ASSERT_EQ(out.size(), wrt.size());
    for (size_t i = 0; i < wrt.size(); ++i)
      expectSame(out[i], all[static_cast<size_t>(wrt[i])]);
  }
}

TEST(ReferenceTrainingGraph, SphereLearnedSigmoidKParamOnly) {
  Builder b;
  Shape x{1, 2, 5, 5}, w{3, 2, 3, 3}, k{3}, y{1, 3, 5, 5};
  int64_t ix = b.arg("x", x), iw = b.arg("w", w, "parameter"),
          ik = b.arg("k", k, "parameter"), ig = b.arg("gy", y);
  b.outputs(b.node("sphere_conv2d_vjp",
                   object({{"input", ix},
                           {"weight", iw},
                           {"k_param", ik},
                           {"grad_output", ig}}),
                   object({{"variant", "learned_sigmoid"},
                           {"input_only", false},
                           {"epsilon", 1e-4},
                           {"sigmoid_k", 0.3},
                           {"stride", ints({1, 1})},
                           {"padding", ints({1, 1})},
                           {"dilation", ints({1, 1})},
                           {"wrt", ints({0, 2})}}),
                   f32s({x, k})));
  Graph graph = b.graph();
  std::vector<Tensor> a = randomArguments(graph, {7, {}});
  std::vector<Tensor> out = run(graph, a);
  SphereOptions options;
  options.variant = SphereVariant::LearnedSigmoid;
  options.epsilon = 1e-4;
  options.sigmoidK = 0.3;
  SphereConv2dGrads g =
      sphereConv2dVJP(a[0], a[1], &a[2], options, window({1, 1}, {1, 1}), a[3]);
  ASSERT_EQ(out.size(), 2u);
  expectSame(out[0], g.input);
  expectSame(out[1], *g.kParam);
}

TEST(ReferenceTrainingGraph, FoldSimilarityLinearShapeMasked) {
  Builder b;
  Shape w{3, 10}, d{5}, r{5, 5};
  int64_t iw = b.arg("w", w, "parameter"), id = b.arg("d", d, "parameter"),
          ir = b.arg("r", r, "parameter"), ig = b.arg("gy", w);
  b.outputs(b.node("fold_similarity_vjp",
                   object({{"weight", iw},
                           {"similarity", ints({id, ir})},
                           {"grad_output", ig}}),
                   object({{"structure", "shape_masked"},
                           {"group_size", 5},
                           {"alpha", -0.25},
                           {"wrt", ints({0, 1, 2})}}),
                   f32s({w, d, r})));
  Graph graph = b.graph();
  std::vector<Tensor> a = randomArguments(graph);
  std::vector<Tensor> out = run(graph, a);
  Similarity sim;
  sim.structure = Structure::ShapeMasked;
  sim.alpha = -0.25;
  sim.operands = {a[1], a[2]};
  FoldSimilarityGrads g = foldSimilarityVJP(a[0], sim, 5, a[3]);
  ASSERT_EQ(out.size(), 3u);
  expectSame(out[0], g.weight);
  expectSame(out[1], g.similarity.at(0));
  expectSame(out[2], g.similarity.at(1));
}

TEST(ReferenceTrainingGraph, LinearWithoutBiasAndBatchNorm) {
  Builder b;
  int64_t ix = b.arg("x", {4, 6}), iw = b.arg("w", {3, 6}, "parameter"),
          ig = b.arg("gy", {4, 3});
  std::vector<int64_t> lin =
      b.node("linear_vjp",
             object({{"input", ix}, {"weight", iw}, {"grad_output", ig}}),
             object({{"wrt", ints({0, 1})}}), f32s({{4, 6}, {3, 6}}));
  b.outputs(lin);
  int64_t bx = b.arg("bx", {3, 2, 3, 2}), bg = b.arg("g", {2}, "parameter"),
          bb = b.arg("bb", {2}, "parameter"), bm = b.arg("mean", {2}, "buffer"),
          bv = b.arg("var", {2}, "buffer"), bgy = b.arg("bgy", {3, 2, 3, 2});
  std::vector<int64_t> bn = b.node(
      "batch_norm_train_vjp",
      object({{"input", bx},
              {"weight", bg},
              {"bias", bb},
              {"running_mean", bm},
              {"running_var", bv},
              {"grad_output", bgy}}),
      object({{"epsilon", 1e-5}, {"momentum", 0.1}, {"wrt", ints({0, 2, 4})}}),
      f32s({{3, 2, 3, 2}, {2}, {2}}));
  b.outputs(bn);
  Graph graph = b.graph();
  std::vector<Tensor> a = randomArguments(graph, {3, {}});
  std::vector<Tensor> out = run(graph, a);
  LinearGrads lg = linearVJP(a[0], a[1], nullptr, a[2]);
  BatchNormGrads bng =
      batchNormTrainVJP(a[3], a[4], a[5], a[6], a[7], 1e-5, 0.1, a[8]);
  ASSERT_EQ(out.size(), 5u);
  expectSame(out[0], lg.input);
  expectSame(out[1], lg.weight);
  expectSame(out[2], bng.input);
  expectSame(out[3], bng.bias);
  expectSame(out[4], Tensor({2})); // running_var: no influence, zero
}

TEST(ReferenceTrainingGraph, LossPenaltiesAndCount) {
  Builder b;
  int64_t logits = b.arg("logits", {5, 4}),
          labels = b.arg("labels", {5}, "label", "i64"),
          gl = b.arg("gloss", {}), m = b.arg("m", {3, 3}, "parameter"),
          w = b.arg("w", {4, 2, 2, 2}, "parameter"), gp = b.arg("gp", {});
  b.outputs(b.node(
      "softmax_cross_entropy_vjp",
      object({{"logits", logits}, {"labels", labels}, {"grad_output", gl}}),
      object({{"label_smoothing", 0.1}, {"wrt", ints({0})}}), f32s({{5, 4}})));
  b.outputs(b.node("count_correct",
                   object({{"logits", logits}, {"labels", labels}}),
                   Json::object(), {{{}, "i64"}}));
  b.outputs(b.node("l1_penalty", object({{"input", m}}),
                   object({{"strength", 0.25}}), f32s({{}})));
  b.outputs(
      b.node("l1_penalty_vjp", object({{"input", m}, {"grad_output", gp}}),
             object({{"strength", 0.25}, {"wrt", ints({0})}}), f32s({{3, 3}})));
  b.outputs(b.node("orthogonality_penalty", object({{"input", w}}),
                   object({{"strength", 0.5}}), f32s({{}})));
  b.outputs(b.node(
      "orthogonality_penalty_vjp", object({{"input", w}, {"grad_output", gp}}),
      object({{"strength", 0.5}, {"wrt", ints({0})}}), f32s({{4, 2, 2, 2}})));
  Graph graph = b.graph();
  std::vector<Tensor> a = randomArguments(graph);
  for (double label : a[1].data) // count_correct's classes: [0, 4)
    EXPECT_TRUE(label >= 0 && label < 4 && label == std::floor(label));
  std::vector<Tensor> out = run(graph, a);
  ASSERT_EQ(out.size(), 6u);
  expectSame(out[0], softmaxCrossEntropyVJP(a[0], a[1], 0.1, a[2]));
  int64_t correct = 0;
  for (int64_t n = 0; n < 5; ++n) {
    int64_t best = 0;
    for (int64_t c = 1; c < 4; ++c)
      if (a[0].data[n * 4 + c] > a[0].data[n * 4 + best])
        best = c;
    correct += best == static_cast<int64_t>(a[1].data[n]);
  }
  expectSame(out[1], Tensor({}, {double(correct)}, DType::I64));
  expectSame(out[2], l1Regularizer(a[3], 0.25));
  expectSame(out[3], l1RegularizerVJP(a[3], 0.25, a[5]));
  expectSame(out[4], orthogonalityRegularizer(a[4], 0.5));
  expectSame(out[5], orthogonalityRegularizerVJP(a[4], 0.5, a[5]));
}

TEST(ReferenceTrainingGraph, CountCorrectTiesAndNaN) {
  Builder b;
  int64_t logits = b.arg("logits", {4, 3}),
          labels = b.arg("labels", {4}, "label", "i64");
  b.outputs(b.node("count_correct",
                   object({{"logits", logits}, {"labels", labels}}),
                   Json::object(), {{{}, "i64"}}));
  Graph graph = b.graph();
  // Row 0: a tie, the first maximum (1) wins. Row 1: NaN is the maximum.
  // Row 2: two NaNs, the first wins. Row 3: a plain maximum, wrong label.
  Tensor x({4, 3}, {0, 2, 2, 5, NAN, 1, NAN, 3, NAN, 1, 2, 3});
  EXPECT_EQ(run(graph, {x, Tensor({4}, {1, 1, 0, 0}, DType::I64)})[0].data,
            std::vector<double>{3});
  EXPECT_EQ(run(graph, {x, Tensor({4}, {2, 0, 2, 2}, DType::I64)})[0].data,
            std::vector<double>{1});
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

/// One sgd_update node on a [2, 3] parameter.
Graph sgdGraph(const SgdOptions &o) {
  Builder b;
  Shape s{2, 3};
  int64_t p = b.arg("p", s, "parameter"), g = b.arg("g", s);
  int64_t buf = o.momentum != 0.0 ? b.arg("buf", s, "optimizer_state") : -1;
  int64_t step = b.arg("step", {}, "optimizer_state"),
          lr = b.arg("lr", {}, "learning_rate");
  Json operands =
      object({{"param", p}, {"grad", g}, {"step", step}, {"lr", lr}});
  if (buf >= 0)
    operands["momentum_buffer"] = buf;
  b.outputs(b.node(
      "sgd_update", std::move(operands),
      object({{"momentum", o.momentum},
              {"dampening", o.dampening},
              {"weight_decay", o.weight_decay},
              {"nesterov", o.nesterov}}),
      f32s(buf >= 0 ? std::vector<Shape>{s, s} : std::vector<Shape>{s})));
  return b.graph();
}

std::vector<Tensor> gradients(int seed, Shape shape) {
  std::vector<Tensor> g;
  for (int s = 0; s < 5; ++s) {
    Tensor t(shape);
    for (size_t i = 0; i < t.data.size(); ++i)
      t.data[i] = std::sin(1.7 * double(i) + 3.1 * s + seed) * (s + 1);
    g.push_back(t);
  }
  return g;
}

TEST(ReferenceTrainingGraph, SgdUpdateMatchesSgdStep) {
  std::vector<SgdOptions> variants(4);
  variants[0].lr = 0.1;
  variants[1].lr = 0.05, variants[1].momentum = 0.9,
  variants[1].dampening = 0.25;
  variants[2].lr = 0.03, variants[2].momentum = 0.8,
  variants[2].nesterov = true;
  variants[3].lr = 0.07, variants[3].momentum = 0.5,
  variants[3].weight_decay = 0.01;
  for (size_t v = 0; v < variants.size(); ++v) {
    SCOPED_TRACE("variant " + std::to_string(v));
    const SgdOptions &o = variants[v];
    Graph graph = sgdGraph(o);
    Tensor param({2, 3}, {0.5, -1, 2, 0.25, 0, -0.75});
    Tensor graphParam = param;
    // Garbage in the buffer at step 0: it must be ignored (buf = d).
    Tensor buffer({2, 3}, {9, 9, 9, 9, 9, 9});
    SgdState state;
    std::vector<Tensor> grads = gradients(int(v), {2, 3});
    for (int step = 0; step < 5; ++step) {
      sgdStep(param, grads[step], state, o);
      std::vector<Tensor> args = {graphParam, grads[step]};
      if (o.momentum != 0.0)
        args.push_back(buffer);
      args.push_back(Tensor({}, {double(step)}));
      args.push_back(Tensor({}, {o.lr}));
      std::vector<Tensor> out = run(graph, args);
      graphParam = out[0];
      expectSame(graphParam, param);
      if (o.momentum != 0.0) {
        ASSERT_EQ(out.size(), 2u);
        buffer = out[1];
        expectSame(buffer, state.momentumBuffer);
      } else {
        ASSERT_EQ(out.size(), 1u);
      }
    }
  }
}

/// One adam_update node on a [5] parameter.
Graph adamGraph(const AdamOptions &o) {
  Builder b;
  Shape s{5};
  int64_t p = b.arg("p", s, "parameter"), g = b.arg("g", s),
          m = b.arg("m", s, "optimizer_state"),
          v = b.arg("v", s, "optimizer_state");
  int64_t vmax = o.amsgrad ? b.arg("vmax", s, "optimizer_state") : -1;
  int64_t step = b.arg("step", {}, "optimizer_state"),
          lr = b.arg("lr", {}, "learning_rate");
  Json operands = object({{"param", p},
                          {"grad", g},
                          {"exp_avg", m},
                          {"exp_avg_sq", v},
                          {"step", step},
                          {"lr", lr}});
  if (vmax >= 0)
    operands["max_exp_avg_sq"] = vmax;
  b.outputs(b.node("adam_update", std::move(operands),
                   object({{"beta1", o.beta1},
                           {"beta2", o.beta2},
                           {"eps", o.eps},
                           {"weight_decay", o.weight_decay},
                           {"amsgrad", o.amsgrad}}),
                   f32s(std::vector<Shape>(o.amsgrad ? 4 : 3, s))));
  return b.graph();
}

TEST(ReferenceTrainingGraph, AdamUpdateMatchesAdamStep) {
  std::vector<AdamOptions> variants(3);
  variants[0].lr = 0.01;
  variants[1].lr = 0.002, variants[1].amsgrad = true;
  variants[2].lr = 0.05, variants[2].amsgrad = true,
  variants[2].weight_decay = 0.1, variants[2].beta1 = 0.8,
  variants[2].beta2 = 0.99, variants[2].eps = 1e-6;
  for (size_t v = 0; v < variants.size(); ++v) {
    SCOPED_TRACE("variant " + std::to_string(v));
    const AdamOptions &o = variants[v];
    Graph graph = adamGraph(o);
    Tensor param({5}, {0.5, -1, 2, 0.25, 0});
    std::vector<Tensor> state = {param, Tensor({5}), Tensor({5}), Tensor({5})};
    AdamState adam;
    std::vector<Tensor> grads = gradients(int(v) + 10, {5});
    for (int step = 0; step < 5; ++step) {
      adamStep(param, grads[step], adam, o);
      std::vector<Tensor> args = {state[0], grads[step], state[1], state[2]};
      if (o.amsgrad)
        args.push_back(state[3]);
      args.push_back(Tensor({}, {double(step)}));
      args.push_back(Tensor({}, {o.lr}));
      std::vector<Tensor> out = run(graph, args);
      ASSERT_EQ(out.size(), o.amsgrad ? 4u : 3u);
      for (size_t i = 0; i < out.size(); ++i)
        state[i] = out[i];
      expectSame(state[0], param);
      expectSame(state[1], adam.expAvg);
      expectSame(state[2], adam.expAvgSq);
      if (o.amsgrad)
        expectSame(state[3], adam.maxExpAvgSq);
    }
  }
}

TEST(ReferenceTrainingGraph, AdamUpdateUsesGivenStateAtStepZero) {
  AdamOptions o;
  o.lr = 0.1;
  Tensor p({2}, {1, -1}), g({2}, {0.5, 0.25}), m({2}, {0.1, 0.2}),
      v({2}, {0.3, 0.4});
  AdamUpdateResult r = adamUpdate(p, g, m, v, nullptr, 0, o);
  for (size_t i = 0; i < 2; ++i) {
    double mi = 0.9 * m.data[i] + 0.1 * g.data[i];
    double vi = 0.999 * v.data[i] + (1 - 0.999) * g.data[i] * g.data[i];
    EXPECT_NEAR(r.expAvg.data[i], mi, 1e-15);
    EXPECT_NEAR(r.expAvgSq.data[i], vi, 1e-15);
    double expected =
        p.data[i] -
        0.1 / (1 - 0.9) * mi / (std::sqrt(vi) / std::sqrt(1 - 0.999) + 1e-8);
    EXPECT_NEAR(r.param.data[i], expected, 1e-12);
  }
}

TEST(ReferenceTrainingGraph, RandomArgumentsForUpdates) {
  AdamOptions o;
  o.amsgrad = true;
  Graph graph = adamGraph(o);
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::vector<Tensor> a = randomArguments(graph, {seed, {}});
    for (int i : {3, 4}) // exp_avg_sq, max_exp_avg_sq
      for (double x : a[i].data)
        EXPECT_TRUE(x >= 0.5 && x < 1.5);
    double step = a[5].data.at(0), lr = a[6].data.at(0);
    EXPECT_TRUE(step >= 0 && step < 5 && step == std::floor(step)) << step;
    EXPECT_TRUE(lr >= 0.0099 && lr <= 0.1001) << lr;
    EXPECT_EQ(lr, double(float(lr)));
    run(graph, a); // valid inputs
  }
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(ReferenceTrainingGraph, BadWrt) {
  struct Case {
    std::vector<int64_t> wrt;
    const char *message;
  };
  const Case cases[] = {
      {{}, "'wrt' must name at least one operand"},
      {{1, 0}, "'wrt' must be strictly ascending, got [1, 0]"},
      {{0, 0}, "'wrt' must be strictly ascending"},
      {{4},
       "'wrt' index 4 is not a forward operand (the forward operands "
       "are input, weight, similarity[0], bias"},
      {{-1}, "'wrt' index -1 is not a forward operand"},
  };
  for (const Case &c : cases) {
    Builder b = dnsVJP({0});
    b.lastNode()["attributes"]["wrt"] = ints(c.wrt);
    std::string message = errorOf([&] { b.graph(); });
    EXPECT_CONTAINS(message, "node 0 (sim_conv2d_vjp): ");
    EXPECT_CONTAINS(message, c.message);
  }
  // wrt naming the integer labels.
  Builder b;
  int64_t logits = b.arg("logits", {2, 3}),
          labels = b.arg("labels", {2}, "label", "i64"), g = b.arg("g", {});
  b.node("softmax_cross_entropy_vjp",
         object({{"logits", logits}, {"labels", labels}, {"grad_output", g}}),
         object({{"label_smoothing", 0.0}, {"wrt", ints({1})}}),
         {{{2}, "i64"}});
  EXPECT_CONTAINS(errorOf([&] { b.graph(); }),
                  "node 0 (softmax_cross_entropy_vjp): 'wrt' index 1 (labels) "
                  "is not differentiable (not f32)");
  // wrt as something else than integers.
  Builder c = dnsVJP({0});
  c.lastNode()["attributes"]["wrt"] = "all";
  EXPECT_CONTAINS(errorOf([&] { c.graph(); }), "node 0 (sim_conv2d_vjp): ");
}

TEST(ReferenceTrainingGraph, BadResults) {
  // One result too many for wrt [0].
  Builder b = dnsVJP({0, 1});
  b.lastNode()["attributes"]["wrt"] = ints({0});
  EXPECT_CONTAINS(errorOf([&] { b.graph(); }),
                  "node 0 (sim_conv2d_vjp): sim_conv2d_vjp returns one "
                  "gradient per 'wrt' entry (1), got 2 results");
  // A gradient with another shape than its operand.
  Builder c = dnsVJP({1});
  c.lastNode()["results"][0]["shape"] = ints({4, 3, 3, 2});
  EXPECT_CONTAINS(errorOf([&] { c.graph(); }),
                  "node 0 (sim_conv2d_vjp): result 0 (gradient of weight) "
                  "must have the operand's type f32[4, 3, 3, 3], got "
                  "f32[4, 3, 3, 2]");
}

TEST(ReferenceTrainingGraph, WrongShapesAtRunTime) {
  // The upstream gradient has the wrong number of output positions.
  Builder b = dnsVJP({0});
  b.doc()["arguments"][4]["shape"] = ints({2, 4, 4, 3});
  Graph graph = b.graph();
  std::string message = errorOf([&] { run(graph, randomArguments(graph)); });
  EXPECT_CONTAINS(message, "node 0 (sim_conv2d_vjp): grad_output is declared "
                           "f32[2, 4, 4, 3], but kernel");

  // A linear VJP whose upstream gradient does not match the output.
  Builder l;
  int64_t x = l.arg("x", {4, 6}), w = l.arg("w", {3, 6}, "parameter"),
          g = l.arg("gy", {4, 2});
  l.outputs(l.node("linear_vjp",
                   object({{"input", x}, {"weight", w}, {"grad_output", g}}),
                   object({{"wrt", ints({0})}}), f32s({{4, 6}})));
  Graph lg = l.graph();
  EXPECT_CONTAINS(errorOf([&] { run(lg, randomArguments(lg)); }),
                  "node 0 (linear_vjp): ");

  // An update whose step is not an integer, or whose lr is not rank 0.
  SgdOptions o;
  o.lr = 0.1;
  Graph sgd = sgdGraph(o);
  Tensor p({2, 3}), gr({2, 3});
  EXPECT_CONTAINS(
      errorOf([&] { run(sgd, {p, gr, Tensor({}, {1.5}), Tensor({}, {0.1})}); }),
      "node 0 (sgd_update): 'step' must be a non-negative integer");
  EXPECT_CONTAINS(
      errorOf([&] { run(sgd, {p, gr, Tensor({}, {-1}), Tensor({}, {0.1})}); }),
      "node 0 (sgd_update): 'step' must be a non-negative integer");
  EXPECT_CONTAINS(
      errorOf([&] { run(sgd, {p, gr, Tensor({}, {0}), Tensor({}, {-0.1})}); }),
      "node 0 (sgd_update): SGD: Invalid learning rate");
  Builder s;
  int64_t sp = s.arg("p", {3}, "parameter"), sg = s.arg("g", {3}),
          step = s.arg("step", {}, "optimizer_state"),
          lr = s.arg("lr", {2}, "learning_rate");
  s.outputs(
      s.node("sgd_update",
             object({{"param", sp}, {"grad", sg}, {"step", step}, {"lr", lr}}),
             object({{"momentum", 0.0},
                     {"dampening", 0.0},
                     {"weight_decay", 0.0},
                     {"nesterov", false}}),
             f32s({{3}})));
  Graph sgraph = s.graph();
  EXPECT_CONTAINS(errorOf([&] { run(sgraph, randomArguments(sgraph)); }),
                  "node 0 (sgd_update): 'lr' must be a rank-0 tensor, got [2]");
}

TEST(ReferenceTrainingGraph, OptionalStateMustMatchTheAttributes) {
  SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  Builder b;
  int64_t p = b.arg("p", {3}, "parameter"), g = b.arg("g", {3}),
          step = b.arg("step", {}, "optimizer_state"),
          lr = b.arg("lr", {}, "learning_rate");
  b.outputs(
      b.node("sgd_update",
             object({{"param", p}, {"grad", g}, {"step", step}, {"lr", lr}}),
             object({{"momentum", 0.9},
                     {"dampening", 0.0},
                     {"weight_decay", 0.0},
                     {"nesterov", false}}),
             f32s({{3}})));
  EXPECT_CONTAINS(errorOf([&] { b.graph(); }),
                  "node 0 (sgd_update): operand 'momentum_buffer' must be "
                  "given exactly when momentum is not 0");

  AdamOptions a;
  a.amsgrad = true;
  Builder c;
  int64_t cp = c.arg("p", {3}, "parameter"), cg = c.arg("g", {3}),
          m = c.arg("m", {3}), v = c.arg("v", {3}),
          cs = c.arg("step", {}, "optimizer_state"),
          cl = c.arg("lr", {}, "learning_rate");
  c.outputs(c.node("adam_update",
                   object({{"param", cp},
                           {"grad", cg},
                           {"exp_avg", m},
                           {"exp_avg_sq", v},
                           {"step", cs},
                           {"lr", cl}}),
                   object({{"beta1", 0.9},
                           {"beta2", 0.999},
                           {"eps", 1e-8},
                           {"weight_decay", 0.0},
                           {"amsgrad", true}}),
                   f32s({{3}, {3}, {3}})));
  EXPECT_CONTAINS(errorOf([&] { c.graph(); }),
                  "node 0 (adam_update): operand 'max_exp_avg_sq' must be "
                  "given exactly with amsgrad");
  // Too many results for an update without the optional state.
  Builder d;
  int64_t dp = d.arg("p", {3}, "parameter"), dg = d.arg("g", {3}),
          dm = d.arg("m", {3}), dv = d.arg("v", {3}),
          ds = d.arg("step", {}, "optimizer_state"),
          dl = d.arg("lr", {}, "learning_rate");
  d.node("adam_update",
         object({{"param", dp},
                 {"grad", dg},
                 {"exp_avg", dm},
                 {"exp_avg_sq", dv},
                 {"step", ds},
                 {"lr", dl}}),
         object({{"beta1", 0.9},
                 {"beta2", 0.999},
                 {"eps", 1e-8},
                 {"weight_decay", 0.0},
                 {"amsgrad", false}}),
         f32s({{3}, {3}, {3}, {3}}));
  EXPECT_CONTAINS(errorOf([&] { d.graph(); }),
                  "node 0 (adam_update): adam_update has 3 results, got 4");
}

} // namespace
