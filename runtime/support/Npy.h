//===- Npy.h - NumPy .npy files ----------------------------------*- C++
//-*-===//
//
// Reads and writes NumPy's .npy format so that tests and tools can exchange
// tensors with PyTorch/NumPy scripts. Reading accepts format versions 1.0 and
// 2.0 with little-endian float32, float64, int64 and int32 data and uint8
// ('|u1': the pixels of image data sets) in C order; writing produces
// version 1.0 (what every NumPy reads). Values travel as doubles, which hold
// every float32, int32 and uint8 exactly, and int64 values up to 2^53 in
// magnitude (larger ones are rejected rather than silently rounded).
// Depends on the C++ standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_SUPPORT_NPY_H
#define NSL_RUNTIME_SUPPORT_NPY_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nsl::support {

/// Every problem with a .npy file (missing, truncated, malformed, an
/// unsupported dtype or layout) is reported with this exception; the message
/// names the file and the problem.
class NpyError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A dense C-order array. `dtype` is "f32", "f64", "i64", "i32" or "u8";
/// `values` holds the elements in row-major order (an empty shape is a scalar
/// with one element).
struct NpyArray {
  std::string dtype = "f32";
  std::vector<int64_t> shape;
  std::vector<double> values;
};

/// Reads the .npy file at `path`.
NpyArray readNpy(const std::string &path);
/// Decodes the bytes of a .npy file; `name` identifies it in error messages.
NpyArray parseNpy(const std::string &bytes, const std::string &name);

/// Writes a version 1.0 .npy file in the array's dtype. Throws NpyError when
/// the values do not match the shape, an integer dtype gets a non-integral or
/// out-of-range value, or the file cannot be written.
void writeNpy(const std::string &path, const NpyArray &array);
/// Encodes an array as the bytes of a version 1.0 .npy file; `name`
/// identifies it in error messages.
std::string encodeNpy(const NpyArray &array, const std::string &name);

} // namespace nsl::support

#endif // NSL_RUNTIME_SUPPORT_NPY_H
