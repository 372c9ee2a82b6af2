//===- TorchImporter.cpp - TorchScript models into the nsl dialect --------===//
//
// The graph of `forward` is inlined (never frozen: parameters stay function
// arguments, DESIGN.md §2) and translated node by node, in order. Tensors
// become SSA values with statically inferred types; everything else (ints,
// lists, strings, None, the module's flags) is evaluated here, so that the
// scripted graphs' prim::If on shapes and flags (batch norm's input checks,
// F.relu's `inplace`) reduce to the branch taken. Parameters and buffers
// are reached through prim::GetAttr chains from `self`; each tensor becomes
// one argument, named by its first state_dict key.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/TorchImporter.h"

#include "dialect/NSLDialect.h"
#include "dialect/NSLOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/FileSystem.h"

#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <functional>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

using namespace mlir;
namespace jit = torch::jit;

namespace nsl::frontend {
namespace {

/// frontend/schemas/nsl_ops.txt, embedded at build time (NSLSchemas.inc).
const char *const kSchemaText =
#include "frontend/importer/NSLSchemas.inc"
    ;

/// Registers the mlir::nsl:: schemas once per process, so that torch::jit::load
/// accepts models using them. Schema-only: the importer never runs them.
/// A process that registered them already (through Python) is left alone.
void registerSchemas() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (c10::Dispatcher::singleton().findSchema({"nsl::sim_conv2d", ""}))
      return;
    static torch::Library library(torch::Library::DEF, "nsl", c10::nullopt,
                                  __FILE__, __LINE__);
    std::istringstream lines(kSchemaText);
    std::string line;
    while (std::getline(lines, line)) {
      line = line.substr(0, line.find('#'));
      size_t first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos)
        continue;
      std::string schema = line.substr(first);
      library.def(schema.c_str());
    }
  });
}

/// An error with the TorchScript source location of its node.
struct ImportError {
  std::string message;
};

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

/// The kinds the translator knows, for the "supported instead" hint.
const char *const kSupportedKinds =
    "nsl::sim_conv2d, nsl::sphere_conv2d, nsl::patch_norm, "
    "nsl::predicted_similarity, nsl::sim_linear, aten::conv2d, "
    "aten::_convolution (groups 1), aten::batch_norm (eval), aten::relu, "
    "aten::max_pool2d, aten::avg_pool2d, aten::adaptive_avg_pool2d (output "
    "1), aten::linear (also addmm/matmul/mm with W.t()), "
    "aten::flatten/view/reshape (to [N, -1]), aten::add "
    "(alpha 1), aten::dropout (eval), aten::cross_entropy_loss (mean)";

const char *const kDataDependent =
    "data-dependent control flow (prim::If on a value computed from tensor "
    "data) is not supported: the importer builds a static graph; only "
    "conditions on shapes, constants and module flags are resolved";

class Importer {
public:
  Importer(MLIRContext &context, const jit::Module &module)
      : context(context), module(module), builder(&context) {}

  TorchImportResult run(const TorchImportOptions &options, std::string &error);

private:
  using Handler = std::function<void(Importer &, jit::Node *)>;
  static const std::unordered_map<std::string, Handler> &handlers();

  [[noreturn]] void fail(const jit::Node *node, const std::string &message) {
    throw ImportError{describeLocation(node) + ": " + message};
  }

  Location locationOf(const jit::Node *node) {
    if (auto flc = fileLineCol(node))
      return FileLineColLoc::get(&context, std::get<0>(*flc), std::get<1>(*flc),
                                 std::get<2>(*flc));
    return UnknownLoc::get(&context);
  }

  void translateBlock(jit::Block *block);
  void translateNode(jit::Node *node);

  // Values.
  Value tensor(jit::Node *node, const jit::Value *value);
  Value optionalTensor(jit::Node *node, const jit::Value *value);
  SmallVector<Value> tensorList(jit::Node *node, const jit::Value *value);
  std::optional<c10::IValue> scalar(const jit::Value *value);
  c10::IValue constant(jit::Node *node, const jit::Value *value);
  int64_t integer(jit::Node *node, const jit::Value *value);
  double real(jit::Node *node, const jit::Value *value);
  bool boolean(jit::Node *node, const jit::Value *value);
  std::string string(jit::Node *node, const jit::Value *value);
  SmallVector<int64_t> ints(jit::Node *node, const jit::Value *value,
                            size_t expand = 0);
  jit::Value *input(jit::Node *node, const char *name);
  void setTensor(jit::Node *node, Value result) {
    tensors[node->output(0)] = result;
  }
  static ArrayRef<int64_t> shapeOf(Value value) {
    return cast<RankedTensorType>(value.getType()).getShape();
  }

