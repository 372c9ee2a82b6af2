//===- HoistWeightPreparation.cpp - Weight-only work out of inference ----===//
//
// --nsl-hoist-weight-preparation (Passes.td): what an inference function
// computes from its weights alone moves into a prepare function, which the
// runtime runs when the weights change instead of on every call.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialect/NSLDialect.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_HOISTWEIGHTPREPARATION
#include "passes/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

bool isWeightArgument(func::FuncOp function, unsigned index) {
  auto role =
      function.getArgAttrOfType<StringAttr>(index, NSLDialect::kRoleAttr);
  return role &&
         (role.getValue() == "parameter" || role.getValue() == "buffer");
}

/// The ops of the function's body that depend only on weights and constants
/// (at least one weight), in order, and what they need from outside.
struct WeightOnlyOps {
  llvm::SetVector<Operation *> ops;
  /// The weight arguments the ops read, in argument order.
  SmallVector<BlockArgument> weights;
  /// The ops' results used by ops that stay (or returned), in op order.
  SmallVector<Value> boundary;
};

WeightOnlyOps findWeightOnlyOps(func::FuncOp function) {
  Block &body = function.getBody().front();
  llvm::DenseSet<Value> weightOnly, constant;
  for (BlockArgument argument : body.getArguments())
    if (isWeightArgument(function, argument.getArgNumber()))
      weightOnly.insert(argument);
  WeightOnlyOps found;
  for (Operation &op : body.without_terminator()) {
    if (op.getNumRegions() || !isMemoryEffectFree(&op))
      continue;
    if (matchPattern(&op, m_Constant())) {
      constant.insert(op.result_begin(), op.result_end());
      continue;
    }
    bool anyWeight = false, onlyWeights = op.getNumOperands() > 0;
    for (Value operand : op.getOperands()) {
      anyWeight = anyWeight || weightOnly.contains(operand);
      onlyWeights = onlyWeights && (weightOnly.contains(operand) ||
                                    constant.contains(operand));
    }
    if (!anyWeight || !onlyWeights)
      continue;
    found.ops.insert(&op);
    weightOnly.insert(op.result_begin(), op.result_end());
  }
  llvm::SetVector<BlockArgument> weights;
  for (Operation *op : found.ops) {
    for (Value operand : op->getOperands())
      if (auto argument = dyn_cast<BlockArgument>(operand))
        weights.insert(argument);
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !found.ops.contains(user);
          }))
        found.boundary.push_back(result);
  }
  found.weights = weights.takeVector();
  llvm::sort(found.weights, [](BlockArgument a, BlockArgument b) {
    return a.getArgNumber() < b.getArgNumber();
  });
  return found;
}

/// The name of the first weight `value` depends on (depth first).
StringRef rootWeightName(func::FuncOp function, Value value) {
  if (auto argument = dyn_cast<BlockArgument>(value))
    if (auto name = function.getArgAttrOfType<StringAttr>(
            argument.getArgNumber(), NSLDialect::kNameAttr);
        name && isWeightArgument(function, argument.getArgNumber()))
      return name.getValue();
  if (Operation *op = value.getDefiningOp())
    for (Value operand : op->getOperands())
      if (StringRef name = rootWeightName(function, operand); !name.empty())
        return name;
  return {};
}

