//===- Graph.cpp - graph.json and its reference interpreter ---------------===//
//
// One table describes every op: its operands (single, optional or variadic,
// with their dtype), its attributes (with their JSON type) and a small lambda
// that calls the reference op. The loader validates a file against the table,
// so that the lambdas can read operands and attributes without checks; the
// interpreter checks every computed type against the declared one.
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"

#include "runtime/reference/Gradients.h"
#include "runtime/reference/Ops.h"
#include "runtime/reference/Optimizers.h"
#include "runtime/support/JsonView.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

namespace nsl::reference {

using support::JsonError;
using support::JsonView;

//===----------------------------------------------------------------------===//
// The op table
//===----------------------------------------------------------------------===//

namespace {

enum class Arity { Single, Optional, Variadic };

struct OperandSpec {
  const char *name;
  Arity arity;
  DType dtype;
};

enum class AttributeType {
  Bool,
  Number,
  Integer,
  Pair,
  String,
  Numbers,
  Integers
};

struct AttributeSpec {
  const char *name;
  AttributeType type;
  std::vector<std::string> allowed; // for strings; empty: any
};

/// A node's operands and attributes at run time. The loader has checked that
/// they exist and have the right JSON types.
class NodeContext {
public:
  NodeContext(const GraphNode &node,
              const std::unordered_map<int64_t, Tensor> &values)
      : node(node), values_(values) {}

  const GraphNode &node;

  const Tensor &operand(const char *name) const {
    return values_.at(node.operands.at(name).at(0));
  }
  const Tensor *optionalOperand(const char *name) const {
    return node.operands.count(name) ? &operand(name) : nullptr;
  }
  std::vector<Tensor> variadicOperand(const char *name) const {
    std::vector<Tensor> tensors;
    for (int64_t id : node.operands.at(name))
      tensors.push_back(values_.at(id));
    return tensors;
  }

