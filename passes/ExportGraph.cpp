//===- ExportGraph.cpp - Write a function as graph.json -------------------===//
//
// The format is documented in docs/graph-json.md; the reader is
// runtime/reference/GraphLoader.cpp. Every nsl op's node is generated from
// its ODS definition (dialect/GraphExport.inc): operands and attributes
// keyed by their ODS names. Built
// with nlohmann::json, the library the runtime reads it with; the compiler
// has no exceptions, so only non-throwing operations are used here.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/ToolOutputFile.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace mlir::nsl {
#define GEN_PASS_DEF_EXPORTGRAPH
#include "passes/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;
// Keys sorted, as graph.json has always been written.
using Json = nlohmann::json;

namespace {

/// Value numbering and JSON building for one function.
class GraphWriter {
public:
  /// Describes a value's type: {"value", "dtype", "shape"}; fails on types
  /// the graph cannot carry.
  FailureOr<Json> describe(Value value, Location loc) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    StringRef dtype;
    if (type && type.hasStaticShape() && type.getElementType().isF32())
      dtype = "f32";
    else if (type && type.hasStaticShape() &&
             type.getElementType().isInteger(64))
      dtype = "i64";
    else
      return emitError(loc) << "graph.json carries statically shaped f32 and "
                               "i64 tensors only, got "
                            << value.getType();
    int64_t id = static_cast<int64_t>(ids.size());
    ids[value] = id;
    return Json{{"value", id},
                {"dtype", dtype.str()},
                {"shape", std::vector<int64_t>(type.getShape().begin(),
                                               type.getShape().end())}};
  }

  int64_t id(Value value) { return ids.lookup(value); }

private:
  llvm::DenseMap<Value, int64_t> ids;
};

/// The operands and attributes of one node.
struct Node {
  explicit Node(GraphWriter &graph) : graph(graph) {}

  GraphWriter &graph;
  Json operands = Json::object(), attributes = Json::object();
  /// The first number JSON cannot hold (NaN, infinity), for the error.
  std::string nonFinite;

  void operand(StringRef name, Value value) {
    if (value) // Absent optional operands are left out.
      operands[name.str()] = graph.id(value);
  }
  void variadic(StringRef name, ValueRange values) {
    Json array = Json::array();
    for (Value value : values)
      array.push_back(graph.id(value));
    operands[name.str()] = std::move(array);
  }
  void text(StringRef name, StringRef value) {
    attributes[name.str()] = value.str();
  }
  void flag(StringRef name, bool value) { attributes[name.str()] = value; }
  void integer(StringRef name, int64_t value) {
    attributes[name.str()] = value;
  }
  void ints(StringRef name, ArrayRef<int64_t> values) {
    attributes[name.str()] = std::vector<int64_t>(values.begin(), values.end());
  }
  void real(StringRef name, FloatAttr value) {
    attributes[name.str()] =
        number(value.getValueAsDouble(), "attribute '" + name.str() + "'");
  }
  /// A double as graph.json has always written it: an integral value as an
  /// integer ("alpha": 0), any other as the shortest text that reads back
  /// to the same double.
  Json number(double value, const std::string &what) {
    if (!std::isfinite(value)) {
      if (nonFinite.empty())
        nonFinite = what + " is " + (std::isnan(value) ? "NaN" : "infinite");
      return nullptr;
    }
    if (std::trunc(value) == value && std::abs(value) < 0x1p53 &&
        !(value == 0.0 && std::signbit(value)))
      return static_cast<int64_t>(value);
    return value;
  }
};

FailureOr<StringRef> describeConstant(arith::ConstantOp constant, Node &node) {
  auto elements = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!elements)
    return constant.emitError()
           << "graph.json supports dense tensor constants only";
  Json values = Json::array();
  if (elements.getElementType().isF32())
    for (float v : elements.getValues<float>())
      values.push_back(node.number(v, "a constant value"));
  else
    for (int64_t v : elements.getValues<int64_t>())
      values.push_back(v);
  node.attributes["values"] = std::move(values);
  return StringRef("constant");
}

#include "dialect/GraphExport.inc"

