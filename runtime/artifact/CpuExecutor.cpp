//===- CpuExecutor.cpp - Running a CPU artifact's schedule ----------------===//

#include "runtime/artifact/CpuExecutor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

namespace nsl::runtime {

CpuExecutor::CpuExecutor(std::shared_ptr<const Artifact> artifact,
                         const ModelOptions &options)
    : Executor(std::move(artifact)), pool_(options.threads),
      profile_(options.profile) {
  allocateArenaAndWorkspaces();
  const Manifest &manifest = this->artifact().manifest();
  slotOperands_.resize(static_cast<size_t>(pool_.size()));
  addresses_.assign(manifest.buffers.size(), nullptr);
  for (const BufferInfo &buffer : manifest.buffers) {
    void *&address = addresses_[static_cast<size_t>(buffer.id)];
    if (buffer.storage == Storage::Arena && buffer.bytes > 0)
      address = static_cast<char *>(arena_.get()) + buffer.offset;
    else if (buffer.storage == Storage::Constant)
      // Constants are only read; the ABI's pointers are just not const.
      address = const_cast<void *>(
          this->artifact().weights().find(buffer.name)->data());
  }
  for (const EntryPoint &entry : manifest.entryPoints) {
    std::vector<KernelFunction> &kernels = kernels_[entry.name];
    for (const Launch &launch : entry.schedule)
      kernels.push_back(this->artifact().kernel(launch.kernel));
  }
}

void CpuExecutor::allocateArenaAndWorkspaces() {
  const Manifest &manifest = artifact().manifest();
  auto allocate = [&](int64_t bytes, int64_t copies, const std::string &what) {
    constexpr int64_t align = Tensor::alignment;
    if (bytes > std::numeric_limits<int64_t>::max() / 2 / copies)
      throw Error(artifact().path() + ": " + what + " of " +
                  std::to_string(bytes) + " bytes is too large");
    int64_t rounded = (bytes + align - 1) / align * align;
    void *memory =
        std::aligned_alloc(align, static_cast<size_t>(rounded * copies));
    if (!memory)
      throw Error(artifact().path() + ": cannot allocate " + what + " of " +
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
}

void CpuExecutor::placeArgument(const Binding &argument, const Tensor &tensor) {
  // Kernels read the caller's tensor in place; the ABI's pointers are just
  // not const.
  addresses_[static_cast<size_t>(argument.buffer)] =
      const_cast<void *>(tensor.data());
}

void CpuExecutor::prepareOperands(const Launch &launch) {
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
}

ScheduleTiming CpuExecutor::launchSchedule(const EntryPoint &entry) {
  using Clock = std::chrono::steady_clock;
  ScheduleTiming timing;
  const std::vector<KernelFunction> &kernels = kernels_.at(entry.name);
  for (size_t i = 0; i < entry.schedule.size(); ++i) {
    const Launch &launch = entry.schedule[i];
    prepareOperands(launch);
    KernelFunction kernel = kernels[i];
    Clock::time_point start = Clock::now();
    pool_.parallelFor(
        launch.parallelExtent, [&](int64_t begin, int64_t end, int slot) {
          kernel(slotOperands_[static_cast<size_t>(slot)].data(), begin, end);
        });
    if (profile_)
      timing.launches.push_back(
          {i, launch.kernel, launch.parallelExtent,
           std::chrono::duration<double, std::milli>(Clock::now() - start)
               .count()});
  }
  return timing;
}

void CpuExecutor::readResult(const Binding &result, Tensor &tensor) {
  std::memcpy(tensor.data(), addresses_[static_cast<size_t>(result.buffer)],
              tensor.byteSize());
}

void CpuExecutor::releaseArguments(const EntryPoint &entry) {
  // The caller's tensors are not kept beyond the call.
  for (const Binding &argument : entry.arguments)
    addresses_[static_cast<size_t>(argument.buffer)] = nullptr;
}

} // namespace nsl::runtime