  /// An attribute, which parseGraph has checked; the view's errors name it
  /// for a Graph assembled by hand.
  JsonView attribute(const char *name) const {
    auto it = node.attributes.find(name);
    if (it == node.attributes.end())
      throw ReferenceError("missing attribute '" + std::string(name) + "'");
    return JsonView(*it, name);
  }
  bool flag(const char *name) const { return attribute(name).asBool(); }
  double number(const char *name) const { return attribute(name).asNumber(); }
  int64_t integer(const char *name) const {
    return attribute(name).asInteger();
  }
  const std::string &text(const char *name) const {
    return attribute(name).asString();
  }
  std::vector<int64_t> integers(const char *name) const {
    std::vector<int64_t> values;
    for (const JsonView &v : attribute(name).elements())
      values.push_back(v.asInteger());
    return values;
  }
  /// The value of a rank-0 f32 operand (step, lr of the updates).
  double scalar(const char *name) const {
    const Tensor &t = operand(name);
    if (t.rank() != 0 || t.data.size() != 1)
      throw ReferenceError("'" + std::string(name) +
                           "' must be a rank-0 tensor, got " +
                           shapeToString(t.shape));
    return t.data[0];
  }
  /// The gradients named by a VJP node's `wrt`, in its order, from the
  /// gradients of all forward operands (flattened in ODS order; nullopt for
  /// operands without one).
  std::vector<Tensor> select(std::vector<std::optional<Tensor>> all) const {
    std::vector<Tensor> grads;
    for (int64_t index : integers("wrt")) {
      if (index < 0 || index >= static_cast<int64_t>(all.size()) ||
          !all[static_cast<size_t>(index)])
        throw ReferenceError("'wrt' index " + std::to_string(index) +
                             " names no differentiable operand");
      grads.push_back(std::move(*all[static_cast<size_t>(index)]));
    }
    return grads;
  }
  std::array<int64_t, 2> pair(const char *name) const {
    JsonView a = attribute(name);
    return {a[0].asInteger(), a[1].asInteger()};
  }
  Window window() const {
    Window w;
    w.stride = pair("stride");
    w.padding = pair("padding");
    w.dilation = pair("dilation");
    return w;
  }
  /// The window of a windowed op with this kernel (by default that of its
  /// 4-D weight). The op allocates an output whose size follows from the
  /// window, so that size is checked against the declared result first: a
  /// malformed padding must not make it allocate gigabytes. Windows the op
  /// rejects anyway are left for its own message.
  Window
  checkedWindow(Window w,
                std::optional<std::array<int64_t, 2>> kernel = {}) const {
    const Tensor &x = operand("input");
    if (!kernel && operand("weight").rank() == 4)
      kernel = {operand("weight").dim(2), operand("weight").dim(3)};
    // The forward output: a VJP's upstream gradient has its shape.
    TensorType declared;
    if (node.operands.count("grad_output"))
      declared = typeOf(operand("grad_output"));
    else
      declared = node.results.at(0).type;
    std::string what =
        node.operands.count("grad_output") ? "grad_output" : "result 0";
    if (!kernel || x.rank() != 4 || declared.shape.size() != 4)
      return w;
    int64_t size[2];
    for (int i = 0; i < 2; ++i) {
      if ((*kernel)[i] < 1 || w.stride[i] < 1 || w.dilation[i] < 1 ||
          w.padding[i] < 0)
        return w;
      size[i] = windowOutputSize(x.dim(2 + i), (*kernel)[i], w.stride[i],
                                 w.padding[i], w.dilation[i]);
      if (size[i] < 1)
        return w;
    }
    if (size[0] != declared.shape[2] || size[1] != declared.shape[3])
      throw ReferenceError(
          what + " is declared " + typeToString(declared) + ", but kernel " +
          shapeToString({(*kernel)[0], (*kernel)[1]}) + " with stride " +
          shapeToString({w.stride[0], w.stride[1]}) + ", padding " +
          shapeToString({w.padding[0], w.padding[1]}) + " and dilation " +
          shapeToString({w.dilation[0], w.dilation[1]}) + " on the input " +
          shapeToString(x.shape) + " gives " + std::to_string(size[0]) + "x" +
          std::to_string(size[1]) + " output positions");
    return w;
  }
  Similarity similarity(bool dynamic) const {
    Similarity s;
    s.structure = parseStructure(text("structure"));
    s.dynamic = dynamic;
    s.alpha = number("alpha");
    s.operands = variadicOperand("similarity");
    return s;
  }

private:
  const std::unordered_map<int64_t, Tensor> &values_;
};

using Compute = std::vector<Tensor> (*)(const NodeContext &);

struct OpSpec {
  const char *name;
  std::vector<OperandSpec> operands;
  std::vector<AttributeSpec> attributes;
  std::vector<std::string> results; // names, for messages
  Compute compute;
};

OperandSpec in(const char *name, DType dtype = DType::F32) {
  return {name, Arity::Single, dtype};
}
OperandSpec optionalIn(const char *name) {
  return {name, Arity::Optional, DType::F32};
}
OperandSpec variadicIn(const char *name) {
  return {name, Arity::Variadic, DType::F32};
}
AttributeSpec attr(const char *name, AttributeType type,
                   std::vector<std::string> allowed = {}) {
  return {name, type, std::move(allowed)};
}

/// Σ_n 1[argmax_c logits[n,c] = labels[n]] as a rank-0 i64 tensor; the
/// arg-max is the first maximal index, a NaN the maximum (torch.argmax).
Tensor countCorrect(const Tensor &logits, const Tensor &labels) {
  if (logits.rank() != 2)
    throw ReferenceError("count_correct: logits must be [N, C], got " +
                         shapeToString(logits.shape));
  if (labels.shape != Shape{logits.dim(0)})
    throw ReferenceError("count_correct: labels must have shape [N] = " +
                         shapeToString({logits.dim(0)}) +
                         " to match the logits " + shapeToString(logits.shape) +
                         ", got " + shapeToString(labels.shape));
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double *row = logits.data.data() + i * classes;
    int64_t best = 0;
    for (int64_t j = 0; j < classes; ++j) {
      if (std::isnan(row[j])) {
        best = j;
        break;
      }
      if (row[j] > row[best])
        best = j;
    }
    if (classes > 0 && static_cast<double>(best) == labels.data[i])
      ++correct;
  }
  return Tensor({}, {static_cast<double>(correct)}, DType::I64);
}

/// The `step` operand of an update: a non-negative integer held as f32.
int64_t stepCount(const NodeContext &c) {
  double step = c.scalar("step");
  if (!(step >= 0.0) || step != std::floor(step) || step > 0x1p53)
    throw ReferenceError("'step' must be a non-negative integer (the number "
                         "of steps taken), got " +
                         std::to_string(step));
  return static_cast<int64_t>(step);
}

using Grads = std::vector<std::optional<Tensor>>;

/// The spec of `<forward>_vjp`: the forward op's operands and attributes,
/// then `grad_output` and `wrt`. Its results, one per `wrt` entry, are
/// named by the node (resultNames).
OpSpec vjpSpec(const std::vector<OpSpec> &table, const char *name,
               const char *forward, Compute compute) {
  auto it = std::find_if(table.begin(), table.end(), [&](const OpSpec &op) {
    return std::string(op.name) == forward;
  });
  OpSpec spec = *it;
  spec.name = name;
  spec.operands.push_back(in("grad_output"));
  spec.attributes.push_back(attr("wrt", AttributeType::Integers));
  spec.results = {};
  spec.compute = compute;
  return spec;
}

/// The forward ops of convolutions and similarities.
std::vector<OpSpec> convolutionOps() {
  using T = AttributeType;
  const std::vector<std::string> structures = {"identity", "diagonal", "full",
                                               "cholesky", "shape_masked"};
  return {
      {"constant",
       {},
       {attr("values", T::Numbers)},
       {"result"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         const GraphResult &r = c.node.results.at(0);
         std::vector<double> values;
         for (const JsonView &v : c.attribute("values").elements())
           values.push_back(v.asNumber());
         return {Tensor(r.type.shape, std::move(values), r.type.dtype)};
       }},
      {"sim_conv2d",
       {in("input"), in("weight"), variadicIn("similarity"),
        optionalIn("bias")},
       {attr("structure", T::String, structures), attr("dynamic", T::Bool),
        attr("stride", T::Pair), attr("padding", T::Pair),
        attr("dilation", T::Pair), attr("alpha", T::Number)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {simConv2d(c.operand("input"), c.operand("weight"),
                           c.similarity(c.flag("dynamic")),
                           c.optionalOperand("bias"),
                           c.checkedWindow(c.window()))};
       }},
      {"sphere_conv2d",
       {in("input"), in("weight"), optionalIn("k_param")},
       {attr("variant", T::String,
             {"cosine", "linear", "sigmoid", "learned_sigmoid"}),
        attr("input_only", T::Bool), attr("epsilon", T::Number),
        attr("sigmoid_k", T::Number), attr("stride", T::Pair),
        attr("padding", T::Pair), attr("dilation", T::Pair)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         SphereOptions options;
         options.variant = parseSphereVariant(c.text("variant"));
         options.inputOnly = c.flag("input_only");
         options.epsilon = c.number("epsilon");
         options.sigmoidK = c.number("sigmoid_k");
         return {sphereConv2d(c.operand("input"), c.operand("weight"),
                              c.optionalOperand("k_param"), options,
                              c.checkedWindow(c.window()))};
       }},
      {"patch_norm",
       {in("input")},
       {attr("kernel_size", T::Pair), attr("stride", T::Pair),
        attr("padding", T::Pair), attr("dilation", T::Pair),
        attr("epsilon", T::Number)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {patchNorm(c.operand("input"), c.pair("kernel_size"),
                           c.checkedWindow(c.window(), c.pair("kernel_size")),
                           c.number("epsilon"))};
       }},
      {"predicted_similarity",
       {in("prediction"), in("gamma")},
       {attr("structure", T::String, {"diagonal", "full"})},
       {"similarity"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {predictedSimilarity(c.operand("prediction"),
                                     c.operand("gamma"),
                                     parseStructure(c.text("structure")))};
       }},
      {"sim_linear",
       {in("input"), in("weight"), variadicIn("similarity"),
        optionalIn("bias")},
       {attr("structure", T::String, structures),
        attr("group_size", T::Integer), attr("alpha", T::Number)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {simLinear(c.operand("input"), c.operand("weight"),
                           c.similarity(false), c.optionalOperand("bias"),
                           c.integer("group_size"))};
       }},
      {"fold_similarity",
       {in("weight"), variadicIn("similarity")},
       {attr("structure", T::String, structures),
        attr("group_size", T::Integer), attr("alpha", T::Number)},
       {"folded_weight"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {foldSimilarity(c.operand("weight"), c.similarity(false),
                                c.integer("group_size"))};
       }},
  };
}

/// The other forward ops: normalisation, activations, pooling, linear
/// layers and the loss.
std::vector<OpSpec> layerOps() {
  using T = AttributeType;
  return {
      {"batch_norm",
       {in("input"), in("weight"), in("bias"), in("running_mean"),
        in("running_var")},
       {attr("epsilon", T::Number)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {batchNorm(c.operand("input"), c.operand("weight"),
                           c.operand("bias"), c.operand("running_mean"),
                           c.operand("running_var"), c.number("epsilon"))};
       }},
      {"batch_norm_train",
       {in("input"), in("weight"), in("bias"), in("running_mean"),
        in("running_var")},
       {attr("epsilon", T::Number), attr("momentum", T::Number)},
       {"output", "batch_mean", "batch_var", "new_running_mean",
        "new_running_var"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         BatchNormTrainResult r = batchNormTrain(
             c.operand("input"), c.operand("weight"), c.operand("bias"),
             c.operand("running_mean"), c.operand("running_var"),
             c.number("epsilon"), c.number("momentum"));
         return {std::move(r.output), std::move(r.batchMean),
                 std::move(r.batchVar), std::move(r.runningMean),
                 std::move(r.runningVar)};
       }},
      {"relu",
       {in("input")},
       {},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {relu(c.operand("input"))};
       }},
      {"max_pool2d",
       {in("input")},
       {attr("kernel_size", T::Pair), attr("stride", T::Pair),
        attr("padding", T::Pair), attr("dilation", T::Pair)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {maxPool2d(c.operand("input"), c.pair("kernel_size"),
                           c.checkedWindow(c.window(), c.pair("kernel_size")))};
       }},
      {"avg_pool2d",
       {in("input")},
       {attr("kernel_size", T::Pair), attr("stride", T::Pair),
        attr("padding", T::Pair), attr("count_include_pad", T::Bool)},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         Window w; // average pooling has no dilation
         w.stride = c.pair("stride");
         w.padding = c.pair("padding");
         return {avgPool2d(c.operand("input"), c.pair("kernel_size"),
                           c.checkedWindow(w, c.pair("kernel_size")),
                           c.flag("count_include_pad"))};
       }},
      {"global_avg_pool2d",
       {in("input")},
       {},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {globalAvgPool2d(c.operand("input"))};
       }},
      {"linear",
       {in("input"), in("weight"), optionalIn("bias")},
       {},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {linear(c.operand("input"), c.operand("weight"),
                        c.optionalOperand("bias"))};
       }},
      {"add",
       {in("lhs"), in("rhs")},
       {},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {add(c.operand("lhs"), c.operand("rhs"))};
       }},
      {"flatten",
       {in("input")},
       {},
       {"output"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {flatten(c.operand("input"))};
       }},
      {"softmax_cross_entropy",
       {in("logits"), in("labels", DType::I64)},
       {attr("label_smoothing", T::Number)},
       {"loss"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {softmaxCrossEntropy(c.operand("logits"), c.operand("labels"),
                                     c.number("label_smoothing"))};
       }},
  };
}

