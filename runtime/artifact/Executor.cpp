//===- Executor.cpp - Running the schedule of an entry point --------------===//

#include "runtime/artifact/Executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

namespace nsl::runtime {

Executor::Executor(std::shared_ptr<const Artifact> artifact,
                   const ModelOptions &options)
    : artifact_(std::move(artifact)), pool_(options.threads),
      profile_(options.profile) {
  const Manifest &manifest = artifact_->manifest();
  auto allocate = [&](int64_t bytes, int64_t copies, const std::string &what) {
    constexpr int64_t align = Tensor::alignment;
    if (bytes > std::numeric_limits<int64_t>::max() / 2 / copies)
      throw Error(artifact_->path() + ": " + what + " of " +
                  std::to_string(bytes) + " bytes is too large");
    int64_t rounded = (bytes + align - 1) / align * align;
    void *memory =
        std::aligned_alloc(align, static_cast<size_t>(rounded * copies));
    if (!memory)
      throw Error(artifact_->path() + ": cannot allocate " + what + " of " +
                  std::to_string(bytes) + " bytes");
    return std::make_pair(memory, static_cast<size_t>(rounded));
  };
  if (manifest.arenaBytes > 0) {
    auto [memory, bytes] = allocate(manifest.arenaBytes, 1, "the arena");
    arena_.reset(memory);
    // Zeroed, so that results never depend on what memory held before.
    std::memset(memory, 0, bytes);
  }
  int64_t workspaceBytes = 0;
  for (const EntryPoint &entry : manifest.entryPoints)
    for (const Launch &launch : entry.schedule)
      workspaceBytes = std::max(workspaceBytes, launch.workspaceBytes);
  if (workspaceBytes > 0) {
    auto [memory, stride] =
        allocate(workspaceBytes, pool_.size(), "a kernel workspace");
    workspaces_.reset(memory);
    workspaceStride_ = stride;
  }
  slotOperands_.resize(static_cast<size_t>(pool_.size()));
  addresses_.assign(manifest.buffers.size(), nullptr);
  for (const BufferInfo &buffer : manifest.buffers) {
    void *&address = addresses_[static_cast<size_t>(buffer.id)];
    if (buffer.storage == Storage::Arena && buffer.bytes > 0)
      address = static_cast<char *>(arena_.get()) + buffer.offset;
    else if (buffer.storage == Storage::Constant)
      // Constants are only read; the ABI's pointers are just not const.
      address =
          const_cast<void *>(artifact_->weights().find(buffer.name)->data());
  }
  for (const EntryPoint &entry : manifest.entryPoints) {
    std::vector<KernelFunction> &kernels = kernels_[entry.name];
    for (const Launch &launch : entry.schedule)
      kernels.push_back(artifact_->kernel(launch.kernel));
  }
}

std::vector<Tensor>
Executor::run(const std::string &entryName,
              const std::map<std::string, Tensor> &arguments) {
  const EntryPoint *entry = &artifact_->entryPoint(entryName);
  const std::string where = "entry point '" + entry->name + "'";
  for (const auto &[name, tensor] : arguments) {
    bool known = false;
    for (const Binding &argument : entry->arguments)
      known = known || argument.name == name;
    if (!known) {
      std::string declared;
      for (const Binding &argument : entry->arguments)
        declared += (declared.empty() ? "'" : ", '") + argument.name + "'";
      throw Error(where + " has no argument '" + name + "' (its arguments: " +
                  (declared.empty() ? "none" : declared) + ")");
    }
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
      if (reinterpret_cast<uintptr_t>(tensor->data()) %
          itemSize(argument.dtype))
        throw Error("the data of argument '" + argument.name + "' of " + where +
                    " is not aligned to its " +
                    std::to_string(itemSize(argument.dtype)) +
                    "-byte elements");
    } else if (roleHasDefault(argument.role)) {
      tensor = artifact_->weights().find(argument.name); // Checked at load.
    } else {
      throw Error(where + " needs its " + argument.role + " argument '" +
                  argument.name + "' (" +
                  typeToString(argument.dtype, argument.shape) +
                  "), which was not given");
    }
    addresses_[static_cast<size_t>(argument.buffer)] =
        const_cast<void *>(tensor->data());
  }

  using Clock = std::chrono::steady_clock;
  profileLog_.clear();
  const std::vector<KernelFunction> &kernels = kernels_.at(entry->name);
  for (size_t i = 0; i < entry->schedule.size(); ++i) {
    const Launch &launch = entry->schedule[i];
    // The buffers, then the workspace of the slot (docs/artifact.md).
    int64_t slots = std::min<int64_t>(pool_.size(), launch.parallelExtent);
    for (int64_t slot = 0; slot < slots; ++slot) {
      std::vector<void *> &operands = slotOperands_[static_cast<size_t>(slot)];
      operands.clear();
      for (int64_t id : launch.buffers)
        operands.push_back(addresses_[static_cast<size_t>(id)]);
      if (launch.workspaceBytes > 0)
        operands.push_back(static_cast<char *>(workspaces_.get()) +
                           static_cast<size_t>(slot) * workspaceStride_);
    }
    KernelFunction kernel = kernels[i];
    Clock::time_point start = Clock::now();
    pool_.parallelFor(
        launch.parallelExtent, [&](int64_t begin, int64_t end, int slot) {
          kernel(slotOperands_[static_cast<size_t>(slot)].data(), begin, end);
        });
    if (profile_)
      profileLog_.push_back(
          {i, launch.kernel, launch.parallelExtent,
           std::chrono::duration<double, std::milli>(Clock::now() - start)
               .count()});
  }

  std::vector<Tensor> results;
  for (const Binding &result : entry->results) {
    Tensor tensor(result.dtype, result.shape);
    if (tensor.byteSize())
      std::memcpy(tensor.data(), addresses_[static_cast<size_t>(result.buffer)],
                  tensor.byteSize());
    results.push_back(std::move(tensor));
  }
  // The caller's tensors are not kept beyond the call.
  for (const Binding &argument : entry->arguments)
    addresses_[static_cast<size_t>(argument.buffer)] = nullptr;
  return results;
}

std::vector<LaunchTiming> Executor::lastProfile() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return profileLog_;
}

} // namespace nsl::runtime