  /// Builds an nsl op through its ODS builder (a placeholder result type),
  /// then infers the result type with the op's own checker, so that a
  /// model the dialect rejects is an error here, not an abort.
  template <typename OpTy, typename... Args>
  Value build(jit::Node *node, Args &&...args) {
    OperationState state(locationOf(node), OpTy::getOperationName());
    Type placeholder = UnrankedTensorType::get(builder.getF32Type());
    OpTy::build(builder, state, TypeRange{placeholder},
                std::forward<Args>(args)...);
    state.types.clear();
    SmallVector<Type> types;
    std::string diagnostics;
    {
      ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
        diagnostics += (diagnostics.empty() ? "" : "; ") + diag.str();
        return success();
      });
      if (failed(OpTy::inferReturnTypes(
              &context, state.location, state.operands,
              state.attributes.getDictionary(&context),
              state.getRawProperties(), state.regions, types)))
        fail(node,
             "the " + kindOf(node) + " node does not fit the nsl dialect's " +
                 OpTy::getOperationName().str() + ": " +
                 (diagnostics.empty() ? "invalid operands" : diagnostics));
    }
    state.addTypes(types);
    return builder.create(state)->getResult(0);
  }

  /// The function argument of the parameter or buffer a GetAttr yields.
  Value parameter(jit::Node *node, const at::Tensor &value,
                  const std::string &path);
  /// Resolves a GetAttr chain from `self` to its object and dotted path.
  std::pair<c10::IValue, std::string> resolve(const jit::Value *value);

  // Node translations (the table in handlers()).
  void convolution(jit::Node *node);
  void batchNorm(jit::Node *node);
  void pool(jit::Node *node);
  void adaptiveAvgPool(jit::Node *node);
  void linear(jit::Node *node);
  void flatten(jit::Node *node);
  void reshape(jit::Node *node);
  void add(jit::Node *node);
  void simConv(jit::Node *node);
  void sphereConv(jit::Node *node);
  void patchNorm(jit::Node *node);
  void predictedSimilarity(jit::Node *node);
  void simLinear(jit::Node *node);
  void crossEntropy(jit::Node *node);
  void transpose(jit::Node *node);
  void matmul(jit::Node *node);
  void scalarOp(jit::Node *node);
  void ifNode(jit::Node *node);

  MLIRContext &context;
  const jit::Module &module;
  OpBuilder builder;
  Block *body = nullptr;
  std::unordered_map<const jit::Value *, Value> tensors;
  std::unordered_map<const jit::Value *, c10::IValue> scalars;
  /// Transposed 2-D weights (aten::t), built only as the weight of a
  /// linear layer: x @ W.t() (+ b) is nsl.linear(x, W, b).
  std::unordered_map<const jit::Value *, Value> transposed;
  std::unordered_map<const jit::Value *, std::pair<c10::IValue, std::string>>
      attributes;
  /// Parameters and buffers by tensor identity: a tensor shared under
  /// several state_dict keys is one argument, named by its first key.
  std::unordered_map<const c10::TensorImpl *, Value> parameterArgs;
  std::unordered_map<const c10::TensorImpl *, std::pair<std::string, bool>>
      stateDict; // impl -> (first key, is buffer)
  std::vector<std::pair<std::string, std::string>> argumentNames; // name,role
  std::map<std::string, ImportedTensor> weights;
  std::unordered_map<const c10::TensorImpl *, size_t> stateDictOrder;
  std::vector<const c10::TensorImpl *> argumentTensors; // null for inputs
  std::set<std::string> reportedKinds;
  std::unordered_set<const jit::Value *> poisoned;
  std::vector<std::string> errors;
};

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

jit::Value *Importer::input(jit::Node *node, const char *name) {
  // Schema argument names, not positions: the mlir::nsl:: schemas and aten's
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
  if (value->node()->kind() != c10::prim::ListConstruct)
    fail(node,
         "a tensor list must be built in the graph (prim::ListConstruct)");
  SmallVector<Value> values;
  for (const jit::Value *element : value->node()->inputs())
    values.push_back(tensor(node, element));
  return values;
}

