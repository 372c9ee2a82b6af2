//===- CudaExecutorTest.cpp - The CUDA executor on the fake driver --------===//
//
// A hand-made CUDA artifact (manifest, weights, a PTX text with two .entry
// kernels) run by Model with device "cuda" over the fake driver
// (FakeDriver.c, which logs every launch): the right kernels, in schedule
// order, with the manifest's grid and block, and device pointers that hold
// the arguments, weights and constants, share the arena as the memory plan
// says, and a workspace of grid.x slices. And the argument binding that both
// devices share: the same errors and the same new state on the CPU and on
// CUDA.
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/Model.h"
#include "runtime/artifact/Safetensors.h"
#include "runtime/cuda/CudaDriver.h"
#include "test/runtime/artifact/TestArtifact.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

using namespace nsl::runtime;
using namespace nsl::runtime::test;

namespace {

struct LaunchRecord {
  char kernel[64];
  unsigned grid[3], block[3], shared;
  int numParams;
  unsigned long long params[16];
};

const char *kernelsPtx = R"ptx(
.version 8.0
.target sm_90
.address_size 64
	// .globl	k0
.visible .entry k0(
	.param .u64 .ptr .align 1 k0_param_0,
	.param .u64 .ptr .align 1 k0_param_1,
	.param .u64 .ptr .align 1 k0_param_2,
	.param .u64 .ptr .align 1 k0_param_3
)
.maxntid 256, 1, 1
{
	ret;
}
	// .globl	k1
.visible .entry k1(
	.param .u64 .ptr .align 1 k1_param_0,
	.param .u64 .ptr .align 1 k1_param_1,
	.param .u64 .ptr .align 1 k1_param_2
)
{
	ret;
}
)ptx";

/// forward(x [2,4] input, w [4] parameter) -> y [2,4]:
///   k0(x, w, t) with a workspace of 128 bytes per block, grid 2
///   k1(t, c, y) with the constant c, grid 1, block 64
/// t and y live in the arena at offsets 0 and 64.
std::string manifestJson(const std::string &target, const std::string &cubin,
                         const std::string &block0 = "[256, 1, 1]") {
  return R"({
  "format": "nsl-artifact", "version": 1, "target": ")" +
         target + R"(",
  "kernels": {"ptx": "kernels.ptx", "cubin": )" +
         cubin + R"(, "abi": "nsl-cuda-1"},
  "arena_bytes": 128,
  "buffers": [
    {"id": 0, "dtype": "f32", "shape": [2, 4], "bytes": 32, "storage": "argument"},
    {"id": 1, "dtype": "f32", "shape": [4], "bytes": 16, "storage": "argument"},
    {"id": 2, "dtype": "f32", "shape": [4], "bytes": 16, "storage": "constant", "name": "__constant_0"},
    {"id": 3, "dtype": "f32", "shape": [2, 4], "bytes": 32, "storage": "arena", "offset": 0},
    {"id": 4, "dtype": "f32", "shape": [2, 4], "bytes": 32, "storage": "arena", "offset": 64}
  ],
  "entry_points": [{
    "name": "forward",
    "arguments": [
      {"name": "x", "role": "input", "dtype": "f32", "shape": [2, 4], "buffer": 0},
      {"name": "w", "role": "parameter", "dtype": "f32", "shape": [4], "buffer": 1}
    ],
    "results": [{"name": "y", "dtype": "f32", "shape": [2, 4], "buffer": 4}],
    "schedule": [
      {"kernel": "k0", "buffers": [0, 1, 3], "parallel_extent": 2,
       "workspace_bytes": 128, "grid": [2, 1, 1], "block": )" +
         block0 + R"(, "shared_bytes": 0},
      {"kernel": "k1", "buffers": [3, 2, 4], "parallel_extent": 1,
       "workspace_bytes": 0, "grid": [1, 1, 1], "block": [64, 1, 1],
       "shared_bytes": 0}
    ]
  }]
})";
}

