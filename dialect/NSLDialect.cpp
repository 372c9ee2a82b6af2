//===- NSLDialect.cpp - The nsl dialect -------------------------*- C++ -*-===//
#include "dialect/NSLDialect.h"
#include "dialect/NSLOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace mlir::nsl;

#include "dialect/NSLDialect.cpp.inc"

void NSLDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/NSLOps.cpp.inc"
      >();
}

ArrayRef<StringLiteral> NSLDialect::argumentRoles() {
  static constexpr StringLiteral roles[] = {
      "input",           "parameter",     "buffer", "label",
      "optimizer_state", "learning_rate", "derived"};
  return roles;
}

Operation *NSLDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  if (auto elements = dyn_cast<DenseElementsAttr>(value))
    if (elements.getType() == type)
      return arith::ConstantOp::create(builder, loc, type, elements);
  return nullptr;
}

LogicalResult NSLDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!function)
    return op->emitError() << "'" << attr.getName().getValue()
                           << "' is only valid on function arguments";
  auto emit = [&]() {
    return op->emitError() << "argument #" << argIndex << " of @"
                           << function.getName() << ": ";
  };
  StringRef other = attr.getName() == kNameAttr ? kRoleAttr : kNameAttr;
  if (attr.getName() == kNameAttr) {
    auto name = dyn_cast<StringAttr>(attr.getValue());
    if (!name || name.getValue().empty())
      return emit() << "'nsl.name' must be a non-empty string";
    // Names identify parameters in checkpoints; each may occur once.
    for (unsigned i = 0; i < argIndex; ++i)
      if (function.getArgAttrOfType<StringAttr>(i, kNameAttr) == name)
        return emit() << "'nsl.name' \"" << name.getValue()
                      << "\" is already the name of argument #" << i;
  } else if (attr.getName() == kRoleAttr) {
    auto role = dyn_cast<StringAttr>(attr.getValue());
    if (!role || !llvm::is_contained(argumentRoles(), role.getValue())) {
      auto diag = emit() << "'nsl.role' must be one of ";
      llvm::interleaveComma(argumentRoles(), diag);
      return diag << "; got " << attr.getValue();
    }
  } else {
    return emit() << "unknown argument attribute '" << attr.getName().getValue()
                  << "' (the nsl argument attributes are 'nsl.name' and "
                     "'nsl.role')";
  }
  if (!function.getArgAttr(argIndex, other))
    return emit() << "has '" << attr.getName().getValue() << "' but no '"
                  << other << "'; model arguments need both";
  return success();
}

LogicalResult NSLDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  // The code generator's own attributes (nsl.kernel, nsl.grid, ...) are
  // checked where they are read.
  if (attr.getName() != kPreparedByAttr)
    return success();
  auto function = dyn_cast<FunctionOpInterface>(op);
  auto symbol = dyn_cast<FlatSymbolRefAttr>(attr.getValue());
  if (!function || !symbol)
    return op->emitError() << "'" << kPreparedByAttr
                           << "' must be a symbol reference on a function";
  Operation *prepare = SymbolTable::lookupNearestSymbolFrom(op, symbol);
  if (!prepare || !isa<FunctionOpInterface>(prepare))
    return op->emitError() << "'" << kPreparedByAttr << "' names " << symbol
                           << ", which is not a function of the module";
  return success();
}

LogicalResult NSLDialect::verifyRegionResultAttribute(Operation *op,
                                                      unsigned regionIndex,
                                                      unsigned resultIndex,
                                                      NamedAttribute attr) {
  if (attr.getName() != kNameAttr)
    return op->emitError() << "unknown result attribute '"
                           << attr.getName().getValue()
                           << "' (the nsl result attribute is 'nsl.name')";
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "result #" << resultIndex
                           << ": 'nsl.name' must be a non-empty string";
  return success();
}
