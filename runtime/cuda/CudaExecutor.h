//===- CudaExecutor.h - Running a CUDA artifact's schedule ------*- C++ -*-===//
//
// The CUDA device (an Executor): runs a CUDA artifact (target cuda-sm_XY,
// docs/artifact.md) through the driver layer. Loads the cubin when it was
// built for the device's architecture, else JIT-compiles the PTX; allocates
// one device buffer per argument and constant, the arena (zeroed) and the
// workspace (grid.x slices per launch), uploads the constants once; each run
// uploads the arguments, launches the schedule in order on one stream and
// downloads the results.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_CUDA_CUDAEXECUTOR_H
#define NSL_RUNTIME_CUDA_CUDAEXECUTOR_H

#include "runtime/artifact/Executor.h"
#include "runtime/cuda/CudaDriver.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nsl::runtime::cuda {

class CudaExecutor final : public Executor {
public:
  /// Loads the driver (CudaDriver::load: $NSL_CUDA_DRIVER or libcuda.so.1)
  /// and the kernels on device 0; throws Error ("no CUDA driver: ..." on a
  /// machine without one).
  CudaExecutor(std::shared_ptr<const Artifact> artifact,
               const ModelOptions &options);
  ~CudaExecutor() override;

  /// The calling thread launches every kernel.
  int threads() const override { return 1; }
  const CudaDevice &device() const { return *device_; }
  /// "cubin" or "ptx": which image was loaded.
  const std::string &image() const { return image_; }

private:
  void placeArgument(const Binding &argument, const Tensor &tensor) override;
  /// Times the launches with CUDA events: all of them, and each one when
  /// profiling.
  ScheduleTiming launchSchedule(const EntryPoint &entry) override;
  void readResult(const Binding &result, Tensor &tensor) override;

  /// The cubin if it was built for the device, else the PTX.
  void loadModule();
  void allocateBuffers();

  std::unique_ptr<CudaDevice> device_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Module> module_;
  std::string image_;
  bool profile_;
  DeviceBuffer arena_, workspace_;
  /// Argument and constant buffers by id (arena buffers live in arena_).
  std::map<int64_t, DeviceBuffer> owned_;
  std::vector<CUdeviceptr> addresses_;                     // By buffer id.
  std::map<std::string, std::vector<Function>> functions_; // Per entry.
  Event start_, end_;
  std::vector<Event> launchEvents_;
};

/// The compute capability a target needs: cuda-sm_90 -> 90; 0 if it is not
/// a CUDA target.
int targetComputeCapability(const std::string &target);

} // namespace nsl::runtime::cuda

#endif // NSL_RUNTIME_CUDA_CUDAEXECUTOR_H
