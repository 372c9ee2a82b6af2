//===- Executor.h - Running entry points on a device ------------*- C++ -*-===//
//
// The runtime's one device interface. An Executor runs the entry points of
// a loaded artifact on one device and keeps the model's state (its
// parameters, buffers and optimizer state: the artifact's weights until a
// run returns new values for them). What every device does alike is here,
// once: binding an entry point's arguments by name, checking them, one run
// at a time, the results and the new state. A device (CpuExecutor,
// cuda::CudaExecutor) only places the arguments' buffers, launches the
// schedule and reads the results back; createExecutor (ExecutorFactory.h)
// makes the one that ModelOptions::device names.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_EXECUTOR_H
#define NSL_RUNTIME_ARTIFACT_EXECUTOR_H

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/Model.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace nsl::runtime {

/// The tensor of every argument of `entry`, in order: the caller's (from
/// `given`, by name), for an argument with a default (roleHasDefault)
/// that the caller left out the model's (from `state`), for a `derived`
/// argument the one of that name in `prepared` (the results of the entry
/// point's prepare entry point). Throws Error, naming the entry point and
/// the argument, for a name that is not an argument, a given derived
/// argument, a missing argument, a dtype or shape other than the declared
/// one, or data not aligned to its elements.
std::vector<const Tensor *>
bindArguments(const EntryPoint &entry,
              const std::map<std::string, Tensor> &given,
              const std::map<std::string, Tensor> &state,
              const std::map<std::string, Tensor> &prepared = {});

/// What a device measured of one run of a schedule.
struct ScheduleTiming {
  std::vector<LaunchTiming> launches; // Every launch, when profiling.
  /// The device time of all launches, in milliseconds; negative where the
  /// device does not measure it (CPU).
  double kernelMilliseconds = -1.0;
};

class Executor {
public:
  virtual ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  const Artifact &artifact() const { return *artifact_; }
  /// The threads that run kernels, the caller included.
  virtual int threads() const = 0;
  /// The current parameters, buffers and optimizer state (Model::weights).
  const std::map<std::string, Tensor> &state() const { return state_; }
  /// See Model::setWeights.
  void setState(const std::map<std::string, Tensor> &values);

  /// See Model::run.
  std::vector<Tensor> run(const std::string &entry,
                          const std::map<std::string, Tensor> &arguments);
  /// See Model::lastProfile.
  std::vector<LaunchTiming> lastProfile() const;
  /// See Model::lastKernelMilliseconds (negative before the first run).
  double lastKernelMilliseconds() const;

protected:
  explicit Executor(std::shared_ptr<const Artifact> artifact);

  // The device's part of a run: run() calls these in this order, one run at
  // a time, once every argument is bound and checked.

  /// Makes `tensor` the contents of the argument's buffer; the tensor stays
  /// unchanged until releaseArguments.
  virtual void placeArgument(const Binding &argument, const Tensor &tensor) = 0;
  /// Runs the entry point's schedule to completion.
  virtual ScheduleTiming launchSchedule(const EntryPoint &entry) = 0;
  /// Copies the result's buffer into `tensor` (of the result's dtype and
  /// shape, not empty).
  virtual void readResult(const Binding &result, Tensor &tensor) = 0;
  /// Forgets the caller's tensors; also called when a run fails.
  virtual void releaseArguments(const EntryPoint &entry) {}

private:
  /// run() once the lock is held: binds, launches, reads the results.
  std::vector<Tensor> runLocked(const EntryPoint &entry,
                                const std::map<std::string, Tensor> &given);
  /// The results, by name, of the prepare entry point of `entry` (none if
  /// it has none): for the caller's weights where `given` holds any of its
  /// arguments (kept in `forThisCall`), else for the model's state, computed
  /// once per state and kept in prepared_.
  const std::map<std::string, Tensor> &
  preparedArguments(const EntryPoint &entry,
                    const std::map<std::string, Tensor> &given,
                    std::map<std::string, Tensor> &forThisCall);
  /// The results named after an argument with a default that the caller
  /// left out are that argument's new value (train_step's updates).
  void keepNewState(const EntryPoint &entry,
                    const std::map<std::string, Tensor> &given,
                    const std::vector<Tensor> &results);

  std::shared_ptr<const Artifact> artifact_;
  std::map<std::string, Tensor> state_;
  /// Bumped whenever state_ changes; a prepare entry point's cached
  /// results are valid for the version they were computed at.
  uint64_t stateVersion_ = 0;
  struct Prepared {
    uint64_t stateVersion = 0;
    std::map<std::string, Tensor> results;
  };
  std::map<std::string, Prepared> prepared_; // By prepare entry point.
  ScheduleTiming lastTiming_;
  mutable std::mutex mutex_; // Runs share the device's memory.
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_EXECUTOR_H