/// The ops of the training step (docs/graph-json.md, "Training") other
/// than the VJPs: penalties, count_correct and the optimizer updates.
std::vector<OpSpec> trainingOps() {
  using T = AttributeType;
  return {
      {"l1_penalty",
       {in("input")},
       {attr("strength", T::Number)},
       {"penalty"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {l1Regularizer(c.operand("input"), c.number("strength"))};
       }},
      {"orthogonality_penalty",
       {in("input")},
       {attr("strength", T::Number)},
       {"penalty"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {orthogonalityRegularizer(c.operand("input"),
                                          c.number("strength"))};
       }},
      {"count_correct",
       {in("logits"), in("labels", DType::I64)},
       {},
       {"count"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         return {countCorrect(c.operand("logits"), c.operand("labels"))};
       }},
      {"sgd_update",
       {in("param"), in("grad"), optionalIn("momentum_buffer"), in("step"),
        in("lr")},
       {attr("momentum", T::Number), attr("dampening", T::Number),
        attr("weight_decay", T::Number), attr("nesterov", T::Bool)},
       {"new_param", "new_momentum_buffer"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         SgdOptions options;
         options.lr = c.scalar("lr");
         options.momentum = c.number("momentum");
         options.dampening = c.number("dampening");
         options.weight_decay = c.number("weight_decay");
         options.nesterov = c.flag("nesterov");
         SgdUpdateResult r = sgdUpdate(c.operand("param"), c.operand("grad"),
                                       c.optionalOperand("momentum_buffer"),
                                       stepCount(c), options);
         std::vector<Tensor> results = {std::move(r.param)};
         if (c.optionalOperand("momentum_buffer"))
           results.push_back(std::move(r.momentumBuffer));
         return results;
       }},
      {"adam_update",
       {in("param"), in("grad"), in("exp_avg"), in("exp_avg_sq"),
        optionalIn("max_exp_avg_sq"), in("step"), in("lr")},
       {attr("beta1", T::Number), attr("beta2", T::Number),
        attr("eps", T::Number), attr("weight_decay", T::Number),
        attr("amsgrad", T::Bool)},
       {"new_param", "new_exp_avg", "new_exp_avg_sq", "new_max_exp_avg_sq"},
       [](const NodeContext &c) -> std::vector<Tensor> {
         AdamOptions options;
         options.lr = c.scalar("lr");
         options.beta1 = c.number("beta1");
         options.beta2 = c.number("beta2");
         options.eps = c.number("eps");
         options.weight_decay = c.number("weight_decay");
         options.amsgrad = c.flag("amsgrad");
         AdamUpdateResult r = adamUpdate(
             c.operand("param"), c.operand("grad"), c.operand("exp_avg"),
             c.operand("exp_avg_sq"), c.optionalOperand("max_exp_avg_sq"),
             stepCount(c), options);
         std::vector<Tensor> results = {std::move(r.param), std::move(r.expAvg),
                                        std::move(r.expAvgSq)};
         if (c.optionalOperand("max_exp_avg_sq"))
           results.push_back(std::move(r.maxExpAvgSq));
         return results;
       }},
  };
}

