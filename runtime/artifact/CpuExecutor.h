//===- CpuExecutor.h - Running a CPU artifact's schedule --------*- C++ -*-===//
//
// The CPU device: runs the kernels of kernels.so (ABI nsl-cpu-1). Owns the
// model's arena and the kernels' workspaces (allocated once, 64-byte
// aligned); kernels read the caller's tensors in place, and each scheduled
// kernel is split over the thread pool along its parallel extent.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_CPUEXECUTOR_H
#define NSL_RUNTIME_ARTIFACT_CPUEXECUTOR_H

#include "runtime/artifact/Executor.h"
#include "runtime/artifact/ThreadPool.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nsl::runtime {

class CpuExecutor final : public Executor {
public:
  /// Allocates the arena and the workspaces; throws Error if it cannot.
  CpuExecutor(std::shared_ptr<const Artifact> artifact,
              const ModelOptions &options);

  int threads() const override { return pool_.size(); }

private:
  void placeArgument(const Binding &argument, const Tensor &tensor) override;
  ScheduleTiming launchSchedule(const EntryPoint &entry) override;
  void readResult(const Binding &result, Tensor &tensor) override;
  void releaseArguments(const EntryPoint &entry) override;

  void allocateArenaAndWorkspaces();
  /// The operands of `launch` for every pool slot it uses: the buffers,
  /// then the slot's workspace (docs/artifact.md).
  void prepareOperands(const Launch &launch);

  using Memory = std::unique_ptr<void, decltype(&std::free)>;
  ThreadPool pool_;
  bool profile_;
  Memory arena_{nullptr, std::free};
  /// One workspace per pool slot (calls running at once never share one),
  /// each of the largest workspace_bytes of any launch.
  Memory workspaces_{nullptr, std::free};
  size_t workspaceStride_ = 0;
  /// The address of every buffer; those of arguments are set by each run.
  std::vector<void *> addresses_;
  /// The kernel operands of the current launch per pool slot.
  std::vector<std::vector<void *>> slotOperands_;
  /// The kernel of every launch, per entry point.
  std::map<std::string, std::vector<KernelFunction>> kernels_;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_CPUEXECUTOR_H
