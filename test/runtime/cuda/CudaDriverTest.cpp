//===- CudaDriverTest.cpp - Tests of the CUDA driver layer ----------------===//
//
// Without a GPU: a missing driver, the toolkit's stub libcuda.so (which
// loads but fails every call) and a fake driver (FakeDriver.c, built with
// the tests) with an in-memory device that records what it is asked to do.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDriver.h"

#include "test/runtime/artifact/TestArtifact.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <functional>
#include <iostream>

using namespace nsl::runtime;
using namespace nsl::runtime::cuda;
using nsl::runtime::test::errorOf;
using nsl::runtime::test::randomTensor;
using nsl::runtime::test::runCommand;

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// Unsets NSL_CUDA_DRIVER for the test and restores it afterwards.
class ScopedUnsetDriverEnv {
public:
  ScopedUnsetDriverEnv() {
    if (const char *value = std::getenv("NSL_CUDA_DRIVER"))
      saved_ = value, had_ = true;
    unsetenv("NSL_CUDA_DRIVER");
  }
  ~ScopedUnsetDriverEnv() {
    if (had_)
      setenv("NSL_CUDA_DRIVER", saved_.c_str(), 1);
  }

private:
  std::string saved_;
  bool had_ = false;
};

//===----------------------------------------------------------------------===//
// No driver, the stub driver
//===----------------------------------------------------------------------===//

TEST(CudaDriver, NonexistentPathReportsDlerror) {
  const std::string path = "/nonexistent/nsl-test/libcuda.so.1";
  std::string message = errorOf([&] { CudaDriver::load(path); });
  EXPECT_TRUE(
      startsWith(message, "no CUDA driver: dlopen(" + path + ") failed: "))
      << message;
  // The dlerror text, as dlopen gives it for this path.
  EXPECT_EQ(dlopen(path.c_str(), RTLD_NOW), nullptr);
  std::string expected = dlerror();
  EXPECT_CONTAINS(message, expected);
  EXPECT_CONTAINS(message, "No such file or directory");
}

TEST(CudaDriver, DefaultPathAndEnvironmentOverride) {
  ScopedUnsetDriverEnv unset;
  EXPECT_EQ(CudaDriver::defaultPath(), "libcuda.so.1");
  setenv("NSL_CUDA_DRIVER", "", 1);
  EXPECT_EQ(CudaDriver::defaultPath(), "libcuda.so.1");
  setenv("NSL_CUDA_DRIVER", "/nonexistent/nsl-env/libcuda.so", 1);
  EXPECT_EQ(CudaDriver::defaultPath(), "/nonexistent/nsl-env/libcuda.so");
  EXPECT_CONTAINS(errorOf([] { CudaDriver::load(); }),
                  "no CUDA driver: dlopen(/nonexistent/nsl-env/libcuda.so) "
                  "failed: ");
  unsetenv("NSL_CUDA_DRIVER");
}

TEST(CudaDriver, SystemDriverOrClearNoDriverError) {
  ScopedUnsetDriverEnv unset;
  void *system = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!system) {
    std::string message = errorOf([] { CudaDriver::load(); });
    EXPECT_TRUE(
        startsWith(message, "no CUDA driver: dlopen(libcuda.so.1) failed: "))
        << message;
    EXPECT_CONTAINS(message, "libcuda.so.1");
    return;
  }
  // A machine with a driver: it loads, and a device (if any) is named.
  dlclose(system);
  std::shared_ptr<const CudaDriver> driver;
  std::string message;
  try {
    driver = CudaDriver::load();
  } catch (const Error &e) {
    message = e.what();
  }
  if (!driver) {
    EXPECT_TRUE(startsWith(message, "no CUDA device: ") ||
                startsWith(message, "CUDA error "))
        << message;
    return;
  }
  if (driver->deviceCount() > 0) {
    CudaDevice device(driver);
    std::cout << "device 0: " << device.name() << " " << device.arch() << "\n";
    EXPECT_FALSE(device.name().empty());
    EXPECT_TRUE(startsWith(device.arch(), "sm_"));
  }
}

