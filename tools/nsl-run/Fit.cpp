//===- Fit.cpp - nsl-run fit and nsl-run evaluate -------------------------===//
//
// The command lines of training on a data set and of measuring a trained
// model's accuracy (runtime/train/Trainer.h does the work).
//
//===----------------------------------------------------------------------===//
#include "tools/nsl-run/Commands.h"

#include "runtime/data/Dataset.h"
#include "runtime/support/Cli.h"
#include "runtime/train/Trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

using namespace nsl::runtime;
using nsl::support::CommandLine;
using nsl::support::integerOption;
using nsl::support::UsageError;

namespace nsl::tools {
namespace {

const char *fitUsage = R"(usage: nsl-run fit ART --data [FORMAT:]DIR [options]

Trains a classifier compiled with nslc --train on a data set: every epoch
runs train_step over the shuffled training split (the last partial batch is
dropped: the artifact's batch is static), then evaluates the test split with
forward (batch norm on running statistics; every test image counted once).
Writes to --output-dir: checkpoint.safetensors (every epoch and on Ctrl-C or
SIGTERM, atomically; the full state with the optimizer's), the metrics, and
at the end model.safetensors (the state_dict for PyTorch's
load_state_dict(strict=True) and for nslc --weights).

data (--data [FORMAT:]DIR; FORMAT is found from the files when left out):
  idx        MNIST / Fashion-MNIST {train,t10k}-{images-idx3,labels-idx1}-
             ubyte[.gz], e.g. /usr/share/datasets/fashion-mnist
  cifar10    data_batch_{1..5}.bin, test_batch.bin
  cifar100   train.bin, test.bin
  npy        {train,test}_{images,labels}.npy (images [N,C,H,W] or [N,H,W]
             uint8 or float; labels integers [N])
  Images smaller than the model's input are zero-padded, centred (28x28 ->
  32x32 adds 2 pixels per side).

options:
  --epochs N             epochs (default 10)
  --lr LR                base learning rate (default 0.1)
  --schedule S           constant (default), step, or cosine
  --milestones LIST      step: multiply the rate by --gamma at these global
                         steps, e.g. 20000,30000, or epochs, e.g. 10e,15e
  --gamma G              step: the factor (default 0.1)
  --min-lr LR            cosine: the final rate (default 0)
  --warmup-steps N       linear warm-up over the first N steps (default 0)
  --seed N               seed of the shuffling and augmentation (default 0)
  --crop-padding P       augmentation: random crop after zero-padding by P
  --flip                 augmentation: random horizontal flip
  --mean M[,M...]        normalisation per channel (with --std); default:
  --std S[,S...]         the training split's statistics
  --no-normalize         feed pixels in [0, 1] as they are
  --train-subset N       train on the first N training images only
  --no-eval              skip the test split
  --output-dir DIR       where the files go (default nsl-fit); refuses a
                         folder holding a checkpoint unless --resume
  --resume               continue the checkpoint in --output-dir (same
                         options); the run continues bit for bit
  --metrics F            jsonl (default: metrics.jsonl) or csv (steps.csv,
                         epochs.csv)
  --progress P           auto (default), terminal, lines or quiet
  --threads T            threads running the kernels (default 0: all)
  --device D             cpu (default) or cuda (a cuda-sm_XY artifact)
  --loader-threads N     threads assembling batches (default 1)
  --kill-after-steps N   testing: SIGKILL itself after N steps
  --terminate-after-steps N
                         testing: SIGTERM itself after N steps
  -h, --help             show this help

Exit codes: 0 done, 2 an error, 128 + the signal when interrupted (the
checkpoint is saved).
)";

const char *evaluateUsage =
    R"(usage: nsl-run evaluate ART --data [FORMAT:]DIR [options]

Measures a classifier's loss and accuracy on a data set's test split with
its forward entry point, every image counted once (the last partial batch is
filled with zeros whose rows are ignored). Inputs are normalised as the
artifact's manifest records (a checkpoint of nsl-run fit compiled with
nslc --weights), or as --mean/--std say.

options:
  --split S              test (default) or train
  --mean M[,M...]        normalisation per channel (with --std), instead of
  --std S[,S...]         the manifest's
  --no-normalize         no normalisation, even if the manifest has one
  --threads T            threads running the kernels (default 0)
  --device D             cpu (default) or cuda (a cuda-sm_XY artifact on
                         GPU 0)
  -h, --help             show this help
)";

