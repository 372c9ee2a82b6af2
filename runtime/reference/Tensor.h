//===- Tensor.h - Tensors of the reference implementation -------*- C++ -*-===//
//
// The reference implementation is the oracle every backend is checked
// against. It stores every element as a double so that accumulation and all
// intermediate values of an interpreted network are computed in double
// precision (DESIGN.md §1). It depends on the C++ standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_TENSOR_H
#define NSL_RUNTIME_REFERENCE_TENSOR_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nsl::reference {

/// The element types a graph can carry. Integer tensors (class labels) keep
/// their values exactly in the double storage.
enum class DType { F32, I64 };

const char *dtypeName(DType dtype);
/// Parses "f32" or "i64"; throws ReferenceError otherwise.
DType parseDType(const std::string &name);

/// Every error of the reference (bad shapes, bad attributes, malformed
/// graphs) is reported with this exception and a message for people.
class ReferenceError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

using Shape = std::vector<int64_t>;

std::string shapeToString(const Shape &shape);
int64_t numElements(const Shape &shape);

/// A dense row-major tensor of any rank (rank 0 is a scalar).
struct Tensor {
  DType dtype = DType::F32;
  Shape shape;
  std::vector<double> data;

  Tensor() = default;
  Tensor(Shape shape, DType dtype = DType::F32)
      : dtype(dtype), shape(std::move(shape)),
        data(static_cast<size_t>(numElements(this->shape)), 0.0) {}
  Tensor(Shape shape, std::vector<double> values, DType dtype = DType::F32);

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(int64_t i) const { return shape.at(static_cast<size_t>(i)); }
};

/// Reads a .npy file (support/Npy.h): f32 and f64 arrays become F32 tensors
/// (f64 values keep their full precision in the double storage), i32 and i64
/// arrays become I64 tensors. Throws support::NpyError for a bad file.
Tensor loadNpy(const std::string &path);
/// Writes an F32 tensor as <f4 (values rounded to float) and an I64 tensor
/// as <i8. Throws support::NpyError when the file cannot be written.
void saveNpy(const std::string &path, const Tensor &tensor);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_TENSOR_H
