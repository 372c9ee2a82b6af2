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

/// Whether Op is an `nsl.<op>_vjp` op (it has `wrt`).
template <typename Op, typename = void> struct IsVJP : std::false_type {};
template <typename Op>
struct IsVJP<Op, std::void_t<decltype(std::declval<Op>().getWrt())>>
    : std::true_type {};

/// The node's op name for a forward op or its VJP; a VJP also gets its
/// upstream gradient (operand `grad_output`) and `wrt`.
template <typename Op>
StringRef forwardOrVJP(Op op, Node &node, StringRef forward, StringRef vjp) {
  if constexpr (IsVJP<Op>::value) {
    node.operand("grad_output", op.getGradOutput());
    node.ints("wrt", op.getWrt());
    return vjp;
  } else {
    return forward;
  }
}

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
      .Case<SimConv2dOp, SimConv2dVJPOp>([&](auto sim) {
        node.operand("input", sim.getInput());
        node.operand("weight", sim.getWeight());
        node.variadic("similarity", sim.getSimilarity());
        node.operand("bias", sim.getBias());
        node.attr("structure", stringifyStructure(sim.getStructure()));
        node.attr("dynamic", bool(sim.getDynamic()));
        node.real("alpha", sim.getAlphaAttr());
        node.window(sim);
        return forwardOrVJP(sim, node, "sim_conv2d", "sim_conv2d_vjp");
      })
      .Case<SphereConv2dOp, SphereConv2dVJPOp>([&](auto sphere) {
        node.operand("input", sphere.getInput());
        node.operand("weight", sphere.getWeight());
        node.operand("k_param", sphere.getKParam());
        node.attr("variant", stringifySphereVariant(sphere.getVariant()));
        node.attr("input_only", bool(sphere.getInputOnly()));
        node.real("epsilon", sphere.getEpsilonAttr());
        node.real("sigmoid_k", sphere.getSigmoidKAttr());
        node.window(sphere);
        return forwardOrVJP(sphere, node, "sphere_conv2d", "sphere_conv2d_vjp");
      })
      .Case<PatchNormOp, PatchNormVJPOp>([&](auto norm) {
        node.operand("input", norm.getInput());
        node.ints("kernel_size", norm.getKernelSize());
        node.real("epsilon", norm.getEpsilonAttr());
        node.window(norm);
        return forwardOrVJP(norm, node, "patch_norm", "patch_norm_vjp");
      })
      .Case<PredictedSimilarityOp, PredictedSimilarityVJPOp>(
          [&](auto predicted) {
            node.operand("prediction", predicted.getPrediction());
            node.operand("gamma", predicted.getGamma());
            node.attr("structure",
                      stringifyStructure(predicted.getStructure()));
            return forwardOrVJP(predicted, node, "predicted_similarity",
                                "predicted_similarity_vjp");
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
      .Case<FoldSimilarityOp, FoldSimilarityVJPOp>([&](auto fold) {
        node.operand("weight", fold.getWeight());
        node.variadic("similarity", fold.getSimilarity());
        node.attr("structure", stringifyStructure(fold.getStructure()));
        node.attr("group_size",
                  json::Value(int64_t(fold.getGroupSize().value_or(0))));
        node.real("alpha", fold.getAlphaAttr());
        return forwardOrVJP(fold, node, "fold_similarity",
                            "fold_similarity_vjp");
      })
      .Case<BatchNormOp, BatchNormTrainOp, BatchNormTrainVJPOp>([&](auto bn) {
        node.operand("input", bn.getInput());
        node.operand("weight", bn.getWeight());
        node.operand("bias", bn.getBias());
        node.operand("running_mean", bn.getRunningMean());
        node.operand("running_var", bn.getRunningVar());
        node.real("epsilon", bn.getEpsilonAttr());
        if constexpr (!std::is_same_v<decltype(bn), BatchNormOp>) {
          node.real("momentum", bn.getMomentumAttr());
          return forwardOrVJP(bn, node, "batch_norm_train",
                              "batch_norm_train_vjp");
        } else {
          return StringRef("batch_norm");
        }
      })
      .Case<ReluOp, ReluVJPOp>([&](auto relu) {
        node.operand("input", relu.getInput());
        return forwardOrVJP(relu, node, "relu", "relu_vjp");
      })
      .Case<MaxPool2dOp, MaxPool2dVJPOp>([&](auto pool) {
        node.operand("input", pool.getInput());
        node.ints("kernel_size", pool.getKernelSize());
        node.window(pool);
        return forwardOrVJP(pool, node, "max_pool2d", "max_pool2d_vjp");
      })
      .Case<AvgPool2dOp, AvgPool2dVJPOp>([&](auto pool) {
        node.operand("input", pool.getInput());
        node.ints("kernel_size", pool.getKernelSize());
        node.ints("stride", pool.getStride());
        node.ints("padding", pool.getPadding());
        node.attr("count_include_pad", bool(pool.getCountIncludePad()));
        return forwardOrVJP(pool, node, "avg_pool2d", "avg_pool2d_vjp");
      })
      .Case<GlobalAvgPool2dOp, GlobalAvgPool2dVJPOp>([&](auto pool) {
        node.operand("input", pool.getInput());
        return forwardOrVJP(pool, node, "global_avg_pool2d",
                            "global_avg_pool2d_vjp");
      })
      .Case<LinearOp, LinearVJPOp>([&](auto linear) {
        node.operand("input", linear.getInput());
        node.operand("weight", linear.getWeight());
        node.operand("bias", linear.getBias());
        return forwardOrVJP(linear, node, "linear", "linear_vjp");
      })
      .Case([&](AddOp add) {
        node.operand("lhs", add.getLhs());
        node.operand("rhs", add.getRhs());
        return StringRef("add");
      })
      .Case<FlattenOp, FlattenVJPOp>([&](auto flatten) {
        node.operand("input", flatten.getInput());
        return forwardOrVJP(flatten, node, "flatten", "flatten_vjp");
      })
      .Case<SoftmaxCrossEntropyOp, SoftmaxCrossEntropyVJPOp>([&](auto loss) {
        node.operand("logits", loss.getLogits());
        node.operand("labels", loss.getLabels());
        node.real("label_smoothing", loss.getLabelSmoothingAttr());
        return forwardOrVJP(loss, node, "softmax_cross_entropy",
                            "softmax_cross_entropy_vjp");
      })
      .Case<L1PenaltyOp, L1PenaltyVJPOp>([&](auto penalty) {
        node.operand("input", penalty.getInput());
        node.real("strength", penalty.getStrengthAttr());
        return forwardOrVJP(penalty, node, "l1_penalty", "l1_penalty_vjp");
      })
      .Case<OrthogonalityPenaltyOp, OrthogonalityPenaltyVJPOp>(
          [&](auto penalty) {
            node.operand("input", penalty.getInput());
            node.real("strength", penalty.getStrengthAttr());
            return forwardOrVJP(penalty, node, "orthogonality_penalty",
                                "orthogonality_penalty_vjp");
          })
      .Case([&](CountCorrectOp count) {
        node.operand("logits", count.getLogits());
        node.operand("labels", count.getLabels());
        return StringRef("count_correct");
      })
      .Case([&](SgdUpdateOp sgd) {
        node.operand("param", sgd.getParam());
        node.operand("grad", sgd.getGrad());
        node.operand("momentum_buffer", sgd.getMomentumBuffer());
        node.operand("step", sgd.getStep());
        node.operand("lr", sgd.getLr());
        node.real("momentum", sgd.getMomentumAttr());
        node.real("dampening", sgd.getDampeningAttr());
        node.real("weight_decay", sgd.getWeightDecayAttr());
        node.attr("nesterov", bool(sgd.getNesterov()));
        return StringRef("sgd_update");
      })
      .Case([&](AdamUpdateOp adam) {
        node.operand("param", adam.getParam());
        node.operand("grad", adam.getGrad());
        node.operand("exp_avg", adam.getExpAvg());
        node.operand("exp_avg_sq", adam.getExpAvgSq());
        node.operand("max_exp_avg_sq", adam.getMaxExpAvgSq());
        node.operand("step", adam.getStep());
        node.operand("lr", adam.getLr());
        node.real("beta1", adam.getBeta1Attr());
        node.real("beta2", adam.getBeta2Attr());
        node.real("eps", adam.getEpsAttr());
        node.real("weight_decay", adam.getWeightDecayAttr());
        node.attr("amsgrad", bool(adam.getAmsgrad()));
        return StringRef("adam_update");
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
