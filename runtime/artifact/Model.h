//===- Model.h - The C++ API of the runtime ----------------------*- C++
//-*-===//
//
// Loads a compiled model (a model.nslm folder, docs/artifact.md) and runs
// its entry points:
//
//   auto model = nsl::runtime::Model::load("model.nslm", {/*threads=*/2});
//   nsl::runtime::Tensor x(nsl::runtime::DType::F32, {2, 1, 28, 28});
//   std::vector<nsl::runtime::Tensor> y = model.run("forward", {{"x", x}});
//
// Parameters and buffers default to the artifact's weights; inputs and
// labels must be given. Every error is an nsl::runtime::Error with a message
// for people. The header exposes no internals (docs/runtime.md).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_MODEL_H
#define NSL_RUNTIME_ARTIFACT_MODEL_H

#include "runtime/artifact/Error.h"
#include "runtime/artifact/Tensor.h"

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nsl::runtime {

struct ModelOptions {
  /// Threads that run the kernels, the calling thread included; 0 means
  /// one per hardware thread, 1 runs everything on the calling thread.
  int threads = 0;
  /// Time every kernel launch (see Model::lastProfile).
  bool profile = false;
  /// Where the kernels run: "cpu" (the artifact's kernels.so) or "cuda"
  /// (a cuda-sm_XY artifact on GPU 0, through the CUDA driver found as
  /// $NSL_CUDA_DRIVER or libcuda.so.1; docs/gpu.md).
  std::string device = "cpu";
};

/// An argument or a result of an entry point.
struct TensorInfo {
  std::string name;
  std::string role; // input, parameter, buffer, label, ...; empty for results
  DType dtype = DType::F32;
  Shape shape;
  /// The argument defaults to its tensor in the model's weights, or (role
  /// `derived`) is prepared from them by the runtime and cannot be given.
  bool hasDefault = false;
};

struct EntryPointInfo {
  std::string name;
  std::vector<TensorInfo> arguments; // In the order of the IR function.
  std::vector<TensorInfo> results;   // In return order.
};

/// How an input is normalised per channel, (x - mean[c]) / std[c], before
/// the model sees it: the training data's statistics, recorded by nsl-run
/// fit and kept by nslc --weights.
struct InputNormalization {
  std::string input;
  std::vector<double> mean, std;
};

/// The wall time of one kernel launch.
struct LaunchTiming {
  size_t launch = 0; // Index in the schedule.
  std::string kernel;
  int64_t parallelExtent = 1;
  double milliseconds = 0.0;
};

class Model {
public:
  /// Loads and validates the artifact folder at `path` and allocates the
  /// model's memory (its arena); throws Error.
  static Model load(const std::string &path, const ModelOptions &options = {});
  Model(Model &&) noexcept;
  Model &operator=(Model &&) noexcept;
  ~Model();

  const std::string &path() const;
  /// The artifact's target, e.g. "cpu-x86_64-avx512".
  const std::string &target() const;
  /// The threads that run kernels, the caller included.
  int threads() const;
  const std::vector<EntryPointInfo> &entryPoints() const;
  /// The entry point with this name; throws Error naming the ones there are.
  const EntryPointInfo &entryPoint(const std::string &name) const;
  /// The model's current parameters, buffers and optimizer state by name:
  /// those of weights.safetensors, updated by every run that returns new
  /// values for them (train_step).
  const std::map<std::string, Tensor> &weights() const;
  /// Replaces some of the weights (a checkpoint's, to resume training):
  /// every name must be one of weights() with the same dtype and shape;
  /// throws Error, changing nothing, if one is not. The values are copied.
  void setWeights(const std::map<std::string, Tensor> &values);
  /// The normalisation the model was trained with, if its artifact records
  /// one (manifest "input_normalization").
  std::optional<InputNormalization> inputNormalization() const;

  /// Runs an entry point. `arguments` maps argument names to tensors of
  /// exactly the declared dtype and shape; parameters and buffers left out
  /// take their value from the weights. Kernels read the given tensors in
  /// place (no copy), which must stay unchanged during the call. Returns the
  /// results, in order, as new tensors. A result named after a parameter,
  /// buffer or optimizer state argument that the caller left out is that
  /// argument's new value: the model keeps it for the next runs (so
  /// `run("train_step", {{"x", x}, {"labels", y}, {"lr", lr}})` trains the
  /// model in place). Runs of one Model are serialised
  /// (they share its arena); use several Models to run in parallel.
  std::vector<Tensor> run(const std::string &entry,
                          const std::map<std::string, Tensor> &arguments);

  /// The launches of the last run with their wall times, if the model was
  /// loaded with options.profile; empty otherwise.
  std::vector<LaunchTiming> lastProfile() const;
  /// "cpu" or "cuda" (ModelOptions::device).
  const std::string &device() const;
  /// CUDA: the GPU time of the last run's kernel launches (CUDA events,
  /// without the copies), in milliseconds; CPU: a negative number.
  double lastKernelMilliseconds() const;

private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_MODEL_H