std::optional<c10::IValue> Importer::scalar(const jit::Value *value) {
  auto it = scalars.find(value);
  if (it != scalars.end())
    return it->second;
  const jit::Node *producer = value->node();
  if (producer->kind() == c10::prim::Constant &&
      !value->type()->isSubtypeOf(*c10::TensorType::get()))
    return jit::toIValue(value);
  if (producer->kind() == c10::prim::ListConstruct ||
      producer->kind() == c10::prim::TupleConstruct) {
    std::vector<c10::IValue> elements;
    for (const jit::Value *element : producer->inputs()) {
      auto known = scalar(element);
      if (!known)
        return std::nullopt;
      elements.push_back(*known);
    }
    bool allInts = llvm::all_of(elements, [](auto &e) { return e.isInt(); });
    if (producer->kind() == c10::prim::ListConstruct && allInts) {
      c10::List<int64_t> list;
      for (auto &e : elements)
        list.push_back(e.toInt());
      return c10::IValue(list);
    }
    return c10::IValue(c10::ivalue::Tuple::create(std::move(elements)));
  }
  return std::nullopt;
}

c10::IValue Importer::constant(jit::Node *node, const jit::Value *value) {
  auto known = scalar(value);
  if (!known)
    fail(node, "argument '%" + value->debugName() + "' of " + kindOf(node) +
                   " must be a constant (it is made by " +
                   kindOf(value->node()) +
                   "); data-dependent values are not supported");
  return *known;
}

int64_t Importer::integer(jit::Node *node, const jit::Value *value) {
  c10::IValue v = constant(node, value);
  if (!v.isInt())
    fail(node, "expected an int for '%" + value->debugName() + "'");
  return v.toInt();
}

double Importer::real(jit::Node *node, const jit::Value *value) {
  c10::IValue v = constant(node, value);
  if (v.isInt())
    return static_cast<double>(v.toInt());
  if (!v.isDouble())
    fail(node, "expected a float for '%" + value->debugName() + "'");
  return v.toDouble();
}

bool Importer::boolean(jit::Node *node, const jit::Value *value) {
  c10::IValue v = constant(node, value);
  if (!v.isBool())
    fail(node, "expected a bool for '%" + value->debugName() + "'");
  return v.toBool();
}

std::string Importer::string(jit::Node *node, const jit::Value *value) {
  c10::IValue v = constant(node, value);
  if (!v.isString())
    fail(node, "expected a str for '%" + value->debugName() + "'");
  return v.toStringRef();
}

SmallVector<int64_t> Importer::ints(jit::Node *node, const jit::Value *value,
                                    size_t expand) {
  c10::IValue v = constant(node, value);
  SmallVector<int64_t> result;
  if (v.isInt()) {
    result.push_back(v.toInt());
  } else if (v.isIntList()) {
    for (int64_t i : v.toIntVector())
      result.push_back(i);
  } else if (v.isTuple()) {
    for (const c10::IValue &e : v.toTupleRef().elements()) {
      if (!e.isInt())
        fail(node, "expected ints in '%" + value->debugName() + "'");
      result.push_back(e.toInt());
    }
  } else {
    fail(node, "expected an int list for '%" + value->debugName() + "'");
  }
  // int[2] arguments accept a single value for both dimensions.
  if (expand && result.size() == 1)
    result.assign(expand, result[0]);
  if (expand && result.size() != expand)
    fail(node, "expected " + std::to_string(expand) + " values for '%" +
                   value->debugName() + "'");
  return result;
}

std::pair<c10::IValue, std::string> Importer::resolve(const jit::Value *value) {
  auto it = attributes.find(value);
  if (it != attributes.end())
    return it->second;
  const jit::Node *producer = value->node();
  if (producer->kind() != c10::prim::GetAttr)
    throw ImportError{describeLocation(producer) +
                      ": module attributes must be reached from self"};
  auto [object, path] = resolve(producer->input(0));
  std::string name = producer->s(c10::attr::name);
  if (!object.isObject())
    throw ImportError{describeLocation(producer) + ": '" + path +
                      "' is not a module"};
  c10::IValue attr = object.toObjectRef().getAttr(name);
  std::pair<c10::IValue, std::string> result{
      attr, path.empty() ? name : path + "." + name};
  attributes[value] = result;
  return result;
}

