//===- CudaExecutor.cpp - Running a CUDA artifact's schedule --------------===//
#include "runtime/cuda/CudaExecutor.h"

#include <algorithm>
#include <cstdlib>

namespace nsl::runtime::cuda {

int targetComputeCapability(const std::string &target) {
  if (!isCudaTarget(target))
    return 0;
  return std::atoi(target.c_str() + 8);
}

CudaExecutor::CudaExecutor(std::shared_ptr<const Artifact> artifact,
                           const ModelOptions &options)
    : Executor(std::move(artifact)), profile_(options.profile) {
  const Manifest &manifest = this->artifact().manifest();
  if (!isCudaTarget(manifest.target))
    throw Error(this->artifact().path() + ": target '" + manifest.target +
                "' is not an NVIDIA GPU (run it with --device cpu)");
  device_ = std::make_unique<CudaDevice>(CudaDriver::load());
  loadModule();
  stream_ = std::make_unique<Stream>(*device_);
  start_ = Event(*device_);
  end_ = Event(*device_);
  allocateBuffers();
  for (const EntryPoint &entry : manifest.entryPoints) {
    std::vector<Function> &functions = functions_[entry.name];
    for (const Launch &launch : entry.schedule)
      functions.push_back(module_->function(launch.kernel));
  }
}

CudaExecutor::~CudaExecutor() = default;

void CudaExecutor::loadModule() {
  const std::string &target = artifact().manifest().target;
  // The cubin runs on its own architecture only; PTX JIT-compiles for any
  // GPU at least as new as the target.
  std::string chip = target.substr(5); // sm_XY
  int needed = targetComputeCapability(target);
  int have = device_->computeCapabilityMajor() * 10 +
             device_->computeCapabilityMinor();
  if (!artifact().cubin().empty() && device_->arch() == chip) {
    image_ = "cubin";
    module_ = std::make_unique<Module>(*device_, artifact().cubin());
  } else if (have >= needed) {
    image_ = "ptx";
    module_ = std::make_unique<Module>(*device_, artifact().ptx());
  } else {
    throw Error(
        artifact().path() + ": the artifact is for " + chip + ", but GPU " +
        std::to_string(device_->ordinal()) + " (" + device_->name() + ") is " +
        device_->arch() +
        " (compile the model with nslc --target cuda:" + device_->arch() + ")");
  }
}

void CudaExecutor::allocateBuffers() {
  const Manifest &manifest = artifact().manifest();
  if (manifest.arenaBytes > 0) {
    arena_ = DeviceBuffer(*device_, static_cast<size_t>(manifest.arenaBytes));
    // Zeroed, so that results never depend on what memory held before.
    arena_.fill(0);
  }
  int64_t workspaceBytes = 0;
  size_t launches = 0;
  for (const EntryPoint &entry : manifest.entryPoints) {
    launches = std::max(launches, entry.schedule.size());
    for (const Launch &launch : entry.schedule)
      workspaceBytes =
          std::max(workspaceBytes, launch.grid[0] * launch.workspaceBytes);
  }
  if (workspaceBytes > 0)
    workspace_ = DeviceBuffer(*device_, static_cast<size_t>(workspaceBytes));
  if (profile_)
    for (size_t i = 0; i <= launches; ++i)
      launchEvents_.emplace_back(*device_);

  addresses_.assign(manifest.buffers.size(), 0);
  for (const BufferInfo &buffer : manifest.buffers) {
    CUdeviceptr &address = addresses_[static_cast<size_t>(buffer.id)];
    if (buffer.bytes == 0)
      continue;
    if (buffer.storage == Storage::Arena) {
      address = arena_.pointer() + static_cast<CUdeviceptr>(buffer.offset);
      continue;
    }
    DeviceBuffer &owned = owned_[buffer.id] =
        DeviceBuffer(*device_, static_cast<size_t>(buffer.bytes));
    address = owned.pointer();
    if (buffer.storage == Storage::Constant)
      owned.upload(*artifact().weights().find(buffer.name)); // Checked.
  }
}

void CudaExecutor::placeArgument(const Binding &argument,
                                 const Tensor &tensor) {
  if (tensor.byteSize())
    owned_.at(argument.buffer).upload(tensor);
}

ScheduleTiming CudaExecutor::launchSchedule(const EntryPoint &entry) {
  const std::vector<Function> &functions = functions_.at(entry.name);
  std::vector<CUdeviceptr> operands;
  std::vector<void *> parameters;
  auto dim = [](const std::array<int64_t, 3> &d) {
    return Dim3{static_cast<unsigned>(d[0]), static_cast<unsigned>(d[1]),
                static_cast<unsigned>(d[2])};
  };
  start_.record(*stream_);
  for (size_t i = 0; i < entry.schedule.size(); ++i) {
    const Launch &launch = entry.schedule[i];
    // nsl-cuda-1: the buffers' device pointers, then the workspace.
    operands.clear();
    for (int64_t id : launch.buffers)
      operands.push_back(addresses_[static_cast<size_t>(id)]);
    if (launch.workspaceBytes > 0)
      operands.push_back(workspace_.pointer());
    parameters.clear();
    for (CUdeviceptr &operand : operands)
      parameters.push_back(&operand);
    if (profile_)
      launchEvents_[i].record(*stream_);
    cuda::launch(functions[i], dim(launch.grid), dim(launch.block),
                 static_cast<unsigned>(launch.sharedBytes), *stream_,
                 parameters.data());
  }
  if (profile_)
    launchEvents_[entry.schedule.size()].record(*stream_);
  end_.record(*stream_);
  stream_->synchronize();
  end_.synchronize();

  ScheduleTiming timing;
  timing.kernelMilliseconds = end_.elapsedMs(start_);
  if (profile_)
    for (size_t i = 0; i < entry.schedule.size(); ++i)
      timing.launches.push_back(
          {i, entry.schedule[i].kernel, entry.schedule[i].parallelExtent,
           launchEvents_[i + 1].elapsedMs(launchEvents_[i])});
  return timing;
}

void CudaExecutor::readResult(const Binding &result, Tensor &tensor) {
  const BufferInfo &buffer =
      artifact().manifest().buffers[static_cast<size_t>(result.buffer)];
  if (buffer.storage == Storage::Arena)
    arena_.copyToHost(tensor.data(), tensor.byteSize(),
                      static_cast<size_t>(buffer.offset));
  else
    owned_.at(buffer.id).copyToHost(tensor.data(), tensor.byteSize());
}

} // namespace nsl::runtime::cuda
