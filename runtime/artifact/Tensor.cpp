//===- Tensor.cpp - Tensors of the runtime --------------------------------===//

#include "runtime/artifact/Tensor.h"

#include "runtime/reference/Tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace nsl::runtime {

const char *dtypeName(DType dtype) {
  return dtype == DType::I64 ? "i64" : "f32";
}

std::optional<DType> parseDType(std::string_view name) {
  if (name == "f32")
    return DType::F32;
  if (name == "i64")
    return DType::I64;
  return std::nullopt;
}

size_t itemSize(DType dtype) { return dtype == DType::I64 ? 8 : 4; }

std::string shapeToString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string typeToString(DType dtype, const Shape &shape) {
  return dtypeName(dtype) + shapeToString(shape);
}

int64_t numElements(const Shape &shape) {
  // Bounded so that elements × 8 bytes fits an int64.
  constexpr int64_t limit = std::numeric_limits<int64_t>::max() / 8;
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw Error("shape " + shapeToString(shape) +
                  " has a negative dimension");
    if (d > 0 && count > limit / d)
      throw Error("shape " + shapeToString(shape) + " has too many elements");
    count *= d;
  }
  return count;
}

Tensor::Tensor() : shape_{0} {}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(numElements(shape_)) {
  size_t bytes = byteSize();
  if (bytes == 0)
    return;
  // aligned_alloc wants a multiple of the alignment.
  size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void *memory = std::aligned_alloc(alignment, rounded);
  if (!memory)
    throw Error("cannot allocate " + std::to_string(bytes) +
                " bytes for a tensor " + typeString());
  std::memset(memory, 0, rounded);
  storage_.reset(memory, std::free);
  data_ = memory;
}

Tensor Tensor::view(DType dtype, Shape shape, void *data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = numElements(t.shape_);
  if (!data && t.numel_ > 0)
    throw Error("a view of " + t.typeString() + " needs data, got null");
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  Tensor copy(dtype_, shape_);
  if (numel_ > 0)
    std::memcpy(copy.data_, data_, byteSize());
  return copy;
}

void Tensor::checkElementType(bool isFloat, bool isInt64) const {
  if ((dtype_ == DType::F32 && !isFloat) || (dtype_ == DType::I64 && !isInt64))
    throw Error(std::string("the elements of a tensor ") + typeString() +
                " are " + (dtype_ == DType::F32 ? "float" : "int64_t") +
                ", not the type asked for");
}

void Tensor::checkIndex(int64_t index) const {
  if (index < 0 || index >= numel_)
    throw Error("index " + std::to_string(index) + " is out of range for " +
                typeString() + " (" + std::to_string(numel_) + " elements)");
}

Tensor fromReference(const reference::Tensor &tensor) {
  DType dtype = tensor.dtype == reference::DType::I64 ? DType::I64 : DType::F32;
  Tensor t(dtype, tensor.shape);
  if (static_cast<int64_t>(tensor.data.size()) != t.numel())
    throw Error("a reference tensor " + t.typeString() + " holds " +
                std::to_string(tensor.data.size()) + " values");
  if (dtype == DType::F32) {
    float *out = t.data<float>();
    for (size_t i = 0; i < tensor.data.size(); ++i)
      out[i] = static_cast<float>(tensor.data[i]);
    return t;
  }
  int64_t *out = t.data<int64_t>();
  for (size_t i = 0; i < tensor.data.size(); ++i) {
    double x = tensor.data[i];
    // 2^63 is the first double past int64.
    if (!(x >= -0x1p63 && x < 0x1p63) || std::trunc(x) != x)
      throw Error("a reference i64 tensor holds " + std::to_string(x) +
                  " at index " + std::to_string(i) + ", not an int64");
    out[i] = static_cast<int64_t>(x);
  }
  return t;
}

reference::Tensor toReference(const Tensor &tensor) {
  reference::Tensor t(tensor.shape(), tensor.dtype() == DType::I64
                                          ? reference::DType::I64
                                          : reference::DType::F32);
  if (tensor.dtype() == DType::F32) {
    const float *in = tensor.data<float>();
    for (int64_t i = 0; i < tensor.numel(); ++i)
      t.data[static_cast<size_t>(i)] = in[i];
  } else {
    const int64_t *in = tensor.data<int64_t>();
    for (int64_t i = 0; i < tensor.numel(); ++i)
      t.data[static_cast<size_t>(i)] = static_cast<double>(in[i]);
  }
  return t;
}

} // namespace nsl::runtime
