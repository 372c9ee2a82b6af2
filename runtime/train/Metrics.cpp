//===- Metrics.cpp - Metrics files and the progress display ---------------===//

#include "runtime/train/Metrics.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace nsl::train {
namespace {

std::string number(double value) {
  if (!std::isfinite(value))
    return "null"; // JSON has no NaN; CSV readers take it as missing.
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  return buffer;
}

uintmax_t parseSize(const std::string &text, size_t index) {
  std::istringstream in(text);
  uintmax_t size = 0;
  for (size_t i = 0; i <= index; ++i)
    if (!(in >> size))
      throw std::runtime_error("the checkpoint's metrics sizes '" + text +
                               "' do not match the metrics files");
  return size;
}

} // namespace

MetricsLog::MetricsLog(const std::string &folder, const std::string &format,
                       const std::string *resumeSizes) {
  if (format != "jsonl" && format != "csv")
    throw std::runtime_error("unknown metrics format '" + format +
                             "': expected jsonl or csv");
  csv_ = format == "csv";
  if (csv_)
    paths_ = {(fs::path(folder) / "steps.csv").string(),
              (fs::path(folder) / "epochs.csv").string()};
  else
    paths_ = {(fs::path(folder) / "metrics.jsonl").string()};
  for (size_t i = 0; i < paths_.size(); ++i) {
    const std::string &path = paths_[i];
    bool fresh = !resumeSizes;
    if (resumeSizes) {
      uintmax_t size = parseSize(*resumeSizes, i);
      std::error_code error;
      if (!fs::exists(path) || fs::file_size(path) < size)
        throw std::runtime_error(
            "cannot resume the metrics: '" + path +
            "' is missing or shorter than when the checkpoint was written");
      fs::resize_file(path, size, error);
      if (error)
        throw std::runtime_error("cannot resume the metrics: '" + path +
                                 "': " + error.message());
      fresh = size == 0;
    }
    files_.emplace_back(path, resumeSizes ? std::ios::app : std::ios::trunc);
    if (!files_.back())
      throw std::runtime_error("cannot write '" + path + "'");
    if (csv_ && fresh)
      files_.back() << (i == 0 ? "epoch,step,batch,lr,loss,accuracy,"
                                 "images_per_second\n"
                               : "epoch,train_loss,train_accuracy,test_loss,"
                                 "test_accuracy,seconds,images_per_second\n");
  }
}

void MetricsLog::step(const StepRecord &r) {
  if (csv_) {
    files_[0] << r.epoch << ',' << r.step << ',' << r.batch << ','
              << number(r.learningRate) << ',' << number(r.loss) << ','
              << number(r.accuracy) << ',' << number(r.imagesPerSecond) << '\n';
    return;
  }
  files_[0] << "{\"kind\": \"step\", \"epoch\": " << r.epoch
            << ", \"step\": " << r.step << ", \"batch\": " << r.batch
            << ", \"lr\": " << number(r.learningRate)
            << ", \"loss\": " << number(r.loss)
            << ", \"accuracy\": " << number(r.accuracy)
            << ", \"images_per_second\": " << number(r.imagesPerSecond)
            << "}\n";
}

void MetricsLog::epoch(const EpochMetrics &m) {
  std::string testLoss = m.evaluated ? number(m.testLoss) : "";
  std::string testAccuracy = m.evaluated ? number(m.testAccuracy) : "";
  if (csv_) {
    files_[1] << m.epoch << ',' << number(m.trainLoss) << ','
              << number(m.trainAccuracy) << ',' << testLoss << ','
              << testAccuracy << ',' << number(m.seconds) << ','
              << number(m.imagesPerSecond) << '\n';
    return;
  }
  files_[0] << "{\"kind\": \"epoch\", \"epoch\": " << m.epoch
            << ", \"train_loss\": " << number(m.trainLoss)
            << ", \"train_accuracy\": " << number(m.trainAccuracy);
  if (m.evaluated)
    files_[0] << ", \"test_loss\": " << testLoss
              << ", \"test_accuracy\": " << testAccuracy;
  files_[0] << ", \"seconds\": " << number(m.seconds)
            << ", \"images_per_second\": " << number(m.imagesPerSecond)
            << "}\n";
}

std::string MetricsLog::sizes() {
  std::string text;
  for (size_t i = 0; i < files_.size(); ++i) {
    files_[i].flush();
    if (!files_[i])
      throw std::runtime_error("cannot write '" + paths_[i] + "'");
    text += (i ? " " : "") + std::to_string(fs::file_size(paths_[i]));
  }
  return text;
}

std::string formatDuration(double seconds) {
  long long total = std::isfinite(seconds) && seconds > 0
                        ? static_cast<long long>(seconds + 0.5)
                        : 0;
  char buffer[32];
  if (total >= 3600)
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", total / 3600,
                  total / 60 % 60, total % 60);
  else
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", total / 60,
                  total % 60);
  return buffer;
}

ProgressDisplay::ProgressDisplay(std::ostream &out, ProgressStyle style,
                                 int64_t epochs, int64_t batchesPerEpoch)
    : out_(out), style_(style), epochs_(epochs),
      batchesPerEpoch_(batchesPerEpoch) {}

void ProgressDisplay::step(int64_t epoch, int64_t batch, double imagesPerSecond,
                           double loss, double accuracy, double learningRate,
                           double etaSeconds) {
  if (style_ == ProgressStyle::Quiet)
    return;
  // Lines: every tenth of an epoch and its last batch.
  int64_t every = std::max<int64_t>(1, batchesPerEpoch_ / 10);
  bool last = batch + 1 == batchesPerEpoch_;
  if (style_ == ProgressStyle::Lines && (batch + 1) % every != 0 && !last)
    return;
  char line[256];
  std::snprintf(line, sizeof(line),
                "epoch %lld/%lld [%lld/%lld] %.0f img/s  loss %.4f  acc "
                "%.2f%%  lr %.4g  ETA %s",
                static_cast<long long>(epoch), static_cast<long long>(epochs_),
                static_cast<long long>(batch + 1),
                static_cast<long long>(batchesPerEpoch_), imagesPerSecond, loss,
                100.0 * accuracy, learningRate,
                formatDuration(etaSeconds).c_str());
  if (style_ == ProgressStyle::Terminal) {
    out_ << "\r\033[K" << line << std::flush;
    lineOpen_ = true;
  } else {
    out_ << line << '\n' << std::flush;
  }
}

void ProgressDisplay::endLine() {
  if (lineOpen_)
    out_ << "\r\033[K";
  lineOpen_ = false;
}

void ProgressDisplay::epochDone(const EpochMetrics &m) {
  endLine();
  char line[256];
  int n = std::snprintf(
      line, sizeof(line), "epoch %lld/%lld: train loss %.4f acc %.2f%%",
      static_cast<long long>(m.epoch), static_cast<long long>(epochs_),
      m.trainLoss, 100.0 * m.trainAccuracy);
  if (m.evaluated)
    n += std::snprintf(line + n, sizeof(line) - static_cast<size_t>(n),
                       " | test loss %.4f acc %.2f%%", m.testLoss,
                       100.0 * m.testAccuracy);
  std::snprintf(line + n, sizeof(line) - static_cast<size_t>(n),
                " | %.1f s, %.0f img/s", m.seconds, m.imagesPerSecond);
  out_ << line << '\n' << std::flush;
}

void ProgressDisplay::message(const std::string &text) {
  endLine();
  out_ << text << '\n' << std::flush;
}

} // namespace nsl::train
