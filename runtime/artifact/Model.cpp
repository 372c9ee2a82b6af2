//===- Model.cpp - The C++ API of the runtime -----------------------------===//

#include "runtime/artifact/Model.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/Executor.h"
#include "runtime/cuda/CudaExecutor.h"

namespace nsl::runtime {

struct Model::Impl {
  Impl(std::shared_ptr<const Artifact> artifact, const ModelOptions &options)
      : device(options.device) {
    if (device == "cuda")
      gpu = std::make_unique<cuda::CudaExecutor>(artifact, options);
    else
      cpu = std::make_unique<Executor>(artifact, options);
    for (const EntryPoint &entry : artifact->manifest().entryPoints) {
      EntryPointInfo info;
      info.name = entry.name;
      for (const Binding &b : entry.arguments)
        info.arguments.push_back(
            {b.name, b.role, b.dtype, b.shape, roleHasDefault(b.role)});
      for (const Binding &b : entry.results)
        info.results.push_back({b.name, b.role, b.dtype, b.shape, false});
      entryPoints.push_back(std::move(info));
    }
    // Views of the artifact's tensors (no copy): a run that updates one
    // replaces the entry, it never writes into the artifact's memory.
    for (const auto &[name, tensor] : artifact->weights().tensors)
      state.emplace(name, tensor);
  }

  const Artifact &artifact() const {
    return gpu ? gpu->artifact() : cpu->artifact();
  }
  std::string device;
  std::unique_ptr<Executor> cpu;           // device "cpu"
  std::unique_ptr<cuda::CudaExecutor> gpu; // device "cuda"
  std::vector<EntryPointInfo> entryPoints;
  /// The current parameters, buffers and optimizer state: the artifact's
  /// weights, then what the runs wrote back.
  std::map<std::string, Tensor> state;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model &&) noexcept = default;
Model &Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string &path, const ModelOptions &options) {
  if (options.device == "cuda")
    return Model(std::make_unique<Impl>(Artifact::loadCuda(path), options));
  if (options.device != "cpu")
    throw Error("unknown device '" + options.device +
                "' (expected cpu or cuda)");
  return Model(std::make_unique<Impl>(Artifact::load(path), options));
}

const std::string &Model::path() const { return impl_->artifact().path(); }

const std::string &Model::target() const {
  return impl_->artifact().manifest().target;
}

int Model::threads() const { return impl_->cpu ? impl_->cpu->threads() : 1; }

const std::vector<EntryPointInfo> &Model::entryPoints() const {
  return impl_->entryPoints;
}

const EntryPointInfo &Model::entryPoint(const std::string &name) const {
  const Artifact &artifact = impl_->artifact();
  // Infos are in the order of the manifest's entry points.
  return impl_->entryPoints[static_cast<size_t>(
      &artifact.entryPoint(name) - artifact.manifest().entryPoints.data())];
}

const std::map<std::string, Tensor> &Model::weights() const {
  return impl_->state;
}

std::vector<Tensor> Model::run(const std::string &entry,
                               const std::map<std::string, Tensor> &arguments) {
  const EntryPointInfo &info = entryPoint(entry);
  // Arguments the caller left out take the model's current state.
  std::map<std::string, Tensor> bound = arguments;
  for (const TensorInfo &argument : info.arguments)
    if (argument.hasDefault && !arguments.count(argument.name)) {
      auto found = impl_->state.find(argument.name);
      if (found != impl_->state.end())
        bound.emplace(argument.name, found->second);
    }
  std::vector<Tensor> results = impl_->gpu ? impl_->gpu->run(entry, bound)
                                           : impl_->cpu->run(entry, bound);
  // A result named after a defaulted argument the caller did not give is
  // that argument's new value (train_step's updates): keep it.
  for (size_t i = 0; i < info.results.size(); ++i)
    for (const TensorInfo &argument : info.arguments)
      if (argument.hasDefault && argument.name == info.results[i].name &&
          !arguments.count(argument.name))
        impl_->state[argument.name] = results[i].clone();
  return results;
}

std::vector<LaunchTiming> Model::lastProfile() const {
  return impl_->gpu ? impl_->gpu->lastProfile() : impl_->cpu->lastProfile();
}

const std::string &Model::device() const { return impl_->device; }

double Model::lastKernelMilliseconds() const {
  return impl_->gpu ? impl_->gpu->lastKernelMilliseconds() : -1.0;
}

} // namespace nsl::runtime