Value Importer::parameter(jit::Node *node, const at::Tensor &value,
                          const std::string &path) {
  const c10::TensorImpl *impl = value.unsafeGetTensorImpl();
  auto known = parameterArgs.find(impl);
  if (known != parameterArgs.end())
    return known->second;
  std::string name = path;
  bool buffer = true;
  auto entry = stateDict.find(impl);
  if (entry != stateDict.end()) {
    name = entry->second.first;
    buffer = entry->second.second;
  }
  if (value.is_complex() || !value.is_floating_point())
    fail(node, "parameter '" + name + "' has dtype " +
                   std::string(c10::toString(value.scalar_type())) +
                   "; the nsl dialect takes float32 tensors");
  at::Tensor data = value.detach().to(at::kFloat).contiguous();
  ImportedTensor imported;
  imported.shape.assign(data.sizes().begin(), data.sizes().end());
  imported.values.assign(data.data_ptr<float>(),
                         data.data_ptr<float>() + data.numel());
  auto type = RankedTensorType::get(imported.shape, builder.getF32Type());
  weights[name] = std::move(imported);
  Value argument = body->addArgument(type, locationOf(node));
  argumentNames.push_back({name, buffer ? "buffer" : "parameter"});
  argumentTensors.push_back(impl);
  parameterArgs[impl] = argument;
  return argument;
}

//===----------------------------------------------------------------------===//
// Node translations
//===----------------------------------------------------------------------===//

void Importer::convolution(jit::Node *node) {
  if (integer(node, input(node, "groups")) != 1)
    fail(node, "grouped convolutions are not supported (groups must be 1)");
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
                      ints(node, input(node, "dilation"), 2)));
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
  if (boolean(node, input(node, "ceil_mode")))
    fail(node, "ceil_mode=True is not supported");
  if (node->kind() == c10::aten::max_pool2d) {
    setTensor(node, build<mlir::nsl::MaxPool2dOp>(
                        node, x, kernel, stride, padding,
                        ints(node, input(node, "dilation"), 2)));
    return;
  }
  auto divisor = scalar(input(node, "divisor_override"));
  if (!divisor || !divisor->isNone())
    fail(node, "avg_pool2d's divisor_override is not supported");
  setTensor(node, build<mlir::nsl::AvgPool2dOp>(
                      node, x, kernel, stride, padding,
                      boolean(node, input(node, "count_include_pad"))));
}

void Importer::adaptiveAvgPool(jit::Node *node) {
  SmallVector<int64_t> size = ints(node, input(node, "output_size"), 2);
  if (size[0] != 1 || size[1] != 1)
    fail(node, "adaptive_avg_pool2d is supported with output size 1 only");
  setTensor(node, build<mlir::nsl::GlobalAvgPool2dOp>(
                      node, tensor(node, input(node, "self"))));
}

void Importer::linear(jit::Node *node) {
  setTensor(node, build<mlir::nsl::LinearOp>(
                      node, tensor(node, input(node, "input")),
                      tensor(node, input(node, "weight")),
                      optionalTensor(node, input(node, "bias"))));
}

void Importer::flatten(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  int64_t rank = shapeOf(x).size();
  int64_t start = integer(node, input(node, "start_dim"));
  int64_t end = integer(node, input(node, "end_dim"));
  if (start < 0)
    start += rank;
  if (end < 0)
    end += rank;
  if (start != 1 || end != rank - 1)
    fail(node, "flatten is supported from dimension 1 to the last only");
  if (rank == 2) {
    setTensor(node, x);
    return;
  }
  setTensor(node, build<mlir::nsl::FlattenOp>(node, x));
}

void Importer::reshape(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  SmallVector<int64_t> target = ints(node, input(node, "size"));
  int64_t features = 1;
  for (int64_t size : shape.drop_front())
    features *= size;
  bool toMatrix = !shape.empty() && target.size() == 2 &&
                  (target[0] == shape[0] || target[0] == -1) &&
                  (target[1] == features || target[1] == -1) &&
                  !(target[0] == -1 && target[1] == -1);
  if (!toMatrix)
    fail(node, "reshaping " + shapeToString(shape) + " to [" +
                   llvm::join(
                       llvm::map_range(
                           target, [](int64_t v) { return std::to_string(v); }),
                       ", ") +
                   "] is not supported; only [N, -1] (flatten) is");
  if (shape.size() == 2) {
    setTensor(node, x);
    return;
  }
  setTensor(node, build<mlir::nsl::FlattenOp>(node, x));
}