/// Fills `node` for `op`; returns the node's op name, or failure for an op
/// the graph format does not know.
FailureOr<StringRef> describeOp(Operation *op, Node &node) {
  if (auto constant = dyn_cast<arith::ConstantOp>(op))
    return describeConstant(constant, node);
  if (std::optional<StringRef> name = describeNSLOp(op, node))
    return *name;
  return op->emitError() << "cannot export '" << op->getName()
                         << "' to graph.json: the graph holds nsl ops, "
                            "arith.constant and func.return only";
}

} // namespace

FailureOr<Json> nsl::exportGraph(func::FuncOp function) {
  GraphWriter graph;
  Json arguments = Json::array(), nodes = Json::array(),
       outputs = Json::array();
  for (auto [index, argument] : llvm::enumerate(function.getArguments())) {
    auto name =
        function.getArgAttrOfType<StringAttr>(index, NSLDialect::kNameAttr);
    auto role =
        function.getArgAttrOfType<StringAttr>(index, NSLDialect::kRoleAttr);
    if (!name || !role)
      return function.emitError()
             << "argument #" << index << " of @" << function.getName()
             << " has no 'nsl.name' and 'nsl.role'; every argument of an "
                "exported function needs both";
    FailureOr<Json> described = graph.describe(argument, function.getLoc());
    if (failed(described))
      return failure();
    (*described)["name"] = name.getValue().str();
    (*described)["role"] = role.getValue().str();
    arguments.push_back(std::move(*described));
  }
  if (!function.getBody().hasOneBlock())
    return function.emitError() << "graph.json needs a single-block function";
  for (Operation &op : function.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
        auto name = function.getResultAttrOfType<StringAttr>(
            index, NSLDialect::kNameAttr);
        outputs.push_back(
            Json{{"value", graph.id(value)},
                 {"name", name ? name.getValue().str()
                               : "output" + std::to_string(index)}});
      }
      continue;
    }
    Node node(graph);
    FailureOr<StringRef> kind = describeOp(&op, node);
    if (failed(kind))
      return failure();
    if (!node.nonFinite.empty())
      return op.emitError() << "cannot export '" << op.getName()
                            << "' to graph.json: " << node.nonFinite
                            << " (JSON has no NaN or infinity)";
    Json results = Json::array();
    for (Value result : op.getResults()) {
      FailureOr<Json> described = graph.describe(result, op.getLoc());
      if (failed(described))
        return failure();
      results.push_back(std::move(*described));
    }
    nodes.push_back(Json{{"op", kind->str()},
                         {"operands", std::move(node.operands)},
                         {"attributes", std::move(node.attributes)},
                         {"results", std::move(results)}});
  }
  return Json{{"format", "nsl-graph"},
              {"version", 1},
              {"function", function.getName().str()},
              {"arguments", std::move(arguments)},
              {"nodes", std::move(nodes)},
              {"outputs", std::move(outputs)}};
}

std::string nsl::printGraph(const Json &graph) {
  // Replacing invalid UTF-8 (which MLIR's names and strings do not hold)
  // rather than failing: the compiler has no exceptions.
  return graph.dump(2, ' ', /*ensure_ascii=*/false,
                    Json::error_handler_t::replace) +
         "\n";
}

namespace {

struct ExportGraphPass : nsl::impl::ExportGraphBase<ExportGraphPass> {
  using ExportGraphBase::ExportGraphBase;

  void runOnOperation() override {
    markAllAnalysesPreserved();
    auto function = getOperation().lookupSymbol<func::FuncOp>(this->function);
    if (!function) {
      getOperation().emitError()
          << "--nsl-export-graph: the module has no function @"
          << this->function << " (choose one with function=NAME)";
      return signalPassFailure();
    }
    FailureOr<Json> graph = exportGraph(function);
    if (failed(graph))
      return signalPassFailure();
    std::string message;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(output, &message);
    if (!file) {
      getOperation().emitError()
          << "--nsl-export-graph: cannot write '" << output << "': " << message;
      return signalPassFailure();
    }
    file->os() << printGraph(*graph);
    file->keep();
  }
};

} // namespace