TEST(CudaDriver, StubLibraryFailsCuInitClearly) {
  std::string stub = NSL_CUDA_STUB;
  if (stub.empty()) {
    // No stub found at configure time: the path searched must not be a
    // loadable library, and loading it says so.
    std::string searched = NSL_CUDA_STUB_SEARCHED;
    EXPECT_FALSE(std::filesystem::exists(searched))
        << searched << " exists, but CMake did not find the stub";
    EXPECT_TRUE(startsWith(errorOf([&] { CudaDriver::load(searched); }),
                           "no CUDA driver: dlopen(" + searched + ")"));
    return;
  }
  std::string message = errorOf([&] { CudaDriver::load(stub); });
  std::cout << "the stub " << stub << " gives: " << message << "\n";
  RecordProperty("stub_error", message);
  EXPECT_TRUE(startsWith(message, "CUDA error CUDA_ERROR_")) << message;
  EXPECT_CONTAINS(message, " in cuInit");
}

//===----------------------------------------------------------------------===//
// The fake driver
//===----------------------------------------------------------------------===//

struct FakeLaunch {
  void *function;
  unsigned grid[3], block[3], shared;
  void *stream;
  void **params;
  void **extra;
  int count;
};

class CudaFake : public ::testing::Test {
protected:
  void SetUp() override {
    path = NSL_FAKE_DRIVER;
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    reset = reinterpret_cast<void (*)()>(dlsym(handle, "fake_reset"));
    failNext = reinterpret_cast<void (*)(const char *, int)>(
        dlsym(handle, "fake_fail_next"));
    counterOf =
        reinterpret_cast<int (*)(const char *)>(dlsym(handle, "fake_counter"));
    moduleImage = reinterpret_cast<const char *(*)(size_t *)>(
        dlsym(handle, "fake_module_image"));
    lastLaunchOf = reinterpret_cast<const FakeLaunch *(*)()>(
        dlsym(handle, "fake_last_launch"));
    ASSERT_TRUE(reset && failNext && counterOf && moduleImage && lastLaunchOf);
    reset();
    unsetenv("FAKE_CUDA_DEVICES");
  }
  void TearDown() override {
    unsetenv("FAKE_CUDA_DEVICES");
    dlclose(handle);
  }

  int counter(const char *name) { return counterOf(name); }
  std::string image() {
    size_t size = 0;
    const char *bytes = moduleImage(&size);
    return std::string(bytes, size);
  }

  std::string path;
  void *handle = nullptr;
  void (*reset)() = nullptr;
  void (*failNext)(const char *, int) = nullptr;
  int (*counterOf)(const char *) = nullptr;
  const char *(*moduleImage)(size_t *) = nullptr;
  const FakeLaunch *(*lastLaunchOf)() = nullptr;
};

// scale(float *p, float factor, int n): p[i] *= factor for i < n; from
// nvcc -ptx -arch=sm_80 (CUDA 13), .version lowered to 7.0 so that older
// drivers take it too. The fake runs it on the host; a GPU runs it.
const char *scalePtx = R"ptx(
.version 7.0
.target sm_80
.address_size 64
	// .globl	scale
.visible .entry scale(
	.param .u64 scale_param_0,
	.param .f32 scale_param_1,
	.param .u32 scale_param_2
)
{
	.reg .pred 	%p<2>;
	.reg .f32 	%f<4>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<5>;
	ld.param.u64 	%rd1, [scale_param_0];
	ld.param.f32 	%f1, [scale_param_1];
	ld.param.u32 	%r2, [scale_param_2];
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mov.u32 	%r5, %tid.x;
	mad.lo.s32 	%r1, %r3, %r4, %r5;
	setp.ge.s32 	%p1, %r1, %r2;
	@%p1 bra 	$L__BB0_2;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.s32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.f32 	%f2, [%rd4];
	mul.f32 	%f3, %f2, %f1;
	st.global.f32 	[%rd4], %f3;
$L__BB0_2:
	ret;
}
)ptx";