void Importer::add(jit::Node *node) {
  Value lhs = tensor(node, input(node, "self"));
  Value rhs = tensor(node, input(node, "other"));
  if (real(node, input(node, "alpha")) != 1.0)
    fail(node, "aten::add is supported with alpha 1 only");
  if (lhs.getType() != rhs.getType())
    fail(node, "aten::add of " + shapeToString(shapeOf(lhs)) + " and " +
                   shapeToString(shapeOf(rhs)) +
                   " is not supported: no broadcasting");
  setTensor(node, build<mlir::nsl::AddOp>(node, lhs, rhs));
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
                ints(node, input(node, "dilation"), 2)));
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

void Importer::transpose(jit::Node *node) {
  Value x = tensor(node, node->input(0));
  if (shapeOf(x).size() != 2)
    fail(node, "transposes are supported for 2-D weights only");
  if (node->kind() == c10::aten::transpose) {
    int64_t a = integer(node, node->input(1)),
            b = integer(node, node->input(2));
    if (!((a == 0 || a == -2) && (b == 1 || b == -1)) &&
        !((b == 0 || b == -2) && (a == 1 || a == -1)))
      fail(node, "transposes are supported for 2-D weights only");
  }
  transposed[node->output(0)] = x;
}

/// aten::matmul(x, W.t()) and aten::addmm(b, x, W.t()): a linear layer.
void Importer::matmul(jit::Node *node) {
  bool addmm = node->kind() == c10::aten::addmm;
  const jit::Value *rhs = input(node, addmm ? "mat2" : "other");
  auto weight = transposed.find(rhs);
  if (weight == transposed.end())
    fail(node, kindOf(node) + " is supported as x @ W.t() (a linear layer) "
                              "only");
  Value x = tensor(node, input(node, addmm ? "mat1" : "self"));
  if (shapeOf(x).size() != 2)
    fail(node, kindOf(node) + " is supported for 2-D inputs only");
  Value bias;
  if (addmm) {
    if (real(node, input(node, "beta")) != 1.0 ||
        real(node, input(node, "alpha")) != 1.0)
      fail(node, "aten::addmm is supported with beta 1 and alpha 1 only");
    bias = tensor(node, input(node, "self"));
    if (shapeOf(bias).size() != 1)
      fail(node, "aten::addmm is supported with a 1-D bias only");
  }
  setTensor(node, build<mlir::nsl::LinearOp>(node, x, weight->second, bias));
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
    bool same;
    bool lhsNone = isNoneValue(0), rhsNone = isNoneValue(1);
    if (lhsNone || rhsNone)
      same = lhsNone && rhsNone;
    else
      fail(node, "identity comparison of two non-None values is not supported");
    result = (kind == c10::aten::__is__) == same;
  } else if (kind == c10::aten::__not__) {
    result = !boolean(node, node->input(0));
  } else if (kind == c10::aten::__and__ || kind == c10::aten::__or__) {
    bool a = boolean(node, node->input(0)), b = boolean(node, node->input(1));
    result = kind == c10::aten::__and__ ? (a && b) : (a || b);
  } else {
    // Comparisons of ints, floats, bools and strings.
    c10::IValue a = operand(0), b = operand(1);
    int cmp;
    if (a.isString() && b.isString()) {
      cmp = a.toStringRef().compare(b.toStringRef());
    } else if ((a.isInt() || a.isDouble() || a.isBool()) &&
               (b.isInt() || b.isDouble() || b.isBool())) {
      auto num = [](const c10::IValue &v) {
        return v.isDouble() ? v.toDouble()
               : v.isBool() ? double(v.toBool())
                            : double(v.toInt());
      };
      double x = num(a), y = num(b);
      cmp = x < y ? -1 : x > y ? 1 : 0;
    } else {
      fail(node, "cannot compare these values statically");
    }
    if (kind == c10::aten::eq)
      result = cmp == 0;
    else if (kind == c10::aten::ne)
      result = cmp != 0;
    else if (kind == c10::aten::lt)
      result = cmp < 0;
    else if (kind == c10::aten::le)
      result = cmp <= 0;
    else if (kind == c10::aten::gt)
      result = cmp > 0;
    else
      result = cmp >= 0;
  }
  scalars[node->output(0)] = result;
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
      self.setTensor(node, self.tensor(node, node->input(0)));
    };
    auto nothing = [](Importer &, jit::Node *) {};
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
    t["aten::adaptive_avg_pool2d"] = &Importer::adaptiveAvgPool;
    t["aten::linear"] = &Importer::linear;
    t["aten::cross_entropy_loss"] = &Importer::crossEntropy;
    t["aten::t"] = &Importer::transpose;
    t["aten::transpose"] = &Importer::transpose;
    t["aten::matmul"] = &Importer::matmul;
    t["aten::mm"] = &Importer::matmul;
    t["aten::addmm"] = &Importer::matmul;
    t["aten::flatten"] = &Importer::flatten;
    t["aten::view"] = &Importer::reshape;
    t["aten::reshape"] = &Importer::reshape;
    t["aten::add"] = &Importer::add;
    t["aten::add_"] = &Importer::add;
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
          "aten::eq", "aten::ne", "aten::lt", "aten::le", "aten::gt",
          "aten::ge"})
      t[kind] = &Importer::scalarOp;
    t["prim::If"] = &Importer::ifNode;
    // Traced graphs turn sizes into tensors and back (x.size(0) in view).
    auto passScalar = [](Importer &self, jit::Node *node) {
      self.scalars[node->output(0)] = self.constant(node, node->input(0));
    };
    for (const char *kind : {"prim::NumToTensor", "aten::Int", "aten::Float",
                             "aten::ScalarImplicit"})
      t[kind] = passScalar;
    // Evaluated on demand (scalar()), or plumbing with nothing to build.
    for (const char *kind :
         {"prim::Constant", "prim::ListConstruct", "prim::TupleConstruct",
          "aten::warn", "aten::format"})
      t[kind] = nothing;
    return t;
  }();
  return table;
}

