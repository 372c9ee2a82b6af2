//===- NodeTranslation.cpp - TorchScript nodes into nsl ops ---------------===//
//
// One translation per node kind, found in a table (handlers()); several
// kinds share one when their schemas name the same arguments. Operands are
// read by schema argument name, so that the nsl:: schemas and aten's
// overloads map to the dialect's operands alike. Scalar plumbing on shapes
// and flags is evaluated, and prim::If reduces to the branch taken.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/BuildOp.h"

#include "dialect/NSLDialect.h"
#include "dialect/NSLOps.h"

#include <cmath>
#include <map>

using namespace mlir;

#include "dialect/ElementwiseImport.inc"

namespace nsl::frontend::importer {
namespace {

/// The file, line and column of a node: the Python source that generated
/// it when the archive kept its debug information, else the archive's
/// serialized code.
std::optional<std::tuple<std::string, size_t, size_t>>
fileLineCol(const jit::Node *node) {
  const jit::SourceRange &range = node->sourceRange();
  if (auto original = range.findSourceRangeThatGenerated())
    if (auto flc = original->file_line_col())
      return *flc;
  if (auto flc = range.file_line_col())
    return *flc;
  return std::nullopt;
}

/// Negative, zero or positive as `a` is less than, equal to or greater than
/// `b`: two ints, floats or bools, or two strings; nothing otherwise.
std::optional<int> compareConstants(const c10::IValue &a,
                                    const c10::IValue &b) {
  if (a.isString() && b.isString())
    return a.toStringRef().compare(b.toStringRef());
  if (!isNumber(a) || !isNumber(b))
    return std::nullopt;
  auto number = [](const c10::IValue &v) {
    return v.isDouble() ? v.toDouble()
           : v.isBool() ? double(v.toBool())
                        : double(v.toInt());
  };
  double x = number(a), y = number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/// Whether the comparison `kind` (aten::eq, ne, lt, le, gt, ge) holds for
/// operands ordered as `order` says.
bool comparisonHolds(c10::Symbol kind, int order) {
  if (kind == c10::aten::eq)
    return order == 0;
  if (kind == c10::aten::ne)
    return order != 0;
  if (kind == c10::aten::lt)
    return order < 0;
  if (kind == c10::aten::le)
    return order <= 0;
  if (kind == c10::aten::gt)
    return order > 0;
  return order >= 0;
}

/// Whether `value` is used other than by packing it into a tuple of which
/// only other elements are taken out again (prim::TupleIndex,
/// prim::TupleUnpack), as scripted code keeps a result it ignores.
bool usedBeyondTuples(const jit::Value *value) {
  for (const jit::Use &use : value->uses()) {
    const jit::Node *tuple = use.user;
    if (tuple->kind() != c10::prim::TupleConstruct)
      return true;
    auto count = static_cast<int64_t>(tuple->inputs().size());
    for (const jit::Use &taken : tuple->output()->uses()) {
      const jit::Node *user = taken.user;
      if (user->kind() == c10::prim::TupleUnpack) {
        if (usedBeyondTuples(user->output(use.offset)))
          return true;
        continue;
      }
      if (user->kind() != c10::prim::TupleIndex)
        return true;
      auto index = jit::toIValue(user->input(1));
      if (!index || !index->isInt())
        return true;
      int64_t at = index->toInt() < 0 ? index->toInt() + count : index->toInt();
      if (at == static_cast<int64_t>(use.offset) &&
          usedBeyondTuples(user->output()))
        return true;
    }
  }
  return false;
}

/// The kinds the translator knows, for the "supported instead" hint.
const char *const kSupportedKinds =
    "nsl::sim_conv2d, nsl::sphere_conv2d, nsl::patch_norm, "
    "nsl::predicted_similarity, nsl::sim_linear, aten::conv2d, "
    "aten::_convolution (grouped too), aten::batch_norm (eval), aten::relu, "
    "aten::max_pool2d, aten::avg_pool2d (ceil_mode too; no "
    "divisor_override), aten::adaptive_avg_pool2d, aten::adaptive_max_pool2d "
    "(any output size; its values, not the indices), "
    "prim::TupleIndex/TupleUnpack (of tuples built in the graph), "
    "aten::sum/mean/amax/amin/max/min/norm (over dimensions, keepdim), "
    "aten::softmax/log_softmax, aten::layer_norm, "
    "aten::linear/matmul/mm/bmm/addmm (any rank, broadcasting), "
    "aten::view/reshape/flatten/squeeze/unsqueeze, aten::permute/transpose/t, "
    "aten::slice/narrow/select/chunk/split, aten::im2col (F.unfold), "
    "aten::dropout (eval), aten::cross_entropy_loss (mean), "
    "aten::clamp/clip/hardtanh/relu6, aten::gelu, aten::elu (scale 1), "
    "aten::cat (not along the batch)";

/// kSupportedKinds and the elementwise rows' TorchScript ops.
std::string supportedKinds() {
  std::string text = kSupportedKinds;
  text += ", elementwise with broadcasting:";
  for (const ElementwiseTorchOp &row : elementwiseTorchOps)
    text += std::string(" ") + row.torch;
  return text;
}

const char *const kDataDependent =
    "data-dependent control flow (prim::If on a value computed from tensor "
    "data) is not supported: the importer builds a static graph; only "
    "conditions on shapes, constants and module flags are resolved";

} // namespace

std::string describeLocation(const jit::Node *constNode) {
  // Node::scope() is not const.
  auto *node = const_cast<jit::Node *>(constNode);
  std::string where;
  if (auto flc = fileLineCol(node)) {
    where = std::get<0>(*flc) + ":" + std::to_string(std::get<1>(*flc)) + ":" +
            std::to_string(std::get<2>(*flc));
  }
  std::string scope = node->scope() ? node->scope()->namesFromRoot() : "";
  if (!scope.empty())
    where += (where.empty() ? "" : " ") + std::string("(in ") + scope + ")";
  return where.empty() ? "<unknown location>" : where;
}

std::string kindOf(const jit::Node *node) {
  return node->kind().toQualString();
}

std::string shapeToString(ArrayRef<int64_t> shape) {
  std::string text;
  for (auto [index, size] : llvm::enumerate(shape))
    text += (index ? "x" : "") + std::to_string(size);
  return text.empty() ? "scalar" : text;
}

/// An int, a float or a bool.
bool isNumber(const c10::IValue &v) {
  return v.isInt() || v.isDouble() || v.isBool();
}

Location locationOf(MLIRContext &context, const jit::Node *node) {
  if (auto flc = fileLineCol(node))
    return FileLineColLoc::get(&context, std::get<0>(*flc), std::get<1>(*flc),
                               std::get<2>(*flc));
  return UnknownLoc::get(&context);
}

void Importer::fail(const jit::Node *node, const std::string &message) {
  throw ImportError{describeLocation(node) + ": " + message};
}

//===----------------------------------------------------------------------===//
// Operands and results
//===----------------------------------------------------------------------===//

jit::Value *Importer::input(jit::Node *node, const char *name) {
  // Schema argument names, not positions: the nsl:: schemas and aten's
  // overloads then map to the dialect's operands by name.
  if (!node->maybeSchema())
    fail(node, "no schema for " + kindOf(node));
  auto index = node->schema().argumentIndexWithName(name);
  if (!index || static_cast<size_t>(*index) >= node->inputs().size())
    fail(node, kindOf(node) + " has no argument '" + name + "'");
  return node->input(*index);
}

Value Importer::tensor(jit::Node *node, const jit::Value *value) {
  auto it = tensors.find(value);
  if (it != tensors.end())
    return it->second;
  fail(node, "operand '%" + value->debugName() + "' of " + kindOf(node) +
                 " is not a tensor the importer computed (made by " +
                 kindOf(value->node()) + ")");
}

Value Importer::optionalTensor(jit::Node *node, const jit::Value *value) {
  auto known = scalar(value);
  if (known && known->isNone())
    return Value();
  return tensor(node, value);
}

SmallVector<Value> Importer::tensorList(jit::Node *node,
                                        const jit::Value *value) {
  if (auto it = tensorLists.find(value); it != tensorLists.end())
    return it->second;
  if (auto it = appended.find(value); it != appended.end()) {
    SmallVector<Value> values;
    for (const jit::Value *element : it->second)
      values.push_back(tensor(node, element));
    return values;
  }
  if (value->node()->kind() != c10::prim::ListConstruct)
    fail(node,
         "a tensor list must be built in the graph (prim::ListConstruct)");
  SmallVector<Value> values;
  for (const jit::Value *element : value->node()->inputs())
    values.push_back(tensor(node, element));
  return values;
}

//===----------------------------------------------------------------------===//
// Node translations
//===----------------------------------------------------------------------===//

void Importer::convolution(jit::Node *node) {
  int64_t groups = integer(node, input(node, "groups"));
  if (node->kind() == c10::aten::_convolution &&
      boolean(node, input(node, "transposed")))
    fail(node, "transposed convolutions are not supported");
  c10::IValue padding = constant(node, input(node, "padding"));
  if (padding.isString())
    fail(node, "padding='" + padding.toStringRef() +
                   "' is not supported; give the padding as numbers");
  setTensor(node, build<mlir::nsl::SimConv2dOp>(
                      node, tensor(node, input(node, "input")),
                      tensor(node, input(node, "weight")), ValueRange(),
                      optionalTensor(node, input(node, "bias")),
                      mlir::nsl::Structure::Identity, false, APFloat(0.0f),
                      ints(node, input(node, "stride"), 2),
                      ints(node, input(node, "padding"), 2),
                      ints(node, input(node, "dilation"), 2), groups));
}

void Importer::batchNorm(jit::Node *node) {
  if (boolean(node, input(node, "training")))
    fail(node, "training-mode batch norm is not supported: import a model "
               "in eval mode (model.eval())");
  Value weight = optionalTensor(node, input(node, "weight"));
  Value bias = optionalTensor(node, input(node, "bias"));
  Value mean = optionalTensor(node, input(node, "running_mean"));
  Value var = optionalTensor(node, input(node, "running_var"));
  if (!weight || !bias || !mean || !var)
    fail(node, "batch norm needs its affine parameters and running "
               "statistics (affine=True, track_running_stats=True)");
  setTensor(node,
            build<mlir::nsl::BatchNormOp>(
                node, tensor(node, input(node, "input")), weight, bias, mean,
                var,
                APFloat(static_cast<float>(real(node, input(node, "eps"))))));
}

void Importer::pool(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  SmallVector<int64_t> kernel = ints(node, input(node, "kernel_size"), 2);
  SmallVector<int64_t> stride = ints(node, input(node, "stride"));
  if (stride.empty())
    stride = kernel; // PyTorch's default stride is the kernel size.
  else if (stride.size() == 1)
    stride.assign(2, stride[0]);
  SmallVector<int64_t> padding = ints(node, input(node, "padding"), 2);
  SmallVector<int64_t> dilation = node->kind() == c10::aten::max_pool2d
                                      ? ints(node, input(node, "dilation"), 2)
                                      : SmallVector<int64_t>{1, 1};
  bool ceilMode = boolean(node, input(node, "ceil_mode"));
  if (node->kind() == c10::aten::max_pool2d) {
    setTensor(node, build<mlir::nsl::MaxPool2dOp>(node, x, kernel, stride,
                                                  padding, dilation, ceilMode));
    return;
  }
  auto divisor = scalar(input(node, "divisor_override"));
  if (!divisor || !divisor->isNone())
    fail(node, "avg_pool2d's divisor_override is not supported");
  setTensor(node,
            build<mlir::nsl::AvgPool2dOp>(
                node, x, kernel, stride, padding,
                boolean(node, input(node, "count_include_pad")), ceilMode));
}

void Importer::adaptivePool(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  bool max = node->kind() == c10::aten::adaptive_max_pool2d;
  std::string kind = kindOf(node);
  if (shape.size() != 4)
    fail(node, kind + " is supported on [N, C, H, W] inputs");
  if (max && usedBeyondTuples(node->output(1)))
    fail(node, kind + "'s indices (its second result) are not supported: "
                      "use only the pooled values (return_indices=False)");
  SmallVector<int64_t> size = ints(node, input(node, "output_size"), 2);
  if (size[0] == shape[2] && size[1] == shape[3]) {
    setTensor(node, x); // every window is one pixel
    return;
  }
  if (!max && size[0] == 1 && size[1] == 1) {
    setTensor(node, build<mlir::nsl::GlobalAvgPool2dOp>(node, x));
    return;
  }
  if (max)
    setTensor(node, build<mlir::nsl::AdaptiveMaxPool2dOp>(node, x, size));
  else
    setTensor(node, build<mlir::nsl::AdaptiveAvgPool2dOp>(node, x, size));
}

void Importer::tupleElements(jit::Node *node) {
  const jit::Node *producer = node->input(0)->node();
  if (producer->kind() != c10::prim::TupleConstruct)
    fail(node, "only tuples built in the graph (prim::TupleConstruct) can "
               "be indexed or unpacked");
  auto bind = [&](jit::Value *result, const jit::Value *element) {
    if (auto it = tensors.find(element); it != tensors.end())
      tensors[result] = it->second;
    else if (auto known = scalar(element))
      scalars[result] = *known;
    // Else left unknown (adaptive_max_pool2d's indices): a use fails there.
  };
  if (node->kind() == c10::prim::TupleUnpack) {
    for (auto [index, output] : llvm::enumerate(node->outputs()))
      bind(output, producer->input(index));
    return;
  }
  auto count = static_cast<int64_t>(producer->inputs().size());
  int64_t index = integer(node, node->input(1));
  if (index < 0)
    index += count;
  if (index < 0 || index >= count)
    fail(node, "tuple index " + std::to_string(index) + " is out of range");
  bind(node->output(0), producer->input(index));
}

Value Importer::number(jit::Node *node, double value) {
  // A Python number: a rank-0 constant (f32).
  auto type = RankedTensorType::get({}, builder.getF32Type());
  return arith::ConstantOp::create(
      builder, locationOf(context, node),
      DenseElementsAttr::get(type, static_cast<float>(value)));
}

Value Importer::tensorOrNumber(jit::Node *node, const jit::Value *value) {
  if (tensors.count(value))
    return tensors[value];
  auto known = scalar(value);
  if (!known || !(known->isDouble() || known->isInt() || known->isBool()))
    return tensor(node, value); // Reports the operand.
  return number(node, known->toScalar().toDouble());
}

Value Importer::elementwiseOp(jit::Node *node, StringRef op,
                              ValueRange operands) {
  SmallVector<Type> types;
  {
    DiagnosticCollector diagnostics(context);
    SmallVector<Type> operandTypes(operands.getTypes());
    if (failed(mlir::nsl::inferBroadcastType(locationOf(context, node),
                                             operandTypes, types)))
      fail(node, "the " + kindOf(node) + " node does not fit the nsl " +
                     "dialect's " + op.str() + ": " + diagnostics.joined());
  }
  OperationState state(locationOf(context, node), op);
  state.addOperands(operands);
  state.addTypes(types);
  return builder.create(state)->getResult(0);
}

/// Scalar arithmetic on two known numbers (shape code: `x.size(1) * 2`),
/// with Python's types: int op int stays an int, except true division.
static std::optional<c10::IValue>
scalarArithmetic(StringRef op, const c10::IValue &a, const c10::IValue &b) {
  if (!isNumber(a) || !isNumber(b))
    return std::nullopt;
  // The same operators on ints and on doubles.
  auto apply = [&](auto x, auto y) -> std::optional<c10::IValue> {
    if (op == "nsl.add")
      return c10::IValue(x + y);
    if (op == "nsl.sub")
      return c10::IValue(x - y);
    if (op == "nsl.mul")
      return c10::IValue(x * y);
    return std::nullopt;
  };
  if (!a.isDouble() && !b.isDouble() && op != "nsl.div")
    return apply(a.toScalar().toLong(), b.toScalar().toLong());
  double x = a.toScalar().toDouble(), y = b.toScalar().toDouble();
  if (op == "nsl.div")
    return c10::IValue(x / y);
  return apply(x, y);
}

void Importer::elementwise(jit::Node *node, const char *op,
                           ArrayRef<const char *> arguments) {
  const c10::FunctionSchema &schema = node->schema();
  if (schema.argumentIndexWithName("rounding_mode")) {
    auto mode = scalar(input(node, "rounding_mode"));
    if (!mode || !mode->isNone())
      fail(node, kindOf(node) + " with a rounding_mode is not supported");
  }
  SmallVector<const jit::Value *> values;
  if (schema.argumentIndexWithName(arguments[0])) {
    for (const char *argument : arguments)
      values.push_back(input(node, argument));
  } else {
    // The overloads on numbers (aten::mul.int(int a, int b)): shape code.
    values.assign(node->inputs().begin(), node->inputs().end());
  }
  bool anyTensor = llvm::any_of(
      values, [&](const jit::Value *v) { return tensors.count(v) > 0; });
  if (!anyTensor && values.size() == 2) {
    // Shape code on numbers, evaluated here.
    auto a = scalar(values[0]), b = scalar(values[1]);
    if (a && b)
      if (auto result = scalarArithmetic(op, *a, *b)) {
        if (schema.argumentIndexWithName("alpha") &&
            real(node, input(node, "alpha")) != 1.0)
          fail(node, kindOf(node) + " of numbers with alpha is not supported");
        scalars[node->output(0)] = *result;
        return;
      }
  }
  if (!anyTensor)
    fail(node, kindOf(node) + " is supported on tensors (or a tensor and a "
                              "number) only");
  SmallVector<Value> operands;
  for (const jit::Value *value : values)
    operands.push_back(tensorOrNumber(node, value));
  // aten::add, aten::sub and aten::rsub scale their second operand by alpha.
  if (schema.argumentIndexWithName("alpha")) {
    double alpha = real(node, input(node, "alpha"));
    if (alpha != 1.0)
      operands[1] =
          elementwiseOp(node, "nsl.mul", {operands[1], number(node, alpha)});
  }
  setTensor(node, elementwiseOp(node, op, operands));
}

void Importer::clamp(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  std::string kind = kindOf(node);
  auto bound = [&](const char *name, double byDefault) -> Value {
    if (kind.rfind("aten::relu6", 0) == 0)
      return number(node, byDefault);
    const jit::Value *value = input(node, name);
    if (auto known = scalar(value); known && known->isNone())
      return Value();
    return tensorOrNumber(node, value);
  };
  bool hardtanh = kind.rfind("aten::hardtanh", 0) == 0;
  Value low = bound(hardtanh ? "min_val" : "min", 0.0);
  Value high = bound(hardtanh ? "max_val" : "max", 6.0);
  if (!low && !high)
    fail(node, kind + " needs a min or a max");
  if (low)
    x = elementwiseOp(node, "nsl.clamp_min", {x, low});
  if (high)
    x = elementwiseOp(node, "nsl.clamp_max", {x, high});
  setTensor(node, x);
}

void Importer::concat(jit::Node *node) {
  SmallVector<Value> inputs = tensorList(node, input(node, "tensors"));
  if (inputs.empty())
    fail(node, "aten::cat of an empty list");
  int64_t rank = static_cast<int64_t>(shapeOf(inputs.front()).size());
  int64_t dim = integer(node, input(node, "dim"));
  if (dim < 0)
    dim += rank;
  if (dim == 0)
    fail(node, "aten::cat along the batch dimension is not supported (the "
               "batch is the runtime's to split)");
  if (inputs.size() == 1) {
    setTensor(node, inputs.front());
    return;
  }
  setTensor(node, build<mlir::nsl::ConcatOp>(node, ValueRange(inputs), dim));
}

void Importer::append(jit::Node *node) {
  const jit::Value *list = node->input(0);
  if (!appended.count(list)) {
    if (list->node()->kind() != c10::prim::ListConstruct)
      fail(node, "aten::append to a list not built in the graph "
                 "(prim::ListConstruct) is not supported");
    auto inputs = list->node()->inputs();
    appended[list].assign(inputs.begin(), inputs.end());
  }
  tensor(node, node->input(1)); // a tensor the importer computed
  appended[list].push_back(node->input(1));
}

void Importer::gelu(jit::Node *node) {
  std::string approximate = string(node, input(node, "approximate"));
  if (approximate != "none" && approximate != "tanh")
    fail(node, "gelu's approximate='" + approximate +
                   "' is not supported ('none' or 'tanh')");
  setTensor(node,
            elementwiseOp(node,
                          approximate == "none" ? "nsl.gelu" : "nsl.gelu_tanh",
                          {tensor(node, input(node, "self"))}));
}

void Importer::elu(jit::Node *node) {
  if (real(node, input(node, "scale")) != 1.0 ||
      real(node, input(node, "input_scale")) != 1.0)
    fail(node, kindOf(node) +
                   " is supported with scale 1 and input_scale 1 only "
                   "(F.elu; not selu or celu)");
  setTensor(node, elementwiseOp(node, "nsl.elu",
                                {tensor(node, input(node, "self")),
                                 tensorOrNumber(node, input(node, "alpha"))}));
}

void Importer::simConv(jit::Node *node) {
  std::string name = string(node, input(node, "structure"));
  auto structure = mlir::nsl::symbolizeStructure(name);
  if (!structure)
    fail(node, "unknown similarity structure '" + name + "'");
  setTensor(node,
            build<mlir::nsl::SimConv2dOp>(
                node, tensor(node, input(node, "input")),
                tensor(node, input(node, "weight")),
                ValueRange(tensorList(node, input(node, "similarity"))),
                optionalTensor(node, input(node, "bias")), *structure,
                boolean(node, input(node, "dynamic")),
                APFloat(static_cast<float>(real(node, input(node, "alpha")))),
                ints(node, input(node, "stride"), 2),
                ints(node, input(node, "padding"), 2),
                ints(node, input(node, "dilation"), 2),
                integer(node, input(node, "groups"))));
}

void Importer::sphereConv(jit::Node *node) {
  std::string name = string(node, input(node, "variant"));
  auto variant = mlir::nsl::symbolizeSphereVariant(name);
  if (!variant)
    fail(node, "unknown SphereConv variant '" + name + "'");
  auto f32 = [&](const char *arg) {
    return APFloat(static_cast<float>(real(node, input(node, arg))));
  };
  setTensor(node, build<mlir::nsl::SphereConv2dOp>(
                      node, tensor(node, input(node, "input")),
                      tensor(node, input(node, "weight")),
                      optionalTensor(node, input(node, "k_param")), *variant,
                      boolean(node, input(node, "input_only")), f32("epsilon"),
                      f32("sigmoid_k"), ints(node, input(node, "stride"), 2),
                      ints(node, input(node, "padding"), 2),
                      ints(node, input(node, "dilation"), 2)));
}

void Importer::patchNorm(jit::Node *node) {
  setTensor(node,
            build<mlir::nsl::PatchNormOp>(
                node, tensor(node, input(node, "input")),
                ints(node, input(node, "kernel_size"), 2),
                APFloat(static_cast<float>(real(node, input(node, "epsilon")))),
                ints(node, input(node, "stride"), 2),
                ints(node, input(node, "padding"), 2),
                ints(node, input(node, "dilation"), 2)));
}

void Importer::predictedSimilarity(jit::Node *node) {
  std::string name = string(node, input(node, "structure"));
  auto structure = mlir::nsl::symbolizeStructure(name);
  if (!structure)
    fail(node, "unknown similarity structure '" + name + "'");
  setTensor(node, build<mlir::nsl::PredictedSimilarityOp>(
                      node, tensor(node, input(node, "prediction")),
                      tensor(node, input(node, "gamma")), *structure));
}

void Importer::simLinear(jit::Node *node) {
  std::string name = string(node, input(node, "structure"));
  auto structure = mlir::nsl::symbolizeStructure(name);
  if (!structure)
    fail(node, "unknown similarity structure '" + name + "'");
  setTensor(node,
            build<mlir::nsl::SimLinearOp>(
                node, tensor(node, input(node, "input")),
                tensor(node, input(node, "weight")),
                ValueRange(tensorList(node, input(node, "similarity"))),
                optionalTensor(node, input(node, "bias")), *structure,
                integer(node, input(node, "group_size")),
                APFloat(static_cast<float>(real(node, input(node, "alpha"))))));
}

void Importer::crossEntropy(jit::Node *node) {
  auto weight = scalar(input(node, "weight"));
  if (!weight || !weight->isNone())
    fail(node, "cross_entropy with class weights is not supported");
  // at::Reduction::Mean is 1.
  if (integer(node, input(node, "reduction")) != 1)
    fail(node, "cross_entropy is supported with reduction='mean' only");
  if (integer(node, input(node, "ignore_index")) != -100)
    fail(node, "cross_entropy's ignore_index is not supported");
  Value labels = tensor(node, input(node, "target"));
  if (!cast<RankedTensorType>(labels.getType()).getElementType().isInteger(64))
    fail(node, "cross_entropy's target must be a model input (the labels)");
  setTensor(node, build<mlir::nsl::SoftmaxCrossEntropyOp>(
                      node, tensor(node, input(node, "self")), labels,
                      APFloat(static_cast<float>(
                          real(node, input(node, "label_smoothing"))))));
}

/// Scalar plumbing that scripted code computes on shapes and flags; its
/// value is known here, so the prim::If it feeds is resolved statically.
void Importer::scalarOp(jit::Node *node) {
  c10::Symbol kind = node->kind();
  auto operand = [&](size_t i) { return constant(node, node->input(i)); };
  auto isNoneValue = [&](size_t i) {
    const jit::Value *v = node->input(i);
    if (tensors.count(v))
      return false;
    return constant(node, v).isNone();
  };
  c10::IValue result;
  if (kind == c10::aten::dim) {
    result = static_cast<int64_t>(shapeOf(tensor(node, node->input(0))).size());
  } else if (kind == c10::aten::size) {
    ArrayRef<int64_t> shape = shapeOf(tensor(node, node->input(0)));
    if (node->inputs().size() == 1) {
      result =
          c10::List<int64_t>(std::vector<int64_t>(shape.begin(), shape.end()));
    } else {
      int64_t dim = integer(node, node->input(1));
      if (dim < 0)
        dim += shape.size();
      if (dim < 0 || dim >= static_cast<int64_t>(shape.size()))
        fail(node, "size() of a dimension out of range");
      result = shape[dim];
    }
  } else if (kind == c10::aten::len) {
    c10::IValue list = operand(0);
    if (list.isList())
      result = static_cast<int64_t>(list.toListRef().size());
    else if (list.isTuple())
      result = static_cast<int64_t>(list.toTupleRef().elements().size());
    else
      fail(node, "len() of a value the importer cannot evaluate");
  } else if (kind == c10::aten::__is__ || kind == c10::aten::__isnot__) {
    bool lhsNone = isNoneValue(0), rhsNone = isNoneValue(1);
    if (!lhsNone && !rhsNone)
      fail(node, "identity comparison of two non-None values is not supported");
    result = (kind == c10::aten::__is__) == (lhsNone && rhsNone);
  } else if (kind == c10::aten::__contains__) {
    // `mode in ["batch", "row"]` on constants (torchvision's checks).
    c10::IValue list = operand(0), element = operand(1);
    if (!list.isList())
      fail(node, "`in` on a value the importer cannot evaluate");
    bool found = false;
    for (const c10::IValue &item : list.toListRef())
      found = found || compareConstants(item, element) == 0;
    result = found;
  } else if (kind == c10::aten::__not__) {
    result = !boolean(node, node->input(0));
  } else if (kind == c10::aten::__and__ || kind == c10::aten::__or__) {
    bool a = boolean(node, node->input(0)), b = boolean(node, node->input(1));
    result = kind == c10::aten::__and__ ? (a && b) : (a || b);
  } else {
    c10::IValue a = operand(0), b = operand(1);
    std::optional<int> order = compareConstants(a, b);
    if (!order)
      fail(node, "cannot compare these values statically");
    result = comparisonHolds(kind, *order);
  }
  scalars[node->output(0)] = result;
}

void Importer::floorDivision(jit::Node *node) {
  // Shape code only (channels // groups): Python's floor division and
  // modulo of two known numbers.
  // Traced shape code holds its numbers in rank-0 tensor constants too.
  auto known = [&](const jit::Value *value) -> std::optional<c10::IValue> {
    if (auto number = scalar(value))
      return number;
    if (value->node()->kind() == c10::prim::Constant)
      if (auto constant = jit::toIValue(value);
          constant && constant->isTensor() && constant->toTensor().numel() == 1)
        return constant->toTensor().item().isIntegral(false)
                   ? c10::IValue(constant->toTensor().item().toLong())
                   : c10::IValue(constant->toTensor().item().toDouble());
    return std::nullopt;
  };
  auto a = known(node->input(0)), b = known(node->input(1));
  if (!a || !b || !isNumber(*a) || !isNumber(*b))
    fail(node, kindOf(node) + " is supported on numbers (shape arithmetic) "
                              "only, not on tensors");
  bool modulo = node->kind() == c10::aten::remainder;
  if (!a->isDouble() && !b->isDouble()) {
    int64_t x = a->toScalar().toLong(), y = b->toScalar().toLong();
    if (y == 0)
      fail(node, "integer division by zero");
    int64_t quotient = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
    scalars[node->output(0)] =
        c10::IValue(modulo ? x - quotient * y : quotient);
    return;
  }
  double x = a->toScalar().toDouble(), y = b->toScalar().toDouble();
  double quotient = std::floor(x / y);
  scalars[node->output(0)] = c10::IValue(modulo ? x - quotient * y : quotient);
}

void Importer::ifNode(jit::Node *node) {
  auto condition = scalar(node->input(0));
  if (!condition || !condition->isBool())
    fail(node, kDataDependent);
  jit::Block *taken = node->blocks()[condition->toBool() ? 0 : 1];
  translateBlock(taken);
  for (auto [index, output] : llvm::enumerate(taken->outputs())) {
    jit::Value *result = node->output(index);
    if (auto it = tensors.find(output); it != tensors.end())
      tensors[result] = it->second;
    else if (auto known = scalar(output))
      scalars[result] = *known;
  }
}

const std::unordered_map<std::string, Importer::Handler> &Importer::handlers() {
  // Table-driven: one entry per TorchScript kind; several kinds share a
  // translation when their schemas name the same arguments.
  static const std::unordered_map<std::string, Handler> table = [] {
    std::unordered_map<std::string, Handler> t;
    auto identity = [](Importer &self, jit::Node *node) {
      self.setTensor(node, self.tensor(node, node->input(0)));
    };
    auto relu = [](Importer &self, jit::Node *node) {
      self.setTensor(node, self.build<mlir::nsl::ReluOp>(
                               node, self.tensor(node, node->input(0))));
    };
    auto dropout = [](Importer &self, jit::Node *node) {
      if (self.boolean(node, self.input(node, "train")))
        self.fail(node, "dropout in training mode is not supported: import "
                        "a model in eval mode");
      // Identity here; nslc --train refuses it (nsl.dropout) rather than
      // train without its masks.
      if (double p = self.real(node, self.input(node, "p")); p > 0.0)
        self.dropouts.push_back(describeLocation(node) +
                                " (p = " + std::to_string(p) + ")");
      self.setTensor(node, self.tensor(node, node->input(0)));
    };
    auto nothing = [](Importer &, jit::Node *) {};
    auto raise = [](Importer &self, jit::Node *node) {
      self.fail(node, "the model raises an exception for these input shapes "
                      "(a check in its forward failed)");
    };
    t["prim::GetAttr"] = &Importer::importAttribute;
    t["prim::Constant"] = &Importer::importConstant;
    t["prim::RaiseException"] = raise;
    t["nsl::sim_conv2d"] = &Importer::simConv;
    t["nsl::sphere_conv2d"] = &Importer::sphereConv;
    t["nsl::patch_norm"] = &Importer::patchNorm;
    t["nsl::predicted_similarity"] = &Importer::predictedSimilarity;
    t["nsl::sim_linear"] = &Importer::simLinear;
    t["aten::conv2d"] = &Importer::convolution;
    t["aten::_convolution"] = &Importer::convolution;
    t["aten::batch_norm"] = &Importer::batchNorm;
    t["aten::relu"] = relu;
    t["aten::relu_"] = relu;
    t["aten::max_pool2d"] = &Importer::pool;
    t["aten::avg_pool2d"] = &Importer::pool;
    t["aten::adaptive_avg_pool2d"] = &Importer::adaptivePool;
    t["aten::adaptive_max_pool2d"] = &Importer::adaptivePool;
    t["prim::TupleIndex"] = &Importer::tupleElements;
    t["aten::cross_entropy_loss"] = &Importer::crossEntropy;
    for (const ElementwiseTorchOp &row : elementwiseTorchOps)
      t[row.torch] = [row](Importer &self, jit::Node *node) {
        self.elementwise(node, row.nsl,
                         ArrayRef<const char *>(row.arguments, row.arity));
      };
    for (const char *kind :
         {"aten::clamp", "aten::clamp_", "aten::clip", "aten::clip_",
          "aten::hardtanh", "aten::hardtanh_", "aten::relu6", "aten::relu6_"})
      t[kind] = &Importer::clamp;
    t["aten::cat"] = &Importer::concat;
    t["aten::append"] = &Importer::append;
    t["aten::concat"] = &Importer::concat;
    t["aten::gelu"] = &Importer::gelu;
    t["aten::gelu_"] = &Importer::gelu;
    t["aten::elu"] = &Importer::elu;
    t["aten::elu_"] = &Importer::elu;
    t["aten::dropout"] = dropout;
    t["aten::dropout_"] = dropout;
    t["aten::contiguous"] = identity;
    t["aten::detach"] = identity;
    t["prim::unchecked_cast"] = [](Importer &self, jit::Node *node) {
      if (self.tensors.count(node->input(0)))
        self.setTensor(node, self.tensors[node->input(0)]);
      else if (auto known = self.scalar(node->input(0)))
        self.scalars[node->output(0)] = *known;
    };
    for (const char *kind :
         {"aten::dim", "aten::size", "aten::len", "aten::__is__",
          "aten::__isnot__", "aten::__not__", "aten::__and__", "aten::__or__",
          "aten::__contains__", "aten::eq", "aten::ne", "aten::lt", "aten::le",
          "aten::gt", "aten::ge"})
      t[kind] = &Importer::scalarOp;
    t["prim::If"] = &Importer::ifNode;
    for (const char *kind :
         {"aten::floordiv", "aten::floor_divide", "aten::remainder"})
      t[kind] = &Importer::floorDivision;
    addLayoutHandlers(t);
    // Traced graphs turn sizes into tensors and back (x.size(0) in view).
    auto passScalar = [](Importer &self, jit::Node *node) {
      self.scalars[node->output(0)] = self.constant(node, node->input(0));
    };
    for (const char *kind : {"prim::NumToTensor", "aten::Int", "aten::Float",
                             "aten::ScalarImplicit"})
      t[kind] = passScalar;
    // Evaluated on demand (scalar()), or plumbing with nothing to build.
    // prim::Uninitialized stands for the value of a branch that raises.
    for (const char *kind :
         {"prim::ListConstruct", "prim::TupleConstruct", "aten::warn",
          "aten::format", "prim::Uninitialized"})
      t[kind] = nothing;
    return t;
  }();
  return table;
}

std::string Importer::inputTypes(const jit::Node *node) {
  // " (inputs: Tensor 2x3x8x8, int 1)": the shapes of the tensors computed
  // so far, the TorchScript type of the rest.
  std::string text;
  for (const jit::Value *value : node->inputs()) {
    text += text.empty() ? " (inputs: " : ", ";
    if (auto it = tensors.find(value); it != tensors.end())
      text += "Tensor " + shapeToString(shapeOf(it->second));
    else
      text += value->type()->annotation_str();
  }
  return text.empty() ? text : text + ")";
}

void Importer::translateNode(jit::Node *node) {
  const auto &table = handlers();
  std::string kind = kindOf(node);
  auto handler = table.find(kind);
  if (handler != table.end()) {
    handler->second(*this, node);
    // An in-place op (aten::mul_) changes its `self`: later uses of that
    // value read the result.
    if (kind.back() == '_' && node->inputs().size() > 0 &&
        node->outputs().size() == 1 && tensors.count(node->output(0)) &&
        tensors.count(node->input(0)))
      tensors[node->input(0)] = tensors[node->output(0)];
    return;
  }
  if (node->kind() == c10::prim::Loop)
    fail(node, "loops (prim::Loop) are not supported: the importer "
               "builds a static, straight-line graph");
  fail(node, "unsupported TorchScript node '" + kindOf(node) + "'" +
                 inputTypes(node) + "; the importer supports " +
                 supportedKinds());
}

void Importer::translateBlock(jit::Block *block) {
  for (jit::Node *node : block->nodes()) {
    // A node fed by a failed node is a consequence of that error, not
    // another one: skip it quietly.
    if (llvm::any_of(node->inputs(),
                     [&](const jit::Value *v) { return poisoned.count(v); })) {
      if (node->kind() == c10::prim::If &&
          reportedKinds.insert("prim::If").second)
        errors.push_back(describeLocation(node) + ": " + kDataDependent);
      for (const jit::Value *out : node->outputs())
        poisoned.insert(out);
      ++skippedNodes;
      continue;
    }
    try {
      translateNode(node);
      ++translatedNodes;
    } catch (const ImportError &error) {
      // One message per distinct node kind; a node whose operands could not
      // be translated is a consequence, not another error.
      for (const jit::Value *out : node->outputs())
        poisoned.insert(out);
      std::string kind = kindOf(node);
      failures.emplace_back(kind, error.message);
      if (reportedKinds.insert(kind).second)
        errors.push_back(error.message);
      if (node->kind() == c10::prim::If || node->kind() == c10::prim::Loop)
        throw; // what follows depends on an unknown branch
    }
  }
}

std::string Importer::report() const {
  // The failures by kind, in the order each kind first failed.
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<std::string>> messages;
  for (const auto &[kind, message] : failures) {
    if (!messages.count(kind))
      kinds.push_back(kind);
    messages[kind].push_back(message);
  }
  size_t total = translatedNodes + failures.size() + skippedNodes;
  std::string text;
  llvm::raw_string_ostream os(text);
  if (failures.empty()) {
    os << "all " << total << " nodes of forward can be imported\n";
    return text;
  }
  os << failures.size() << " of " << total << " nodes of forward cannot be "
     << "imported (" << kinds.size() << " kind"
     << (kinds.size() == 1 ? "" : "s") << ")";
  if (skippedNodes)
    os << "; " << skippedNodes << " more depend on them";
  os << "\n";
  // The list of supported kinds once, at the end, not after every node.
  const std::string hint = "; the importer supports ";
  for (const std::string &kind : kinds) {
    const std::vector<std::string> &at = messages[kind];
    os << "  " << kind << ": " << at.size() << " node"
       << (at.size() == 1 ? "" : "s") << "\n";
    for (const std::string &message : at)
      os << "    " << message.substr(0, message.find(hint)) << "\n";
  }
  os << "the importer supports " << supportedKinds() << "\n";
  return text;
}

} // namespace nsl::frontend::importer
