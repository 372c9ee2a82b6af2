//===- Executor.cpp - Running entry points on a device --------------------===//

#include "runtime/artifact/Executor.h"

#include <cstdint>

namespace nsl::runtime {

namespace {

/// Throws Error for a given name that is not an argument of the entry.
void checkNamesAreArguments(const EntryPoint &entry,
                            const std::map<std::string, Tensor> &given,
                            const std::string &where) {
  for (const auto &[name, tensor] : given) {
    bool known = false;
    for (const Binding &argument : entry.arguments)
      known = known || argument.name == name;
    if (known)
      continue;
    std::string declared;
    for (const Binding &argument : entry.arguments)
      declared += (declared.empty() ? "'" : ", '") + argument.name + "'";
    throw Error(where + " has no argument '" + name + "' (its arguments: " +
                (declared.empty() ? "none" : declared) + ")");
  }
}

void checkTensorFits(const Binding &argument, const Tensor &tensor,
                     const std::string &where) {
  if (tensor.dtype() != argument.dtype || tensor.shape() != argument.shape)
    throw Error("argument '" + argument.name + "' of " + where + " is " +
                tensor.typeString() + ", but the model needs " +
                typeToString(argument.dtype, argument.shape));
  // The CPU's kernels read arguments in place, with typed loads; the CUDA
  // executor only copies them, but refuses the same tensors, so that
  // arguments valid on one device are valid on every device.
  if (reinterpret_cast<uintptr_t>(tensor.data()) % itemSize(argument.dtype))
    throw Error("the data of argument '" + argument.name + "' of " + where +
                " is not aligned to its " +
                std::to_string(itemSize(argument.dtype)) + "-byte elements");
}

} // namespace

std::vector<const Tensor *>
bindArguments(const EntryPoint &entry,
              const std::map<std::string, Tensor> &given,
              const std::map<std::string, Tensor> &state,
              const std::map<std::string, Tensor> &prepared) {
  const std::string where = "entry point '" + entry.name + "'";
  checkNamesAreArguments(entry, given, where);
  std::vector<const Tensor *> tensors;
  for (const Binding &argument : entry.arguments) {
    const Tensor *tensor = nullptr;
    if (argument.role == "derived") {
      if (given.count(argument.name))
        throw Error("argument '" + argument.name + "' of " + where +
                    " is computed from the weights by entry point '" +
                    entry.preparedBy + "'; give the weights instead");
      if (auto found = prepared.find(argument.name); found != prepared.end())
        tensor = &found->second;
    } else if (auto found = given.find(argument.name); found != given.end())
      tensor = &found->second;
    else if (auto current = state.find(argument.name);
             roleHasDefault(argument.role) && current != state.end())
      tensor = &current->second;
    if (!tensor)
      throw Error(where + " needs its " + argument.role + " argument '" +
                  argument.name + "' (" +
                  typeToString(argument.dtype, argument.shape) +
                  "), which was not given");
    // The state's tensors too: a run may have replaced one with a result.
    checkTensorFits(argument, *tensor, where);
    tensors.push_back(tensor);
  }
  return tensors;
}

Executor::Executor(std::shared_ptr<const Artifact> artifact)
    : artifact_(std::move(artifact)) {
  // Views of the artifact's tensors (no copy): a run that updates one
  // replaces the entry, it never writes into the artifact's memory.
  for (const auto &[name, tensor] : artifact_->weights().tensors)
    state_.emplace(name, tensor);
}

Executor::~Executor() = default;

std::vector<Tensor>
Executor::run(const std::string &entryName,
              const std::map<std::string, Tensor> &arguments) {
  const EntryPoint &entry = artifact_->entryPoint(entryName);
  std::lock_guard<std::mutex> lock(mutex_);
  return runLocked(entry, arguments);
}

const std::map<std::string, Tensor> &
Executor::preparedArguments(const EntryPoint &entry,
                            const std::map<std::string, Tensor> &given,
                            std::map<std::string, Tensor> &forThisCall) {
  static const std::map<std::string, Tensor> none;
  if (entry.preparedBy.empty())
    return none;
  const EntryPoint &prepare = artifact_->entryPoint(entry.preparedBy);
  auto byName = [&](std::vector<Tensor> results) {
    std::map<std::string, Tensor> named;
    for (size_t i = 0; i < results.size(); ++i)
      named[prepare.results[i].name] = std::move(results[i]);
    return named;
  };
  // Weights given for this call only: prepare them for this call.
  std::map<std::string, Tensor> givenWeights;
  for (const Binding &argument : prepare.arguments)
    if (auto found = given.find(argument.name); found != given.end())
      givenWeights.emplace(argument.name, found->second);
  if (!givenWeights.empty())
    return forThisCall = byName(runLocked(prepare, givenWeights));
  auto [cached, first] = prepared_.try_emplace(prepare.name);
  if (first || cached->second.stateVersion != stateVersion_)
    cached->second = {stateVersion_, byName(runLocked(prepare, {}))};
  return cached->second.results;
}

std::vector<Tensor>
Executor::runLocked(const EntryPoint &entry,
                    const std::map<std::string, Tensor> &arguments) {
  std::map<std::string, Tensor> forThisCall;
  std::vector<const Tensor *> tensors =
      bindArguments(entry, arguments, state_,
                    preparedArguments(entry, arguments, forThisCall));
  std::vector<Tensor> results;
  lastTiming_ = {};
  try {
    for (size_t i = 0; i < tensors.size(); ++i)
      placeArgument(entry.arguments[i], *tensors[i]);
    lastTiming_ = launchSchedule(entry);
    for (const Binding &result : entry.results) {
      Tensor tensor(result.dtype, result.shape);
      if (tensor.byteSize())
        readResult(result, tensor);
      results.push_back(std::move(tensor));
    }
  } catch (...) {
    releaseArguments(entry);
    throw;
  }
  releaseArguments(entry);
  keepNewState(entry, arguments, results);
  return results;
}

void Executor::setState(const std::map<std::string, Tensor> &values) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Everything is checked before anything changes.
  for (const auto &[name, tensor] : values) {
    auto it = state_.find(name);
    if (it == state_.end())
      throw Error("the model has no parameter, buffer or optimizer state '" +
                  name + "'");
    if (tensor.dtype() != it->second.dtype() ||
        tensor.shape() != it->second.shape())
      throw Error("'" + name + "' is " + it->second.typeString() +
                  " in the model, but the new value is " + tensor.typeString());
  }
  for (const auto &[name, tensor] : values)
    state_[name] = tensor.clone();
  ++stateVersion_;
}

void Executor::keepNewState(const EntryPoint &entry,
                            const std::map<std::string, Tensor> &given,
                            const std::vector<Tensor> &results) {
  for (size_t i = 0; i < entry.results.size(); ++i)
    for (const Binding &argument : entry.arguments)
      if (roleHasDefault(argument.role) &&
          argument.name == entry.results[i].name &&
          !given.count(argument.name)) {
        // A copy: the caller owns the returned tensor and may change it.
        state_[argument.name] = results[i].clone();
        ++stateVersion_;
      }
}

std::vector<LaunchTiming> Executor::lastProfile() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lastTiming_.launches;
}

double Executor::lastKernelMilliseconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lastTiming_.kernelMilliseconds;
}

} // namespace nsl::runtime
