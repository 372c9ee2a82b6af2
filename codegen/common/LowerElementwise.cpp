//===- LowerElementwise.cpp - The elementwise rows to linalg --------------===//
//
// Every elementwise row (dialect/NSLElementwise.td) and its VJP lower the
// same way, for both targets: one linalg.generic over the broadcast result
// whose body is the row's generated formula (dialect/ElementwiseLowering.inc).
// The gradient of an operand sums `grad_output · d(formula)/d(operand)` over
// the dimensions the operand was stretched along, in f64, in a fixed order.
//
//===----------------------------------------------------------------------===//
#include "codegen/common/LinalgBuilder.h"
#include "codegen/common/ScalarBuilder.h"

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::lowering;

namespace mlir::nsl {
#include "dialect/ElementwiseLowering.inc"
} // namespace mlir::nsl

namespace {

const ElementwiseFormula *findFormula(StringRef name) {
  for (const ElementwiseFormula &formula : elementwiseFormulas())
    if (name == formula.name)
      return &formula;
  return nullptr;
}

/// The map from the loops over the broadcast `result` to an operand of
/// shape `operand`: a stretched (size-1) dimension reads index 0, a missing
/// one is not indexed.
AffineMap broadcastMap(LoweringBuilder &g, ArrayRef<int64_t> operand,
                       ArrayRef<int64_t> result) {
  unsigned rank = result.size(), offset = rank - operand.size();
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < operand.size(); ++i)
    exprs.push_back(operand[i] == 1 && result[offset + i] != 1
                        ? getAffineConstantExpr(0, g.ctx())
                        : g.d(offset + i));
  return g.map(rank, exprs);
}

Value forward(LoweringBuilder &g, const ElementwiseFormula &formula,
              ValueRange operands, RankedTensorType resultType) {
  ArrayRef<int64_t> result = resultType.getShape();
  SmallVector<AffineMap> maps;
  for (Value operand : operands)
    maps.push_back(broadcastMap(g, shapeOf(operand), result));
  maps.push_back(g.identity(result.size()));
  return g.generic(g.empty(result), operands, maps,
                   SmallVector<IteratorType>(result.size(), kParallel),
                   [&](OpBuilder &b, Location l, ValueRange a) {
                     ScalarBuilder e(b, l);
                     return formula.formula(e, a.drop_back());
                   });
}

/// The gradient of operand `k`: Σ over its stretched dimensions of
/// grad_output · d(formula)/d(operand k), reshaped to the operand's shape.
Value gradient(LoweringBuilder &g, const ElementwiseFormula &formula,
               ValueRange operands, Value gradOutput, unsigned k) {
  ArrayRef<int64_t> result = shapeOf(gradOutput);
  ArrayRef<int64_t> operand = shapeOf(operands[k]);
  unsigned rank = result.size(), offset = rank - operand.size();
  // The result dimensions the operand keeps (not stretched), and for each
  // operand dimension the kept dimension its reshape group belongs to.
  SmallVector<IteratorType> iterators(rank, kReduction);
  SmallVector<int64_t> kept;
  SmallVector<unsigned> keptDims;
  for (unsigned i = 0; i < operand.size(); ++i)
    if (operand[i] == result[offset + i]) {
      iterators[offset + i] = kParallel;
      kept.push_back(operand[i]);
      keptDims.push_back(offset + i);
    }
  SmallVector<AffineMap> maps;
  for (Value value : operands)
    maps.push_back(broadcastMap(g, shapeOf(value), result));
  maps.push_back(g.identity(rank));
  maps.push_back(g.dims(rank, keptDims));
  SmallVector<Value> inputs(operands);
  inputs.push_back(gradOutput);
  auto term = [&](OpBuilder &b, Location l, ValueRange a) -> Value {
    ScalarBuilder e(b, l);
    ValueRange values = a.take_front(operands.size());
    Value out = formula.formula(e, values);
    return e.mul(a[operands.size()], formula.derivatives[k](e, values, out));
  };
  Value sum = kept.size() == rank
                  ? g.generic(g.empty(kept), inputs, maps, iterators,
                              [&](OpBuilder &b, Location l, ValueRange a) {
                                return term(b, l, a.drop_back());
                              })
                  : preciseSum(g, kept, inputs, maps, iterators, term,
                               /*widenInputs=*/false);
  if (kept.size() == operand.size())
    return sum;
  // Stretched dimensions have size 1: each joins the group of a kept one.
  SmallVector<ReassociationIndices> groups;
  for (unsigned i = 0; i < operand.size(); ++i) {
    bool keeps = operand[i] == result[offset + i];
    if (groups.empty() || (keeps && groups.size() < kept.size() &&
                           llvm::any_of(groups.back(), [&](int64_t j) {
                             return operand[j] == result[offset + j];
                           })))
      groups.emplace_back();
    groups.back().push_back(i);
  }
  if (kept.empty())
    groups.clear();
  return g.expand(sum, operand, groups);
}

} // namespace

std::optional<FailureOr<SmallVector<Value>>>
mlir::nsl::lowering::lowerElementwiseOp(LoweringBuilder &g, Operation *op) {
  StringRef name = op->getName().stripDialect();
  bool vjp = name.consume_back("_vjp");
  const ElementwiseFormula *formula = findFormula(name);
  if (!formula)
    return std::nullopt;
  if (!vjp)
    return SmallVector<Value>{
        forward(g, *formula, op->getOperands(),
                cast<RankedTensorType>(op->getResult(0).getType()))};
  ValueRange operands = op->getOperands().drop_back();
  Value gradOutput = op->getOperands().back();
  SmallVector<Value> grads;
  for (int64_t k : op->getAttrOfType<DenseI64ArrayAttr>("wrt").asArrayRef())
    grads.push_back(
        gradient(g, *formula, operands, gradOutput, static_cast<unsigned>(k)));
  return grads;
}