/// Appends the VJPs of the convolutions, similarities and linear layers.
void addConvolutionVJPs(std::vector<OpSpec> &table) {
  auto vjp = [&](const char *name, const char *of, Compute compute) {
    table.push_back(vjpSpec(table, name, of, compute));
  };
  vjp("sim_conv2d_vjp", "sim_conv2d",
      [](const NodeContext &c) -> std::vector<Tensor> {
        SimConv2dGrads g = simConv2dVJP(
            c.operand("input"), c.operand("weight"),
            c.similarity(c.flag("dynamic")), c.optionalOperand("bias"),
            c.checkedWindow(c.window()), c.operand("grad_output"));
        Grads all = {std::move(g.input), std::move(g.weight)};
        for (Tensor &t : g.similarity)
          all.push_back(std::move(t));
        if (g.bias)
          all.push_back(std::move(*g.bias));
        return c.select(std::move(all));
      });
  vjp("sphere_conv2d_vjp", "sphere_conv2d",
      [](const NodeContext &c) -> std::vector<Tensor> {
        SphereOptions options;
        options.variant = parseSphereVariant(c.text("variant"));
        options.inputOnly = c.flag("input_only");
        options.epsilon = c.number("epsilon");
        options.sigmoidK = c.number("sigmoid_k");
        SphereConv2dGrads g = sphereConv2dVJP(
            c.operand("input"), c.operand("weight"),
            c.optionalOperand("k_param"), options, c.checkedWindow(c.window()),
            c.operand("grad_output"));
        Grads all = {std::move(g.input), std::move(g.weight)};
        if (g.kParam)
          all.push_back(std::move(*g.kParam));
        return c.select(std::move(all));
      });
  vjp("patch_norm_vjp", "patch_norm",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select(
            {patchNormVJP(c.operand("input"), c.pair("kernel_size"),
                          c.checkedWindow(c.window(), c.pair("kernel_size")),
                          c.number("epsilon"), c.operand("grad_output"))});
      });
  vjp("predicted_similarity_vjp", "predicted_similarity",
      [](const NodeContext &c) -> std::vector<Tensor> {
        PredictedSimilarityGrads g = predictedSimilarityVJP(
            c.operand("prediction"), c.operand("gamma"),
            parseStructure(c.text("structure")), c.operand("grad_output"));
        return c.select({std::move(g.prediction), std::move(g.gamma)});
      });
  vjp("fold_similarity_vjp", "fold_similarity",
      [](const NodeContext &c) -> std::vector<Tensor> {
        FoldSimilarityGrads g = foldSimilarityVJP(
            c.operand("weight"), c.similarity(false), c.integer("group_size"),
            c.operand("grad_output"));
        Grads all = {std::move(g.weight)};
        for (Tensor &t : g.similarity)
          all.push_back(std::move(t));
        return c.select(std::move(all));
      });
  vjp("linear_vjp", "linear", [](const NodeContext &c) -> std::vector<Tensor> {
    LinearGrads g =
        linearVJP(c.operand("input"), c.operand("weight"),
                  c.optionalOperand("bias"), c.operand("grad_output"));
    Grads all = {std::move(g.input), std::move(g.weight)};
    if (g.bias)
      all.push_back(std::move(*g.bias));
    return c.select(std::move(all));
  });
}

/// Appends the VJPs of the other forward ops and of the penalties.
void addLayerVJPs(std::vector<OpSpec> &table) {
  auto vjp = [&](const char *name, const char *of, Compute compute) {
    table.push_back(vjpSpec(table, name, of, compute));
  };
  vjp("batch_norm_train_vjp", "batch_norm_train",
      [](const NodeContext &c) -> std::vector<Tensor> {
        const Tensor &runningMean = c.operand("running_mean");
        const Tensor &runningVar = c.operand("running_var");
        BatchNormGrads g = batchNormTrainVJP(
            c.operand("input"), c.operand("weight"), c.operand("bias"),
            runningMean, runningVar, c.number("epsilon"), c.number("momentum"),
            c.operand("grad_output"));
        // The normalised output does not depend on the running statistics.
        return c.select({std::move(g.input), std::move(g.weight),
                         std::move(g.bias), Tensor(runningMean.shape),
                         Tensor(runningVar.shape)});
      });
  vjp("relu_vjp", "relu", [](const NodeContext &c) -> std::vector<Tensor> {
    return c.select({reluVJP(c.operand("input"), c.operand("grad_output"))});
  });
  vjp("max_pool2d_vjp", "max_pool2d",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select(
            {maxPool2dVJP(c.operand("input"), c.pair("kernel_size"),
                          c.checkedWindow(c.window(), c.pair("kernel_size")),
                          c.operand("grad_output"))});
      });
  vjp("avg_pool2d_vjp", "avg_pool2d",
      [](const NodeContext &c) -> std::vector<Tensor> {
        Window w; // average pooling has no dilation
        w.stride = c.pair("stride");
        w.padding = c.pair("padding");
        return c.select({avgPool2dVJP(c.operand("input"), c.pair("kernel_size"),
                                      c.checkedWindow(w, c.pair("kernel_size")),
                                      c.flag("count_include_pad"),
                                      c.operand("grad_output"))});
      });
  vjp("global_avg_pool2d_vjp", "global_avg_pool2d",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select(
            {globalAvgPool2dVJP(c.operand("input"), c.operand("grad_output"))});
      });
  vjp("flatten_vjp", "flatten",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select(
            {flattenVJP(c.operand("input"), c.operand("grad_output"))});
      });
  vjp("softmax_cross_entropy_vjp", "softmax_cross_entropy",
      [](const NodeContext &c) -> std::vector<Tensor> {
        // Labels are integers: no gradient.
        return c.select(
            {softmaxCrossEntropyVJP(c.operand("logits"), c.operand("labels"),
                                    c.number("label_smoothing"),
                                    c.operand("grad_output")),
             std::nullopt});
      });
  vjp("l1_penalty_vjp", "l1_penalty",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select(
            {l1RegularizerVJP(c.operand("input"), c.number("strength"),
                              c.operand("grad_output"))});
      });
  vjp("orthogonality_penalty_vjp", "orthogonality_penalty",
      [](const NodeContext &c) -> std::vector<Tensor> {
        return c.select({orthogonalityRegularizerVJP(
            c.operand("input"), c.number("strength"),
            c.operand("grad_output"))});
      });
}

const std::vector<OpSpec> &opTable() {
  static const std::vector<OpSpec> table = [] {
    std::vector<OpSpec> ops = convolutionOps();
    for (auto family : {layerOps, trainingOps})
      for (OpSpec &spec : family())
        ops.push_back(std::move(spec));
    addConvolutionVJPs(ops);
    addLayerVJPs(ops);
    return ops;
  }();
  return table;
}

const OpSpec *findOp(const std::string &name) {
  for (const OpSpec &spec : opTable())
    if (name == spec.name)
      return &spec;
  return nullptr;
}

std::string join(const std::vector<std::string> &items) {
  std::string s;
  for (const std::string &item : items)
    s += (s.empty() ? "" : ", ") + item;
  return s;
}

/// "input, weight, similarity[], bias?" for messages.
std::string signature(const OpSpec &spec) {
  std::vector<std::string> names;
  for (const OperandSpec &o : spec.operands)
    names.push_back(std::string(o.name) + (o.arity == Arity::Optional   ? "?"
                                           : o.arity == Arity::Variadic ? "[]"
                                                                        : ""));
  return names.empty() ? "no operands" : join(names);
}

bool isVJP(const OpSpec &spec) {
  std::string name = spec.name;
  return name.size() > 4 && name.compare(name.size() - 4, 4, "_vjp") == 0;
}

