//===- Elementwise.cpp - The elementwise ops of the reference -------------===//
#include "runtime/reference/Elementwise.h"

#include <algorithm>
#include <cmath>

namespace nsl::reference {

const std::vector<ElementwiseRow> &elementwiseRows() {
  static const std::vector<ElementwiseRow> rows = {
#include "runtime/reference/ElementwiseOps.inc"
  };
  return rows;
}

const ElementwiseRow *findElementwiseRow(const std::string &name) {
  for (const ElementwiseRow &row : elementwiseRows())
    if (name == row.name)
      return &row;
  return nullptr;
}

Shape broadcastShapes(const Shape &a, const Shape &b, const std::string &op) {
  size_t rank = std::max(a.size(), b.size());
  Shape shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ReferenceError(op + ": operands of shapes " + shapeToString(a) +
                           " and " + shapeToString(b) + " do not broadcast");
    shape[i] = da == 1 ? db : da;
  }
  return shape;
}

namespace {

/// The flat index into `operand` of each element of the broadcast `result`.
std::vector<int64_t> broadcastIndices(const Shape &operand,
                                      const Shape &result) {
  size_t rank = result.size(), offset = rank - operand.size();
  // The operand's stride for each result dimension (0 where stretched).
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t i = operand.size(); i-- > 0;) {
    if (operand[i] != 1)
      strides[offset + i] = stride;
    stride *= operand[i];
  }
  std::vector<int64_t> indices(static_cast<size_t>(numElements(result)));
  std::vector<int64_t> position(rank, 0);
  for (int64_t &index : indices) {
    int64_t flat = 0;
    for (size_t d = 0; d < rank; ++d)
      flat += position[d] * strides[d];
    index = flat;
    for (size_t d = rank; d-- > 0;) {
      if (++position[d] < result[d])
        break;
      position[d] = 0;
    }
  }
  return indices;
}

Shape resultShape(const ElementwiseRow &row,
                  const std::vector<Tensor> &operands) {
  if (static_cast<int>(operands.size()) != row.arity)
    throw ReferenceError(std::string(row.name) + ": takes " +
                         std::to_string(row.arity) + " operands, got " +
                         std::to_string(operands.size()));
  Shape shape = operands.front().shape;
  for (const Tensor &t : operands)
    shape = broadcastShapes(shape, t.shape, row.name);
  return shape;
}

} // namespace

Tensor elementwise(const ElementwiseRow &row,
                   const std::vector<Tensor> &operands) {
  Shape shape = resultShape(row, operands);
  Tensor result(shape);
  std::vector<std::vector<int64_t>> indices;
  for (const Tensor &t : operands)
    indices.push_back(broadcastIndices(t.shape, shape));
  double values[2] = {0.0, 0.0};
  for (size_t i = 0; i < result.data.size(); ++i) {
    for (size_t k = 0; k < operands.size(); ++k)
      values[k] = operands[k].data[static_cast<size_t>(indices[k][i])];
    result.data[i] = row.formula(values);
  }
  return result;
}

std::vector<Tensor> elementwiseVJP(const ElementwiseRow &row,
                                   const std::vector<Tensor> &operands,
                                   const Tensor &gradOutput,
                                   const std::vector<int64_t> &wrt) {
  Shape shape = resultShape(row, operands);
  if (gradOutput.shape != shape)
    throw ReferenceError(std::string(row.name) +
                         ": the upstream gradient must have the result's "
                         "shape " +
                         shapeToString(shape) + ", got " +
                         shapeToString(gradOutput.shape));
  std::vector<std::vector<int64_t>> indices;
  for (const Tensor &t : operands)
    indices.push_back(broadcastIndices(t.shape, shape));
  std::vector<Tensor> grads;
  for (int64_t k : wrt)
    grads.emplace_back(operands.at(static_cast<size_t>(k)).shape);
  double values[2] = {0.0, 0.0};
  for (size_t i = 0; i < gradOutput.data.size(); ++i) {
    for (size_t k = 0; k < operands.size(); ++k)
      values[k] = operands[k].data[static_cast<size_t>(indices[k][i])];
    double out = row.formula(values);
    for (size_t g = 0; g < wrt.size(); ++g) {
      size_t k = static_cast<size_t>(wrt[g]);
      grads[g].data[static_cast<size_t>(indices[k][i])] +=
          gradOutput.data[i] * row.derivatives[k](values, out);
    }
  }
  return grads;
}

} // namespace nsl::reference
