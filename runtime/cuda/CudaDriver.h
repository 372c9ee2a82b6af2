//===- CudaDriver.h - The CUDA driver API, loaded at run time ----*- C++
//-*-===//
//
// A small C++ layer over the CUDA driver API. The driver (libcuda.so.1) is
// loaded with dlopen when CudaDriver::load is called, never linked, so the
// runtime builds and runs on machines without a GPU or a driver; there
// loading fails with an Error that says so.
//
// The driver's types are declared here (opaque handles, CUresult as int):
// neither this header nor the library includes <cuda.h>, so the layer
// builds without the CUDA toolkit. The entry points are listed once, in
// CudaDriverSymbols.def; test/runtime/cuda checks them and these types
// against <cuda.h> where the toolkit is installed.
//
// Every failure throws nsl::runtime::Error; the message names the driver
// call and the driver's error name and description:
//
//   no CUDA driver: dlopen(libcuda.so.1) failed: <dlerror>
//   no CUDA device: cuDeviceGetCount returned 0
//   CUDA error CUDA_ERROR_OUT_OF_MEMORY: out of memory in cuMemAlloc_v2
//
// Objects own their driver resources (RAII) and keep the device's primary
// context, and through it the loaded driver, alive. Every call makes the
// context current on the calling thread first, so objects may be used from
// any thread (the driver's own rules on concurrent use apply).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_CUDA_CUDADRIVER_H
#define NSL_RUNTIME_CUDA_CUDADRIVER_H

#include "runtime/artifact/Error.h"
#include "runtime/artifact/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nsl::runtime::cuda {

// The driver API's types, ABI-compatible with <cuda.h> on 64-bit Linux.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;

/// The values of <cuda.h> this layer uses.
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_JIT_INFO_LOG_BUFFER = 3;
constexpr int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

/// The driver's entry points (CudaDriverSymbols.def), resolved with dlsym
/// under the symbol names that <cuda.h> maps the API names to (cuMemAlloc →
/// cuMemAlloc_v2, ...).
struct DriverApi {
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  result(*api) parameters;
#include "runtime/cuda/CudaDriverSymbols.def"
};

/// The loaded driver library.
class CudaDriver {
public:
  /// The library loaded when no path is given: $NSL_CUDA_DRIVER if set and
  /// not empty, otherwise "libcuda.so.1".
  static std::string defaultPath();

  /// dlopens `path` (defaultPath() if empty), resolves every entry point
  /// and calls cuInit(0). Throws Error "no CUDA driver: dlopen(PATH)
  /// failed: DLERROR" if the library cannot be loaded, an Error naming a
  /// missing entry point, "no CUDA device: cuInit returned
  /// CUDA_ERROR_NO_DEVICE: ..." or the CUDA error of cuInit.
  static std::shared_ptr<const CudaDriver> load(const std::string &path = "");

  ~CudaDriver();
  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  const std::string &path() const { return path_; }
  const DriverApi &api() const { return api_; }

  /// The number of devices (cuDeviceGetCount), 0 included.
  int deviceCount() const;

  /// "CUDA_ERROR_OUT_OF_MEMORY" (from the driver, or this layer's table
  /// when the driver cannot name the code, or "CUDA error code N").
  std::string errorName(CUresult code) const;
  /// The driver's description of the code (or this layer's).
  std::string errorString(CUresult code) const;
  /// "CUDA error NAME: STRING in CALL".
  std::string errorMessage(CUresult code, const std::string &call) const;
  /// Throws Error(errorMessage(code, call)) unless code is CUDA_SUCCESS.
  void check(CUresult code, const std::string &call) const;

private:
  CudaDriver() = default;

  std::string path_;
  void *handle_ = nullptr;
  DriverApi api_{};
};

class DeviceBuffer;
class Stream;
class Module;
class Event;
class Function;

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

void launch(const Function &function, Dim3 grid, Dim3 block,
            unsigned sharedBytes, const Stream &stream, void **args);

namespace detail {
/// A retained primary context; shared by the device and its objects.
struct Context;
} // namespace detail

/// One GPU, with its primary context retained (cuDevicePrimaryCtxRetain)
/// for as long as the device or any object made on it lives.
class CudaDevice {
public:
  /// Device `ordinal` of the driver. Throws "no CUDA device:
  /// cuDeviceGetCount returned 0" if there is none, an Error if the
  /// ordinal is out of range, or the CUDA error of a failing call.
  explicit CudaDevice(std::shared_ptr<const CudaDriver> driver,
                      int ordinal = 0);

  int ordinal() const;
  /// cuDeviceGetName, e.g. "NVIDIA H200".
  const std::string &name() const;
  int computeCapabilityMajor() const;
  int computeCapabilityMinor() const;
  /// "sm_90".
  std::string arch() const;
  const CudaDriver &driver() const;
  CUcontext context() const;

  /// cuCtxSetCurrent(primary context) on the calling thread.
  void makeCurrent() const;

private:
  friend class DeviceBuffer;
  friend class Stream;
  friend class Module;
  friend class Event;
  std::shared_ptr<detail::Context> context_;
};