std::vector<int64_t> integersOf(const nlohmann::json &attributes,
                                const char *name) {
  std::vector<int64_t> values;
  auto it = attributes.find(name);
  if (it != attributes.end())
    for (const JsonView &v : JsonView(*it, name).elements())
      values.push_back(v.asInteger());
  return values;
}

/// A forward operand of a VJP node, numbered as `wrt` numbers them.
struct FlatOperand {
  std::string name; // "input", "similarity[1]", ...
  int64_t value;
};

/// The forward operands of a VJP node (all but grad_output), flattened in
/// ODS order: a variadic operand contributes each of its values, an absent
/// optional one nothing.
std::vector<FlatOperand> forwardOperands(const OpSpec &spec,
                                         const GraphNode &node) {
  std::vector<FlatOperand> flat;
  for (const OperandSpec &o : spec.operands) {
    if (std::string(o.name) == "grad_output")
      continue;
    auto it = node.operands.find(o.name);
    if (it == node.operands.end())
      continue;
    for (size_t i = 0; i < it->second.size(); ++i)
      flat.push_back({o.arity == Arity::Variadic
                          ? std::string(o.name) + "[" + std::to_string(i) + "]"
                          : std::string(o.name),
                      it->second[i]});
  }
  return flat;
}

/// The names of a node's results: a VJP returns "gradient of <operand>" per
/// `wrt` entry, an update its optional state only when given.
std::vector<std::string> resultNames(const OpSpec &spec,
                                     const GraphNode &node) {
  std::string name = spec.name;
  if (isVJP(spec)) {
    std::vector<FlatOperand> forward = forwardOperands(spec, node);
    std::vector<std::string> names;
    for (int64_t index : integersOf(node.attributes, "wrt"))
      names.push_back(index >= 0 && index < static_cast<int64_t>(forward.size())
                          ? "gradient of " +
                                forward[static_cast<size_t>(index)].name
                          : "gradient of operand " + std::to_string(index));
    return names;
  }
  if (name == "sgd_update")
    return node.operands.count("momentum_buffer")
               ? spec.results
               : std::vector<std::string>{spec.results[0]};
  if (name == "adam_update")
    return node.operands.count("max_exp_avg_sq")
               ? spec.results
               : std::vector<std::string>(spec.results.begin(),
                                          spec.results.begin() + 3);
  return spec.results;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

// Larger tensors are certainly a malformed file for an interpreter that
// stores every element as a double.
constexpr int64_t maxElements = int64_t(1) << 30;

const std::vector<std::string> &knownRoles() {
  static const std::vector<std::string> roles = {
      "input", "parameter",       "buffer",
      "label", "optimizer_state", "learning_rate"};
  return roles;
}

class GraphLoader {
public:
  Graph load(const JsonView &root) {
    root.expectObject();
    JsonView format = root["format"];
    if (format.asString() != "nsl-graph")
      format.fail("not an nsl graph: \"format\" is \"" + format.asString() +
                  "\", expected \"nsl-graph\"");
    JsonView version = root["version"];
    if (version.asInteger() != 1)
      version.fail("unsupported graph version " +
                   std::to_string(version.asInteger()) +
                   " (this interpreter reads version 1)");
    graph_.function = root["function"].asString();

    std::vector<JsonView> arguments = root["arguments"].elements();
    for (size_t i = 0; i < arguments.size(); ++i) {
      std::string label = "argument " + std::to_string(i);
      withContext(label, [&] { loadArgument(arguments[i], label); });
    }
    std::vector<JsonView> nodes = root["nodes"].elements();
    for (size_t i = 0; i < nodes.size(); ++i) {
      GraphNode node;
      node.index = i;
      std::string label = "node " + std::to_string(i);
      withContext(label, [&] {
        node.op = nodes[i]["op"].asString();
        label = node.label();
      });
      withContext(label, [&] { loadNode(nodes[i], node); });
      graph_.nodes.push_back(std::move(node));
    }
    std::vector<JsonView> outputs = root["outputs"].elements();
    std::set<std::string> outputNames;
    for (size_t i = 0; i < outputs.size(); ++i) {
      withContext("output " + std::to_string(i), [&] {
        GraphOutput output;
        output.value = useValue(outputs[i]["value"]);
        std::optional<JsonView> name = outputs[i].find("name");
        output.name = name ? name->asString() : "output" + std::to_string(i);
        if (!outputNames.insert(output.name).second)
          outputs[i].fail("output name '" + output.name + "' is used twice");
        graph_.outputs.push_back(std::move(output));
      });
    }
    return std::move(graph_);
  }

private:
  Graph graph_;
  /// Who defined each value, for "defined twice" messages.
  std::map<int64_t, std::string> definedBy_;

  /// Runs f and prefixes any error with label ("node 4 (sim_conv2d): ").
  template <typename F> void withContext(const std::string &label, F &&f) {
    try {
      f();
    } catch (const JsonError &e) {
      throw ReferenceError(label + ": " + e.what());
    } catch (const ReferenceError &e) {
      throw ReferenceError(label + ": " + e.what());
    }
  }

  void loadArgument(const JsonView &view, const std::string &label) {
    GraphArgument argument;
    argument.name = view["name"].asString();
    if (graph_.findArgument(argument.name))
      view["name"].fail("argument name '" + argument.name + "' is used twice");
    JsonView role = view["role"];
    argument.role = role.asString();
    const std::vector<std::string> &roles = knownRoles();
    if (std::find(roles.begin(), roles.end(), argument.role) == roles.end())
      role.fail("unknown role '" + argument.role + "' (expected one of " +
                join(roles) + ")");
    argument.type = loadType(view);
    argument.value = loadValueId(view["value"]);
    defineValue(argument.value, argument.type, view["value"],
                label + " ('" + argument.name + "')");
    graph_.arguments.push_back(std::move(argument));
  }

  void loadNode(const JsonView &view, GraphNode &node) {
    const OpSpec *spec = findOp(node.op);
    if (!spec) {
      std::vector<std::string> known = knownOps();
      view["op"].fail("unknown op '" + node.op +
                      "' (known ops: " + join(known) + ")");
    }
    loadOperands(view, *spec, node);
    loadAttributes(view, *spec, node);
    if (isVJP(*spec))
      checkWrt(view, *spec, node);
    checkOptionalState(view, *spec, node);

    std::vector<std::string> names = resultNames(*spec, node);
    std::vector<JsonView> results = view["results"].elements();
    if (results.size() != names.size()) {
      if (isVJP(*spec))
        view["results"].fail(std::string(spec->name) +
                             " returns one gradient per 'wrt' entry (" +
                             std::to_string(names.size()) + "), got " +
                             std::to_string(results.size()) + " results");
      view["results"].fail(std::string(spec->name) + " has " +
                           std::to_string(names.size()) +
                           (names.size() == 1 ? " result" : " results") +
                           ", got " + std::to_string(results.size()));
    }
    std::vector<FlatOperand> forward;
    std::vector<int64_t> wrt;
    if (isVJP(*spec)) {
      forward = forwardOperands(*spec, node);
      wrt = integersOf(node.attributes, "wrt");
    }
    for (size_t i = 0; i < results.size(); ++i) {
      GraphResult result;
      result.type = loadType(results[i]);
      result.value = loadValueId(results[i]["value"]);
      if (isVJP(*spec)) {
        const FlatOperand &operand = forward[static_cast<size_t>(wrt[i])];
        const TensorType &expected = graph_.valueTypes.at(operand.value);
        if (result.type != expected)
          results[i].fail("result " + std::to_string(i) + " (" + names[i] +
                          ") must have the operand's type " +
                          typeToString(expected) + ", got " +
                          typeToString(result.type));
      }
      defineValue(result.value, result.type, results[i]["value"], node.label());
      node.results.push_back(std::move(result));
    }
    if (node.op == "constant")
      checkConstant(view, node);
  }

  void loadOperands(const JsonView &view, const OpSpec &spec, GraphNode &node) {
    // A node without operands may leave the object out.
    std::optional<JsonView> operands = view.find("operands");
    if (operands) {
      for (const auto &member : operands->members()) {
        const std::string &name = member.first;
        const JsonView &operand = member.second;
        auto it =
            std::find_if(spec.operands.begin(), spec.operands.end(),
                         [&](const OperandSpec &o) { return name == o.name; });
        if (it == spec.operands.end())
          operand.fail("unknown operand '" + name + "' (" + spec.name +
                       " takes " + signature(spec) + ")");
        std::vector<int64_t> ids;
        if (it->arity == Arity::Variadic) {
          for (const JsonView &element : operand.elements())
            ids.push_back(useOperand(element, *it));
        } else {
          ids.push_back(useOperand(operand, *it));
        }
        node.operands[name] = std::move(ids);
      }
    }
    for (const OperandSpec &o : spec.operands)
      if (o.arity != Arity::Optional && !node.operands.count(o.name)) {
        std::string message = "missing operand '" + std::string(o.name) +
                              "' (" + spec.name + " takes " + signature(spec) +
                              ")";
        if (operands)
          operands->fail(message);
        view.fail(message);
      }
  }

  /// A VJP's `wrt`: at least one strictly ascending index of an f32
  /// forward operand.
  void checkWrt(const JsonView &view, const OpSpec &spec,
                const GraphNode &node) {
    JsonView wrtView = view["attributes"]["wrt"];
    std::vector<FlatOperand> forward = forwardOperands(spec, node);
    std::vector<int64_t> wrt = integersOf(node.attributes, "wrt");
    std::vector<std::string> names;
    for (const FlatOperand &o : forward)
      names.push_back(o.name);
    if (wrt.empty())
      wrtView.fail("'wrt' must name at least one operand");
    for (size_t i = 0; i < wrt.size(); ++i) {
      if (wrt[i] < 0 || wrt[i] >= static_cast<int64_t>(forward.size()))
        wrtView.fail("'wrt' index " + std::to_string(wrt[i]) +
                     " is not a forward operand (the forward operands are " +
                     join(names) + ", numbered from 0)");
      if (i > 0 && wrt[i] <= wrt[i - 1])
        wrtView.fail("'wrt' must be strictly ascending, got " +
                     shapeToString(wrt));
      const FlatOperand &o = forward[static_cast<size_t>(wrt[i])];
      if (graph_.valueTypes.at(o.value).dtype != DType::F32)
        wrtView.fail("'wrt' index " + std::to_string(wrt[i]) + " (" + o.name +
                     ") is not differentiable (not f32)");
    }
  }

  /// The optional state of the updates: momentum_buffer exactly when
  /// momentum ≠ 0, max_exp_avg_sq exactly with amsgrad.
  void checkOptionalState(const JsonView &view, const OpSpec &spec,
                          const GraphNode &node) {
    std::string name = spec.name;
    if (name == "sgd_update") {
      bool momentum = JsonView(node.attributes)["momentum"].asNumber() != 0.0;
      bool buffer = node.operands.count("momentum_buffer") > 0;
      if (momentum != buffer)
        view.fail(std::string("operand 'momentum_buffer' must be given "
                              "exactly when momentum is not 0 (momentum ") +
                  (momentum ? "is not 0" : "is 0") + ", buffer " +
                  (buffer ? "given" : "absent") + ")");
    } else if (name == "adam_update") {
      bool amsgrad = JsonView(node.attributes)["amsgrad"].asBool();
      bool vmax = node.operands.count("max_exp_avg_sq") > 0;
      if (amsgrad != vmax)
        view.fail(std::string("operand 'max_exp_avg_sq' must be given exactly "
                              "with amsgrad (amsgrad ") +
                  (amsgrad ? "on" : "off") + ", max_exp_avg_sq " +
                  (vmax ? "given" : "absent") + ")");
    }
  }

  void loadAttributes(const JsonView &view, const OpSpec &spec,
                      GraphNode &node) {
    nlohmann::json attributes = nlohmann::json::object();
    std::optional<JsonView> given = view.find("attributes");
    if (given) {
      for (const auto &member : given->members()) {
        const std::string &name = member.first;
        const JsonView &value = member.second;
        auto it = std::find_if(
            spec.attributes.begin(), spec.attributes.end(),
            [&](const AttributeSpec &a) { return name == a.name; });
        if (it == spec.attributes.end()) {
          std::vector<std::string> names;
          for (const AttributeSpec &a : spec.attributes)
            names.push_back(a.name);
          value.fail(
              "unknown attribute '" + name + "' (" + spec.name +
              (names.empty() ? " has no attributes" : " takes " + join(names)) +
              ")");
        }
        checkAttribute(value, *it);
        attributes[name] = value.value();
      }
    }
    for (const AttributeSpec &a : spec.attributes)
      if (!attributes.contains(a.name)) {
        std::string message = "missing attribute '" + std::string(a.name) + "'";
        if (given)
          given->fail(message);
        view.fail(message);
      }
    node.attributes = std::move(attributes);
  }

  /// Sizes, strides, paddings and group sizes beyond this are certainly
  /// wrong, and bounding them keeps the window arithmetic from overflowing.
  static void checkMagnitude(const JsonView &value, int64_t integer) {
    constexpr int64_t limit = int64_t(1) << 24;
    if (integer > limit || integer < -limit)
      value.fail("integer attribute " + std::to_string(integer) +
                 " is out of range (at most 2^24 in magnitude)");
  }

  static void checkAttribute(const JsonView &value, const AttributeSpec &a) {
    switch (a.type) {
    case AttributeType::Bool:
      value.asBool();
      return;
    case AttributeType::Number:
      value.asNumber();
      return;
    case AttributeType::Integer:
      checkMagnitude(value, value.asInteger());
      return;
    case AttributeType::Pair:
      if (!value.isArray() || value.size() != 2 || !value[0].isInteger() ||
          !value[1].isInteger())
        value.fail("expected a pair of integers [height, width]");
      for (const JsonView &element : value.elements())
        checkMagnitude(element, element.asInteger());
      return;
    case AttributeType::String:
      if (!a.allowed.empty() && std::find(a.allowed.begin(), a.allowed.end(),
                                          value.asString()) == a.allowed.end())
        value.fail("unknown " + std::string(a.name) + " '" + value.asString() +
                   "' (expected one of " + join(a.allowed) + ")");
      value.asString();
      return;
    case AttributeType::Numbers:
      for (const JsonView &element : value.elements())
        element.asNumber();
      return;
    case AttributeType::Integers:
      for (const JsonView &element : value.elements())
        checkMagnitude(element, element.asInteger());
      return;
    }
  }

  void checkConstant(const JsonView &view, const GraphNode &node) {
    const TensorType &type = node.results[0].type;
    JsonView values = view["attributes"]["values"];
    if (static_cast<int64_t>(values.size()) != numElements(type.shape))
      values.fail("the constant has " + std::to_string(values.size()) +
                  " values but its type " + typeToString(type) + " needs " +
                  std::to_string(numElements(type.shape)));
    if (type.dtype == DType::I64)
      for (const JsonView &element : values.elements())
        element.asInteger();
  }

  static int64_t loadValueId(const JsonView &view) {
    int64_t id = view.asInteger();
    if (id < 0)
      view.fail("value ids are non-negative integers, got " +
                std::to_string(id));
    return id;
  }

  /// A value used as an operand or output: defined earlier in the file.
  int64_t useValue(const JsonView &view) {
    int64_t id = loadValueId(view);
    if (!graph_.valueTypes.count(id))
      view.fail("value " + std::to_string(id) +
                " is used before it is defined");
    return id;
  }

  int64_t useOperand(const JsonView &view, const OperandSpec &operand) {
    int64_t id = useValue(view);
    DType dtype = graph_.valueTypes.at(id).dtype;
    if (dtype != operand.dtype)
      view.fail("operand '" + std::string(operand.name) + "' must be " +
                dtypeName(operand.dtype) + ", but value " + std::to_string(id) +
                " is " + dtypeName(dtype));
    return id;
  }

  void defineValue(int64_t id, const TensorType &type, const JsonView &view,
                   const std::string &definer) {
    auto [it, inserted] = definedBy_.emplace(id, definer);
    if (!inserted)
      view.fail("value " + std::to_string(id) + " is defined twice (first by " +
                it->second + ")");
    graph_.valueTypes[id] = type;
  }

  static TensorType loadType(const JsonView &view) {
    TensorType type;
    JsonView dtype = view["dtype"];
    if (dtype.asString() == "f32")
      type.dtype = DType::F32;
    else if (dtype.asString() == "i64")
      type.dtype = DType::I64;
    else
      dtype.fail("unknown dtype '" + dtype.asString() +
                 "' (expected f32 or i64)");
    JsonView shape = view["shape"];
    int64_t elements = 1;
    for (const JsonView &dim : shape.elements()) {
      int64_t size = dim.asInteger();
      if (size < 0)
        dim.fail("dimensions are non-negative, got " + std::to_string(size));
      type.shape.push_back(size);
      if (size > 0 && elements > maxElements / size)
        shape.fail("a tensor of shape " + shapeToString(type.shape) +
                   "... is too large for the reference interpreter");
      elements *= size;
    }
    return type;
  }
};

/// A tensor whose element count disagrees with its shape would make the ops
/// read out of bounds.
void checkTensor(const Tensor &t, const std::string &what) {
  if (static_cast<int64_t>(t.data.size()) != numElements(t.shape))
    throw ReferenceError(what + " holds " + std::to_string(t.data.size()) +
                         " values but its shape " + shapeToString(t.shape) +
                         " needs " + std::to_string(numElements(t.shape)));
}

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

std::string typeToString(const TensorType &type) {
  return dtypeName(type.dtype) + shapeToString(type.shape);
}

TensorType typeOf(const Tensor &tensor) { return {tensor.dtype, tensor.shape}; }

std::string GraphNode::label() const {
  return "node " + std::to_string(index) + " (" + op + ")";
}

const TensorType &Graph::typeOfValue(int64_t value) const {
  auto it = valueTypes.find(value);
  if (it == valueTypes.end())
    throw ReferenceError("value " + std::to_string(value) +
                         " is not defined in the graph");
  return it->second;
}

const GraphArgument *Graph::findArgument(const std::string &name) const {
  for (const GraphArgument &argument : arguments)
    if (argument.name == name)
      return &argument;
  return nullptr;
}

std::vector<std::string> knownOps() {
  std::vector<std::string> names;
  for (const OpSpec &spec : opTable())
    names.push_back(spec.name);
  return names;
}

Graph parseGraph(std::string_view json, const std::string &sourceName) {
  std::string prefix = sourceName.empty() ? "" : sourceName + ": ";
  try {
    nlohmann::json root = support::parseJson(json); // prefixed below
    return GraphLoader().load(JsonView(root));
  } catch (const JsonError &e) {
    throw ReferenceError(prefix + e.what());
  } catch (const ReferenceError &e) {
    throw ReferenceError(prefix + e.what());
  }
}

Graph loadGraph(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw ReferenceError("cannot open graph file '" + path + "'");
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad())
    throw ReferenceError("cannot read graph file '" + path + "'");
  return parseGraph(text.str(), path);
}

