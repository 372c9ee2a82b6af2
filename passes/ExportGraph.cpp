//===- ExportGraph.cpp - Write a function as graph.json -------------------===//
//
// The format is documented in docs/graph-json.md; the reader is
// runtime/reference/Graph.cpp. Operands are keyed by their ODS names.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_EXPORTGRAPH
#include "passes/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;
namespace json = llvm::json;

namespace {

/// Value numbering and JSON building for one function.
class GraphWriter {
public:
  /// Describes a value's type: {"value", "dtype", "shape"}; fails on types
  /// the graph cannot carry.
  FailureOr<json::Object> describe(Value value, Location loc) {
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
    return json::Object{{"value", id},
                        {"dtype", dtype},
                        {"shape", json::Array(type.getShape())}};
  }

  int64_t id(Value value) { return ids.lookup(value); }

private:
  llvm::DenseMap<Value, int64_t> ids;
};

/// The operands and attributes of one node.
struct Node {
  GraphWriter &graph;
  json::Object operands, attributes;

  void operand(StringRef name, Value value) {
    if (value) // Absent optional operands are left out.
      operands[name] = graph.id(value);
  }
  void variadic(StringRef name, ValueRange values) {
    json::Array array;
    for (Value value : values)
      array.push_back(graph.id(value));
    operands[name] = std::move(array);
  }
  void attr(StringRef name, json::Value value) {
    attributes[name] = std::move(value);
  }
  void ints(StringRef name, ArrayRef<int64_t> values) {
    attributes[name] = json::Array(values);
  }
  void real(StringRef name, FloatAttr value) {
    attributes[name] = value.getValueAsDouble();
  }
  template <typename Op> void window(Op op) {
    ints("stride", op.getStride());
    ints("padding", op.getPadding());
    ints("dilation", op.getDilation());
  }
};

/// Fills `node` for `op`; returns the node's op name, or failure for an op
/// the graph format does not know.
FailureOr<StringRef> describeOp(Operation *op, Node &node) {
  return llvm::TypeSwitch<Operation *, FailureOr<StringRef>>(op)
      .Case([&](arith::ConstantOp constant) -> FailureOr<StringRef> {
        auto elements = dyn_cast<DenseElementsAttr>(constant.getValue());
        if (!elements)
          return constant.emitError()
                 << "graph.json supports dense tensor constants only";
        json::Array values;
        if (elements.getElementType().isF32())
          for (float v : elements.getValues<float>())
            values.push_back(double(v));
        else
          for (int64_t v : elements.getValues<int64_t>())
            values.push_back(v);
        node.attr("values", std::move(values));
        return StringRef("constant");
      })
      .Case([&](SimConv2dOp sim) {
        node.operand("input", sim.getInput());
        node.operand("weight", sim.getWeight());
        node.variadic("similarity", sim.getSimilarity());
        node.operand("bias", sim.getBias());
        node.attr("structure", stringifyStructure(sim.getStructure()));
        node.attr("dynamic", bool(sim.getDynamic()));
        node.real("alpha", sim.getAlphaAttr());
        node.window(sim);
        return StringRef("sim_conv2d");
      })
      .Case([&](SphereConv2dOp sphere) {
        node.operand("input", sphere.getInput());
        node.operand("weight", sphere.getWeight());
        node.operand("k_param", sphere.getKParam());
        node.attr("variant", stringifySphereVariant(sphere.getVariant()));
        node.attr("input_only", bool(sphere.getInputOnly()));
        node.real("epsilon", sphere.getEpsilonAttr());
        node.real("sigmoid_k", sphere.getSigmoidKAttr());
        node.window(sphere);
        return StringRef("sphere_conv2d");
      })
      .Case([&](PatchNormOp norm) {
        node.operand("input", norm.getInput());
        node.ints("kernel_size", norm.getKernelSize());
        node.real("epsilon", norm.getEpsilonAttr());
        node.window(norm);
        return StringRef("patch_norm");
      })
      .Case([&](PredictedSimilarityOp predicted) {
        node.operand("prediction", predicted.getPrediction());
        node.operand("gamma", predicted.getGamma());
        node.attr("structure", stringifyStructure(predicted.getStructure()));
        return StringRef("predicted_similarity");
      })
      .Case([&](SimLinearOp sim) {
        node.operand("input", sim.getInput());
        node.operand("weight", sim.getWeight());
        node.variadic("similarity", sim.getSimilarity());
        node.operand("bias", sim.getBias());
        node.attr("structure", stringifyStructure(sim.getStructure()));
        node.attr("group_size", json::Value(int64_t(sim.getGroupSize())));
        node.real("alpha", sim.getAlphaAttr());
        return StringRef("sim_linear");
      })
      .Case([&](FoldSimilarityOp fold) {
        node.operand("weight", fold.getWeight());
        node.variadic("similarity", fold.getSimilarity());
        node.attr("structure", stringifyStructure(fold.getStructure()));
        node.attr("group_size",
                  json::Value(int64_t(fold.getGroupSize().value_or(0))));
        node.real("alpha", fold.getAlphaAttr());
        return StringRef("fold_similarity");
      })
      .Case<BatchNormOp, BatchNormTrainOp>([&](auto bn) {
        node.operand("input", bn.getInput());
        node.operand("weight", bn.getWeight());
        node.operand("bias", bn.getBias());
        node.operand("running_mean", bn.getRunningMean());
        node.operand("running_var", bn.getRunningVar());
        node.real("epsilon", bn.getEpsilonAttr());
        if constexpr (std::is_same_v<decltype(bn), BatchNormTrainOp>) {
          node.real("momentum", bn.getMomentumAttr());
          return StringRef("batch_norm_train");
        }
        return StringRef("batch_norm");
      })
      .Case([&](ReluOp relu) {
        node.operand("input", relu.getInput());
        return StringRef("relu");
      })
      .Case([&](MaxPool2dOp pool) {
        node.operand("input", pool.getInput());
        node.ints("kernel_size", pool.getKernelSize());
        node.window(pool);
        return StringRef("max_pool2d");
      })
      .Case([&](AvgPool2dOp pool) {
        node.operand("input", pool.getInput());
        node.ints("kernel_size", pool.getKernelSize());
        node.ints("stride", pool.getStride());
        node.ints("padding", pool.getPadding());
        node.attr("count_include_pad", bool(pool.getCountIncludePad()));
        return StringRef("avg_pool2d");
      })
      .Case([&](GlobalAvgPool2dOp pool) {
        node.operand("input", pool.getInput());
        return StringRef("global_avg_pool2d");
      })
      .Case([&](LinearOp linear) {
        node.operand("input", linear.getInput());
        node.operand("weight", linear.getWeight());
        node.operand("bias", linear.getBias());
        return StringRef("linear");
      })
      .Case([&](AddOp add) {
        node.operand("lhs", add.getLhs());
        node.operand("rhs", add.getRhs());
        return StringRef("add");
      })
      .Case([&](FlattenOp flatten) {
        node.operand("input", flatten.getInput());
        return StringRef("flatten");
      })
      .Case([&](SoftmaxCrossEntropyOp loss) {
        node.operand("logits", loss.getLogits());
        node.operand("labels", loss.getLabels());
        node.real("label_smoothing", loss.getLabelSmoothingAttr());
        return StringRef("softmax_cross_entropy");
      })
      .Default([](Operation *op) -> FailureOr<StringRef> {
        return op->emitError()
               << "cannot export '" << op->getName()
               << "' to graph.json: the graph holds nsl ops, arith.constant "
                  "and func.return only";
      });
}

} // namespace

