//===- Executor.h - Running the schedule of an entry point -------*- C++
//-*-===//
//
// Executes a loaded artifact: owns the model's arena and the kernels'
// workspaces (allocated once, 64-byte aligned), binds the buffers of an entry
// point (caller tensors, weights, constants, arena offsets) and calls the
// scheduled kernels in order, each split over the thread pool along its
// parallel extent.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_EXECUTOR_H
#define NSL_RUNTIME_ARTIFACT_EXECUTOR_H

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/Model.h"
#include "runtime/artifact/ThreadPool.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace nsl::runtime {

class Executor {
public:
  /// Allocates the arena; throws Error if it cannot.
  Executor(std::shared_ptr<const Artifact> artifact,
           const ModelOptions &options);

  const Artifact &artifact() const { return *artifact_; }
  int threads() const { return pool_.size(); }

  /// See Model::run.
  std::vector<Tensor> run(const std::string &entry,
                          const std::map<std::string, Tensor> &arguments);
  /// See Model::lastProfile.
  std::vector<LaunchTiming> lastProfile() const;

private:
  std::shared_ptr<const Artifact> artifact_;
  ThreadPool pool_;
  bool profile_;
  std::unique_ptr<void, decltype(&std::free)> arena_{nullptr, std::free};
  /// One workspace per pool slot (calls running at once never share one),
  /// each of the largest workspace_bytes of any launch.
  std::unique_ptr<void, decltype(&std::free)> workspaces_{nullptr, std::free};
  size_t workspaceStride_ = 0;
  /// The address of every buffer; those of arguments are set by each run.
  std::vector<void *> addresses_;
  /// The kernel operands of the current launch per pool slot.
  std::vector<std::vector<void *>> slotOperands_;
  /// The kernel of every launch, per entry point.
  std::map<std::string, std::vector<KernelFunction>> kernels_;
  mutable std::mutex mutex_; // Serialises runs (the arena is shared).
  std::vector<LaunchTiming> profileLog_;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_EXECUTOR_H
