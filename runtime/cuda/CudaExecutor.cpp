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
    : artifact_(std::move(artifact)), profile_(options.profile) {
  const Manifest &manifest = artifact_->manifest();
  const std::string &path = artifact_->path();
  if (!isCudaTarget(manifest.target))
    throw Error(path + ": target '" + manifest.target +
                "' is not an NVIDIA GPU (run it with --device cpu)");
  device_ = std::make_unique<CudaDevice>(CudaDriver::load());
  // The cubin runs on its own architecture only; PTX JIT-compiles for any
  // GPU at least as new as the target.
  std::string chip = manifest.target.substr(5); // sm_XY
  int needed = targetComputeCapability(manifest.target);
  int have = device_->computeCapabilityMajor() * 10 +
             device_->computeCapabilityMinor();
  if (!artifact_->cubin().empty() && device_->arch() == chip) {
    image_ = "cubin";
    module_ = std::make_unique<Module>(*device_, artifact_->cubin());
  } else if (have >= needed) {
    image_ = "ptx";
    module_ = std::make_unique<Module>(*device_, artifact_->ptx());
  } else {
    throw Error(
        path + ": the artifact is for " + chip + ", but GPU " +
        std::to_string(device_->ordinal()) + " (" + device_->name() + ") is " +
        device_->arch() +
        " (compile the model with nslc --target cuda:" + device_->arch() + ")");
  }
  stream_ = std::make_unique<Stream>(*device_);
  start_ = Event(*device_);
  end_ = Event(*device_);

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
      owned.upload(*artifact_->weights().find(buffer.name)); // Checked.
  }
  for (const EntryPoint &entry : manifest.entryPoints) {
    std::vector<Function> &functions = functions_[entry.name];
    for (const Launch &launch : entry.schedule)
      functions.push_back(module_->function(launch.kernel));
  }
}

CudaExecutor::~CudaExecutor() = default;

std::vector<Tensor>
CudaExecutor::run(const std::string &entryName,
                  const std::map<std::string, Tensor> &arguments) {
  const EntryPoint *entry = &artifact_->entryPoint(entryName);
  const std::string where = "entry point '" + entry->name + "'";
  for (const auto &[name, tensor] : arguments) {
    bool known = false;
    for (const Binding &argument : entry->arguments)
      known = known || argument.name == name;
    if (!known)
      throw Error(where + " has no argument '" + name + "'");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Binding &argument : entry->arguments) {
    const Tensor *tensor = nullptr;
    auto given = arguments.find(argument.name);
    if (given != arguments.end()) {
      tensor = &given->second;
      if (tensor->dtype() != argument.dtype ||
          tensor->shape() != argument.shape)
        throw Error("argument '" + argument.name + "' of " + where + " is " +
                    tensor->typeString() + ", but the model needs " +
                    typeToString(argument.dtype, argument.shape));
    } else if (roleHasDefault(argument.role)) {
      tensor = artifact_->weights().find(argument.name); // Checked at load.
    } else {
      throw Error(where + " needs its " + argument.role + " argument '" +
                  argument.name + "' (" +
                  typeToString(argument.dtype, argument.shape) +
                  "), which was not given");
    }
    if (tensor->byteSize())
      owned_.at(argument.buffer).upload(*tensor);
  }

  profileLog_.clear();
  const std::vector<Function> &functions = functions_.at(entry->name);
  std::vector<CUdeviceptr> operands;
  std::vector<void *> parameters;
  start_.record(*stream_);
  for (size_t i = 0; i < entry->schedule.size(); ++i) {
    const Launch &launch = entry->schedule[i];
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
    auto dim = [](const std::array<int64_t, 3> &d) {
      return Dim3{static_cast<unsigned>(d[0]), static_cast<unsigned>(d[1]),
                  static_cast<unsigned>(d[2])};
    };
    cuda::launch(functions[i], dim(launch.grid), dim(launch.block),
                 static_cast<unsigned>(launch.sharedBytes), *stream_,
                 parameters.data());
  }
  if (profile_)
    launchEvents_[entry->schedule.size()].record(*stream_);
  end_.record(*stream_);
  stream_->synchronize();
  end_.synchronize();
  lastMilliseconds_ = end_.elapsedMs(start_);
  if (profile_)
    for (size_t i = 0; i < entry->schedule.size(); ++i)
      profileLog_.push_back({i, entry->schedule[i].kernel,
                             entry->schedule[i].parallelExtent,
                             launchEvents_[i + 1].elapsedMs(launchEvents_[i])});

  std::vector<Tensor> results;
  const Manifest &manifest = artifact_->manifest();
  for (const Binding &result : entry->results) {
    Tensor tensor(result.dtype, result.shape);
    const BufferInfo &buffer =
        manifest.buffers[static_cast<size_t>(result.buffer)];
    if (tensor.byteSize()) {
      if (buffer.storage == Storage::Arena)
        arena_.copyToHost(tensor.data(), tensor.byteSize(),
                          static_cast<size_t>(buffer.offset));
      else
        owned_.at(buffer.id).copyToHost(tensor.data(), tensor.byteSize());
    }
    results.push_back(std::move(tensor));
  }
  return results;
}

std::vector<LaunchTiming> CudaExecutor::lastProfile() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return profileLog_;
}

double CudaExecutor::lastKernelMilliseconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lastMilliseconds_;
}

} // namespace nsl::runtime::cuda
