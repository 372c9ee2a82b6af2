//===- Tensor.h - Tensors of the runtime -------------------------*- C++
//-*-===//
//
// The runtime's tensors hold their elements in the artifact's own types
// (float32, int64), dense and row-major, in storage aligned to 64 bytes so
// that vectorised kernels can read caller tensors, weights and the arena
// alike. A tensor either owns its storage (shared between copies, as with
// torch.Tensor; clone() copies the elements) or is a view of memory that its
// caller keeps alive.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_TENSOR_H
#define NSL_RUNTIME_ARTIFACT_TENSOR_H

#include "runtime/artifact/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nsl::reference {
struct Tensor;
} // namespace nsl::reference

namespace nsl::runtime {

enum class DType { F32, I64 };

/// "f32" or "i64", as in manifest.json.
const char *dtypeName(DType dtype);
/// Parses "f32" or "i64".
std::optional<DType> parseDType(std::string_view name);
/// Bytes per element: 4 or 8.
size_t itemSize(DType dtype);

using Shape = std::vector<int64_t>;

/// "[2, 3]".
std::string shapeToString(const Shape &shape);
/// "f32[2, 3]".
std::string typeToString(DType dtype, const Shape &shape);
/// The number of elements; throws Error for a negative dimension or so many
/// elements that their byte count would overflow int64.
int64_t numElements(const Shape &shape);

class Tensor {
public:
  /// The alignment of owned storage (and of the arena).
  static constexpr size_t alignment = 64;

  /// An f32 tensor of shape [0] (no elements).
  Tensor();
  /// An owned tensor filled with zeros. Throws Error if it cannot be
  /// allocated.
  Tensor(DType dtype, Shape shape);
  /// A view of `data`, which the caller keeps alive (and aligned to at least
  /// the element size) while the view or its copies are used.
  static Tensor view(DType dtype, Shape shape, void *data);

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t byteSize() const {
    return static_cast<size_t>(numel_) * itemSize(dtype_);
  }
  bool isView() const { return !storage_ && data_; }
  /// "f32[2, 3]".
  std::string typeString() const { return typeToString(dtype_, shape_); }

  void *data() { return data_; }
  const void *data() const { return data_; }
  /// The elements as T (float for f32, int64_t for i64); throws Error if T
  /// is not the element type.
  template <typename T> T *data() {
    checkElementType(std::is_same_v<T, float>, std::is_same_v<T, int64_t>);
    return static_cast<T *>(data_);
  }
  template <typename T> const T *data() const {
    return const_cast<Tensor *>(this)->data<T>();
  }
  /// Element `index` of the row-major order, bounds-checked.
  template <typename T> T &at(int64_t index) {
    checkIndex(index);
    return data<T>()[index];
  }
  template <typename T> const T &at(int64_t index) const {
    return const_cast<Tensor *>(this)->at<T>(index);
  }

  /// An owned copy of the elements.
  Tensor clone() const;

private:
  void checkElementType(bool isFloat, bool isInt64) const;
  void checkIndex(int64_t index) const;

  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> storage_; // null for views
  void *data_ = nullptr;
};

/// The reference's double tensors (checking against the oracle): f32 values
/// are rounded to float, i64 values must be integers within int64.
Tensor fromReference(const reference::Tensor &tensor);
reference::Tensor toReference(const Tensor &tensor);

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_TENSOR_H
