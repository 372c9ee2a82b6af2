//===- Elementwise.h - The elementwise ops of the reference ------*- C++
//-*-===//
//
// Every elementwise op of the dialect is a row of one table
// (dialect/NSLElementwise.td): a formula of its operands and the derivative
// by each operand. The rows' C++ is generated (ElementwiseOps.inc); these
// functions apply a row with NumPy broadcasting, in double precision, and
// its VJP (the gradient of a broadcast operand sums over the dimensions it
// was stretched along).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_ELEMENTWISE_H
#define NSL_RUNTIME_REFERENCE_ELEMENTWISE_H

#include "runtime/reference/Tensor.h"

#include <string>
#include <vector>

namespace nsl::reference {

struct ElementwiseRow {
  /// The op's name (its mnemonic).
  const char *name;
  /// 1 (`x`) or 2 (`x`, `y`).
  int arity;
  /// The result from the operands' values.
  double (*formula)(const double *operands);
  /// The derivative by each operand from the operands' values and the
  /// result.
  std::vector<double (*)(const double *operands, double out)> derivatives;
};

/// Every row, in the table's order.
const std::vector<ElementwiseRow> &elementwiseRows();
/// The row named `name`, or null.
const ElementwiseRow *findElementwiseRow(const std::string &name);

/// The NumPy broadcast of two shapes; throws ReferenceError naming `op`
/// when they do not broadcast.
Shape broadcastShapes(const Shape &a, const Shape &b, const std::string &op);

/// The row applied to `operands` (one per operand of the row), broadcast.
Tensor elementwise(const ElementwiseRow &row,
                   const std::vector<Tensor> &operands);

/// The gradients of the operands listed in `wrt` (ascending) for the
/// upstream gradient of the broadcast result, each of its operand's shape.
std::vector<Tensor> elementwiseVJP(const ElementwiseRow &row,
                                   const std::vector<Tensor> &operands,
                                   const Tensor &gradOutput,
                                   const std::vector<int64_t> &wrt);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_ELEMENTWISE_H