struct HoistWeightPreparationPass
    : nsl::impl::HoistWeightPreparationBase<HoistWeightPreparationPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto function = module.lookupSymbol<func::FuncOp>(this->function);
    if (!function) {
      module.emitError() << "--nsl-hoist-weight-preparation: no function @"
                         << this->function;
      return signalPassFailure();
    }
    if (function.getBody().getBlocks().size() != 1) {
      function.emitError() << "--nsl-hoist-weight-preparation needs a "
                              "function of one block";
      return signalPassFailure();
    }
    WeightOnlyOps found = findWeightOnlyOps(function);
    if (found.boundary.empty())
      return;
    std::string name =
        prepare.empty() ? "prepare_" + this->function : prepare.getValue();
    if (module.lookupSymbol(name)) {
      function.emitError() << "--nsl-hoist-weight-preparation: @" << name
                           << " exists already";
      return signalPassFailure();
    }
    SmallVector<std::string> names = derivedNames(function, found.boundary);
    func::FuncOp prep = createPrepare(function, found, name, names);
    addDerivedArguments(function, found, names);
    function->setAttr(NSLDialect::kPreparedByAttr,
                      FlatSymbolRefAttr::get(prep.getSymNameAttr()));
  }

  /// `<weight>@prepared`, `#2`, `#3`, ... where names clash.
  static SmallVector<std::string> derivedNames(func::FuncOp function,
                                               ArrayRef<Value> values) {
    llvm::StringSet<> taken;
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      if (auto n =
              function.getArgAttrOfType<StringAttr>(i, NSLDialect::kNameAttr))
        taken.insert(n.getValue());
    SmallVector<std::string> names;
    for (Value value : values) {
      std::string base = rootWeightName(function, value).str() + "@prepared";
      std::string candidate = base;
      for (int k = 2; !taken.insert(candidate).second; ++k)
        candidate = base + "#" + std::to_string(k);
      names.push_back(candidate);
    }
    return names;
  }

  /// @name(weights) → boundary values, the weight-only ops cloned (with the
  /// constants they read), placed after `function`.
  static func::FuncOp createPrepare(func::FuncOp function,
                                    const WeightOnlyOps &found, StringRef name,
                                    ArrayRef<std::string> resultNames) {
    OpBuilder builder(function->getContext());
    builder.setInsertionPointAfter(function);
    SmallVector<Type> argumentTypes, resultTypes;
    for (BlockArgument weight : found.weights)
      argumentTypes.push_back(weight.getType());
    for (Value value : found.boundary)
      resultTypes.push_back(value.getType());
    auto prep = func::FuncOp::create(
        builder, function.getLoc(), name,
        builder.getFunctionType(argumentTypes, resultTypes));
    Block *body = prep.addEntryBlock();
    IRMapping mapping;
    for (auto [index, weight] : llvm::enumerate(found.weights)) {
      mapping.map(weight, body->getArgument(index));
      prep.setArgAttrs(index, function.getArgAttrDict(weight.getArgNumber()));
    }
    builder.setInsertionPointToEnd(body);
    for (Operation *op : found.ops) {
      for (Value operand : op->getOperands())
        if (!mapping.contains(operand))
          builder.clone(*operand.getDefiningOp(), mapping); // A constant.
      builder.clone(*op, mapping);
    }
    SmallVector<Value> results;
    for (auto [index, value] : llvm::enumerate(found.boundary)) {
      results.push_back(mapping.lookup(value));
      prep.setResultAttr(index, NSLDialect::kNameAttr,
                         builder.getStringAttr(resultNames[index]));
    }
    func::ReturnOp::create(builder, function.getLoc(), results);
    return prep;
  }

  /// The boundary values become trailing `derived` arguments of `function`;
  /// the weight-only ops go.
  static void addDerivedArguments(func::FuncOp function,
                                  const WeightOnlyOps &found,
                                  ArrayRef<std::string> names) {
    MLIRContext *context = function->getContext();
    for (auto [boundary, name] : llvm::zip(found.boundary, names)) {
      Value value = boundary;
      unsigned index = function.getNumArguments();
      NamedAttribute attrs[] = {
          NamedAttribute(StringAttr::get(context, NSLDialect::kNameAttr),
                         StringAttr::get(context, name)),
          NamedAttribute(StringAttr::get(context, NSLDialect::kRoleAttr),
                         StringAttr::get(context, "derived"))};
      (void)function.insertArgument(index, value.getType(),
                                    DictionaryAttr::get(context, attrs),
                                    value.getLoc());
      value.replaceAllUsesWith(function.getArgument(index));
    }
    for (Operation *op : llvm::reverse(found.ops))
      op->erase();
  }
};

} // namespace
