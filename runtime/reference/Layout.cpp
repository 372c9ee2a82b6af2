//===- Layout.cpp - Reshapes, transposes, slices and reductions -----------===//
#include "runtime/reference/Layout.h"

#include "runtime/reference/Window.h"

#include <algorithm>
#include <limits>

namespace nsl::reference {

using namespace detail;

namespace {

/// Row-major strides of `shape`.
std::vector<int64_t> stridesOf(const Shape &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// Calls visit(i, j) for every row-major index i of `shape`, where j is
/// Σ_d index[d]·strides[d] for the given (possibly zero) strides.
template <typename Visit>
void forEachIndex(const Shape &shape, const std::vector<int64_t> &strides,
                  Visit visit) {
  const int64_t count = numElements(shape);
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> index(shape.size(), 0);
  int64_t j = 0;
  for (int64_t i = 0; i < count; ++i) {
    visit(i, j);
    for (int64_t d = rank - 1; d >= 0; --d) {
      j += strides[d];
      if (++index[d] < shape[d])
        break;
      j -= index[d] * strides[d];
      index[d] = 0;
    }
  }
}

void checkFloat(const char *op, const Tensor &x) {
  if (x.dtype != DType::F32)
    fail(op, std::string("input must be f32, got ") + dtypeName(x.dtype));
}

void checkUpstream(const char *op, const Tensor &gradOutput,
                   const Shape &expected) {
  if (gradOutput.shape != expected)
    fail(op, "upstream gradient must have shape " + shapeToString(expected) +
                 ", got " + shapeToString(gradOutput.shape));
}

void checkSlice(const char *op, const Tensor &x, int64_t dim, int64_t start,
                int64_t size) {
  checkFloat(op, x);
  if (dim < 0 || dim >= x.rank())
    fail(op, "dim " + std::to_string(dim) + " is not a dimension of " +
                 shapeToString(x.shape));
  if (start < 0 || size < 1 || start + size > x.dim(dim))
    fail(op, "the range [" + std::to_string(start) + ", " +
                 std::to_string(start + size) + ") does not lie in [0, " +
                 std::to_string(x.dim(dim)) + ") along dim " +
                 std::to_string(dim) + " of " + shapeToString(x.shape));
}

/// The reduced shape with keepdim (reduced dimensions of size 1), checking
/// `dims`.
Shape keptShape(const char *op, const Tensor &x,
                const std::vector<int64_t> &dims) {
  checkFloat(op, x);
  bool valid = !dims.empty();
  for (size_t i = 0; i < dims.size(); ++i)
    valid = valid && dims[i] >= 0 && dims[i] < x.rank() &&
            (i == 0 || dims[i - 1] < dims[i]);
  if (!valid)
    fail(op, "dims must be distinct ascending dimensions of " +
                 shapeToString(x.shape) + ", at least one");
  Shape kept = x.shape;
  for (int64_t d : dims)
    kept[d] = 1;
  return kept;
}

/// The result shape: `kept` with the reduced dimensions dropped unless
/// keepdim.
Shape resultShape(const Shape &kept, const std::vector<int64_t> &dims,
                  bool keepdim) {
  if (keepdim)
    return kept;
  Shape shape;
  for (int64_t d = 0; d < static_cast<int64_t>(kept.size()); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end())
      shape.push_back(kept[d]);
  return shape;
}

/// The strides that map an input index to its reduced element (0 along the
/// reduced dimensions).
std::vector<int64_t> reducedStrides(const Shape &kept,
                                    const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides = stridesOf(kept);
  for (int64_t d : dims)
    strides[d] = 0;
  return strides;
}

} // namespace

Tensor reshape(const Tensor &x, const Shape &shape) {
  const char *op = "reshape";
  checkFloat(op, x);
  if (shape.empty() || shape.size() > 6 ||
      std::any_of(shape.begin(), shape.end(),
                  [](int64_t size) { return size < 1; }) ||
      numElements(shape) != x.numel())
    fail(op, "cannot reshape " + shapeToString(x.shape) + " to " +
                 shapeToString(shape) +
                 " (same element count, positive sizes, rank 1 to 6)");
  return Tensor(shape, x.data, x.dtype);
}

Tensor transpose(const Tensor &x, const std::vector<int64_t> &permutation) {
  const char *op = "transpose";
  checkFloat(op, x);
  std::vector<bool> seen(x.shape.size(), false);
  bool valid = static_cast<int64_t>(permutation.size()) == x.rank();
  for (int64_t d : permutation) {
    valid = valid && d >= 0 && d < x.rank() && !seen[d];
    if (valid)
      seen[d] = true;
  }
  if (!valid)
    fail(op, "the permutation does not order the dimensions of " +
                 shapeToString(x.shape));
  Shape shape;
  std::vector<int64_t> inputStrides = stridesOf(x.shape), strides;
  for (int64_t d : permutation) {
    shape.push_back(x.dim(d));
    strides.push_back(inputStrides[d]);
  }
  Tensor y(shape);
  forEachIndex(shape, strides,
               [&](int64_t i, int64_t j) { y.data[i] = x.data[j]; });
  return y;
}

Tensor slice(const Tensor &x, int64_t dim, int64_t start, int64_t size) {
  checkSlice("slice", x, dim, start, size);
  Shape shape = x.shape;
  shape[dim] = size;
  const int64_t offset = start * stridesOf(x.shape)[dim];
  Tensor y(shape);
  forEachIndex(shape, stridesOf(x.shape),
               [&](int64_t i, int64_t j) { y.data[i] = x.data[offset + j]; });
  return y;
}

Tensor sliceVJP(const Tensor &x, int64_t dim, int64_t start, int64_t size,
                const Tensor &gradOutput) {
  const char *op = "slice VJP";
  checkSlice(op, x, dim, start, size);
  Shape shape = x.shape;
  shape[dim] = size;
  checkUpstream(op, gradOutput, shape);
  const int64_t offset = start * stridesOf(x.shape)[dim];
  Tensor dx(x.shape);
  forEachIndex(shape, stridesOf(x.shape), [&](int64_t i, int64_t j) {
    dx.data[offset + j] = gradOutput.data[i];
  });
  return dx;
}

Tensor reduce(const Tensor &x, Reduction kind, const std::vector<int64_t> &dims,
              bool keepdim) {
  Shape kept = keptShape("reduce", x, dims);
  Tensor y(resultShape(kept, dims, keepdim));
  if (kind == Reduction::Max)
    std::fill(y.data.begin(), y.data.end(),
              -std::numeric_limits<double>::infinity());
  forEachIndex(x.shape, reducedStrides(kept, dims), [&](int64_t i, int64_t j) {
    if (kind == Reduction::Max)
      y.data[j] = std::max(y.data[j], x.data[i]);
    else
      y.data[j] += x.data[i];
  });
  if (kind == Reduction::Mean) {
    const double count = static_cast<double>(x.numel() / y.numel());
    for (double &v : y.data)
      v /= count;
  }
  return y;
}

Tensor reduceVJP(const Tensor &x, Reduction kind,
                 const std::vector<int64_t> &dims, bool keepdim,
                 const Tensor &gradOutput) {
  const char *op = "reduce VJP";
  Shape kept = keptShape(op, x, dims);
  checkUpstream(op, gradOutput, resultShape(kept, dims, keepdim));
  std::vector<int64_t> strides = reducedStrides(kept, dims);
  Tensor dx(x.shape);
  std::vector<double> scale(
      gradOutput.data.size(),
      kind == Reduction::Mean
          ? 1.0 / static_cast<double>(x.numel() / gradOutput.numel())
          : 1.0);
  std::vector<double> maximum;
  if (kind == Reduction::Max) {
    // Ties share the gradient evenly (torch.amax).
    maximum = reduce(x, Reduction::Max, dims, keepdim).data;
    std::vector<double> ties(maximum.size(), 0.0);
    forEachIndex(x.shape, strides, [&](int64_t i, int64_t j) {
      ties[j] += x.data[i] == maximum[j] ? 1.0 : 0.0;
    });
    for (size_t j = 0; j < ties.size(); ++j)
      scale[j] = 1.0 / ties[j];
  }
  forEachIndex(x.shape, strides, [&](int64_t i, int64_t j) {
    bool takes = kind != Reduction::Max || x.data[i] == maximum[j];
    dx.data[i] = takes ? gradOutput.data[j] * scale[j] : 0.0;
  });
  return dx;
}

} // namespace nsl::reference