// On a machine with a GPU, the real thing: a PTX kernel, timed, with
// exact results; elsewhere, the clear error.
TEST(CudaDriver, RealDeviceRunsPtxKernel) {
  ScopedUnsetDriverEnv unset;
  std::shared_ptr<const CudaDriver> driver;
  std::string message;
  try {
    driver = CudaDriver::load();
    if (driver->deviceCount() == 0)
      throw Error("no CUDA device: cuDeviceGetCount returned 0");
  } catch (const Error &e) {
    message = e.what();
  }
  if (!driver || !message.empty()) {
    EXPECT_TRUE(startsWith(message, "no CUDA driver: dlopen(libcuda.so.1)") ||
                startsWith(message, "no CUDA device: "))
        << message;
    return;
  }
  CudaDevice device(driver);
  Module module(device, scalePtx);
  Function scale = module.function("scale");
  Stream stream(device);
  Event start(device), end(device);
  constexpr int n = 1000;
  Tensor x = randomTensor({n + 24}, 9);
  DeviceBuffer buffer(device, x.byteSize());
  buffer.upload(x);
  KernelArgs args;
  args.add(buffer).add(2.5f).add(int32_t(n));
  start.record(stream);
  launch(scale, {(n + 255) / 256, 1, 1}, {256, 1, 1}, 0, stream, args);
  end.record(stream);
  stream.synchronize();
  float ms = end.elapsedMs(start);
  std::cout << device.name() << " (" << device.arch() << "): scale took " << ms
            << " ms\n";
  EXPECT_GE(ms, 0.0f);
  Tensor y = buffer.download(DType::F32, {n + 24});
  for (int64_t i = 0; i < n + 24; ++i)
    ASSERT_EQ(y.at<float>(i), i < n ? x.at<float>(i) * 2.5f : x.at<float>(i))
        << i;
}

