//===- Graph.h - graph.json and its reference interpreter -------*- C++ -*-===//
//
// Loads the MLIR-free network format (docs/graph-json.md) into a validated
// Graph and runs it with the reference ops of Ops.h, so that every backend
// can be checked against the oracle on any machine. Loading and running never
// crash on a bad file: every problem is a ReferenceError naming the node
// ("node 4 (sim_conv2d): ...") or the argument and what is wrong.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_GRAPH_H
#define NSL_RUNTIME_REFERENCE_GRAPH_H

#include "runtime/reference/Tensor.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace nsl::reference {

/// The declared type of a value.
struct TensorType {
  DType dtype = DType::F32;
  Shape shape;

  friend bool operator==(const TensorType &a, const TensorType &b) {
    return a.dtype == b.dtype && a.shape == b.shape;
  }
  friend bool operator!=(const TensorType &a, const TensorType &b) {
    return !(a == b);
  }
};
/// "f32[2, 3, 8, 8]".
std::string typeToString(const TensorType &type);
TensorType typeOf(const Tensor &tensor);

struct GraphArgument {
  int64_t value = 0;
  std::string name; // nsl.name, e.g. "conv.weight"
  std::string role; // nsl.role: input, parameter, buffer, label, ...
  TensorType type;
};

struct GraphResult {
  int64_t value = 0;
  TensorType type;
};

struct GraphNode {
  size_t index = 0; // position in "nodes"
  std::string op;   // without the "nsl." prefix
  /// Operand value ids by ODS operand name: one id for a single operand, any
  /// number for a variadic one; absent optional operands are left out.
  std::map<std::string, std::vector<int64_t>> operands;
  /// An object whose members have been checked against the op's signature.
  nlohmann::json attributes;
  std::vector<GraphResult> results;

  /// "node 4 (sim_conv2d)", the prefix of every message about the node.
  std::string label() const;
};

struct GraphOutput {
  int64_t value = 0;
  std::string name; // nsl.name of the result, or "output<i>"
};

struct Graph {
  std::string function;
  std::vector<GraphArgument> arguments;
  std::vector<GraphNode> nodes;
  std::vector<GraphOutput> outputs;
  /// The declared type of every value (arguments and node results).
  std::map<int64_t, TensorType> valueTypes;

  const TensorType &typeOfValue(int64_t value) const;
  /// The argument with this nsl.name, or null.
  const GraphArgument *findArgument(const std::string &name) const;
};

/// The ops the interpreter knows, in the order of docs/graph-json.md.
std::vector<std::string> knownOps();

/// Parses and validates a graph: format "nsl-graph" version 1, unique value
/// ids and argument/output names, operands defined before use, known ops and
/// operands, every required operand and attribute present with the right JSON
/// type and dtype, well-formed dtypes and shapes. Limits that only a broken
/// file exceeds: at most 2^30 elements per tensor, integer attributes at most
/// 2^24 in magnitude. Unknown members are ignored at the top level and in
/// arguments, results and outputs (room for metadata) but are errors among
/// a node's operands and attributes (they would change the math). Errors
/// (malformed JSON included) are ReferenceErrors prefixed with `sourceName`.
Graph parseGraph(std::string_view json,
                 const std::string &sourceName = "graph.json");
/// Reads and parses a graph.json file.
Graph loadGraph(const std::string &path);

/// Runs the graph on arguments given in function order and returns its
/// outputs in order. Every argument must have its declared dtype and shape,
/// and every node's results must have their declared types; otherwise a
/// ReferenceError names the argument or node.
std::vector<Tensor> run(const Graph &graph,
                        const std::vector<Tensor> &arguments);
/// As run, with the arguments keyed by name (all of them, no others).
std::vector<Tensor>
runByName(const Graph &graph,
          const std::map<std::string, Tensor> &argumentsByName);

struct RandomArgumentOptions {
  uint32_t seed = 0;
  /// Range [0, numClasses) of every i64 argument; by default that of the
  /// softmax_cross_entropy the argument feeds as labels (the logits' last
  /// dimension).
  std::optional<int64_t> numClasses;
};

/// Fresh arguments for a graph, in function order, from one std::mt19937
/// seeded with options.seed and drawn argument after argument in a way that
/// does not depend on the standard library's distributions:
///  f32: -1 + 2·u with u = (next() >> 8)·2⁻²⁴, i.e. uniform(-1, 1) and
///       exactly representable in float32, so that f32 backends see the same
///       inputs; an argument feeding a batch norm's running_var (which must
///       be positive), or an optimizer's exp_avg_sq / max_exp_avg_sq, is
///       0.5 + u instead; an argument feeding the `step` of sgd_update /
///       adam_update is (next()·5) >> 32, an integer in [0, 5); one feeding
///       their `lr`, or with role learning_rate, is float32(0.01 + 0.09·u);
///  i64: (next()·C) >> 32, uniform in [0, C) (C from the logits of the
///       softmax_cross_entropy, its VJP or count_correct it feeds).
/// Throws if an i64 argument's class count C cannot be told.
std::vector<Tensor> randomArguments(const Graph &graph,
                                    const RandomArgumentOptions &options = {});

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_GRAPH_H