void Importer::translateNode(jit::Node *node) {
  std::string kind = kindOf(node);
  if (node->kind() == c10::prim::GetAttr) {
    auto [value, path] = resolve(node->output());
    if (value.isTensor())
      tensors[node->output()] = parameter(node, value.toTensor(), path);
    else if (!value.isObject())
      scalars[node->output()] = value;
    return;
  }
  if (node->kind() == c10::prim::Constant &&
      node->output()->type()->isSubtypeOf(*c10::TensorType::get())) {
    at::Tensor value = node->t(c10::attr::value).to(at::kFloat).contiguous();
    SmallVector<int64_t> shape(value.sizes().begin(), value.sizes().end());
    auto type = RankedTensorType::get(shape, builder.getF32Type());
    auto attr = DenseElementsAttr::get(
        type, ArrayRef<float>(value.data_ptr<float>(), value.numel()));
    tensors[node->output()] =
        arith::ConstantOp::create(builder, locationOf(node), attr);
    return;
  }
  if (node->kind() == c10::prim::RaiseException)
    fail(node, "the model raises an exception for these input shapes "
               "(a check in its forward failed)");
  const auto &table = handlers();
  auto handler = table.find(kind);
  if (handler == table.end()) {
    if (node->kind() == c10::prim::Loop)
      fail(node, "loops (prim::Loop) are not supported: the importer "
                 "builds a static, straight-line graph");
    fail(node, "unsupported TorchScript node '" + kind +
                   "'; the importer supports " + kSupportedKinds);
  }
  handler->second(*this, node);
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
      continue;
    }
    try {
      translateNode(node);
    } catch (const ImportError &error) {
      // One message per distinct node kind; a node whose operands could not
      // be translated is a consequence, not another error.
      for (const jit::Value *out : node->outputs())
        poisoned.insert(out);
      std::string kind = kindOf(node);
      if (reportedKinds.insert(kind).second)
        errors.push_back(error.message);
      if (node->kind() == c10::prim::If || node->kind() == c10::prim::Loop)
        throw; // what follows depends on an unknown branch
    }
  }
}

