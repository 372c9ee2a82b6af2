//===- CudaHeaderTest.cpp - The layer's declarations against cuda.h -------===//
//
// runtime/cuda declares the driver's types and constants itself (so that it
// builds without the toolkit); built only where <cuda.h> is installed, this
// checks them against it, and every entry point of CudaDriverSymbols.def:
// its symbol name against the one <cuda.h> maps the API name to, and its
// signature.
//
//===----------------------------------------------------------------------===//

// Ours first: <cuda.h> #defines API names (cuMemAlloc → cuMemAlloc_v2) that
// are also DriverApi's members.
#include "runtime/cuda/CudaDriver.h"

#include <cuda.h>

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

namespace cu = nsl::runtime::cuda;

static_assert(sizeof(cu::CUresult) == sizeof(::CUresult));
static_assert(sizeof(cu::CUdevice) == sizeof(::CUdevice));
static_assert(std::is_same_v<cu::CUdeviceptr, ::CUdeviceptr>);
static_assert(sizeof(int) == sizeof(::CUjit_option));
static_assert(sizeof(int) == sizeof(::CUdevice_attribute));
static_assert(cu::CUDA_SUCCESS == ::CUDA_SUCCESS);
static_assert(cu::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(cu::CU_JIT_INFO_LOG_BUFFER == ::CU_JIT_INFO_LOG_BUFFER);
static_assert(cu::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES ==
              ::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
static_assert(cu::CU_JIT_ERROR_LOG_BUFFER == ::CU_JIT_ERROR_LOG_BUFFER);
static_assert(cu::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
              ::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);

// The table's function types, named by symbol: <cuda.h> #defines API names
// (cuMemAlloc → cuMemAlloc_v2), never the symbols themselves. Inside the
// layer's namespace the table's type names are the layer's, not <cuda.h>'s.
namespace nsl::runtime::cuda::table {
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  using symbol = result(*) parameters;
#include "runtime/cuda/CudaDriverSymbols.def"
} // namespace nsl::runtime::cuda::table

#define NSL_NAME_OF(api) NSL_STRINGIFY(api)
#define NSL_STRINGIFY(x) #x

namespace {

/// Whether a parameter or result type of the layer is ABI-compatible with
/// <cuda.h>'s: the same type, an enum as int (CUresult, CUjit_option,
/// CUdevice_attribute), a pointer to the layer's own opaque handle type for
/// one to <cuda.h>'s, or pointers to such types with the same constness.
template <typename Ours, typename Theirs> constexpr bool sameAbi() {
  if constexpr (std::is_pointer_v<Ours> && std::is_pointer_v<Theirs>) {
    using OurPointee = std::remove_pointer_t<Ours>;
    using TheirPointee = std::remove_pointer_t<Theirs>;
    if constexpr (std::is_class_v<OurPointee> || std::is_class_v<TheirPointee>)
      return std::is_class_v<OurPointee> && std::is_class_v<TheirPointee>;
    else
      return std::is_const_v<OurPointee> == std::is_const_v<TheirPointee> &&
             sameAbi<std::remove_cv_t<OurPointee>,
                     std::remove_cv_t<TheirPointee>>();
  } else if constexpr (std::is_enum_v<Theirs>) {
    return std::is_same_v<Ours, int> && sizeof(Theirs) == sizeof(int);
  } else {
    return std::is_same_v<Ours, Theirs>;
  }
}

template <typename OurResult, typename... OurParameters, typename TheirResult,
          typename... TheirParameters>
constexpr bool sameSignature(OurResult (*)(OurParameters...),
                             TheirResult (*)(TheirParameters...)) {
  if constexpr (sizeof...(OurParameters) != sizeof...(TheirParameters))
    return false;
  else
    return sameAbi<OurResult, TheirResult>() &&
           (sameAbi<OurParameters, TheirParameters>() && ...);
}

// Every entry point's signature matches <cuda.h>'s (up to CUresult and
// enums as int and the opaque handle types). `api` expands to the symbol
// <cuda.h> maps it to.
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  static_assert(sameSignature(cu::table::symbol{}, &::api),                    \
                #symbol " differs from <cuda.h>");
#include "runtime/cuda/CudaDriverSymbols.def"

} // namespace

// The symbols CudaDriver::load resolves are those <cuda.h> maps the API
// names to (without per-thread default streams). cuEventElapsedTime falls
// back to the original on drivers older than 12.8.
TEST(CudaHeader, SymbolNamesAreThoseOfCudaH) {
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  EXPECT_STREQ(NSL_NAME_OF(api), #symbol);
#include "runtime/cuda/CudaDriverSymbols.def"
  EXPECT_STREQ(NSL_NAME_OF(cuMemAlloc), "cuMemAlloc_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuEventElapsedTime), "cuEventElapsedTime_v2");
}

// The function types match <cuda.h>'s, up to CUresult/enums as int and the
// opaque handle types; DriverApi's members have the table's types.
TEST(CudaHeader, LaunchSignatureMatches) {
  using Ours = decltype(cu::DriverApi::cuLaunchKernel);
  using Theirs = decltype(&::cuLaunchKernel);
  EXPECT_EQ(sizeof(Ours), sizeof(Theirs));
  EXPECT_TRUE(
      (std::is_invocable_r_v<int, Ours, cu::CUfunction, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, unsigned,
                             cu::CUstream, void **, void **>));
  EXPECT_TRUE((std::is_same_v<Ours, cu::table::cuLaunchKernel>));
  EXPECT_TRUE(sameSignature(Ours{}, &::cuLaunchKernel));
}