TEST_F(CudaFake, LoadsAndInitialises) {
  auto driver = CudaDriver::load(path);
  EXPECT_EQ(driver->path(), path);
  EXPECT_EQ(counter("inits"), 1);
  EXPECT_EQ(driver->deviceCount(), 1);
  EXPECT_EQ(driver->errorName(2), "CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(driver->errorString(2), "fake: out of memory");
  // Codes the driver cannot name come from the layer's table, or by number.
  EXPECT_EQ(driver->errorName(34), "CUDA_ERROR_STUB_LIBRARY");
  EXPECT_EQ(driver->errorName(12345), "CUDA error code 12345");
  EXPECT_EQ(driver->errorString(12345),
            "no description (cuGetErrorString failed)");
  EXPECT_NO_THROW(driver->check(0, "anything"));
  EXPECT_EQ(errorOf([&] { driver->check(700, "cuSomething"); }),
            "CUDA error CUDA_ERROR_ILLEGAL_ADDRESS: fake: an illegal memory "
            "access in cuSomething");
}

TEST_F(CudaFake, EnvironmentSelectsTheDriver) {
  ScopedUnsetDriverEnv unset;
  setenv("NSL_CUDA_DRIVER", path.c_str(), 1);
  auto driver = CudaDriver::load();
  EXPECT_EQ(driver->path(), path);
  unsetenv("NSL_CUDA_DRIVER");
}

TEST_F(CudaFake, CuInitErrors) {
  failNext("cuInit", 100);
  EXPECT_EQ(errorOf([&] { CudaDriver::load(path); }),
            "no CUDA device: cuInit returned CUDA_ERROR_NO_DEVICE: no "
            "CUDA-capable device is detected");
  failNext("cuInit", 1);
  EXPECT_EQ(errorOf([&] { CudaDriver::load(path); }),
            "CUDA error CUDA_ERROR_INVALID_VALUE: fake: invalid argument in "
            "cuInit");
}

TEST_F(CudaFake, MissingEntryPoint) {
  std::string lacking = NSL_FAKE_DRIVER_WITHOUT_LAUNCH;
  std::string message = errorOf([&] { CudaDriver::load(lacking); });
  EXPECT_TRUE(
      startsWith(message, "CUDA driver " + lacking +
                              " lacks the entry point cuLaunchKernel: "))
      << message;
}

TEST_F(CudaFake, DeviceQueryAndPrimaryContext) {
  setenv("FAKE_CUDA_DEVICES", "2", 1);
  auto driver = CudaDriver::load(path);
  EXPECT_EQ(driver->deviceCount(), 2);
  {
    CudaDevice device(driver);
    EXPECT_EQ(device.ordinal(), 0);
    EXPECT_EQ(device.name(), "Fake GPU");
    EXPECT_EQ(device.computeCapabilityMajor(), 9);
    EXPECT_EQ(device.computeCapabilityMinor(), 0);
    EXPECT_EQ(device.arch(), "sm_90");
    EXPECT_EQ(counter("contexts"), 1);
    EXPECT_EQ(counter("current_is_primary"), 1);
    CudaDevice second(driver, 1);
    EXPECT_EQ(second.name(), "Fake GPU 2");
    EXPECT_EQ(second.arch(), "sm_86");
    EXPECT_EQ(counter("contexts"), 2);
    EXPECT_EQ(errorOf([&] { CudaDevice(driver, 2); }),
              "no CUDA device 2: there are 2 (ordinals 0 to 1)");
  }
  EXPECT_EQ(counter("contexts"), 0);
}

TEST_F(CudaFake, NoDevice) {
  setenv("FAKE_CUDA_DEVICES", "0", 1);
  auto driver = CudaDriver::load(path);
  EXPECT_EQ(driver->deviceCount(), 0);
  EXPECT_EQ(errorOf([&] { CudaDevice device(driver); }),
            "no CUDA device: cuDeviceGetCount returned 0");
  EXPECT_EQ(counter("contexts"), 0);
}

TEST_F(CudaFake, DeviceQueryErrorsNameTheCall) {
  auto driver = CudaDriver::load(path);
  failNext("cuDevicePrimaryCtxRetain", 2);
  EXPECT_EQ(errorOf([&] { CudaDevice device(driver); }),
            "CUDA error CUDA_ERROR_OUT_OF_MEMORY: fake: out of memory in "
            "cuDevicePrimaryCtxRetain");
  failNext("cuDeviceGetAttribute", 1);
  EXPECT_CONTAINS(errorOf([&] { CudaDevice device(driver); }),
                  "in cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)");
  EXPECT_EQ(counter("contexts"), 0);
}

TEST_F(CudaFake, ObjectsKeepTheDriverAlive) {
  std::unique_ptr<DeviceBuffer> buffer;
  {
    auto driver = CudaDriver::load(path);
    CudaDevice device(driver);
    buffer = std::make_unique<DeviceBuffer>(device, 64);
  }
  // The driver and the device are gone from here, the buffer still works.
  std::vector<unsigned char> in(64, 7), out(64, 0);
  buffer->copyFromHost(in.data(), 64);
  buffer->copyToHost(out.data(), 64);
  EXPECT_EQ(in, out);
  EXPECT_EQ(counter("contexts"), 1);
  buffer.reset();
  EXPECT_EQ(counter("allocations"), 0);
  EXPECT_EQ(counter("contexts"), 0);
}

TEST_F(CudaFake, BufferRoundTrip) {
  CudaDevice device(CudaDriver::load(path));
  Tensor x = randomTensor({3, 7}, 11);
  {
    DeviceBuffer buffer(device, x.byteSize());
    EXPECT_EQ(buffer.bytes(), x.byteSize());
    EXPECT_NE(buffer.pointer(), 0u);
    EXPECT_EQ(counter("allocations"), 1);
    buffer.upload(x);
    Tensor y = buffer.download(DType::F32, {3, 7});
    for (int64_t i = 0; i < x.numel(); ++i)
      EXPECT_EQ(y.at<float>(i), x.at<float>(i)) << i;

    // Offsets, fill, and the range checks (no driver call).
    buffer.fill(0);
    float value = 0.25f, back = 0;
    buffer.copyFromHost(&value, sizeof value, 8);
    buffer.copyToHost(&back, sizeof back, 8);
    EXPECT_EQ(back, 0.25f);
    buffer.copyToHost(&back, sizeof back, 4);
    EXPECT_EQ(back, 0.0f);
    EXPECT_EQ(errorOf([&] { buffer.copyToHost(&back, 8, 80); }),
              "copy from the device: 8 bytes at offset 80 do not fit in a "
              "device buffer of 84 bytes");
    EXPECT_CONTAINS(errorOf([&] { buffer.copyFromHost(&value, 4, 85); }),
                    "do not fit");
    EXPECT_CONTAINS(errorOf([&] { buffer.download(DType::F32, {4, 7}); }),
                    "download of f32[4, 7]: 112 bytes");

    // Moves hand the allocation over.
    DeviceBuffer moved(std::move(buffer));
    EXPECT_EQ(buffer.pointer(), 0u);
    EXPECT_EQ(moved.bytes(), x.byteSize());
    DeviceBuffer other(device, 16);
    EXPECT_EQ(counter("allocations"), 2);
    other = std::move(moved);
    EXPECT_EQ(counter("allocations"), 1);
  }
  EXPECT_EQ(counter("allocations"), 0);

  DeviceBuffer empty(device, 0);
  EXPECT_EQ(empty.pointer(), 0u);
  EXPECT_EQ(counter("allocations"), 0);
  EXPECT_NO_THROW(empty.fill(1));
}

TEST_F(CudaFake, AsyncCopiesAndStreams) {
  CudaDevice device(CudaDriver::load(path));
  {
    Stream stream(device);
    EXPECT_NE(stream.handle(), nullptr);
    EXPECT_EQ(counter("streams"), 1);
    std::vector<float> in = {1.5f, -2.0f, 3.25f, 8.0f}, out(4, 0.0f);
    DeviceBuffer buffer(device, 16);
    buffer.copyFromHostAsync(in.data(), 16, stream);
    buffer.copyToHostAsync(out.data(), 16, stream);
    stream.synchronize();
    EXPECT_EQ(counter("stream_syncs"), 1);
    EXPECT_EQ(in, out);
    Stream moved(std::move(stream));
    EXPECT_EQ(stream.handle(), nullptr);
    EXPECT_EQ(counter("streams"), 1);
  }
  EXPECT_EQ(counter("streams"), 0);
  EXPECT_CONTAINS(errorOf([] { Stream().synchronize(); }),
                  "cannot synchronize the default Stream");
}

TEST_F(CudaFake, PtxModuleAndFunctions) {
  CudaDevice device(CudaDriver::load(path));
  {
    Module module(device, scalePtx);
    EXPECT_EQ(counter("modules"), 1);
    EXPECT_EQ(counter("module_ex"), 1); // PTX: with the JIT's logs
    EXPECT_EQ(counter("module_options"), 4);
    EXPECT_EQ(image(), scalePtx);
    Function scale = module.function("scale");
    EXPECT_EQ(scale.name(), "scale");
    EXPECT_NE(scale.handle(), nullptr);
    EXPECT_EQ(errorOf([&] { module.function("missing"); }),
              "CUDA error CUDA_ERROR_NOT_FOUND: fake: named symbol not found "
              "in cuModuleGetFunction(\"missing\")");
  }
  EXPECT_EQ(counter("modules"), 0);
}

TEST_F(CudaFake, CubinModule) {
  CudaDevice device(CudaDriver::load(path));
  std::string cubin(64, '\0');
  cubin.replace(0, 4,
                "\x7f"
                "ELF");
  cubin.replace(20, 5, "scale");
  cubin[40] = '\x01';
  Module module(device, cubin);
  EXPECT_EQ(counter("module_ex"), 0); // binary: cuModuleLoadData
  EXPECT_EQ(image(), cubin);
  EXPECT_NO_THROW(module.function("scale"));
  EXPECT_CONTAINS(errorOf([&] { Module(device, ""); }), "empty image");
}

TEST_F(CudaFake, PtxJitErrorCarriesTheLog) {
  CudaDevice device(CudaDriver::load(path));
  failNext("cuModuleLoadDataEx", 218);
  EXPECT_EQ(errorOf([&] { Module module(device, scalePtx); }),
            "CUDA error CUDA_ERROR_INVALID_PTX: fake: a PTX JIT compilation "
            "failed in cuModuleLoadDataEx (PTX); JIT log: ptxas fatal: fake "
            "syntax error");
  EXPECT_EQ(counter("modules"), 0);
}

TEST_F(CudaFake, LaunchPassesParametersThrough) {
  CudaDevice device(CudaDriver::load(path));
  Module module(device, scalePtx);
  Function scale = module.function("scale");
  Stream stream(device);

  Tensor x = randomTensor({10}, 5);
  DeviceBuffer buffer(device, x.byteSize());
  buffer.upload(x);
  KernelArgs args;
  args.add(buffer).add(2.5f).add(int32_t(7));
  EXPECT_EQ(args.size(), 3u);
  launch(scale, {3, 2, 1}, {128, 1, 4}, 256, stream, args);
  stream.synchronize();

  const FakeLaunch &l = *lastLaunchOf();
  EXPECT_EQ(l.count, 1);
  EXPECT_EQ(l.function, scale.handle());
  EXPECT_EQ(l.grid[0], 3u);
  EXPECT_EQ(l.grid[1], 2u);
  EXPECT_EQ(l.grid[2], 1u);
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.block[1], 1u);
  EXPECT_EQ(l.block[2], 4u);
  EXPECT_EQ(l.shared, 256u);
  EXPECT_EQ(l.stream, static_cast<void *>(stream.handle()));
  EXPECT_EQ(l.params, args.pointers());
  EXPECT_EQ(l.extra, nullptr);
  // The fake ran scale(p, 2.5, 7) on the host: exactly the arguments given.
  Tensor y = buffer.download(DType::F32, {10});
  for (int64_t i = 0; i < 10; ++i)
    EXPECT_EQ(y.at<float>(i), i < 7 ? x.at<float>(i) * 2.5f : x.at<float>(i))
        << i;

  // Raw parameter arrays are passed as they are, on the default stream too.
  CUdeviceptr p = buffer.pointer();
  float factor = -1.0f;
  int32_t n = 2;
  void *raw[] = {&p, &factor, &n};
  launch(scale, {1, 1, 1}, {32, 1, 1}, 0, Stream(), raw);
  EXPECT_EQ(lastLaunchOf()->params, raw);
  EXPECT_EQ(lastLaunchOf()->stream, nullptr);
  EXPECT_EQ(lastLaunchOf()->count, 2);
  EXPECT_EQ(buffer.download(DType::F32, {10}).at<float>(1),
            -2.5f * x.at<float>(1));

  // Bad dimensions never reach the driver.
  EXPECT_EQ(
      errorOf([&] { launch(scale, {0, 1, 1}, {32, 1, 1}, 0, stream, args); }),
      "launch of kernel 'scale': grid (0, 1, 1) and block (32, 1, 1) "
      "must be at least 1 in every dimension");
  EXPECT_EQ(lastLaunchOf()->count, 2);
  EXPECT_CONTAINS(errorOf([&] {
                    launch(Function(), {1, 1, 1}, {1, 1, 1}, 0, stream, args);
                  }),
                  "cannot launch an empty Function");

  // A failing launch names the kernel and the configuration.
  failNext("cuLaunchKernel", 700);
  EXPECT_EQ(
      errorOf([&] { launch(scale, {4, 1, 1}, {64, 2, 1}, 0, stream, args); }),
      "CUDA error CUDA_ERROR_ILLEGAL_ADDRESS: fake: an illegal memory "
      "access in cuLaunchKernel(\"scale\", grid (4, 1, 1), block (64, "
      "2, 1))");
}

