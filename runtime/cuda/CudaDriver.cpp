//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "runtime/cuda/CudaDriver.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <utility>

namespace nsl::runtime::cuda {

namespace detail {
struct Context {
  std::shared_ptr<const CudaDriver> driver;
  CUdevice device = 0;
  int ordinal = 0;
  CUcontext context = nullptr;
  std::string name;
  int major = 0, minor = 0;

  ~Context() {
    if (context)
      driver->api().cuDevicePrimaryCtxRelease(device);
  }
  void makeCurrent() const {
    driver->check(driver->api().cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }
  void check(CUresult code, const std::string &call) const {
    driver->check(code, call);
  }
  const DriverApi &api() const { return driver->api(); }
};
} // namespace detail

namespace {

/// Names and descriptions for when the driver cannot give them (the stub
/// library, for one, fails cuGetErrorName).
struct KnownError {
  CUresult code;
  const char *name;
  const char *description;
};
const KnownError knownErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {34, "CUDA_ERROR_STUB_LIBRARY",
     "CUDA driver is a stub library (no GPU driver installed)"},
    {35, "CUDA_ERROR_INSUFFICIENT_DRIVER",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU",
     "no kernel image is available for execution on the device"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
     "the provided PTX was compiled with an unsupported toolchain"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS",
     "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
     "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT",
     "the launch timed out and was "
     "terminated"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const KnownError *findKnown(CUresult code) {
  for (const KnownError &e : knownErrors)
    if (e.code == code)
      return &e;
  return nullptr;
}

std::string dlerrorText() {
  const char *text = dlerror();
  return text ? text : "unknown dlerror";
}

/// An image is PTX if it is text starting (after comments and blank
/// space) like PTX does; cubin (ELF) and fatbin images are binary.
bool isPtx(const std::string &image) {
  if (image.size() >= 4 && image.compare(0, 4,
                                         "\x7f"
                                         "ELF") == 0)
    return false;
  for (unsigned char c : image)
    if (c == 0 || (c < 32 && c != '\n' && c != '\r' && c != '\t'))
      return false;
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// CudaDriver
//===----------------------------------------------------------------------===//

std::string CudaDriver::defaultPath() {
  const char *env = std::getenv("NSL_CUDA_DRIVER");
  return env && *env ? env : "libcuda.so.1";
}

std::shared_ptr<const CudaDriver> CudaDriver::load(const std::string &path) {
  std::shared_ptr<CudaDriver> driver(new CudaDriver());
  driver->path_ = path.empty() ? defaultPath() : path;
  dlerror();
  driver->handle_ = dlopen(driver->path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!driver->handle_)
    throw Error("no CUDA driver: dlopen(" + driver->path_ +
                ") failed: " + dlerrorText());

  auto resolve = [&](auto &slot, const char *symbol,
                     const char *older = nullptr) {
    dlerror();
    void *address = dlsym(driver->handle_, symbol);
    if (!address && older)
      address = dlsym(driver->handle_, older);
    if (!address)
      throw Error("CUDA driver " + driver->path_ + " lacks the entry point " +
                  symbol + ": " + dlerrorText());
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
  DriverApi &a = driver->api_;
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  resolve(a.api, #symbol);
#define NSL_CUDA_DRIVER_SYMBOL_OR_OLDER(api, symbol, older, result,            \
                                        parameters)                            \
  resolve(a.api, #symbol, #older);
#include "runtime/cuda/CudaDriverSymbols.def"

  CUresult status = a.cuInit(0);
  if (status == CUDA_ERROR_NO_DEVICE)
    throw Error("no CUDA device: cuInit returned " + driver->errorName(status) +
                ": " + driver->errorString(status));
  driver->check(status, "cuInit");
  return driver;
}

CudaDriver::~CudaDriver() {
  if (handle_)
    dlclose(handle_);
}

int CudaDriver::deviceCount() const {
  int count = 0;
  check(api_.cuDeviceGetCount(&count), "cuDeviceGetCount");
  return count;
}

std::string CudaDriver::errorName(CUresult code) const {
  const char *name = nullptr;
  if (api_.cuGetErrorName && api_.cuGetErrorName(code, &name) == 0 && name)
    return name;
  if (const KnownError *known = findKnown(code))
    return known->name;
  return "CUDA error code " + std::to_string(code);
}

std::string CudaDriver::errorString(CUresult code) const {
  const char *text = nullptr;
  if (api_.cuGetErrorString && api_.cuGetErrorString(code, &text) == 0 && text)
    return text;
  if (const KnownError *known = findKnown(code))
    return known->description;
  return "no description (cuGetErrorString failed)";
}

std::string CudaDriver::errorMessage(CUresult code,
                                     const std::string &call) const {
  return "CUDA error " + errorName(code) + ": " + errorString(code) + " in " +
         call;
}

void CudaDriver::check(CUresult code, const std::string &call) const {
  if (code != CUDA_SUCCESS)
    throw Error(errorMessage(code, call));
}

//===----------------------------------------------------------------------===//
// CudaDevice
//===----------------------------------------------------------------------===//

CudaDevice::CudaDevice(std::shared_ptr<const CudaDriver> driver, int ordinal) {
  if (!driver)
    throw Error("CudaDevice: no CUDA driver given");
  int count = driver->deviceCount();
  if (count == 0)
    throw Error("no CUDA device: cuDeviceGetCount returned 0");
  if (ordinal < 0 || ordinal >= count)
    throw Error("no CUDA device " + std::to_string(ordinal) + ": there are " +
                std::to_string(count) + " (ordinals 0 to " +
                std::to_string(count - 1) + ")");
  auto context = std::make_shared<detail::Context>();
  context->driver = std::move(driver);
  context->ordinal = ordinal;
  const DriverApi &a = context->api();
  context->check(a.cuDeviceGet(&context->device, ordinal), "cuDeviceGet");
  char name[256] = {};
  context->check(a.cuDeviceGetName(name, sizeof name - 1, context->device),
                 "cuDeviceGetName");
  context->name = name;
  context->check(
      a.cuDeviceGetAttribute(&context->major,
                             CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                             context->device),
      "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)");
  context->check(
      a.cuDeviceGetAttribute(&context->minor,
                             CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                             context->device),
      "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)");
  CUcontext primary = nullptr;
  context->check(a.cuDevicePrimaryCtxRetain(&primary, context->device),
                 "cuDevicePrimaryCtxRetain");
  context->context = primary;
  context->makeCurrent();
  context_ = std::move(context);
}

int CudaDevice::ordinal() const { return context_->ordinal; }
const std::string &CudaDevice::name() const { return context_->name; }
int CudaDevice::computeCapabilityMajor() const { return context_->major; }
int CudaDevice::computeCapabilityMinor() const { return context_->minor; }
std::string CudaDevice::arch() const {
  return "sm_" + std::to_string(context_->major) +
         std::to_string(context_->minor);
}
const CudaDriver &CudaDevice::driver() const { return *context_->driver; }
CUcontext CudaDevice::context() const { return context_->context; }
void CudaDevice::makeCurrent() const { context_->makeCurrent(); }

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

DeviceBuffer::DeviceBuffer(const CudaDevice &device, size_t bytes)
    : context_(device.context_), bytes_(bytes) {
  if (bytes == 0)
    return;
  context_->makeCurrent();
  context_->check(context_->api().cuMemAlloc(&pointer_, bytes),
                  "cuMemAlloc_v2(" + std::to_string(bytes) + " bytes)");
}

DeviceBuffer::~DeviceBuffer() { release(); }

void DeviceBuffer::release() noexcept {
  if (pointer_ && context_) {
    // Errors cannot be reported from a destructor; the memory goes with
    // the context then.
    if (context_->api().cuCtxSetCurrent(context_->context) == CUDA_SUCCESS)
      context_->api().cuMemFree(pointer_);
  }
  pointer_ = 0;
  bytes_ = 0;
  context_.reset();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : context_(std::move(other.context_)),
      pointer_(std::exchange(other.pointer_, 0)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    release();
    context_ = std::move(other.context_);
    pointer_ = std::exchange(other.pointer_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::checkRange(size_t bytes, size_t offset,
                              const char *what) const {
  if (offset > bytes_ || bytes > bytes_ - offset)
    throw Error(std::string(what) + ": " + std::to_string(bytes) +
                " bytes at offset " + std::to_string(offset) +
                " do not fit in a device buffer of " + std::to_string(bytes_) +
                " bytes");
}

void DeviceBuffer::copyFromHost(const void *source, size_t bytes,
                                size_t offset) {
  checkRange(bytes, offset, "copy to the device");
  if (bytes == 0)
    return;
  context_->makeCurrent();
  context_->check(
      context_->api().cuMemcpyHtoD(pointer_ + offset, source, bytes),
      "cuMemcpyHtoD_v2");
}

void DeviceBuffer::copyToHost(void *destination, size_t bytes,
                              size_t offset) const {
  checkRange(bytes, offset, "copy from the device");
  if (bytes == 0)
    return;
  context_->makeCurrent();
  context_->check(
      context_->api().cuMemcpyDtoH(destination, pointer_ + offset, bytes),
      "cuMemcpyDtoH_v2");
}

void DeviceBuffer::copyFromHostAsync(const void *source, size_t bytes,
                                     const Stream &stream, size_t offset) {
  checkRange(bytes, offset, "asynchronous copy to the device");
  if (bytes == 0)
    return;
  context_->makeCurrent();
  context_->check(context_->api().cuMemcpyHtoDAsync(pointer_ + offset, source,
                                                    bytes, stream.handle()),
                  "cuMemcpyHtoDAsync_v2");
}

void DeviceBuffer::copyToHostAsync(void *destination, size_t bytes,
                                   const Stream &stream, size_t offset) const {
  checkRange(bytes, offset, "asynchronous copy from the device");
  if (bytes == 0)
    return;
  context_->makeCurrent();
  context_->check(context_->api().cuMemcpyDtoHAsync(
                      destination, pointer_ + offset, bytes, stream.handle()),
                  "cuMemcpyDtoHAsync_v2");
}

void DeviceBuffer::fill(unsigned char value) {
  if (bytes_ == 0)
    return;
  context_->makeCurrent();
  context_->check(context_->api().cuMemsetD8(pointer_, value, bytes_),
                  "cuMemsetD8_v2");
}

void DeviceBuffer::upload(const Tensor &tensor) {
  checkRange(tensor.byteSize(), 0,
             ("upload of " + tensor.typeString()).c_str());
  copyFromHost(tensor.data(), tensor.byteSize());
}

Tensor DeviceBuffer::download(DType dtype, const Shape &shape) const {
  Tensor tensor(dtype, shape);
  checkRange(tensor.byteSize(), 0,
             ("download of " + tensor.typeString()).c_str());
  copyToHost(tensor.data(), tensor.byteSize());
  return tensor;
}

//===----------------------------------------------------------------------===//
// Stream
//===----------------------------------------------------------------------===//

Stream::Stream(const CudaDevice &device, unsigned flags)
    : context_(device.context_) {
  context_->makeCurrent();
  context_->check(context_->api().cuStreamCreate(&stream_, flags),
                  "cuStreamCreate");
}

Stream::~Stream() { release(); }

void Stream::release() noexcept {
  if (stream_ && context_ &&
      context_->api().cuCtxSetCurrent(context_->context) == CUDA_SUCCESS)
    context_->api().cuStreamDestroy(stream_);
  stream_ = nullptr;
  context_.reset();
}

Stream::Stream(Stream &&other) noexcept
    : context_(std::move(other.context_)),
      stream_(std::exchange(other.stream_, nullptr)) {}

Stream &Stream::operator=(Stream &&other) noexcept {
  if (this != &other) {
    release();
    context_ = std::move(other.context_);
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

void Stream::synchronize() const {
  if (!context_)
    throw Error("cannot synchronize the default Stream: it was made without "
                "a device (use Stream(device))");
  context_->makeCurrent();
  context_->check(context_->api().cuStreamSynchronize(stream_),
                  "cuStreamSynchronize");
}

//===----------------------------------------------------------------------===//
// Module and Function
//===----------------------------------------------------------------------===//

Module::Module(const CudaDevice &device, const std::string &image)
    : context_(device.context_) {
  if (image.empty())
    throw Error("cannot load a CUDA module from an empty image");
  context_->makeCurrent();
  const DriverApi &a = context_->api();
  if (!isPtx(image)) {
    context_->check(a.cuModuleLoadData(&module_, image.data()),
                    "cuModuleLoadData");
    return;
  }
  // PTX: the std::string is NUL-terminated, as the driver needs.
  char errorLog[8192] = {}, infoLog[8192] = {};
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {
      errorLog, reinterpret_cast<void *>(uintptr_t(sizeof errorLog - 1)),
      infoLog, reinterpret_cast<void *>(uintptr_t(sizeof infoLog - 1))};
  CUresult status =
      a.cuModuleLoadDataEx(&module_, image.c_str(), 4, options, values);
  if (status != CUDA_SUCCESS) {
    module_ = nullptr;
    std::string message =
        context_->driver->errorMessage(status, "cuModuleLoadDataEx (PTX)");
    if (errorLog[0])
      message += "; JIT log: " + std::string(errorLog);
    throw Error(message);
  }
}

Module::~Module() { release(); }

void Module::release() noexcept {
  if (module_ && context_ &&
      context_->api().cuCtxSetCurrent(context_->context) == CUDA_SUCCESS)
    context_->api().cuModuleUnload(module_);
  module_ = nullptr;
  context_.reset();
}

Module::Module(Module &&other) noexcept
    : context_(std::move(other.context_)),
      module_(std::exchange(other.module_, nullptr)) {}

Module &Module::operator=(Module &&other) noexcept {
  if (this != &other) {
    release();
    context_ = std::move(other.context_);
    module_ = std::exchange(other.module_, nullptr);
  }
  return *this;
}

Function Module::function(const std::string &name) const {
  if (!module_)
    throw Error("cannot get kernel '" + name + "' of an empty Module");
  context_->makeCurrent();
  Function f;
  context_->check(
      context_->api().cuModuleGetFunction(&f.function_, module_, name.c_str()),
      "cuModuleGetFunction(\"" + name + "\")");
  f.context_ = context_;
  f.name_ = name;
  return f;
}

//===----------------------------------------------------------------------===//
// Event
//===----------------------------------------------------------------------===//

Event::Event(const CudaDevice &device, unsigned flags)
    : context_(device.context_) {
  context_->makeCurrent();
  context_->check(context_->api().cuEventCreate(&event_, flags),
                  "cuEventCreate");
}

Event::~Event() { release(); }

void Event::release() noexcept {
  if (event_ && context_ &&
      context_->api().cuCtxSetCurrent(context_->context) == CUDA_SUCCESS)
    context_->api().cuEventDestroy(event_);
  event_ = nullptr;
  context_.reset();
}

Event::Event(Event &&other) noexcept
    : context_(std::move(other.context_)),
      event_(std::exchange(other.event_, nullptr)) {}

Event &Event::operator=(Event &&other) noexcept {
  if (this != &other) {
    release();
    context_ = std::move(other.context_);
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::record(const Stream &stream) {
  if (!event_)
    throw Error("cannot record an empty Event");
  context_->makeCurrent();
  context_->check(context_->api().cuEventRecord(event_, stream.handle()),
                  "cuEventRecord");
}

void Event::synchronize() const {
  if (!event_)
    throw Error("cannot synchronize an empty Event");
  context_->makeCurrent();
  context_->check(context_->api().cuEventSynchronize(event_),
                  "cuEventSynchronize");
}

float Event::elapsedMs(const Event &start) const {
  if (!event_ || !start.event_)
    throw Error("cannot time with an empty Event");
  context_->makeCurrent();
  float milliseconds = 0;
  context_->check(
      context_->api().cuEventElapsedTime(&milliseconds, start.event_, event_),
      "cuEventElapsedTime");
  return milliseconds;
}

//===----------------------------------------------------------------------===//
// Launches
//===----------------------------------------------------------------------===//

void KernelArgs::addBytes(const void *value, size_t bytes, size_t alignment) {
  size_t units =
      (bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  storage_.push_back(std::make_unique<std::max_align_t[]>(units ? units : 1));
  std::memcpy(storage_.back().get(), value, bytes);
  pointers_.push_back(storage_.back().get());
}

void launch(const Function &function, Dim3 grid, Dim3 block,
            unsigned sharedBytes, const Stream &stream, void **args) {
  if (!function.function_)
    throw Error("cannot launch an empty Function");
  auto dims = [](Dim3 d) {
    return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " +
           std::to_string(d.z) + ")";
  };
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    throw Error("launch of kernel '" + function.name_ + "': grid " +
                dims(grid) + " and block " + dims(block) +
                " must be at least 1 in every dimension");
  const detail::Context &context = *function.context_;
  context.makeCurrent();
  context.check(context.api().cuLaunchKernel(function.function_, grid.x, grid.y,
                                             grid.z, block.x, block.y, block.z,
                                             sharedBytes, stream.handle(), args,
                                             nullptr),
                "cuLaunchKernel(\"" + function.name_ + "\", grid " +
                    dims(grid) + ", block " + dims(block) + ")");
}

void launch(const Function &function, Dim3 grid, Dim3 block,
            unsigned sharedBytes, const Stream &stream, KernelArgs &args) {
  launch(function, grid, block, sharedBytes, stream, args.pointers());
}

} // namespace nsl::runtime::cuda