/// step(x [2,4] input, w [4] parameter) -> w [4]: one launch of k1, whose
/// result is the zeroed arena on both devices (the fake driver runs no PTX
/// kernel, and the CPU's k1 does nothing). The result named after the
/// parameter is its new value.
std::string stepManifest(const std::string &target) {
  std::string kernels =
      isCudaTarget(target)
          ? R"({"ptx": "kernels.ptx", "cubin": null, "abi": "nsl-cuda-1"})"
          : R"({"library": "kernels.so", "abi": "nsl-cpu-1"})";
  return R"({
  "format": "nsl-artifact", "version": 1, "target": ")" +
         target + R"(", "kernels": )" + kernels + R"(,
  "arena_bytes": 64,
  "buffers": [
    {"id": 0, "dtype": "f32", "shape": [2, 4], "bytes": 32, "storage": "argument"},
    {"id": 1, "dtype": "f32", "shape": [4], "bytes": 16, "storage": "argument"},
    {"id": 2, "dtype": "f32", "shape": [4], "bytes": 16, "storage": "arena", "offset": 0}
  ],
  "entry_points": [{
    "name": "step",
    "arguments": [
      {"name": "x", "role": "input", "dtype": "f32", "shape": [2, 4], "buffer": 0},
      {"name": "w", "role": "parameter", "dtype": "f32", "shape": [4], "buffer": 1}
    ],
    "results": [{"name": "w", "dtype": "f32", "shape": [4], "buffer": 2}],
    "schedule": [
      {"kernel": "k1", "buffers": [0, 1, 2], "parallel_extent": 1,
       "workspace_bytes": 0, "grid": [1, 1, 1], "block": [64, 1, 1],
       "shared_bytes": 0}
    ]
  }]
})";
}

const char *cpuKernels = R"c(
#include <stdint.h>
void k1(void *const *buffers, int64_t begin, int64_t end) {}
)c";

class CudaExecutorFake : public ::testing::Test {
protected:
  void SetUp() override {
    driverPath = NSL_FAKE_DRIVER;
    handle = dlopen(driverPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    reset = reinterpret_cast<void (*)()>(dlsym(handle, "fake_reset"));
    counter =
        reinterpret_cast<int (*)(const char *)>(dlsym(handle, "fake_counter"));
    launchCount =
        reinterpret_cast<int (*)()>(dlsym(handle, "fake_launch_count"));
    launchAt = reinterpret_cast<const LaunchRecord *(*)(int)>(
        dlsym(handle, "fake_launch_at"));
    allocationBytes = reinterpret_cast<long long (*)(unsigned long long)>(
        dlsym(handle, "fake_allocation_bytes"));
    ASSERT_TRUE(reset && counter && launchCount && launchAt && allocationBytes);
    reset();
    const char *old = std::getenv("NSL_CUDA_DRIVER");
    if (old)
      savedDriverEnv = old;
    hadDriverEnv = old != nullptr;
    setenv("NSL_CUDA_DRIVER", driverPath.c_str(), 1);
    unsetenv("FAKE_CUDA_DEVICES");
  }
  void TearDown() override {
    if (hadDriverEnv)
      setenv("NSL_CUDA_DRIVER", savedDriverEnv.c_str(), 1);
    else
      unsetenv("NSL_CUDA_DRIVER");
    if (handle)
      dlclose(handle);
  }

  /// Writes the artifact; `cubin` is written when not empty.
  std::string write(const std::string &manifest,
                    const std::string &cubin = "") {
    std::string dir = freshDirectory();
    writeFile(dir + "/manifest.json", manifest);
    writeFile(dir + "/kernels.ptx", kernelsPtx);
    if (!cubin.empty())
      writeFile(dir + "/kernels.cubin", cubin);
    writeSafetensors(dir + "/weights.safetensors",
                     {{"w", weight}, {"__constant_0", constant}}, {});
    return dir;
  }

  /// The step artifact for `target`, CPU or CUDA.
  std::string writeStep(const std::string &target) {
    std::string dir = freshDirectory();
    writeFile(dir + "/manifest.json", stepManifest(target));
    if (isCudaTarget(target))
      writeFile(dir + "/kernels.ptx", kernelsPtx);
    else
      std::filesystem::copy_file(compileKernels(cpuKernels),
                                 dir + "/kernels.so");
    writeSafetensors(dir + "/weights.safetensors", {{"w", weight}}, {});
    return dir;
  }

  static ModelOptions cuda(bool profile = false) {
    ModelOptions options;
    options.device = "cuda";
    options.profile = profile;
    return options;
  }

  std::string driverPath, savedDriverEnv;
  bool hadDriverEnv = false;
  void *handle = nullptr;
  void (*reset)() = nullptr;
  int (*counter)(const char *) = nullptr;
  int (*launchCount)() = nullptr;
  const LaunchRecord *(*launchAt)(int) = nullptr;
  long long (*allocationBytes)(unsigned long long) = nullptr;
  Tensor weight = randomTensor({4}, 1);
  Tensor constant = randomTensor({4}, 2);
};

const float *hostView(unsigned long long pointer) {
  return reinterpret_cast<const float *>(static_cast<uintptr_t>(pointer));
}

TEST_F(CudaExecutorFake, LaunchesTheScheduleWithItsBuffers) {
  std::string path = write(manifestJson("cuda-sm_90", "null"));
  Model model = Model::load(path, cuda(true));
  EXPECT_EQ(model.device(), "cuda");
  EXPECT_EQ(model.target(), "cuda-sm_90");
  EXPECT_EQ(counter("module_ex"), 1); // PTX, JIT-compiled by the driver.
  Tensor x = randomTensor({2, 4}, 3);
  std::vector<Tensor> results = model.run("forward", {{"x", x}});
  ASSERT_EQ(launchCount(), 2);
  const LaunchRecord &k0 = *launchAt(0), &k1 = *launchAt(1);
  EXPECT_STREQ(k0.kernel, "k0");
  EXPECT_STREQ(k1.kernel, "k1");
  EXPECT_EQ(k0.grid[0], 2u);
  EXPECT_EQ(k0.grid[1], 1u);
  EXPECT_EQ(k0.block[0], 256u);
  EXPECT_EQ(k1.grid[0], 1u);
  EXPECT_EQ(k1.block[0], 64u);
  EXPECT_EQ(k0.shared, 0u);
  // nsl-cuda-1: the buffers, then the workspace if the launch has one.
  ASSERT_EQ(k0.numParams, 4);
  ASSERT_EQ(k1.numParams, 3);
  // Device memory is host memory in the fake: the pointers hold the
  // argument, the parameter from the weights and the constant.
  EXPECT_EQ(std::memcmp(hostView(k0.params[0]), x.data(), 32), 0);
  EXPECT_EQ(std::memcmp(hostView(k0.params[1]), weight.data(), 16), 0);
  EXPECT_EQ(std::memcmp(hostView(k1.params[1]), constant.data(), 16), 0);
  // Buffer 3 (arena offset 0) is k0's result and k1's operand; buffer 4 is
  // 64 bytes further in the same arena.
  EXPECT_EQ(k0.params[2], k1.params[0]);
  EXPECT_EQ(k1.params[2], k0.params[2] + 64);
  EXPECT_GE(allocationBytes(k0.params[2]), 128);
  // The workspace holds grid.x = 2 slices of 128 bytes.
  EXPECT_GE(allocationBytes(k0.params[3]), 256);
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(k0.params[3], k0.params[i]);
  // The kernels did not run (fake): y is the zeroed arena, downloaded.
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].shape(), (Shape{2, 4}));
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(results[0].data<float>()[i], 0.0f);
  // CUDA events time each launch (1.5 ms in the fake) and the schedule.
  std::vector<LaunchTiming> profile = model.lastProfile();
  ASSERT_EQ(profile.size(), 2u);
  EXPECT_EQ(profile[1].kernel, "k1");
  EXPECT_FLOAT_EQ(static_cast<float>(profile[0].milliseconds), 1.5f);
  EXPECT_FLOAT_EQ(static_cast<float>(model.lastKernelMilliseconds()), 1.5f);
  // A second run launches the same schedule again.
  model.run("forward", {{"x", x}});
  EXPECT_EQ(launchCount(), 4);
  EXPECT_STREQ(launchAt(3)->kernel, "k1");
}