std::vector<double> numberList(const std::string &text,
                               const std::string &option) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(value))
      throw UsageError("invalid " + option + " '" + text +
                       "': expected numbers separated by commas");
    values.push_back(value);
  }
  return values;
}

/// --mean/--std, if given (both or neither).
data::Normalization givenNormalization(const CommandLine &cl) {
  std::optional<std::string> mean = cl.option("--mean");
  std::optional<std::string> std = cl.option("--std");
  if (!mean && !std)
    return {};
  if (!mean || !std)
    throw UsageError("--mean and --std go together");
  if (cl.flags.count("--no-normalize"))
    throw UsageError("--no-normalize contradicts --mean/--std");
  data::Normalization n{numberList(*mean, "--mean"), numberList(*std, "--std")};
  if (n.mean.size() != n.std.size())
    throw UsageError("--mean has " + std::to_string(n.mean.size()) +
                     " values, --std " + std::to_string(n.std.size()));
  for (double s : n.std)
    if (!(s > 0))
      throw UsageError("--std values must be positive");
  return n;
}

std::string requiredData(const CommandLine &cl, const char *command) {
  std::optional<std::string> data = cl.option("--data");
  if (!data)
    throw UsageError(std::string("'") + command +
                     "' needs --data [FORMAT:]DIR (see 'nsl-run " + command +
                     " --help')");
  return *data;
}

train::Schedule scheduleOption(const CommandLine &cl) {
  train::Schedule schedule;
  schedule.baseRate = nsl::support::nonNegativeOption(cl, "--lr", 0.1);
  try {
    schedule.kind =
        train::parseScheduleKind(cl.option("--schedule").value_or("constant"));
  } catch (const std::invalid_argument &e) {
    throw UsageError(e.what());
  }
  schedule.gamma = nsl::support::nonNegativeOption(cl, "--gamma", 0.1);
  schedule.minimumRate = nsl::support::nonNegativeOption(cl, "--min-lr", 0.0);
  schedule.warmupSteps =
      integerOption(cl, "--warmup-steps", 0, 0, int64_t(1) << 40);
  if (cl.option("--milestones") && schedule.kind != train::Schedule::Kind::Step)
    throw UsageError("--milestones needs --schedule step");
  return schedule;
}

train::ProgressStyle progressOption(const CommandLine &cl) {
  std::string style = cl.option("--progress").value_or("auto");
  if (style == "auto")
    return isatty(STDOUT_FILENO) ? train::ProgressStyle::Terminal
                                 : train::ProgressStyle::Lines;
  if (style == "terminal")
    return train::ProgressStyle::Terminal;
  if (style == "lines")
    return train::ProgressStyle::Lines;
  if (style == "quiet")
    return train::ProgressStyle::Quiet;
  throw UsageError("invalid --progress '" + style +
                   "': expected auto, terminal, lines or quiet");
}

/// The batch of forward's images (train_step's is the same).
int64_t modelBatch(const Model &model) {
  for (const TensorInfo &argument : model.entryPoint("forward").arguments)
    if (argument.role == "input" && !argument.shape.empty())
      return argument.shape.front();
  throw UsageError(model.path() + ": forward has no batched input");
}

/// Milestones in epochs ("10e") need the steps per epoch, known once the
/// data and the model's batch are.
void resolveMilestones(const CommandLine &cl, train::Schedule &schedule,
                       int64_t trainImages, int64_t batch) {
  std::optional<std::string> text = cl.option("--milestones");
  if (!text)
    return;
  try {
    schedule.milestones = train::parseMilestones(
        *text, std::max<int64_t>(trainImages / batch, 1));
  } catch (const std::invalid_argument &e) {
    throw UsageError(e.what());
  }
}

} // namespace

