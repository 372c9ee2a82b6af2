//===- Interpreter.cpp - Running a graph on the reference ops -------------===//
//
// Runs a loaded graph node by node through the op table's computations,
// checks every computed type against the declared one, frees each value
// after its last use; draws random arguments for a graph.
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"
#include "runtime/reference/OpTable.h"

#include <map>
#include <random>
#include <set>
#include <unordered_map>

namespace nsl::reference {

using namespace detail;

namespace {

/// A tensor whose element count disagrees with its shape would make the ops
/// read out of bounds.
void checkTensor(const Tensor &t, const std::string &what) {
  if (static_cast<int64_t>(t.data.size()) != numElements(t.shape))
    throw ReferenceError(what + " holds " + std::to_string(t.data.size()) +
                         " values but its shape " + shapeToString(t.shape) +
                         " needs " + std::to_string(numElements(t.shape)));
}

} // namespace

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
