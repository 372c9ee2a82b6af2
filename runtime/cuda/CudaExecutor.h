//===- CudaExecutor.h - Running a CUDA artifact's schedule -------*- C++
//-*-===//
//
// Executes a CUDA artifact (target cuda-sm_XY, docs/artifact.md) through the
// driver layer: loads the cubin when it was built for the device's
// architecture, else JIT-compiles the PTX; allocates one device buffer per
// argument, the arena (zeroed) and the workspace (grid.x slices per launch),
// uploads the constants once; each run uploads the arguments, launches the
// schedule in order on one stream and downloads the results.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_CUDA_CUDAEXECUTOR_H
#define NSL_RUNTIME_CUDA_CUDAEXECUTOR_H

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/Model.h"
#include "runtime/cuda/CudaDriver.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace nsl::runtime::cuda {

class CudaExecutor {
public:
  /// Loads the driver (CudaDriver::load: $NSL_CUDA_DRIVER or libcuda.so.1)
  /// and the kernels on device 0; throws Error ("no CUDA driver: ..." on a
  /// machine without one).
  CudaExecutor(std::shared_ptr<const Artifact> artifact,
               const ModelOptions &options);
  ~CudaExecutor();

  const Artifact &artifact() const { return *artifact_; }
  const CudaDevice &device() const { return *device_; }
  /// "cubin" or "ptx": which image was loaded.
  const std::string &image() const { return image_; }

  /// See Model::run.
  std::vector<Tensor> run(const std::string &entry,
                          const std::map<std::string, Tensor> &arguments);
  /// See Model::lastProfile (CUDA event times of every launch).
  std::vector<LaunchTiming> lastProfile() const;
  /// The GPU time of the last run's launches (CUDA events), in ms.
  double lastKernelMilliseconds() const;

private:
  std::shared_ptr<const Artifact> artifact_;
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
  std::vector<LaunchTiming> profileLog_;
  double lastMilliseconds_ = 0.0;
  mutable std::mutex mutex_;
};

/// The compute capability a target needs: cuda-sm_90 -> 90; 0 if it is not
/// a CUDA target.
int targetComputeCapability(const std::string &target);

} // namespace nsl::runtime::cuda

#endif // NSL_RUNTIME_CUDA_CUDAEXECUTOR_H
