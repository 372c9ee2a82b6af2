//===- Schedule.h - Learning-rate schedules of the trainer ------*- C++ -*-===//
//
// The learning rate of every training step, which the trainer passes to
// train_step's `lr` argument (so a schedule never needs recompiling):
// constant, step decay at given iterations (the paper's 0.1 → ÷10 twice),
// or cosine annealing, each optionally after a linear warm-up.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_TRAIN_SCHEDULE_H
#define NSL_RUNTIME_TRAIN_SCHEDULE_H

#include <cstdint>
#include <string>
#include <vector>

namespace nsl::train {

struct Schedule {
  enum class Kind { Constant, Step, Cosine };
  Kind kind = Kind::Constant;
  double baseRate = 0.01;
  /// Step: the rate is multiplied by `gamma` at each of these steps (0-based
  /// global step indices, ascending).
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  /// Cosine: the rate falls from baseRate to `minimumRate` over the steps
  /// after the warm-up, up to `totalSteps`.
  double minimumRate = 0.0;
  int64_t totalSteps = 0;
  /// The first `warmupSteps` steps rise linearly to the scheduled rate:
  /// step s (0-based) gets (s + 1) / warmupSteps of it.
  int64_t warmupSteps = 0;

  /// The learning rate of global step `step` (0-based).
  double rate(int64_t step) const;
  /// One line for logs and checkpoints, e.g. "step 0.1 x0.1 at 100,200".
  std::string describe() const;
};

/// Parses "constant", "step", "cosine"; throws std::invalid_argument naming
/// the valid ones.
Schedule::Kind parseScheduleKind(const std::string &name);

/// Parses milestones "100,200" (steps) or "10e,15e" (epochs, converted with
/// `stepsPerEpoch`), ascending; throws std::invalid_argument.
std::vector<int64_t> parseMilestones(const std::string &text,
                                     int64_t stepsPerEpoch);

} // namespace nsl::train

#endif // NSL_RUNTIME_TRAIN_SCHEDULE_H