TEST_F(CudaFake, EventsTime) {
  CudaDevice device(CudaDriver::load(path));
  {
    Stream stream(device);
    Event start(device), end(device);
    EXPECT_EQ(counter("events"), 2);
    start.record(stream);
    end.record(stream);
    end.synchronize();
    EXPECT_EQ(counter("event_records"), 2);
    EXPECT_EQ(end.elapsedMs(start), 1.5f);
    EXPECT_EQ(start.elapsedMs(start), 0.0f);
    failNext("cuEventElapsedTime", 1);
    EXPECT_EQ(errorOf([&] { end.elapsedMs(start); }),
              "CUDA error CUDA_ERROR_INVALID_VALUE: fake: invalid argument in "
              "cuEventElapsedTime");
    EXPECT_CONTAINS(errorOf([&] { Event().elapsedMs(start); }), "empty Event");
  }
  EXPECT_EQ(counter("events"), 0);
}

TEST_F(CudaFake, ElapsedTimeFallsBackToTheOriginalSymbol) {
  std::string older = NSL_FAKE_DRIVER_BEFORE_ELAPSED_V2;
  CudaDevice device(CudaDriver::load(older));
  Event start(device), end(device);
  start.record(Stream());
  end.record(Stream());
  EXPECT_EQ(end.elapsedMs(start), 1.5f);
}