TorchImportResult Importer::run(const TorchImportOptions &options,
                                std::string &error) {
  TorchImportResult result;
  jit::Method method = module.get_method("forward");
  std::shared_ptr<jit::Graph> graph = method.graph()->copy();
  // Inline the submodules' methods into one graph; parameters stay GetAttr
  // chains (no freezing), then let TorchScript fold what it can.
  jit::Inline(*graph);
  jit::ConstantPropagation(graph);
  jit::EliminateDeadCode(graph);

  std::unordered_set<const c10::TensorImpl *> parameterSet;
  for (const auto &entry : module.named_parameters(/*recurse=*/true))
    parameterSet.insert(entry.value.unsafeGetTensorImpl());
  std::unordered_set<const c10::TensorImpl *> bufferSet;
  for (const auto &entry : module.named_buffers(/*recurse=*/true))
    bufferSet.insert(entry.value.unsafeGetTensorImpl());
  // The attributes in registration order are the state_dict's order: the
  // arguments follow it, so that scripted and traced models of one network
  // import to the same signature.
  for (const auto &entry : module.named_attributes(/*recurse=*/true)) {
    if (!entry.value.isTensor())
      continue;
    const c10::TensorImpl *impl = entry.value.toTensor().unsafeGetTensorImpl();
    bool isParameter = parameterSet.count(impl),
         isBuffer = bufferSet.count(impl);
    if (!isParameter && !isBuffer)
      continue;
    if (stateDict.emplace(impl, std::make_pair(entry.name, !isParameter))
            .second)
      stateDictOrder[impl] = stateDictOrder.size();
  }

  auto moduleOp = ModuleOp::create(builder, UnknownLoc::get(&context));
  result.module = moduleOp;
  body = new Block();
  std::unique_ptr<Block> ownedBody(body);
  builder.setInsertionPointToEnd(body);

  attributes[graph->inputs()[0]] = {module._ivalue(), ""};
  size_t tensorInputs = 0;
  for (jit::Value *in : graph->inputs().slice(1)) {
    if (!in->type()->isSubtypeOf(*c10::TensorType::get())) {
      error = "forward's input '" + in->debugName() + "' is a " +
              in->type()->str() + "; only tensor inputs are supported";
      return {};
    }
    ++tensorInputs;
  }
  if (options.inputShapes.size() != tensorInputs) {
    error = "forward takes " + std::to_string(tensorInputs) +
            " tensor input(s); " + std::to_string(options.inputShapes.size()) +
            " --input-shape given";
    return {};
  }
  // Inputs that are cross_entropy targets are the labels: i64, role label.
  std::unordered_set<const jit::Value *> labels;
  std::function<void(jit::Block *)> findLabels = [&](jit::Block *block) {
    for (jit::Node *node : block->nodes()) {
      if (node->kind() == c10::aten::cross_entropy_loss && node->maybeSchema())
        if (auto index = node->schema().argumentIndexWithName("target"))
          labels.insert(node->input(*index));
      for (jit::Block *inner : node->blocks())
        findLabels(inner);
    }
  };
  findLabels(graph->block());
  for (auto [index, in] : llvm::enumerate(graph->inputs().slice(1))) {
    bool isLabels = labels.count(in);
    auto type = RankedTensorType::get(options.inputShapes[index],
                                      isLabels ? Type(builder.getI64Type())
                                               : Type(builder.getF32Type()));
    tensors[in] = body->addArgument(type, UnknownLoc::get(&context));
    std::string name = in->debugName();
    // Traced graphs number their inputs ("x.1"): the user's name is first.
    name = name.substr(0, name.find('.'));
    argumentNames.push_back({name, isLabels ? "label" : "input"});
    argumentTensors.push_back(nullptr);
  }

  SmallVector<Value> outputs;
  try {
    translateBlock(graph->block());
    if (errors.empty()) {
      std::function<void(jit::Value *)> collect = [&](jit::Value *v) {
        if (v->node()->kind() == c10::prim::TupleConstruct) {
          for (jit::Value *element : v->node()->inputs())
            collect(element);
          return;
        }
        auto it = tensors.find(v);
        if (it == tensors.end())
          throw ImportError{"forward returns '%" + v->debugName() +
                            "', which is not a tensor; only tensors and "
                            "tuples of tensors can be returned"};
        outputs.push_back(it->second);
      };
      for (jit::Value *out : graph->outputs())
        collect(out);
    }
  } catch (const ImportError &failure) {
    if (errors.empty() || std::find(errors.begin(), errors.end(),
                                    failure.message) == errors.end())
      errors.push_back(failure.message);
  }
  if (!errors.empty()) {
    error = llvm::join(errors, "\n");
    return {};
  }

  func::ReturnOp::create(builder, UnknownLoc::get(&context), outputs);

  // Reorder the arguments: inputs first, then state_dict order.
  SmallVector<size_t> order(argumentNames.size());
  std::iota(order.begin(), order.end(), 0);
  auto rank = [&](size_t index) -> size_t {
    const c10::TensorImpl *impl = argumentTensors[index];
    if (!impl)
      return 0;
    auto it = stateDictOrder.find(impl);
    return it == stateDictOrder.end() ? stateDictOrder.size() + 1
                                      : it->second + 1;
  };
  // std::sort with the index as tie-break: libstdc++'s stable_sort uses a
  // deprecated helper that clang warns about.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_pair(rank(a), a) < std::make_pair(rank(b), b);
  });
  auto *sorted = new Block();
  std::vector<std::pair<std::string, std::string>> sortedNames;
  for (size_t index : order) {
    BlockArgument old = body->getArgument(index);
    old.replaceAllUsesWith(sorted->addArgument(old.getType(), old.getLoc()));
    sortedNames.push_back(argumentNames[index]);
  }
  sorted->getOperations().splice(sorted->end(), body->getOperations());
  ownedBody.reset(sorted);
  body = sorted;
  argumentNames = std::move(sortedNames);
  builder.setInsertionPointToEnd(moduleOp.getBody());
  auto functionType = builder.getFunctionType(body->getArgumentTypes(),
                                              ValueRange(outputs).getTypes());
  auto function = func::FuncOp::create(builder, UnknownLoc::get(&context),
                                       "forward", functionType);
  function.getBody().push_back(ownedBody.release());
  for (auto [index, entry] : llvm::enumerate(argumentNames))
    function.setArgAttrs(
        index, builder.getDictionaryAttr(
                   {builder.getNamedAttr("nsl.name",
                                         builder.getStringAttr(entry.first)),
                    builder.getNamedAttr(
                        "nsl.role", builder.getStringAttr(entry.second))}));
  for (size_t index = 0; index < outputs.size(); ++index)
    function.setResultAttr(
        index, "nsl.name",
        builder.getStringAttr(outputs.size() == 1
                                  ? std::string("output")
                                  : "output" + std::to_string(index)));

  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += (diagnostics.empty() ? "" : "; ") + diag.str();
      return success();
    });
    if (failed(verify(moduleOp))) {
      error = "the imported module does not verify: " + diagnostics;
      return {};
    }
  }
  result.weights = std::move(weights);
  return result;
}

} // namespace

