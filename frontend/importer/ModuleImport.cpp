//===- ModuleImport.cpp - A TorchScript module into func.func @forward ----===//
//
// The graph of `forward` is inlined (never frozen: parameters stay function
// arguments, DESIGN.md §2) and translated node by node, in order. Module
// attributes are reached through prim::GetAttr chains from `self`; values
// that are not tensors (ints, lists, strings, None, the module's flags) are
// evaluated here, so that the nodes computing on them fold away.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <mutex>
#include <sstream>

using namespace mlir;

namespace nsl::frontend::importer {
namespace {

/// frontend/schemas/nsl_ops.txt, embedded at build time (NSLSchemas.inc).
const char *const kSchemaText =
#include "frontend/importer/NSLSchemas.inc"
    ;

/// Registers the nsl:: schemas once per process, so that torch::jit::load
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

std::string firstLine(const std::string &text) {
  return text.substr(0, text.find('\n'));
}

/// The graph of `forward` with the submodules' methods inlined into it;
/// parameters stay GetAttr chains (no freezing), then TorchScript folds what
/// it can.
std::shared_ptr<jit::Graph> inlinedForward(const jit::Module &module) {
  jit::Method method = module.get_method("forward");
  std::shared_ptr<jit::Graph> graph = method.graph()->copy();
  jit::Inline(*graph);
  jit::ConstantPropagation(graph);
  jit::EliminateDeadCode(graph);
  return graph;
}

/// The values used as cross_entropy targets: the inputs among them are the
/// labels (i64, role `label`).
void findLabels(jit::Block *block,
                std::unordered_set<const jit::Value *> &labels) {
  for (jit::Node *node : block->nodes()) {
    if (node->kind() == c10::aten::cross_entropy_loss && node->maybeSchema())
      if (auto index = node->schema().argumentIndexWithName("target"))
        labels.insert(node->input(*index));
    for (jit::Block *inner : node->blocks())
      findLabels(inner, labels);
  }
}

LogicalResult verifyImported(ModuleOp moduleOp, std::string &error) {
  DiagnosticCollector diagnostics(*moduleOp.getContext());
  if (succeeded(verify(moduleOp)))
    return success();
  error = "the imported module does not verify: " + diagnostics.joined();
  return failure();
}

} // namespace

std::string describeException(const std::exception &failure) {
  if (const auto *error = dynamic_cast<const c10::Error *>(&failure))
    return firstLine(error->msg());
  return firstLine(failure.what());
}

std::optional<jit::Module> loadModule(const std::string &path,
                                      std::string &error) {
  std::optional<jit::Module> module;
  try {
    registerSchemas();
    module = jit::load(path);
    module->eval();
  } catch (const std::exception &failure) {
    error = "cannot load '" + path +
            "' as TorchScript: " + describeException(failure);
    return std::nullopt;
  }
  return module;
}

//===----------------------------------------------------------------------===//
// The function
//===----------------------------------------------------------------------===//

TorchImportResult Importer::run(const TorchImportOptions &options,
                                std::string &error) {
  std::shared_ptr<jit::Graph> graph = inlinedForward(module);
  stateDict.readStateDict(module);

  TorchImportResult result;
  auto moduleOp = ModuleOp::create(builder, UnknownLoc::get(&context));
  result.module = moduleOp;
  body = std::make_unique<Block>();
  builder.setInsertionPointToEnd(body.get());
  attributes[graph->inputs()[0]] = {module._ivalue(), ""};

  SmallVector<Value> outputs;
  if (failed(addInputs(*graph, options, error)))
    return {};
  if (failed(translateGraph(*graph, outputs, error))) {
    TorchImportResult failed;
    if (options.report) {
      failed.report = report();
      failed.failedNodes = failures.size();
    }
    return failed;
  }
  if (options.report)
    result.report = report();
  func::ReturnOp::create(builder, UnknownLoc::get(&context), outputs);
  buildForward(moduleOp);
  if (!dropouts.empty()) {
    SmallVector<Attribute> where;
    for (const std::string &location : dropouts)
      where.push_back(builder.getStringAttr(location));
    moduleOp->setAttr("nsl.dropout", builder.getArrayAttr(where));
  }
  if (failed(verifyImported(moduleOp, error)))
    return {};
  result.weights = stateDict.takeWeights();
  return result;
}

LogicalResult Importer::addInputs(jit::Graph &graph,
                                  const TorchImportOptions &options,
                                  std::string &error) {
  size_t tensorInputs = 0;
  for (jit::Value *in : graph.inputs().slice(1)) {
    if (!in->type()->isSubtypeOf(*c10::TensorType::get())) {
      error = "forward's input '" + in->debugName() + "' is a " +
              in->type()->str() + "; only tensor inputs are supported";
      return failure();
    }
    ++tensorInputs;
  }
  if (options.inputShapes.size() != tensorInputs) {
    error = "forward takes " + std::to_string(tensorInputs) +
            " tensor input(s); " + std::to_string(options.inputShapes.size()) +
            " --input-shape given";
    return failure();
  }
  std::unordered_set<const jit::Value *> labels;
  findLabels(graph.block(), labels);
  // The names of forward's schema: inlining may rename the graph's inputs
  // (GoogLeNet's scripted x becomes x0.11).
  const std::vector<c10::Argument> &arguments =
      module.get_method("forward").function().getSchema().arguments();
  for (auto [index, in] : llvm::enumerate(graph.inputs().slice(1))) {
    bool isLabels = labels.count(in);
    auto type = RankedTensorType::get(options.inputShapes[index],
                                      isLabels ? Type(builder.getI64Type())
                                               : Type(builder.getF32Type()));
    std::string name = arguments.size() == graph.inputs().size()
                           ? arguments[index + 1].name()
                           : in->debugName();
    // Traced graphs number their inputs ("x.1"): the user's name is first.
    name = name.substr(0, name.find('.'));
    tensors[in] =
        stateDict.addInput(*body, type, name, isLabels ? "label" : "input");
  }
  return success();
}

LogicalResult Importer::translateGraph(jit::Graph &graph,
                                       SmallVectorImpl<Value> &outputs,
                                       std::string &error) {
  try {
    translateBlock(graph.block());
    if (errors.empty())
      for (const jit::Value *out : graph.outputs())
        collectOutputs(out, outputs);
  } catch (const ImportError &failure) {
    if (llvm::find(errors, failure.message) == errors.end())
      errors.push_back(failure.message);
  }
  if (errors.empty())
    return success();
  error = llvm::join(errors, "\n");
  return failure();
}

void Importer::collectOutputs(const jit::Value *value,
                              SmallVectorImpl<Value> &outputs) {
  const jit::Node *producer = value->node();
  if (producer->kind() == c10::prim::TupleConstruct) {
    for (const jit::Value *element : producer->inputs())
      collectOutputs(element, outputs);
    return;
  }
  // A None in a returned tuple (GoogLeNet's scripted auxiliary outputs in
  // eval mode) has nothing to compute: it is left out.
  if (auto known = scalar(value); known && known->isNone())
    return;
  auto it = tensors.find(value);
  if (it == tensors.end())
    throw ImportError{"forward returns '%" + value->debugName() +
                      "', which is not a tensor; only tensors and tuples of "
                      "tensors can be returned"};
  outputs.push_back(it->second);
}

void Importer::buildForward(ModuleOp moduleOp) {
  std::unique_ptr<Block> sorted = stateDict.sortArguments(*body);
  body.reset();
  TypeRange resultTypes = sorted->getTerminator()->getOperandTypes();
  builder.setInsertionPointToEnd(moduleOp.getBody());
  auto functionType =
      builder.getFunctionType(sorted->getArgumentTypes(), resultTypes);
  auto function = func::FuncOp::create(builder, UnknownLoc::get(&context),
                                       "forward", functionType);
  function.getBody().push_back(sorted.release());
  for (auto [index, entry] : llvm::enumerate(stateDict.argumentNames()))
    function.setArgAttrs(
        index, builder.getDictionaryAttr(
                   {builder.getNamedAttr("nsl.name",
                                         builder.getStringAttr(entry.first)),
                    builder.getNamedAttr(
                        "nsl.role", builder.getStringAttr(entry.second))}));
  unsigned results = function.getNumResults();
  for (unsigned index = 0; index < results; ++index)
    function.setResultAttr(
        index, "nsl.name",
        builder.getStringAttr(results == 1 ? std::string("output")
                                           : "output" + std::to_string(index)));
}

//===----------------------------------------------------------------------===//
// Module attributes, IValues and constants
//===----------------------------------------------------------------------===//

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

void Importer::importAttribute(jit::Node *node) {
  auto [value, path] = resolve(node->output());
  if (value.isTensor())
    tensors[node->output()] =
        stateDict.bind(*body, node, value.toTensor(), path);
  else if (!value.isObject())
    scalars[node->output()] = value;
}

void Importer::importConstant(jit::Node *node) {
  if (!node->output()->type()->isSubtypeOf(*c10::TensorType::get()))
    return;
  at::Tensor value = node->t(c10::attr::value).to(at::kFloat).contiguous();
  SmallVector<int64_t> shape(value.sizes().begin(), value.sizes().end());
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  auto attr = DenseElementsAttr::get(
      type, ArrayRef<float>(value.data_ptr<float>(), value.numel()));
  tensors[node->output()] =
      arith::ConstantOp::create(builder, locationOf(context, node), attr);
}

std::optional<c10::IValue> Importer::scalar(const jit::Value *value) {
  auto it = scalars.find(value);
  if (it != scalars.end())
    return it->second;
  const jit::Node *producer = value->node();
  if (producer->kind() == c10::prim::Constant &&
      !value->type()->isSubtypeOf(*c10::TensorType::get()))
    return jit::toIValue(value);
  if (producer->kind() != c10::prim::ListConstruct &&
      producer->kind() != c10::prim::TupleConstruct)
    return std::nullopt;
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

} // namespace nsl::frontend::importer
