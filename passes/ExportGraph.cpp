//===- ExportGraph.cpp - Write a function as graph.json -------------------===//
//
// The format is documented in docs/graph-json.md; the reader is
// runtime/reference/Graph.cpp. Operands are keyed by their ODS names. Built
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

/// Convolutions, similarities and similarity linear layers.
std::optional<StringRef> describeConvolution(Operation *op, Node &node) {
  return llvm::TypeSwitch<Operation *, std::optional<StringRef>>(op)
      .Case<SimConv2dOp, SimConv2dVJPOp>([&](auto sim) {
        node.operand("input", sim.getInput());
        node.operand("weight", sim.getWeight());
        node.variadic("similarity", sim.getSimilarity());
        node.operand("bias", sim.getBias());
        node.text("structure", stringifyStructure(sim.getStructure()));
        node.flag("dynamic", bool(sim.getDynamic()));
        node.real("alpha", sim.getAlphaAttr());
        node.window(sim);
        return forwardOrVJP(sim, node, "sim_conv2d", "sim_conv2d_vjp");
      })
      .Case<SphereConv2dOp, SphereConv2dVJPOp>([&](auto sphere) {
        node.operand("input", sphere.getInput());
        node.operand("weight", sphere.getWeight());
        node.operand("k_param", sphere.getKParam());
        node.text("variant", stringifySphereVariant(sphere.getVariant()));
        node.flag("input_only", bool(sphere.getInputOnly()));
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
            node.text("structure",
                      stringifyStructure(predicted.getStructure()));
            return forwardOrVJP(predicted, node, "predicted_similarity",
                                "predicted_similarity_vjp");
          })
      .Case([&](SimLinearOp sim) {
        node.operand("input", sim.getInput());
        node.operand("weight", sim.getWeight());
        node.variadic("similarity", sim.getSimilarity());
        node.operand("bias", sim.getBias());
        node.text("structure", stringifyStructure(sim.getStructure()));
        node.integer("group_size", sim.getGroupSize());
        node.real("alpha", sim.getAlphaAttr());
        return StringRef("sim_linear");
      })
      .Case<FoldSimilarityOp, FoldSimilarityVJPOp>([&](auto fold) {
        node.operand("weight", fold.getWeight());
        node.variadic("similarity", fold.getSimilarity());
        node.text("structure", stringifyStructure(fold.getStructure()));
        node.integer("group_size", fold.getGroupSize().value_or(0));
        node.real("alpha", fold.getAlphaAttr());
        return forwardOrVJP(fold, node, "fold_similarity",
                            "fold_similarity_vjp");
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// Normalisation, activations, pooling, linear layers, reshapes.
std::optional<StringRef> describeLayer(Operation *op, Node &node) {
  return llvm::TypeSwitch<Operation *, std::optional<StringRef>>(op)
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
        node.flag("count_include_pad", bool(pool.getCountIncludePad()));
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
      .Default([](Operation *) { return std::nullopt; });
}

/// The loss, the penalties, accuracy and the optimizer updates.
std::optional<StringRef> describeTraining(Operation *op, Node &node) {
  return llvm::TypeSwitch<Operation *, std::optional<StringRef>>(op)
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
        node.flag("nesterov", bool(sgd.getNesterov()));
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
        node.flag("amsgrad", bool(adam.getAmsgrad()));
        return StringRef("adam_update");
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// Fills `node` for `op`; returns the node's op name, or failure for an op
/// the graph format does not know.
FailureOr<StringRef> describeOp(Operation *op, Node &node) {
  if (auto constant = dyn_cast<arith::ConstantOp>(op))
    return describeConstant(constant, node);
  for (auto describe : {describeConvolution, describeLayer, describeTraining})
    if (std::optional<StringRef> name = describe(op, node))
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