/// Device memory (cuMemAlloc); freed when destroyed. A buffer of 0 bytes
/// allocates nothing and has pointer 0.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const CudaDevice &device, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  size_t bytes() const { return bytes_; }
  CUdeviceptr pointer() const { return pointer_; }

  /// Synchronous copies of `bytes` bytes at byte `offset` of the buffer; a
  /// range outside the buffer is an Error (no driver call).
  void copyFromHost(const void *source, size_t bytes, size_t offset = 0);
  void copyToHost(void *destination, size_t bytes, size_t offset = 0) const;
  /// Asynchronous copies on `stream` (the host memory must stay valid, and
  /// unchanged, until the stream is synchronised).
  void copyFromHostAsync(const void *source, size_t bytes, const Stream &stream,
                         size_t offset = 0);
  void copyToHostAsync(void *destination, size_t bytes, const Stream &stream,
                       size_t offset = 0) const;
  /// cuMemsetD8 of the whole buffer.
  void fill(unsigned char value);

  /// The tensor's bytes into the start of the buffer.
  void upload(const Tensor &tensor);
  /// A new tensor of this type from the start of the buffer.
  Tensor download(DType dtype, const Shape &shape) const;

private:
  void checkRange(size_t bytes, size_t offset, const char *what) const;
  void release() noexcept;

  std::shared_ptr<detail::Context> context_;
  CUdeviceptr pointer_ = 0;
  size_t bytes_ = 0;
};

/// A stream (cuStreamCreate); destroyed when destroyed. A default-built
/// Stream is the legacy default stream (handle 0).
class Stream {
public:
  Stream() = default;
  explicit Stream(const CudaDevice &device, unsigned flags = 0);
  ~Stream();
  Stream(Stream &&other) noexcept;
  Stream &operator=(Stream &&other) noexcept;
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;

  CUstream handle() const { return stream_; }
  /// cuStreamSynchronize. On the default Stream, needs a device.
  void synchronize() const;

private:
  void release() noexcept;

  std::shared_ptr<detail::Context> context_;
  CUstream stream_ = nullptr;
};

/// A kernel of a loaded Module; valid while the Module lives.
class Function {
public:
  CUfunction handle() const { return function_; }
  const std::string &name() const { return name_; }

private:
  friend class Module;
  friend void launch(const Function &, Dim3, Dim3, unsigned, const Stream &,
                     void **);
  std::shared_ptr<detail::Context> context_;
  CUfunction function_ = nullptr;
  std::string name_;
};

/// A module loaded from PTX text or a cubin/fatbin image; unloaded when
/// destroyed. PTX is loaded with cuModuleLoadDataEx so that a JIT error
/// comes with the JIT's log; binary images with cuModuleLoadData.
class Module {
public:
  Module() = default;
  Module(const CudaDevice &device, const std::string &image);
  ~Module();
  Module(Module &&other) noexcept;
  Module &operator=(Module &&other) noexcept;
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  CUmodule handle() const { return module_; }
  /// cuModuleGetFunction; an Error names the kernel.
  Function function(const std::string &name) const;

private:
  void release() noexcept;

  std::shared_ptr<detail::Context> context_;
  CUmodule module_ = nullptr;
};

/// An event (cuEventCreate), for timing; destroyed when destroyed.
class Event {
public:
  Event() = default;
  explicit Event(const CudaDevice &device, unsigned flags = 0);
  ~Event();
  Event(Event &&other) noexcept;
  Event &operator=(Event &&other) noexcept;
  Event(const Event &) = delete;
  Event &operator=(const Event &) = delete;

  CUevent handle() const { return event_; }
  void record(const Stream &stream);
  void synchronize() const;
  /// Milliseconds from `start` to this event (cuEventElapsedTime); both
  /// must be recorded and complete.
  float elapsedMs(const Event &start) const;

private:
  void release() noexcept;

  std::shared_ptr<detail::Context> context_;
  CUevent event_ = nullptr;
};

/// The values of a kernel's parameters, in order; launch passes the
/// address of each (as cuLaunchKernel's kernelParams).
class KernelArgs {
public:
  template <typename T> KernelArgs &add(const T &value) {
    static_assert(std::is_trivially_copyable_v<T>,
                  "kernel arguments are copied bytewise");
    addBytes(&value, sizeof(T), alignof(T));
    return *this;
  }
  /// The buffer's device pointer.
  KernelArgs &add(const DeviceBuffer &buffer) { return add(buffer.pointer()); }

  size_t size() const { return pointers_.size(); }
  void **pointers() { return pointers_.data(); }

private:
  void addBytes(const void *value, size_t bytes, size_t alignment);

  std::vector<std::unique_ptr<std::max_align_t[]>> storage_;
  std::vector<void *> pointers_;
};

/// cuLaunchKernel(function, grid, block, sharedBytes, stream, args): `args`
/// holds one pointer per kernel parameter (declared above). Grid and block
/// dimensions must be ≥ 1 (an Error otherwise, before calling the driver).
void launch(const Function &function, Dim3 grid, Dim3 block,
            unsigned sharedBytes, const Stream &stream, KernelArgs &args);

} // namespace nsl::runtime::cuda

#endif // NSL_RUNTIME_CUDA_CUDADRIVER_H