std::vector<Tensor> run(const Graph &graph,
                        const std::vector<Tensor> &arguments) {
  if (arguments.size() != graph.arguments.size())
    throw ReferenceError("the graph takes " +
                         std::to_string(graph.arguments.size()) +
                         " arguments, got " + std::to_string(arguments.size()));
  std::unordered_map<int64_t, Tensor> values;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const GraphArgument &declared = graph.arguments[i];
    std::string label =
        "argument " + std::to_string(i) + " ('" + declared.name + "')";
    checkTensor(arguments[i], label);
    if (typeOf(arguments[i]) != declared.type)
      throw ReferenceError(label + ": expected " + typeToString(declared.type) +
                           ", got " + typeToString(typeOf(arguments[i])));
    values[declared.value] = arguments[i];
  }

  // Free every intermediate after its last use: a deep network would
  // otherwise keep all activations alive.
  std::unordered_map<int64_t, size_t> lastUse;
  for (const GraphNode &node : graph.nodes)
    for (const auto &[name, ids] : node.operands)
      for (int64_t id : ids)
        lastUse[id] = node.index;
  for (const GraphOutput &output : graph.outputs)
    lastUse[output.value] = graph.nodes.size();

  for (const GraphNode &node : graph.nodes) {
    const OpSpec *spec = findOp(node.op);
    if (!spec) // a Graph built by hand rather than by parseGraph
      throw ReferenceError(node.label() + ": unknown op");
    std::vector<Tensor> results;
    try {
      results = spec->compute(NodeContext(node, values));
    } catch (const std::exception &e) {
      // The ops name themselves ("sim_conv2d: ..."); the label does already.
      std::string message = e.what(), prefix = node.op + ": ";
      if (message.compare(0, prefix.size(), prefix) == 0)
        message.erase(0, prefix.size());
      throw ReferenceError(node.label() + ": " + message);
    }
    if (results.size() != node.results.size())
      throw ReferenceError(node.label() + ": computed " +
                           std::to_string(results.size()) +
                           " results, but the graph declares " +
                           std::to_string(node.results.size()));
    std::vector<std::string> names = resultNames(*spec, node);
    for (size_t i = 0; i < results.size(); ++i) {
      const GraphResult &declared = node.results[i];
      std::string what = node.label() + ": result " + std::to_string(i) + " (" +
                         (i < names.size() ? names[i] : "?") + ", value " +
                         std::to_string(declared.value) + ")";
      checkTensor(results[i], what);
      if (typeOf(results[i]) != declared.type)
        throw ReferenceError(what + " is declared " +
                             typeToString(declared.type) + " but computes " +
                             typeToString(typeOf(results[i])));
      values[declared.value] = std::move(results[i]);
    }
    for (const auto &[name, ids] : node.operands)
      for (int64_t id : ids)
        if (lastUse[id] == node.index)
          values.erase(id);
  }

  std::vector<Tensor> outputs;
  for (const GraphOutput &output : graph.outputs) {
    auto it = values.find(output.value);
    if (it == values.end())
      throw ReferenceError("output '" + output.name + "': value " +
                           std::to_string(output.value) + " is not defined");
    outputs.push_back(it->second);
  }
  return outputs;
}