int fitCommand(const std::vector<std::string> &args) {
  CommandLine cl = parseArtifactCommandLine(
      args, "fit",
      {"--data",
       "--epochs",
       "--lr",
       "--schedule",
       "--milestones",
       "--gamma",
       "--min-lr",
       "--warmup-steps",
       "--seed",
       "--crop-padding",
       "--mean",
       "--std",
       "--train-subset",
       "--output-dir",
       "--metrics",
       "--progress",
       "--threads",
       "--loader-threads",
       "--kill-after-steps",
       "--terminate-after-steps"},
      {"--flip", "--no-normalize", "--no-eval", "--resume"});
  if (cl.help) {
    std::cout << fitUsage;
    return 0;
  }
  const int64_t big = int64_t(1) << 40;
  train::FitOptions options;
  options.epochs = integerOption(cl, "--epochs", 10, 1, big);
  options.schedule = scheduleOption(cl);
  options.seed = static_cast<uint64_t>(integerOption(cl, "--seed", 0, 0, big));
  options.augmentation.cropPadding =
      integerOption(cl, "--crop-padding", 0, 0, 1024);
  options.augmentation.horizontalFlip = cl.flags.count("--flip") > 0;
  options.normalization = givenNormalization(cl);
  options.normalize = !cl.flags.count("--no-normalize");
  options.trainSubset = integerOption(cl, "--train-subset", 0, 1, big);
  options.evaluate = !cl.flags.count("--no-eval");
  options.outputDir = cl.option("--output-dir").value_or("nsl-fit");
  options.metricsFormat = cl.option("--metrics").value_or("jsonl");
  if (options.metricsFormat != "jsonl" && options.metricsFormat != "csv")
    throw UsageError("invalid --metrics '" + options.metricsFormat +
                     "': expected jsonl or csv");
  options.resume = cl.flags.count("--resume") > 0;
  options.progress = progressOption(cl);
  options.loaderWorkers =
      static_cast<int>(integerOption(cl, "--loader-threads", 1, 1, 64));
  options.killAfterSteps = integerOption(cl, "--kill-after-steps", 0, 0, big);
  options.terminateAfterSteps =
      integerOption(cl, "--terminate-after-steps", 0, 0, big);

  std::string dataSpec = requiredData(cl, "fit");
  Model model = Model::load(cl.positional[0], modelOptions(cl));
  data::DataSplits data = data::openDataDirectory(dataSpec);
  int64_t images = options.trainSubset > 0
                       ? std::min(options.trainSubset, data.train.count)
                       : data.train.count;
  resolveMilestones(cl, options.schedule, images, modelBatch(model));
  std::cout << cl.positional[0] << ": " << model.target() << ", "
            << model.threads() << " threads; data " << data.format << " "
            << dataSpec << " (" << data.train.count << " train, "
            << data.test.count << " test images)\n";
  train::FitResult result = train::fit(model, data, options, std::cout);
  if (result.interruptedBy)
    return 128 + result.interruptedBy;
  if (!result.epochs.empty() && result.epochs.back().evaluated)
    std::printf("test accuracy: %.2f%% (%lld steps)\n",
                100.0 * result.epochs.back().testAccuracy,
                static_cast<long long>(result.steps));
  std::cout << "wrote " << result.checkpointPath << " and " << result.modelPath
            << "\n";
  return 0;
}

int evaluateCommand(const std::vector<std::string> &args) {
  CommandLine cl = parseArtifactCommandLine(
      args, "evaluate",
      {"--data", "--split", "--mean", "--std", "--threads", "--device"},
      {"--no-normalize"});
  if (cl.help) {
    std::cout << evaluateUsage;
    return 0;
  }
  std::string split = cl.option("--split").value_or("test");
  if (split != "test" && split != "train")
    throw UsageError("invalid --split '" + split + "': expected test or train");
  std::string dataSpec = requiredData(cl, "evaluate");
  Model model = Model::load(cl.positional[0], modelOptions(cl));
  data::DataSplits data = data::openDataDirectory(dataSpec);
  const data::ImageSet &set = split == "test" ? data.test : data.train;
  data::LoaderOptions options;
  options.input = train::classifierInput(model);
  options.batchSize = modelBatch(model);
  options.normalization = givenNormalization(cl);
  std::string normalizedBy = "--mean/--std";
  if (options.normalization.empty() && !cl.flags.count("--no-normalize")) {
    if (std::optional<InputNormalization> n = model.inputNormalization()) {
      options.normalization = {n->mean, n->std};
      normalizedBy = "the manifest's statistics";
    }
  }
  if (options.normalization.empty())
    normalizedBy = "no normalisation";
  data::checkFitsModel(set, options.input, split);
  train::Evaluation e = train::evaluate(model, set, options);
  std::printf("%s: %s split of %s (%lld images, %s)\n",
              cl.positional[0].c_str(), split.c_str(), dataSpec.c_str(),
              static_cast<long long>(e.images), normalizedBy.c_str());
  std::printf("%s accuracy: %.2f%%, loss %.4f\n", split.c_str(),
              100.0 * e.accuracy, e.loss);
  return 0;
}

} // namespace nsl::tools
