//===- Model.cpp - The C++ API of the runtime -----------------------------===//

#include "runtime/artifact/Model.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/ExecutorFactory.h"

namespace nsl::runtime {

struct Model::Impl {
  Impl(std::unique_ptr<Executor> executor, std::string device)
      : executor(std::move(executor)), device(std::move(device)) {
    for (const EntryPoint &entry :
         this->executor->artifact().manifest().entryPoints) {
      EntryPointInfo info;
      info.name = entry.name;
      for (const Binding &b : entry.arguments)
        info.arguments.push_back(
            {b.name, b.role, b.dtype, b.shape,
             roleHasDefault(b.role) || b.role == "derived"});
      for (const Binding &b : entry.results)
        info.results.push_back({b.name, b.role, b.dtype, b.shape, false});
      entryPoints.push_back(std::move(info));
    }
  }

  const Artifact &artifact() const { return executor->artifact(); }
  std::unique_ptr<Executor> executor;
  std::string device;
  std::vector<EntryPointInfo> entryPoints;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model &&) noexcept = default;
Model &Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string &path, const ModelOptions &options) {
  return Model(
      std::make_unique<Impl>(createExecutor(path, options), options.device));
}

const std::string &Model::path() const { return impl_->artifact().path(); }

const std::string &Model::target() const {
  return impl_->artifact().manifest().target;
}

int Model::threads() const { return impl_->executor->threads(); }

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
  return impl_->executor->state();
}

void Model::setWeights(const std::map<std::string, Tensor> &values) {
  impl_->executor->setState(values);
}

std::optional<InputNormalization> Model::inputNormalization() const {
  const Manifest &manifest = impl_->artifact().manifest();
  if (manifest.normalizedInput.empty())
    return std::nullopt;
  return InputNormalization{manifest.normalizedInput,
                            manifest.normalizationMean,
                            manifest.normalizationStd};
}

std::vector<Tensor> Model::run(const std::string &entry,
                               const std::map<std::string, Tensor> &arguments) {
  return impl_->executor->run(entry, arguments);
}

std::vector<LaunchTiming> Model::lastProfile() const {
  return impl_->executor->lastProfile();
}

const std::string &Model::device() const { return impl_->device; }

double Model::lastKernelMilliseconds() const {
  return impl_->executor->lastKernelMilliseconds();
}

} // namespace nsl::runtime