TEST_F(CudaExecutorFake, LoadsTheCubinBuiltForTheDevice) {
  // The fake device is sm_90; a cubin is loaded with cuModuleLoadData.
  std::string cubin = std::string("\x7f") + "ELF k0 k1";
  cubin.resize(64, '\0');
  std::string path =
      write(manifestJson("cuda-sm_90", "\"kernels.cubin\""), cubin);
  Model model = Model::load(path, cuda());
  EXPECT_EQ(counter("module_ex"), 0);
  model.run("forward", {{"x", randomTensor({2, 4}, 4)}});
  EXPECT_EQ(launchCount(), 2);
}

TEST_F(CudaExecutorFake, OlderTargetsRunThroughPtx) {
  std::string cubin = std::string("\x7f") + "ELF k0 k1";
  cubin.resize(64, '\0');
  std::string path =
      write(manifestJson("cuda-sm_80", "\"kernels.cubin\""), cubin);
  Model model = Model::load(path, cuda());
  EXPECT_EQ(counter("module_ex"), 1); // sm_80 cubin on sm_90: the PTX.
}

TEST_F(CudaExecutorFake, RefusesTargetsNewerThanTheDevice) {
  std::string path = write(manifestJson("cuda-sm_100", "null"));
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, cuda()); }),
                  "the artifact is for sm_100, but GPU 0 (Fake GPU) is sm_90");
}

TEST_F(CudaExecutorFake, ValidatesTheLaunchConfiguration) {
  std::string path = write(manifestJson("cuda-sm_90", "null", "[2048, 1, 1]"));
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, cuda()); }),
                  "block size 2048 is outside [1, 1024]");
  path = write(manifestJson("cuda-sm_90", "null", "[512, 4, 1]"));
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, cuda()); }),
                  "a block of 2048 threads exceeds 1024");
  path = write(manifestJson("cuda-sm_90", "null", "[256, 1]"));
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, cuda()); }),
                  "block must have 3 sizes (x, y, z), got 2");
}

