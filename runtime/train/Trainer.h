//===- Trainer.h - Training a compiled model on a data set ------*- C++ -*-===//
//
// `nsl-run fit` (DESIGN.md §2: the runtime owns data sets, the training loop
// and checkpoints): epochs of the artifact's train_step over a data set's
// training split, with the learning rate of a Schedule, the test split
// evaluated after every epoch, metrics written per step and per epoch,
// checkpoints written atomically every epoch and on SIGINT/SIGTERM, and
// resumption that continues bit for bit (docs/training.md, "Training on a
// data set").
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_TRAIN_TRAINER_H
#define NSL_RUNTIME_TRAIN_TRAINER_H

#include "runtime/artifact/Model.h"
#include "runtime/data/Dataset.h"
#include "runtime/train/Schedule.h"

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace nsl::train {

enum class ProgressStyle {
  Auto,     // Terminal when the log is a terminal, Lines otherwise.
  Terminal, // One line rewritten in place.
  Lines,    // A plain line every tenth of an epoch.
  Quiet,    // Epoch summaries only.
};

struct FitOptions {
  int64_t epochs = 1;
  Schedule schedule;
  uint64_t seed = 0;
  data::Augmentation augmentation;
  /// Normalise the inputs per channel: with `normalization` if given, else
  /// with the training split's statistics.
  bool normalize = true;
  data::Normalization normalization;
  /// Train on the first N samples of the training split only (0: all).
  int64_t trainSubset = 0;
  /// Where the checkpoint, the metrics and the final model go.
  std::string outputDir = "nsl-fit";
  /// "jsonl" (metrics.jsonl) or "csv" (steps.csv and epochs.csv).
  std::string metricsFormat = "jsonl";
  /// Continue the checkpoint in outputDir.
  bool resume = false;
  /// Evaluate the test split after every epoch.
  bool evaluate = true;
  int loaderWorkers = 1;
  ProgressStyle progress = ProgressStyle::Auto;
  /// Testing aids: after this many steps of this process, it sends itself
  /// SIGKILL (a crash: nothing is saved) or SIGTERM (an interruption, saved
  /// like Ctrl-C); 0: never.
  int64_t killAfterSteps = 0;
  int64_t terminateAfterSteps = 0;
};

struct EpochMetrics {
  int64_t epoch = 0; // 1-based.
  double trainLoss = 0, trainAccuracy = 0;
  double testLoss = 0, testAccuracy = 0; // When evaluated.
  bool evaluated = false;
  double seconds = 0;         // Training steps of this epoch.
  double imagesPerSecond = 0; // Of the training steps.
};

struct FitResult {
  std::vector<EpochMetrics> epochs; // Those finished by this process.
  int64_t steps = 0;                // Global steps done (all runs).
  /// The signal that interrupted the run (its checkpoint is saved), or 0.
  int interruptedBy = 0;
  std::string checkpointPath;
  /// The trained model as a PyTorch state_dict (written at the end).
  std::string modelPath;
};

/// The model's classification interface as `fit` uses it: train_step's
/// input, label and learning-rate arguments and forward's logits.
data::ModelInput classifierInput(const runtime::Model &model);

/// Trains `model` (an artifact compiled with nslc --train) on `data`;
/// progress goes to `log`. Throws runtime::Error, data::DataError or
/// std::runtime_error with a message for people.
FitResult fit(runtime::Model &model, const data::DataSplits &data,
              const FitOptions &options, std::ostream &log);

/// The test split's loss (mean cross-entropy) and accuracy by the forward
/// entry point (batch norm on running statistics), every image counted once:
/// the last partial batch is filled with zeros whose rows are ignored.
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t images = 0;
};
Evaluation evaluate(runtime::Model &model, const data::ImageSet &set,
                    const data::LoaderOptions &options);

/// The model's parameters and buffers by their state_dict names, with a
/// `num_batches_tracked` (i64) beside each batch norm's running statistics,
/// for PyTorch's load_state_dict(strict=True); no optimizer state.
std::map<std::string, runtime::Tensor> stateDict(const runtime::Model &model,
                                                 int64_t numBatchesTracked);

/// Writes `bytes` to `path` so that a reader sees the old file or the new
/// one, never a part: a temporary file in the same folder, flushed to disk,
/// renamed over `path`. Throws std::runtime_error naming the path.
void writeFileAtomically(const std::string &path, const std::string &bytes);

} // namespace nsl::train

#endif // NSL_RUNTIME_TRAIN_TRAINER_H