FailureOr<json::Object> nsl::exportGraph(func::FuncOp function) {
  GraphWriter graph;
  json::Array arguments, nodes, outputs;
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
    FailureOr<json::Object> described =
        graph.describe(argument, function.getLoc());
    if (failed(described))
      return failure();
    (*described)["name"] = name.getValue();
    (*described)["role"] = role.getValue();
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
            json::Object{{"value", graph.id(value)},
                         {"name", name ? name.getValue().str()
                                       : "output" + std::to_string(index)}});
      }
      continue;
    }
    Node node{graph, {}, {}};
    FailureOr<StringRef> kind = describeOp(&op, node);
    if (failed(kind))
      return failure();
    json::Array results;
    for (Value result : op.getResults()) {
      FailureOr<json::Object> described = graph.describe(result, op.getLoc());
      if (failed(described))
        return failure();
      results.push_back(std::move(*described));
    }
    nodes.push_back(json::Object{{"op", *kind},
                                 {"operands", std::move(node.operands)},
                                 {"attributes", std::move(node.attributes)},
                                 {"results", std::move(results)}});
  }
  return json::Object{
      {"format", "nsl-graph"},          {"version", 1},
      {"function", function.getName()}, {"arguments", std::move(arguments)},
      {"nodes", std::move(nodes)},      {"outputs", std::move(outputs)}};
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
    FailureOr<json::Object> graph = exportGraph(function);
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
    file->os() << llvm::formatv("{0:2}", json::Value(std::move(*graph)))
               << "\n";
    file->keep();
  }
};

} // namespace