std::vector<Tensor>
runByName(const Graph &graph,
          const std::map<std::string, Tensor> &argumentsByName) {
  std::vector<Tensor> arguments;
  for (const GraphArgument &argument : graph.arguments) {
    auto it = argumentsByName.find(argument.name);
    if (it == argumentsByName.end())
      throw ReferenceError("missing argument '" + argument.name + "' (" +
                           typeToString(argument.type) + ")");
    arguments.push_back(it->second);
  }
  for (const auto &[name, tensor] : argumentsByName)
    if (!graph.findArgument(name)) {
      std::vector<std::string> names;
      for (const GraphArgument &argument : graph.arguments)
        names.push_back(argument.name);
      throw ReferenceError("the graph has no argument named '" + name +
                           "' (its arguments: " + join(names) + ")");
    }
  return run(graph, arguments);
}

std::vector<Tensor> randomArguments(const Graph &graph,
                                    const RandomArgumentOptions &options) {
  // How each argument is used decides its range.
  std::map<int64_t, int64_t> classCount;
  std::set<int64_t> positive, steps, learningRates;
  for (const GraphArgument &argument : graph.arguments)
    if (argument.role == "learning_rate")
      learningRates.insert(argument.value);
  for (const GraphNode &node : graph.nodes) {
    if (node.op == "softmax_cross_entropy" ||
        node.op == "softmax_cross_entropy_vjp" || node.op == "count_correct") {
      const Shape &logits =
          graph.typeOfValue(node.operands.at("logits").at(0)).shape;
      int64_t labels = node.operands.at("labels").at(0);
      if (!logits.empty()) {
        auto [it, inserted] = classCount.emplace(labels, logits.back());
        if (!inserted)
          it->second = std::min(it->second, logits.back());
      }
    } else if (node.op == "batch_norm" || node.op == "batch_norm_train" ||
               node.op == "batch_norm_train_vjp") {
      positive.insert(node.operands.at("running_var").at(0));
    } else if (node.op == "sgd_update" || node.op == "adam_update") {
      steps.insert(node.operands.at("step").at(0));
      learningRates.insert(node.operands.at("lr").at(0));
      for (const char *name : {"exp_avg_sq", "max_exp_avg_sq"})
        if (node.operands.count(name))
          positive.insert(node.operands.at(name).at(0));
    }
  }

  std::mt19937 rng(options.seed);
  // 24 random bits: multiples of 2^-24 in [0, 1).
  auto unit = [&] { return static_cast<double>(rng() >> 8) * 0x1p-24; };
  std::vector<Tensor> arguments;
  for (const GraphArgument &argument : graph.arguments) {
    Tensor t(argument.type.shape, argument.type.dtype);
    if (argument.type.dtype == DType::F32) {
      bool isPositive = positive.count(argument.value) > 0;
      if (steps.count(argument.value)) {
        for (double &x : t.data)
          x = static_cast<double>((static_cast<uint64_t>(rng()) * 5) >> 32);
      } else if (learningRates.count(argument.value)) {
        for (double &x : t.data)
          x = static_cast<double>(static_cast<float>(0.01 + 0.09 * unit()));
      } else {
        for (double &x : t.data)
          // [0.5, 1.5) in steps of 2^-23 and [-1, 1) in steps of 2^-23: both
          // exact in float32.
          x = isPositive ? 0.5 + static_cast<double>(rng() >> 9) * 0x1p-23
                         : -1.0 + 2.0 * unit();
      }
    } else {
      std::optional<int64_t> classes = options.numClasses;
      if (!classes && classCount.count(argument.value))
        classes = classCount[argument.value];
      if (!classes)
        throw ReferenceError(
            "cannot choose values for i64 argument '" + argument.name +
            "': it is not the labels of a softmax_cross_entropy or "
            "count_correct; give the number of classes");
      if (*classes < 1 || *classes > (int64_t(1) << 31))
        throw ReferenceError("cannot draw labels for argument '" +
                             argument.name + "' from " +
                             std::to_string(*classes) + " classes");
      for (double &x : t.data)
        x = static_cast<double>(
            (static_cast<uint64_t>(rng()) * static_cast<uint64_t>(*classes)) >>
            32);
    }
    arguments.push_back(std::move(t));
  }
  return arguments;
}

} // namespace nsl::reference
