//===- CudaHeaderTest.cpp - The layer's declarations against cuda.h -------===//
//
// runtime/cuda declares the driver's types and constants itself (so that it
// builds without the toolkit); built only where <cuda.h> is installed, this
// checks them against it, and the symbol names it resolves against the
// names <cuda.h> maps the API to.
//
//===----------------------------------------------------------------------===//

// Ours first: <cuda.h> #defines API names (cuMemAlloc → cuMemAlloc_v2) that
// are also DriverApi's members.
#include "runtime/cuda/CudaDriver.h"

#include <cuda.h>

#include <gtest/gtest.h>

#include <string>

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

#define NSL_NAME_OF(api) NSL_STRINGIFY(api)
#define NSL_STRINGIFY(x) #x

// The symbols CudaDriver::load resolves, as <cuda.h> names them (without
// per-thread default streams). cuEventElapsedTime falls back to the
// original on drivers older than 12.8.
TEST(CudaHeader, SymbolNamesAreThoseOfCudaH) {
  EXPECT_STREQ(NSL_NAME_OF(cuDevicePrimaryCtxRelease),
               "cuDevicePrimaryCtxRelease_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemAlloc), "cuMemAlloc_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemFree), "cuMemFree_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemcpyHtoD), "cuMemcpyHtoD_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemcpyDtoH), "cuMemcpyDtoH_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemcpyHtoDAsync), "cuMemcpyHtoDAsync_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemcpyDtoHAsync), "cuMemcpyDtoHAsync_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuMemsetD8), "cuMemsetD8_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuStreamDestroy), "cuStreamDestroy_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuEventDestroy), "cuEventDestroy_v2");
  EXPECT_STREQ(NSL_NAME_OF(cuEventElapsedTime), "cuEventElapsedTime_v2");
  for (const char *same :
       {NSL_NAME_OF(cuInit), NSL_NAME_OF(cuDeviceGetCount),
        NSL_NAME_OF(cuDeviceGet), NSL_NAME_OF(cuDeviceGetName),
        NSL_NAME_OF(cuDeviceGetAttribute),
        NSL_NAME_OF(cuDevicePrimaryCtxRetain), NSL_NAME_OF(cuCtxSetCurrent),
        NSL_NAME_OF(cuStreamCreate), NSL_NAME_OF(cuStreamSynchronize),
        NSL_NAME_OF(cuModuleLoadData), NSL_NAME_OF(cuModuleLoadDataEx),
        NSL_NAME_OF(cuModuleGetFunction), NSL_NAME_OF(cuModuleUnload),
        NSL_NAME_OF(cuLaunchKernel), NSL_NAME_OF(cuEventCreate),
        NSL_NAME_OF(cuEventRecord), NSL_NAME_OF(cuEventSynchronize),
        NSL_NAME_OF(cuGetErrorName), NSL_NAME_OF(cuGetErrorString)})
    EXPECT_EQ(std::string(same).find("_v"), std::string::npos) << same;
}

// The function types match <cuda.h>'s, up to CUresult/enums as int and the
// opaque handle types.
TEST(CudaHeader, LaunchSignatureMatches) {
  using Ours = decltype(cu::DriverApi::cuLaunchKernel);
  using Theirs = decltype(&::cuLaunchKernel);
  EXPECT_EQ(sizeof(Ours), sizeof(Theirs));
  EXPECT_TRUE(
      (std::is_invocable_r_v<int, Ours, cu::CUfunction, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, unsigned,
                             cu::CUstream, void **, void **>));
}
