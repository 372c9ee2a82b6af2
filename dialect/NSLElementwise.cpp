//===- NSLElementwise.cpp - What every elementwise row shares -------------===//
//
// The C++ of the elementwise ops (NSLElementwise.td) is the same for every
// row: broadcasting, the printed types, the VJP op and its verifier. A new
// row needs none of it written again.
//
//===----------------------------------------------------------------------===//
#include "dialect/NSLOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::nsl;

/// The NumPy broadcast of two shapes, or std::nullopt.
static std::optional<SmallVector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                                     ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    shape[i] = da == 1 ? db : da;
  }
  return shape;
}

static std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

/// The broadcast type of `operands`, or a null type and why in `error`.
static Type broadcastType(ArrayRef<Type> operands, std::string &error) {
  auto first = cast<RankedTensorType>(operands.front());
  SmallVector<int64_t> shape(first.getShape());
  for (Type type : operands.drop_front()) {
    auto tensor = cast<RankedTensorType>(type);
    std::optional<SmallVector<int64_t>> joined =
        broadcast(shape, tensor.getShape());
    if (!joined) {
      error = "operands of shapes " + shapeText(shape) + " and " +
              shapeText(tensor.getShape()) +
              " do not broadcast (a dimension must be equal or 1)";
      return {};
    }
    shape = std::move(*joined);
  }
  return first.clone(shape);
}

LogicalResult mlir::nsl::inferBroadcastType(std::optional<Location> location,
                                            ArrayRef<Type> operands,
                                            SmallVectorImpl<Type> &inferred) {
  std::string error;
  Type type = broadcastType(operands, error);
  if (!type)
    return location ? emitError(*location) << error : failure();
  inferred.push_back(type);
  return success();
}

LogicalResult mlir::nsl::verifyBroadcast(Operation *op) {
  SmallVector<Type> types(op->getOperandTypes());
  std::string error;
  Type result = broadcastType(types, error);
  if (!result)
    return op->emitOpError() << error;
  if (op->getResult(0).getType() != result)
    return op->emitOpError()
           << "the operands broadcast to " << result << ", but the result is "
           << op->getResult(0).getType();
  return success();
}

ParseResult mlir::nsl::parseBroadcastTypes(OpAsmParser &parser, Type &lhs,
                                           Type &rhs) {
  if (parser.parseType(lhs))
    return failure();
  rhs = lhs;
  if (succeeded(parser.parseOptionalComma()))
    return parser.parseType(rhs);
  return success();
}

void mlir::nsl::printBroadcastTypes(OpAsmPrinter &printer, Operation *,
                                    Type lhs, Type rhs) {
  printer << lhs;
  if (rhs != lhs)
    printer << ", " << rhs;
}

LogicalResult mlir::nsl::verifyElementwiseVJP(Operation *op) {
  ValueRange forward = op->getOperands().drop_back();
  Value gradOutput = op->getOperands().back();
  SmallVector<Type> types(forward.getTypes());
  std::string error;
  Type result = broadcastType(types, error);
  if (!result)
    return op->emitOpError() << error;
  if (gradOutput.getType() != result)
    return op->emitOpError() << "the upstream gradient must have the forward "
                                "result type "
                             << result << ", got " << gradOutput.getType();
  auto wrt = op->getAttrOfType<DenseI64ArrayAttr>("wrt");
  return verifyGradients(op, forward, wrt.asArrayRef());
}

std::optional<SmallVector<bool>>
mlir::nsl::elementwiseVJPPerSampleOperands(Operation *op) {
  auto grad = cast<RankedTensorType>(op->getOperands().back().getType());
  if (grad.getRank() == 0)
    return std::nullopt;
  SmallVector<bool> flags;
  for (Value operand : op->getOperands()) {
    auto type = cast<RankedTensorType>(operand.getType());
    flags.push_back(type.getRank() == grad.getRank() &&
                    type.getDimSize(0) == grad.getDimSize(0));
  }
  for (int64_t index : op->getAttrOfType<DenseI64ArrayAttr>("wrt").asArrayRef())
    if (!flags[index])
      return std::nullopt; // Its gradient sums over the batch.
  return flags;
}

LogicalResult mlir::nsl::buildElementwiseVJP(
    Operation *op, StringRef vjpName, ArrayRef<StringRef> derivatives,
    OpBuilder &builder, ArrayRef<Value> resultGrads, ArrayRef<bool> needed,
    SmallVectorImpl<Value> &operandGrads) {
  Value gradOutput = resultGrads.front();
  operandGrads.assign(op->getNumOperands(), Value());
  SmallVector<int64_t> wrt;
  SmallVector<Type> types;
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    if (!needed[i])
      continue;
    if (derivatives[i] == "1" && operand.getType() == gradOutput.getType()) {
      operandGrads[i] = gradOutput; // d(x + y)/dx = 1: nothing to compute.
      continue;
    }
    wrt.push_back(static_cast<int64_t>(i));
    types.push_back(operand.getType());
  }
  if (wrt.empty())
    return success();
  OperationState state(op->getLoc(), vjpName);
  state.addOperands(op->getOperands());
  state.addOperands(gradOutput);
  state.addAttribute("wrt", builder.getDenseI64ArrayAttr(wrt));
  state.addTypes(types);
  Operation *vjp = builder.create(state);
  for (auto [index, grad] : llvm::zip(wrt, vjp->getResults()))
    operandGrads[index] = grad;
  return success();
}
