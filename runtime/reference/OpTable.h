//===- OpTable.h - The interpreter's op table (internal) ---------*- C++
//-*-===//
//
// What the graph loader, the op table and the interpreter share: the schema
// of every op (operands, attributes, results: runtime/reference/OpSchema.inc,
// generated from the dialect's ODS), the computation that runs it on the
// reference ops, and the node view those computations read.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_OPTABLE_H
#define NSL_RUNTIME_REFERENCE_OPTABLE_H

#include "runtime/reference/Graph.h"
#include "runtime/reference/Ops.h"
#include "runtime/support/JsonView.h"

#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace nsl::reference::detail {

using support::JsonError;
using support::JsonView;

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
  Window checkedWindow(Window w,
                       std::optional<std::array<int64_t, 2>> kernel = {},
                       bool ceilMode = false) const {
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
                                 w.padding[i], w.dilation[i], ceilMode);
      if (size[i] < 1)
        return w;
    }
    if (size[0] != declared.shape[2] || size[1] != declared.shape[3])
      throw ReferenceError(
          what + " is declared " + typeToString(declared) + ", but kernel " +
          shapeToString({(*kernel)[0], (*kernel)[1]}) + " with stride " +
          shapeToString({w.stride[0], w.stride[1]}) + ", padding " +
          shapeToString({w.padding[0], w.padding[1]}) + " and dilation " +
          shapeToString({w.dilation[0], w.dilation[1]}) +
          (ceilMode ? " in ceil mode" : "") + " on the input " +
          shapeToString(x.shape) + " gives " + std::to_string(size[0]) + "x" +
          std::to_string(size[1]) + " output positions");
    return w;
  }
  /// An adaptive pool's `output_size`, checked against the declared result
  /// (a VJP's upstream gradient) first, as checkedWindow checks a window.
  std::array<int64_t, 2> checkedOutputSize() const {
    std::array<int64_t, 2> size = pair("output_size");
    bool vjp = node.operands.count("grad_output") != 0;
    TensorType declared =
        vjp ? typeOf(operand("grad_output")) : node.results.at(0).type;
    if (operand("input").rank() != 4)
      return size; // the op's own message
    if (declared.shape.size() != 4 || declared.shape[2] != size[0] ||
        declared.shape[3] != size[1])
      throw ReferenceError(std::string(vjp ? "grad_output" : "result 0") +
                           " is declared " + typeToString(declared) +
                           ", but output_size is " +
                           shapeToString({size[0], size[1]}));
    return size;
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

/// An op's schema, as generated from ODS (OpSchema.inc).
struct OpSchema {
  const char *name;
  std::vector<OperandSpec> operands;
  std::vector<AttributeSpec> attributes;
  std::vector<std::string> results; // names, for messages; none for VJPs
};

/// An op the interpreter runs: its schema and its computation.
struct OpSpec : OpSchema {
  Compute compute;
};

/// The schemas of every nsl op, in the dialect's order.
const std::vector<OpSchema> &dialectSchemas();

/// Every op the interpreter runs (`constant` first, then the dialect's).
const std::vector<OpSpec> &opTable();
/// The op named `name`, or null.
const OpSpec *findOp(const std::string &name);
/// The names of the dialect's ops that have no reference computation
/// (empty in a consistent build; OpTableTest checks it).
std::vector<std::string> opsWithoutComputation();

std::string join(const std::vector<std::string> &items);
/// "input, weight, similarity[], bias?" for messages.
std::string signature(const OpSpec &spec);
bool isVJP(const OpSpec &spec);
std::vector<int64_t> integersOf(const nlohmann::json &attributes,
                                const char *name);

/// A forward operand of a VJP node, numbered as `wrt` numbers them.
struct FlatOperand {
  std::string name; // "input", "similarity[1]", ...
  int64_t value;
};

/// The forward operands of a VJP node (all but grad_output), flattened in
/// ODS order: a variadic operand contributes each of its values, an absent
/// optional one nothing.
std::vector<FlatOperand> forwardOperands(const OpSpec &spec,
                                         const GraphNode &node);

/// The names of a node's results: a VJP returns "gradient of <operand>" per
/// `wrt` entry, an update its optional state only when given.
std::vector<std::string> resultNames(const OpSpec &spec, const GraphNode &node);

} // namespace nsl::reference::detail

#endif // NSL_RUNTIME_REFERENCE_OPTABLE_H