TEST_F(CudaFake, DriverErrorsAreTranslated) {
  CudaDevice device(CudaDriver::load(path));
  failNext("cuMemAlloc_v2", 2);
  EXPECT_EQ(errorOf([&] { DeviceBuffer buffer(device, 1024); }),
            "CUDA error CUDA_ERROR_OUT_OF_MEMORY: fake: out of memory in "
            "cuMemAlloc_v2(1024 bytes)");
  DeviceBuffer buffer(device, 16);
  Stream stream(device);
  std::vector<char> host(16);
  for (auto [call, action] :
       std::vector<std::pair<const char *, std::function<void()>>>{
           {"cuMemcpyHtoD_v2", [&] { buffer.copyFromHost(host.data(), 16); }},
           {"cuMemcpyDtoH_v2", [&] { buffer.copyToHost(host.data(), 16); }},
           {"cuMemcpyHtoDAsync_v2",
            [&] { buffer.copyFromHostAsync(host.data(), 16, stream); }},
           {"cuMemcpyDtoHAsync_v2",
            [&] { buffer.copyToHostAsync(host.data(), 16, stream); }},
           {"cuMemsetD8_v2", [&] { buffer.fill(3); }},
           {"cuStreamCreate", [&] { Stream s(device); }},
           {"cuEventCreate", [&] { Event e(device); }},
           {"cuCtxSetCurrent", [&] { Event e(device); }},
           {"cuModuleLoadData",
            [&] {
              Module m(device, "\x7f"
                               "ELF");
            }},
       }) {
    failNext(call, 1);
    EXPECT_EQ(errorOf(action), std::string("CUDA error "
                                           "CUDA_ERROR_INVALID_VALUE: fake: "
                                           "invalid argument in ") +
                                   call)
        << call;
  }
  // A code the driver does not know.
  failNext("cuStreamSynchronize", 12345);
  EXPECT_EQ(errorOf([&] { stream.synchronize(); }),
            "CUDA error CUDA error code 12345: no description "
            "(cuGetErrorString failed) in cuStreamSynchronize");
  EXPECT_EQ(counter("streams"), 1);
  EXPECT_EQ(counter("events"), 0);
  EXPECT_EQ(counter("modules"), 0);
}

