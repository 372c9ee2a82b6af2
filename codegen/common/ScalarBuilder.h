//===- ScalarBuilder.h - The vocabulary of the elementwise formulas -*- C++
//-*-===//
//
// The elementwise rows' formulas (dialect/NSLElementwise.td) are generated as
// calls on this builder (dialect/ElementwiseLowering.inc), one method per
// operator and function of the formula language: f32 scalars in a
// linalg.generic body, i1 for comparisons.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_SCALARBUILDER_H
#define NSL_CODEGEN_COMMON_SCALARBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace mlir::nsl {

class ScalarBuilder {
public:
  ScalarBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value constant(double value) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value pow(Value x, Value y) { return math::PowFOp::create(b, loc, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value log(Value x) { return math::LogOp::create(b, loc, x); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, loc, x); }
  Value rsqrt(Value x) { return div(constant(1.0), sqrt(x)); }
  Value tanh(Value x) { return math::TanhOp::create(b, loc, x); }
  Value erf(Value x) { return math::ErfOp::create(b, loc, x); }
  Value abs(Value x) { return math::AbsFOp::create(b, loc, x); }
  /// NaN-propagating, as torch.minimum and torch.maximum.
  Value min(Value x, Value y) {
    return arith::MinimumFOp::create(b, loc, x, y);
  }
  Value max(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value lt(Value x, Value y) {
    return compare(arith::CmpFPredicate::OLT, x, y);
  }
  Value le(Value x, Value y) {
    return compare(arith::CmpFPredicate::OLE, x, y);
  }
  Value gt(Value x, Value y) {
    return compare(arith::CmpFPredicate::OGT, x, y);
  }
  Value ge(Value x, Value y) {
    return compare(arith::CmpFPredicate::OGE, x, y);
  }
  Value eq(Value x, Value y) {
    return compare(arith::CmpFPredicate::OEQ, x, y);
  }
  Value select(Value condition, Value x, Value y) {
    return arith::SelectOp::create(b, loc, condition, x, y);
  }

private:
  Value compare(arith::CmpFPredicate predicate, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, predicate, x, y);
  }

  OpBuilder &b;
  Location loc;
};

/// One row's formula and derivatives as builders (generated).
struct ElementwiseFormula {
  const char *name;
  Value (*formula)(ScalarBuilder &, ValueRange operands);
  std::vector<Value (*)(ScalarBuilder &, ValueRange operands, Value out)>
      derivatives;
};

/// Every row's, by the op's mnemonic (dialect/ElementwiseLowering.inc).
const std::vector<ElementwiseFormula> &elementwiseFormulas();

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_SCALARBUILDER_H