TEST_F(CudaExecutorFake, DevicesRefuseEachOthersArtifacts) {
  std::string path = write(manifestJson("cuda-sm_90", "null"));
  EXPECT_CONTAINS(errorOf([&] { Model::load(path); }),
                  "is an NVIDIA GPU, and this runtime runs CPU artifacts only");
  std::string cpu = mlpArtifact().write();
  EXPECT_CONTAINS(errorOf([&] { Model::load(cpu, cuda()); }),
                  "is not an NVIDIA GPU (run it with --device cpu");
  ModelOptions tpu;
  tpu.device = "tpu";
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, tpu); }),
                  "unknown device 'tpu' (expected cpu or cuda)");
}

TEST_F(CudaExecutorFake, WithoutADriverOneClearError) {
  std::string path = write(manifestJson("cuda-sm_90", "null"));
  setenv("NSL_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  EXPECT_CONTAINS(errorOf([&] { Model::load(path, cuda()); }),
                  "no CUDA driver: dlopen(/nonexistent/libcuda.so.1) failed");
}

TEST_F(CudaExecutorFake, ChecksArguments) {
  std::string path = write(manifestJson("cuda-sm_90", "null"));
  Model model = Model::load(path, cuda());
  EXPECT_CONTAINS(errorOf([&] { model.run("forward", {}); }),
                  "needs its input argument 'x'");
  EXPECT_CONTAINS(
      errorOf([&] { model.run("forward", {{"x", randomTensor({4, 2}, 5)}}); }),
      "argument 'x' of entry point 'forward' is f32[4, 2]");
}

// Both devices bind arguments with the same code (Executor): the same bad
// calls fail with the same messages.
TEST_F(CudaExecutorFake, BothDevicesRefuseTheSameArguments) {
  Model gpu = Model::load(writeStep("cuda-sm_90"), cuda());
  Model cpu = Model::load(writeStep("cpu-x86_64"));
  Tensor x = randomTensor({2, 4}, 6);
  alignas(8) char unaligned[2 * 4 * 4 + 1];
  std::vector<std::map<std::string, Tensor>> calls = {
      {},
      {{"x", randomTensor({4, 2}, 7)}},
      {{"x", Tensor(DType::I64, {2, 4})}},
      {{"x", x}, {"w", randomTensor({5}, 8)}},
      {{"x", x}, {"y", x}},
      {{"x", Tensor::view(DType::F32, {2, 4}, unaligned + 1)}},
  };
  const char *expected[] = {
      "entry point 'step' needs its input argument 'x' (f32[2, 4]), which "
      "was not given",
      "argument 'x' of entry point 'step' is f32[4, 2], but the model needs "
      "f32[2, 4]",
      "argument 'x' of entry point 'step' is i64[2, 4], but the model needs "
      "f32[2, 4]",
      "argument 'w' of entry point 'step' is f32[5], but the model needs "
      "f32[4]",
      "entry point 'step' has no argument 'y' (its arguments: 'x', 'w')",
      "the data of argument 'x' of entry point 'step' is not aligned to its "
      "4-byte elements",
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    std::string onCpu = errorOf([&] { cpu.run("step", calls[i]); });
    EXPECT_EQ(onCpu, expected[i]);
    EXPECT_EQ(errorOf([&] { gpu.run("step", calls[i]); }), onCpu);
  }
  EXPECT_EQ(launchCount(), 0); // Refused before anything ran.
  EXPECT_EQ(gpu.run("step", {{"x", x}}).size(), 1u);
  EXPECT_EQ(cpu.run("step", {{"x", x}}).size(), 1u);
}

// A result named after a parameter the caller left out is its new value, on
// both devices; one the caller gave leaves the model's value as it was.
TEST_F(CudaExecutorFake, BothDevicesKeepTheNewState) {
  for (const std::string target : {"cuda-sm_90", "cpu-x86_64"}) {
    SCOPED_TRACE(target);
    ModelOptions options = isCudaTarget(target) ? cuda() : ModelOptions{};
    Model model = Model::load(writeStep(target), options);
    Tensor x = randomTensor({2, 4}, 9);
    auto stateOfW = [&] { return model.weights().at("w").data<float>(); };
    std::vector<Tensor> results =
        model.run("step", {{"x", x}, {"w", randomTensor({4}, 10)}});
    EXPECT_EQ(results[0].data<float>()[0], 0.0f);
    EXPECT_EQ(std::memcmp(stateOfW(), weight.data(), 16), 0);
    results = model.run("step", {{"x", x}});
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(stateOfW()[i], 0.0f);
    // The model keeps its own copy of the result.
    results[0].data<float>()[0] = 5.0f;
    EXPECT_EQ(stateOfW()[0], 0.0f);
  }
}

} // namespace