//===----------------------------------------------------------------------===//
// nsl-cuda-info
//===----------------------------------------------------------------------===//

std::pair<int, std::string> runInfo(const std::string &environment,
                                    const std::string &arguments) {
  return runCommand("env -u NSL_CUDA_DRIVER " + environment + " '" +
                    NSL_CUDA_INFO_TOOL + "' " + arguments);
}

TEST(CudaInfoTool, Help) {
  auto [status, output] = runInfo("", "--help");
  EXPECT_EQ(status, 0);
  EXPECT_CONTAINS(output, "usage: nsl-cuda-info");
  auto [badStatus, badOutput] = runInfo("", "--frobnicate");
  EXPECT_EQ(badStatus, 2);
  EXPECT_CONTAINS(badOutput, "unexpected argument '--frobnicate'");
}

TEST(CudaInfoTool, ThisMachine) {
  auto [status, output] = runInfo("", "");
  void *system = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!system) {
    EXPECT_EQ(status, 1) << output;
    EXPECT_CONTAINS(output,
                    "nsl-cuda-info: no CUDA driver: dlopen(libcuda.so.1) "
                    "failed: ");
    return;
  }
  dlclose(system);
  std::cout << output;
  if (status == 0)
    EXPECT_CONTAINS(output, "sm_");
  else
    EXPECT_CONTAINS(output, "nsl-cuda-info: no CUDA device");
}

TEST(CudaInfoTool, FakeDriver) {
  std::string fake = NSL_FAKE_DRIVER;
  auto [status, output] = runInfo("FAKE_CUDA_DEVICES=2", "--driver " + fake);
  EXPECT_EQ(status, 0) << output;
  EXPECT_CONTAINS(output, "devices: 2");
  EXPECT_CONTAINS(output, "device 0: Fake GPU, compute capability 9.0 (sm_90)");
  EXPECT_CONTAINS(output,
                  "device 1: Fake GPU 2, compute capability 8.6 (sm_86)");

  auto [noneStatus, noneOutput] =
      runInfo("NSL_CUDA_DRIVER='" + fake + "' FAKE_CUDA_DEVICES=0", "");
  EXPECT_EQ(noneStatus, 1) << noneOutput;
  EXPECT_CONTAINS(noneOutput,
                  "nsl-cuda-info: no CUDA device: cuDeviceGetCount returned 0");

  auto [missingStatus, missingOutput] =
      runInfo("NSL_CUDA_DRIVER=/nonexistent/libcuda.so.1", "");
  EXPECT_EQ(missingStatus, 1);
  EXPECT_CONTAINS(missingOutput,
                  "no CUDA driver: dlopen(/nonexistent/libcuda.so.1) failed");
}

} // namespace
