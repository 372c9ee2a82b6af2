//===- Metrics.h - Metrics files and the progress display -------*- C++ -*-===//
//
// What `nsl-run fit` reports while it trains: one record per step and per
// epoch in JSON lines (metrics.jsonl) or CSV (steps.csv, epochs.csv), which
// scripts/plot-metrics.py draws; and the progress display, a line rewritten
// in place on a terminal or plain lines in a log.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_TRAIN_METRICS_H
#define NSL_RUNTIME_TRAIN_METRICS_H

#include "runtime/train/Trainer.h"

#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace nsl::train {

struct StepRecord {
  int64_t epoch = 0; // 1-based.
  int64_t step = 0;  // Global, 1-based: steps done including this one.
  int64_t batch = 0; // In the epoch, 0-based.
  double learningRate = 0, loss = 0, accuracy = 0, imagesPerSecond = 0;
};

class MetricsLog {
public:
  /// Opens the metrics files of `format` ("jsonl" or "csv") in `folder`:
  /// new ones, or, resuming, the existing ones cut back to `resumeSizes`
  /// (sizes(), as the checkpoint recorded them), so that the records of
  /// steps after the checkpoint are not there twice.
  MetricsLog(const std::string &folder, const std::string &format,
             const std::string *resumeSizes);
  void step(const StepRecord &record);
  void epoch(const EpochMetrics &metrics);
  /// Flushes the files and returns their sizes, "BYTES[ BYTES]".
  std::string sizes();
  /// The files written, for messages.
  const std::vector<std::string> &paths() const { return paths_; }

private:
  bool csv_ = false;
  std::vector<std::string> paths_;
  std::vector<std::ofstream> files_; // jsonl: one; csv: steps, epochs.
};

class ProgressDisplay {
public:
  ProgressDisplay(std::ostream &out, ProgressStyle style, int64_t epochs,
                  int64_t batchesPerEpoch);
  /// After every step: `loss` and `accuracy` are the epoch's running means.
  void step(int64_t epoch, int64_t batch, double imagesPerSecond, double loss,
            double accuracy, double learningRate, double etaSeconds);
  void epochDone(const EpochMetrics &metrics);
  /// A line of its own (the in-place line is ended first).
  void message(const std::string &text);

private:
  void endLine();

  std::ostream &out_;
  ProgressStyle style_;
  int64_t epochs_, batchesPerEpoch_;
  bool lineOpen_ = false;
};

/// "1:02:03" or "2:03".
std::string formatDuration(double seconds);

} // namespace nsl::train

#endif // NSL_RUNTIME_TRAIN_METRICS_H