bool parseShape(const std::string &text, std::vector<int64_t> &shape) {
  shape.clear();
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, 'x')) {
    if (part.empty() ||
        part.find_first_not_of("0123456789") != std::string::npos)
      return false;
    try {
      int64_t size = std::stoll(part);
      if (size <= 0)
        return false;
      shape.push_back(size);
    } catch (const std::exception &) {
      return false;
    }
  }
  return !shape.empty() && text.back() != 'x';
}

TorchImportResult importTorchScript(MLIRContext &context,
                                    const std::string &path,
                                    const TorchImportOptions &options,
                                    std::string &error) {
  context.loadDialect<mlir::nsl::NSLDialect, func::FuncDialect,
                      arith::ArithDialect>();
  if (!llvm::sys::fs::exists(path)) {
    error = "cannot open '" + path + "': No such file or directory";
    return {};
  }
  // LibTorch reports with exceptions: c10::Error (whose what() appends a
  // C++ backtrace, so only its message is kept) and torch::jit::ErrorReport
  // or other std::exceptions. Loading and translating are told apart.
  auto firstLine = [](std::string text) {
    return text.substr(0, text.find('\n'));
  };
  std::optional<jit::Module> module;
  try {
    registerSchemas();
    module = jit::load(path);
    module->eval();
  } catch (const c10::Error &failure) {
    error = "cannot load '" + path +
            "' as TorchScript: " + firstLine(failure.msg());
    return {};
  } catch (const std::exception &failure) {
    error = "cannot load '" + path +
            "' as TorchScript: " + firstLine(failure.what());
    return {};
  }
  if (!module->find_method("forward")) {
    error = "'" + path + "' has no forward method";
    return {};
  }
  try {
    Importer importer(context, *module);
    return importer.run(options, error);
  } catch (const c10::Error &failure) {
    error = "importing '" + path + "' failed: " + firstLine(failure.msg());
  } catch (const std::exception &failure) {
    error = "importing '" + path + "' failed: " + firstLine(failure.what());
  }
  return {};
}

} // namespace nsl::frontend
