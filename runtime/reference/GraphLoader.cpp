//===- GraphLoader.cpp - Reading and validating graph.json
//-----------------===//
//
// Validates a graph.json file against the op schemas (OpTable.h): known ops,
// operands and attributes of the right kinds, values defined before use,
// declared types, so that the interpreter's computations need no checks.
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"
#include "runtime/reference/OpTable.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace nsl::reference {

using namespace detail;

namespace {

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

} // namespace

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

} // namespace nsl::reference
