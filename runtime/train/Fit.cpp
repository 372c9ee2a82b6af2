//===- Fit.cpp - The training loop of nsl-run fit -------------------------===//
//
// One Fitter per fit() call: it prepares the loaders, restores a checkpoint
// when resuming, then runs epochs of train_step, evaluates, and writes the
// metrics and the checkpoints. The checkpoint records where the run stands
// (epoch, batch, global step, the epoch's running sums, the metrics files'
// sizes) and the configuration that fixes the run's trajectory, which a
// resumed run must repeat.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/Safetensors.h"
#include "runtime/train/Internal.h"
#include "runtime/train/Metrics.h"
#include "runtime/train/Trainer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;
using nsl::runtime::DType;
using nsl::runtime::Model;
using nsl::runtime::Tensor;

namespace nsl::train {

namespace {

using Clock = std::chrono::steady_clock;

// SIGINT / SIGTERM: the handler only records the signal; the loop saves a
// checkpoint after the step in flight and returns.
volatile std::sig_atomic_t stopSignal = 0;

extern "C" void recordStopSignal(int signal) { stopSignal = signal; }

class StopSignals {
public:
  StopSignals() {
    stopSignal = 0;
    struct sigaction action = {};
    action.sa_handler = recordStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previousInt);
    sigaction(SIGTERM, &action, &previousTerm);
  }
  ~StopSignals() {
    sigaction(SIGINT, &previousInt, nullptr);
    sigaction(SIGTERM, &previousTerm, nullptr);
  }
  StopSignals(const StopSignals &) = delete;
  StopSignals &operator=(const StopSignals &) = delete;
  int received() const { return stopSignal; }

private:
  struct sigaction previousInt = {}, previousTerm = {};
};

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string exact(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

/// Where a run stands, as the checkpoint's metadata records it.
struct Position {
  int64_t epoch = 0; // 0-based epoch to continue in.
  int64_t batch = 0; // Its next batch.
  int64_t step = 0;  // Global steps done.
  double epochLossSum = 0;
  int64_t epochCorrect = 0, epochSeen = 0;
  double epochSeconds = 0;
};

const char *checkpointName = "checkpoint.safetensors";

class Fitter {
public:
  Fitter(Model &model, const data::DataSplits &data, const FitOptions &options,
         std::ostream &log)
      : model(model), data(data), options(options), log(log),
        args(classifierArguments(model, true)) {}

  FitResult run();

private:
  void prepare();
  std::map<std::string, std::string> configuration() const;
  void restore(const runtime::SafetensorsFile &checkpoint);
  /// Flushes the metrics and writes the checkpoint of where the run stands.
  void saveCheckpoint(MetricsLog &metrics);
  bool runEpoch(MetricsLog &metrics, ProgressDisplay &progress);
  void trainStep(const data::Batch &batch, MetricsLog &metrics,
                 ProgressDisplay &progress);

  Model &model;
  const data::DataSplits &data;
  const FitOptions &options;
  std::ostream &log;
  ClassifierArguments args;

  data::ImageSet train; // The training split, or its first trainSubset.
  data::LoaderOptions loaderOptions;
  std::unique_ptr<data::BatchLoader> loader;
  int64_t batchesPerEpoch = 0;
  Schedule schedule;
  Position at;
  std::string metricsSizes;
  int64_t stepsThisProcess = 0;
  double secondsThisProcess = 0;
  FitResult result;
  std::string folder, checkpointPath;
};

void Fitter::prepare() {
  train = data.train;
  if (options.trainSubset > 0 && options.trainSubset < train.count) {
    train.count = options.trainSubset;
    size_t elements = static_cast<size_t>(train.count * train.imageElements());
    if (!train.bytes.empty())
      train.bytes.resize(elements);
    if (!train.floats.empty())
      train.floats.resize(elements);
    train.labels.resize(static_cast<size_t>(train.count));
  }
  data::checkFitsModel(train, args.input, "train");
  if (options.evaluate)
    data::checkFitsModel(data.test, args.input, "test");
  loaderOptions.batchSize = args.batch;
  loaderOptions.input = args.input;
  if (options.normalize)
    loaderOptions.normalization = options.normalization.empty()
                                      ? data::computeNormalization(train)
                                      : options.normalization;
  loaderOptions.augmentation = options.augmentation;
  loaderOptions.shuffle = true;
  loaderOptions.seed = options.seed;
  loaderOptions.dropLast = true;
  loaderOptions.workers = options.loaderWorkers;
  loader = std::make_unique<data::BatchLoader>(train, loaderOptions);
  batchesPerEpoch = loader->batchesPerEpoch();
  schedule = options.schedule;
  if (schedule.kind == Schedule::Kind::Cosine && schedule.totalSteps == 0)
    schedule.totalSteps = options.epochs * batchesPerEpoch;
}

/// What fixes the run's trajectory; a resumed run must have the same.
std::map<std::string, std::string> Fitter::configuration() const {
  std::map<std::string, std::string> c;
  c["seed"] = std::to_string(options.seed);
  c["batch"] = std::to_string(args.batch);
  c["train images"] = std::to_string(train.count) + " of " + data.format;
  c["schedule"] = schedule.describe();
  c["augmentation"] =
      "crop padding " + std::to_string(options.augmentation.cropPadding) +
      (options.augmentation.horizontalFlip ? ", flip" : ", no flip");
  std::string normalization = "none";
  if (!loaderOptions.normalization.empty()) {
    normalization = "mean";
    for (double m : loaderOptions.normalization.mean)
      normalization += " " + exact(m);
    normalization += " std";
    for (double s : loaderOptions.normalization.std)
      normalization += " " + exact(s);
  }
  c["normalization"] = normalization;
  return c;
}

std::string inputNormalizationJson(const data::Normalization &n,
                                   const std::string &input) {
  nlohmann::json value{{"input", input}, {"mean", n.mean}, {"std", n.std}};
  return value.dump();
}

void Fitter::saveCheckpoint(MetricsLog &metrics) {
  metricsSizes = metrics.sizes();
  std::map<std::string, Tensor> tensors = model.weights();
  for (const auto &[name, tensor] : stateDict(model, at.step))
    tensors.emplace(name, tensor); // num_batches_tracked
  std::map<std::string, std::string> meta{
      {"producer", "nsl-run fit"},
      {"nsl.fit.epoch", std::to_string(at.epoch)},
      {"nsl.fit.batch", std::to_string(at.batch)},
      {"nsl.fit.step", std::to_string(at.step)},
      {"nsl.fit.epoch_sums",
       exact(at.epochLossSum) + " " + std::to_string(at.epochCorrect) + " " +
           std::to_string(at.epochSeen) + " " + exact(at.epochSeconds)},
      {"nsl.fit.metrics_sizes", metricsSizes}};
  for (const auto &[key, value] : configuration())
    meta["nsl.fit.config." + key] = value;
  if (!loaderOptions.normalization.empty())
    meta["nsl.input_normalization"] =
        inputNormalizationJson(loaderOptions.normalization, args.trainInput);
  writeFileAtomically(checkpointPath,
                      runtime::encodeSafetensors(tensors, meta));
}

int64_t metadataInteger(const runtime::SafetensorsFile &file,
                        const std::string &key, const std::string &path) {
  auto it = file.metadata.find(key);
  try {
    if (it != file.metadata.end())
      return std::stoll(it->second);
  } catch (const std::exception &) {
  }
  throw std::runtime_error(path +
                           ": not a checkpoint of nsl-run fit (no "
                           "valid metadata '" +
                           key + "')");
}

void Fitter::restore(const runtime::SafetensorsFile &checkpoint) {
  for (const auto &[key, value] : configuration()) {
    auto it = checkpoint.metadata.find("nsl.fit.config." + key);
    std::string stored =
        it == checkpoint.metadata.end() ? "(missing)" : it->second;
    if (stored != value)
      throw std::runtime_error(
          "cannot resume " + checkpointPath + ": its " + key + " is '" +
          stored + "', this run's is '" + value +
          "' (resume with the options of the interrupted run)");
  }
  at.epoch = metadataInteger(checkpoint, "nsl.fit.epoch", checkpointPath);
  at.batch = metadataInteger(checkpoint, "nsl.fit.batch", checkpointPath);
  at.step = metadataInteger(checkpoint, "nsl.fit.step", checkpointPath);
  std::istringstream sums(checkpoint.metadata.at("nsl.fit.epoch_sums"));
  if (!(sums >> at.epochLossSum >> at.epochCorrect >> at.epochSeen >>
        at.epochSeconds))
    throw std::runtime_error(checkpointPath +
                             ": invalid metadata 'nsl.fit.epoch_sums'");
  metricsSizes = checkpoint.metadata.count("nsl.fit.metrics_sizes")
                     ? checkpoint.metadata.at("nsl.fit.metrics_sizes")
                     : "";
  std::map<std::string, Tensor> state;
  for (const auto &[name, tensor] : model.weights()) {
    const Tensor *stored = checkpoint.find(name);
    if (!stored)
      throw std::runtime_error(checkpointPath + ": no tensor '" + name +
                               "' of the model (a checkpoint of another "
                               "model?)");
    state[name] = *stored;
  }
  model.setWeights(state);
}

Tensor learningRateTensor(double rate) {
  Tensor tensor(DType::F32, {});
  *tensor.data<float>() = static_cast<float>(rate);
  return tensor;
}

void Fitter::trainStep(const data::Batch &batch, MetricsLog &metrics,
                       ProgressDisplay &progress) {
  double rate = schedule.rate(at.step);
  Clock::time_point start = Clock::now();
  std::vector<Tensor> results =
      model.run("train_step", {{args.trainInput, batch.images},
                               {args.labels, batch.labels},
                               {args.learningRate, learningRateTensor(rate)}});
  double seconds = secondsSince(start);
  double loss = *results[0].data<float>();
  int64_t correct = *results[1].data<int64_t>();
  // Diverged: the weights are no longer worth saving; the last checkpoint
  // stays as it was.
  if (!std::isfinite(loss))
    throw std::runtime_error(
        "the loss is " + std::to_string(loss) + " at step " +
        std::to_string(at.step + 1) + " (epoch " +
        std::to_string(at.epoch + 1) + ", batch " +
        std::to_string(batch.index) +
        "): training diverged; lower --lr or add --warmup-steps (the last "
        "checkpoint, if any, is kept)");
  ++at.step;
  ++stepsThisProcess;
  secondsThisProcess += seconds;
  at.batch = batch.index + 1;
  at.epochLossSum += loss;
  at.epochCorrect += correct;
  at.epochSeen += args.batch;
  at.epochSeconds += seconds;

  StepRecord record;
  record.epoch = at.epoch + 1;
  record.step = at.step;
  record.batch = batch.index;
  record.learningRate = rate;
  record.loss = loss;
  record.accuracy =
      static_cast<double>(correct) / static_cast<double>(args.batch);
  record.imagesPerSecond = static_cast<double>(args.batch) / seconds;
  metrics.step(record);

  // The estimate: this process's mean step time for every step left, and
  // the evaluations at a step's cost per batch.
  double perStep = secondsThisProcess / static_cast<double>(stepsThisProcess);
  int64_t stepsLeft = options.epochs * batchesPerEpoch - at.step;
  double stepsInEpoch = static_cast<double>(at.epochSeen / args.batch);
  progress.step(at.epoch + 1, batch.index,
                static_cast<double>(at.epochSeen) /
                    std::max(at.epochSeconds, 1e-9),
                at.epochLossSum / std::max(stepsInEpoch, 1.0),
                static_cast<double>(at.epochCorrect) /
                    static_cast<double>(std::max<int64_t>(at.epochSeen, 1)),
                rate, perStep * static_cast<double>(stepsLeft));
}

/// Runs the rest of epoch at.epoch; false if a signal stopped it (the
/// checkpoint is written).
bool Fitter::runEpoch(MetricsLog &metrics, ProgressDisplay &progress) {
  loader->startEpoch(at.epoch, at.batch);
  while (std::optional<data::Batch> batch = loader->next()) {
    trainStep(*batch, metrics, progress);
    if (options.killAfterSteps > 0 &&
        stepsThisProcess == options.killAfterSteps)
      std::raise(SIGKILL);
    if (options.terminateAfterSteps > 0 &&
        stepsThisProcess == options.terminateAfterSteps)
      std::raise(SIGTERM);
    if (int signal = stopSignal) {
      saveCheckpoint(metrics);
      result.interruptedBy = signal;
      progress.message("interrupted by signal " + std::to_string(signal) +
                       " at step " + std::to_string(at.step) + ": saved " +
                       checkpointPath + " (continue with --resume)");
      return false;
    }
  }
  EpochMetrics m;
  m.epoch = at.epoch + 1;
  double steps = static_cast<double>(at.epochSeen / args.batch);
  m.trainLoss = at.epochLossSum / std::max(steps, 1.0);
  m.trainAccuracy = static_cast<double>(at.epochCorrect) /
                    static_cast<double>(std::max<int64_t>(at.epochSeen, 1));
  m.seconds = at.epochSeconds;
  m.imagesPerSecond =
      static_cast<double>(at.epochSeen) / std::max(at.epochSeconds, 1e-9);
  if (options.evaluate) {
    Evaluation test = evaluate(model, data.test, loaderOptions);
    m.evaluated = true;
    m.testLoss = test.loss;
    m.testAccuracy = test.accuracy;
  }
  metrics.epoch(m);
  progress.epochDone(m);
  result.epochs.push_back(m);
  at = Position{at.epoch + 1, 0, at.step, 0, 0, 0, 0};
  saveCheckpoint(metrics);
  return true;
}

FitResult Fitter::run() {
  folder = options.outputDir;
  checkpointPath = (fs::path(folder) / checkpointName).string();
  std::error_code error;
  fs::create_directories(folder, error);
  if (error)
    throw std::runtime_error("cannot create the output folder '" + folder +
                             "': " + error.message());
  bool haveCheckpoint = fs::exists(checkpointPath);
  if (options.resume && !haveCheckpoint)
    throw std::runtime_error("nothing to resume: no " + checkpointPath);
  if (!options.resume && haveCheckpoint)
    throw std::runtime_error(checkpointPath +
                             " exists already; continue it with --resume, or "
                             "choose another --output-dir");
  prepare();
  if (options.resume)
    restore(runtime::readSafetensors(checkpointPath));
  MetricsLog metrics(folder, options.metricsFormat,
                     options.resume ? &metricsSizes : nullptr);
  ProgressDisplay progress(log, options.progress, options.epochs,
                           batchesPerEpoch);
  if (options.resume)
    progress.message("resuming " + checkpointPath + " at epoch " +
                     std::to_string(at.epoch + 1) + ", batch " +
                     std::to_string(at.batch) + " (step " +
                     std::to_string(at.step) + ")");
  progress.message("training on " + std::to_string(train.count) + " images (" +
                   std::to_string(batchesPerEpoch) + " batches of " +
                   std::to_string(args.batch) + " per epoch), " +
                   (options.evaluate
                        ? std::to_string(data.test.count) + " test images"
                        : std::string("no evaluation")) +
                   "; lr " + schedule.describe());
  StopSignals signals;
  while (at.epoch < options.epochs)
    if (!runEpoch(metrics, progress))
      break;
  result.steps = at.step;
  result.checkpointPath = checkpointPath;
  if (!result.interruptedBy) {
    result.modelPath = (fs::path(folder) / "model.safetensors").string();
    std::map<std::string, std::string> meta{
        {"producer", "nsl-run fit"}, {"nsl.fit.step", std::to_string(at.step)}};
    if (!loaderOptions.normalization.empty())
      meta["nsl.input_normalization"] =
          inputNormalizationJson(loaderOptions.normalization, args.trainInput);
    writeFileAtomically(result.modelPath, runtime::encodeSafetensors(
                                              stateDict(model, at.step), meta));
  }
  return result;
}

} // namespace

FitResult fit(Model &model, const data::DataSplits &data,
              const FitOptions &options, std::ostream &log) {
  if (options.epochs < 1)
    throw std::runtime_error("the number of epochs must be at least 1");
  Fitter fitter(model, data, options, log);
  return fitter.run();
}

} // namespace nsl::train
