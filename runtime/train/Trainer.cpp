//===- Trainer.cpp - Training a compiled model on a data set --------------===//

#include "runtime/train/Trainer.h"

#include "runtime/artifact/Safetensors.h"
#include "runtime/train/Internal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;
using nsl::runtime::DType;
using nsl::runtime::EntryPointInfo;
using nsl::runtime::Model;
using nsl::runtime::Tensor;
using nsl::runtime::TensorInfo;

namespace nsl::train {
namespace {

//===----------------------------------------------------------------------===//
// The model's classification interface.
//===----------------------------------------------------------------------===//

const TensorInfo &argumentWithRole(const EntryPointInfo &entry,
                                   const std::string &role) {
  for (const TensorInfo &argument : entry.arguments)
    if (argument.role == role)
      return argument;
  throw std::runtime_error("entry point '" + entry.name + "' has no " + role +
                           " argument; nsl-run fit and evaluate need an image "
                           "classifier (compiled with nslc --train to fit)");
}

/// The images argument `x` of `entry` and its logits result.
void checkImageClassifier(const EntryPointInfo &entry, const TensorInfo &x,
                          const TensorInfo *logits) {
  if (x.dtype != DType::F32 || x.shape.size() != 4)
    throw std::runtime_error(entry.name + "'s input '" + x.name + "' is " +
                             runtime::typeToString(x.dtype, x.shape) +
                             "; nsl-run fit and evaluate take images (f32 [N, "
                             "C, H, W])");
  if (logits && (logits->shape.size() != 2 || logits->shape[0] != x.shape[0]))
    throw std::runtime_error("forward does not return logits [N, classes]; "
                             "nsl-run fit and evaluate take classifiers");
}

} // namespace

ClassifierArguments classifierArguments(const Model &model, bool training) {
  const EntryPointInfo &forward = model.entryPoint("forward");
  ClassifierArguments face;
  const TensorInfo &forwardX = argumentWithRole(forward, "input");
  face.forwardInput = forwardX.name;
  checkImageClassifier(forward, forwardX,
                       forward.results.empty() ? nullptr : &forward.results[0]);
  if (forward.results.empty())
    throw std::runtime_error("forward returns nothing");
  face.batch = forwardX.shape[0];
  face.input = {forwardX.shape[1], forwardX.shape[2], forwardX.shape[3],
                forward.results[0].shape[1]};
  if (!training)
    return face;
  const EntryPointInfo &step = model.entryPoint("train_step");
  const TensorInfo &x = argumentWithRole(step, "input");
  face.trainInput = x.name;
  face.labels = argumentWithRole(step, "label").name;
  face.learningRate = argumentWithRole(step, "learning_rate").name;
  checkImageClassifier(step, x, nullptr);
  if (x.shape != forwardX.shape)
    throw std::runtime_error("train_step's input is " +
                             runtime::shapeToString(x.shape) + ", forward's " +
                             runtime::shapeToString(forwardX.shape));
  if (step.results.size() < 2 || step.results[0].name != "loss" ||
      step.results[1].name != "correct")
    throw std::runtime_error("train_step does not return (loss, correct) "
                             "first; compile the model with nslc --train");
  return face;
}

namespace {

/// Batch-norm modules: the prefixes of the state's "*.running_mean".
std::vector<std::string> batchNormPrefixes(const Model &model) {
  std::vector<std::string> prefixes;
  const std::string suffix = ".running_mean";
  for (const auto &[name, tensor] : model.weights())
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      prefixes.push_back(name.substr(0, name.size() - suffix.size()));
  return prefixes;
}

} // namespace

data::ModelInput classifierInput(const Model &model) {
  return classifierArguments(model, false).input;
}

std::map<std::string, Tensor> stateDict(const Model &model,
                                        int64_t numBatchesTracked) {
  std::map<std::string, Tensor> state;
  for (const TensorInfo &argument : model.entryPoint("forward").arguments)
    if (argument.role == "parameter" || argument.role == "buffer")
      state[argument.name] = model.weights().at(argument.name);
  // Parameters that only training uses (none today) and frozen ones.
  for (const TensorInfo &argument : model.entryPoint("train_step").arguments)
    if (argument.role == "parameter" || argument.role == "buffer")
      state[argument.name] = model.weights().at(argument.name);
  for (const std::string &prefix : batchNormPrefixes(model)) {
    Tensor count(DType::I64, {});
    *count.data<int64_t>() = numBatchesTracked;
    state[prefix + ".num_batches_tracked"] = count;
  }
  return state;
}

void writeFileAtomically(const std::string &path, const std::string &bytes) {
  std::string temporary = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write '" + temporary +
                             "': " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      std::string problem = std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      throw std::runtime_error("cannot write '" + temporary + "': " + problem);
    }
    written += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  bool closed = ::close(fd) == 0;
  if (!synced || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::string problem = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw std::runtime_error("cannot write '" + path + "': " + problem);
  }
  // The rename itself reaches the disk with the folder.
  std::string folder = fs::path(path).parent_path().string();
  int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

Evaluation evaluate(Model &model, const data::ImageSet &set,
                    const data::LoaderOptions &options) {
  ClassifierArguments face = classifierArguments(model, false);
  data::LoaderOptions loaderOptions = options;
  loaderOptions.shuffle = false;
  loaderOptions.augmentation = {};
  loaderOptions.dropLast = false;
  data::BatchLoader loader(set, loaderOptions);
  loader.startEpoch(0);
  Evaluation result;
  double lossSum = 0;
  int64_t correct = 0;
  const int64_t classes = face.input.classes;
  while (std::optional<data::Batch> batch = loader.next()) {
    std::vector<Tensor> outputs =
        model.run("forward", {{face.forwardInput, batch->images}});
    const float *logits = outputs.at(0).data<float>();
    const int64_t *labels = batch->labels.data<int64_t>();
    for (int64_t i = 0; i < batch->valid; ++i) {
      const float *row = logits + i * classes;
      int64_t best = std::max_element(row, row + classes) - row;
      double top = row[best], sum = 0;
      for (int64_t k = 0; k < classes; ++k)
        sum += std::exp(static_cast<double>(row[k]) - top);
      lossSum += top + std::log(sum) - row[labels[i]];
      correct += best == labels[i];
    }
    result.images += batch->valid;
  }
  if (result.images > 0) {
    result.loss = lossSum / static_cast<double>(result.images);
    result.accuracy =
        static_cast<double>(correct) / static_cast<double>(result.images);
  }
  return result;
}

} // namespace nsl::train
