//===- Tensor.cpp - Tensors of the reference implementation ---------------===//

#include "runtime/reference/Tensor.h"

#include "runtime/support/Npy.h"

#include <limits>

namespace nsl::reference {

const char *dtypeName(DType dtype) {
  return dtype == DType::I64 ? "i64" : "f32";
}

DType parseDType(const std::string &name) {
  if (name == "f32")
    return DType::F32;
  if (name == "i64")
    return DType::I64;
  throw ReferenceError("unknown dtype '" + name + "' (expected f32 or i64)");
}

std::string shapeToString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numElements(const Shape &shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw ReferenceError("shape " + shapeToString(shape) +
                           " has a negative dimension");
    if (d > 0 && count > std::numeric_limits<int64_t>::max() / d)
      throw ReferenceError("shape " + shapeToString(shape) +
                           " has too many elements");
    count *= d;
  }
  return count;
}

Tensor::Tensor(Shape shape, std::vector<double> values, DType dtype)
    : dtype(dtype), shape(std::move(shape)), data(std::move(values)) {
  if (numElements(this->shape) != static_cast<int64_t>(data.size()))
    throw ReferenceError("a tensor of shape " + shapeToString(this->shape) +
                         " needs " + std::to_string(numElements(this->shape)) +
                         " values, got " + std::to_string(data.size()));
}

Tensor loadNpy(const std::string &path) {
  support::NpyArray array = support::readNpy(path);
  DType dtype =
      array.dtype[0] == 'i' ? DType::I64 : DType::F32; // i32/i64 vs f32/f64
  return Tensor(array.shape, std::move(array.values), dtype);
}

void saveNpy(const std::string &path, const Tensor &tensor) {
  support::NpyArray array;
  array.dtype = tensor.dtype == DType::I64 ? "i64" : "f32";
  array.shape = tensor.shape;
  array.values = tensor.data;
  support::writeNpy(path, array);
}

} // namespace nsl::reference
