//===- ArtifactWriter.cpp - Writing a compiled model's artifact -----------===//
#include "codegen/common/ArtifactWriter.h"
#include "dialect/NSLDialect.h"

#include "runtime/artifact/Safetensors.h"
#include "runtime/reference/Graph.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;
using namespace mlir::nsl;
using json = nlohmann::json;
namespace rt = ::nsl::runtime;
namespace ref = ::nsl::reference;

namespace {

rt::Tensor constantTensor(DenseElementsAttr value) {
  auto type = cast<RankedTensorType>(value.getType());
  rt::Shape shape(type.getShape().begin(), type.getShape().end());
  if (type.getElementType().isF32()) {
    rt::Tensor tensor(rt::DType::F32, shape);
    llvm::copy(value.getValues<float>(), tensor.data<float>());
    return tensor;
  }
  rt::Tensor tensor(rt::DType::I64, shape);
  llvm::copy(value.getValues<int64_t>(), tensor.data<int64_t>());
  return tensor;
}

/// The initial optimizer state of a train_step function: the tensor of
/// `file` (--weights) if it has one (resuming), zeros otherwise.
void addOptimizerState(func::FuncOp trainStep, const rt::SafetensorsFile *file,
                       std::map<std::string, rt::Tensor> &weights) {
  for (unsigned i = 0; i < trainStep.getNumArguments(); ++i) {
    auto role =
        trainStep.getArgAttrOfType<StringAttr>(i, NSLDialect::kRoleAttr);
    auto name =
        trainStep.getArgAttrOfType<StringAttr>(i, NSLDialect::kNameAttr);
    if (!role || role.getValue() != "optimizer_state" || !name)
      continue;
    auto type = cast<RankedTensorType>(trainStep.getArgument(i).getType());
    rt::Shape shape(type.getShape().begin(), type.getShape().end());
    const rt::Tensor *stored = file ? file->find(name.str()) : nullptr;
    if (stored && stored->dtype() == rt::DType::F32 &&
        stored->shape() == shape) {
      weights[name.str()] = stored->clone();
      continue;
    }
    rt::Tensor zeros(rt::DType::F32, shape);
    std::fill_n(zeros.data<float>(), type.getNumElements(), 0.0f);
    weights[name.str()] = std::move(zeros);
  }
}

/// The parameters and buffers of the model by name (from the weight file,
/// else the imported values, else seeded random ones); throws
/// ref::ReferenceError or rt::Error for bad inputs.
class WeightCollector {
public:
  WeightCollector(const std::string &graphJson, const WeightSource &source)
      : graph(ref::parseGraph(graphJson)), source(source) {
    if (!source.weightsPath.empty())
      file = rt::readSafetensors(source.weightsPath);
  }

  std::map<std::string, rt::Tensor> collect() {
    std::map<std::string, rt::Tensor> weights;
    for (auto [index, argument] : llvm::enumerate(graph.arguments)) {
      if (argument.role == "optimizer_state") {
        // A model written with its own optimizer state (train_step's is
        // added by addOptimizerState): the file's tensor, else a draw.
        if (const rt::Tensor *stored = fromFile(argument.name))
          weights[argument.name] = stored->clone();
        else if (!source.imported)
          weights[argument.name] = drawn(index);
        continue;
      }
      if (argument.role == "parameter" || argument.role == "buffer")
        weights[argument.name] = parameter(index, argument);
    }
    return weights;
  }

  const rt::SafetensorsFile *weightFile() const {
    return file ? &*file : nullptr;
  }

private:
  const rt::Tensor *fromFile(const std::string &name) const {
    return file ? file->find(name) : nullptr;
  }

  /// The seeded draw of every argument, made once if something needs it.
  rt::Tensor drawn(size_t index) {
    if (random.empty())
      random = ref::randomArguments(graph, {source.seed, std::nullopt});
    return rt::fromReference(random[index]);
  }

  rt::Tensor parameter(size_t index, const ref::GraphArgument &argument) {
    if (!file && source.imported) {
      auto found = source.imported->find(argument.name);
      if (found == source.imported->end())
        throw ref::ReferenceError("the imported model has no values for '" +
                                  argument.name + "'");
      return found->second.clone();
    }
    if (!file)
      return drawn(index);
    const rt::Tensor *tensor = file->find(argument.name);
    std::string expected = ref::typeToString(argument.type);
    const std::string &path = source.weightsPath;
    if (!tensor)
      throw ref::ReferenceError(path + ": no tensor '" + argument.name + "' (" +
                                expected + ") for the model's " +
                                argument.role);
    ref::TensorType found{tensor->dtype() == rt::DType::F32 ? ref::DType::F32
                                                            : ref::DType::I64,
                          tensor->shape()};
    if (found != argument.type)
      throw ref::ReferenceError(path + ": tensor '" + argument.name + "' is " +
                                ref::typeToString(found) +
                                ", the model needs " + expected);
    return tensor->clone();
  }

  ref::Graph graph;
  const WeightSource &source;
  std::optional<rt::SafetensorsFile> file;
  std::vector<ref::Tensor> random;
};

/// weights.safetensors of the model; false after reporting an error.
bool writeWeights(StringRef folder, const CompiledModel &model,
                  const std::vector<ConstantBuffer> &constants,
                  const WeightSource &source, json &inputNormalization,
                  llvm::function_ref<void(const std::string &)> error) {
  try {
    WeightCollector collector(model.graphs.front(), source);
    std::map<std::string, rt::Tensor> weights = collector.collect();
    for (const ConstantBuffer &constant : constants)
      weights[constant.name] = constantTensor(constant.value);
    ModuleOp module = model.module;
    if (auto trainStep = module.lookupSymbol<func::FuncOp>("train_step"))
      addOptimizerState(trainStep, collector.weightFile(), weights);
    // A checkpoint of nsl-run fit says how its inputs were normalised; the
    // manifest keeps that for inference (docs/artifact.md).
    if (const rt::SafetensorsFile *file = collector.weightFile()) {
      auto it = file->metadata.find("nsl.input_normalization");
      if (it != file->metadata.end()) {
        inputNormalization = json::parse(it->second, nullptr, false);
        if (inputNormalization.is_discarded() ||
            !inputNormalization.is_object())
          throw rt::Error(source.weightsPath +
                          ": metadata 'nsl.input_normalization' is not a "
                          "JSON object");
      }
    }
    SmallString<256> path(folder);
    llvm::sys::path::append(path, "weights.safetensors");
    rt::writeSafetensors(std::string(path), weights,
                         {{"producer", "nslc"}, {"model", model.source}});
  } catch (const std::exception &exception) {
    error(exception.what());
    return false;
  }
  return true;
}

} // namespace

std::string mlir::nsl::prettyJson(const json &value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

LogicalResult
mlir::nsl::writeTextFile(StringRef path, StringRef text,
                         llvm::function_ref<void(const std::string &)> error) {
  std::error_code code;
  llvm::raw_fd_ostream os(path, code);
  if (!code) {
    os << text;
    os.close();
    code = os.error();
  }
  if (code) {
    error("cannot write '" + path.str() + "': " + code.message());
    return failure();
  }
  return success();
}

FailureOr<ArtifactSummary>
mlir::nsl::writeArtifact(StringRef folder, const CompiledModel &model,
                         const TargetKernels &kernels,
                         const WeightSource &weights,
                         llvm::function_ref<void(const std::string &)> error) {
  auto completer = [&](json &launch) { return kernels.completeLaunch(launch); };
  FailureOr<Schedules> schedules = planSchedules(
      model.module, model.entries, kernels.info,
      kernels.completeLaunch ? LaunchCompleter(completer) : LaunchCompleter());
  json inputNormalization;
  if (failed(schedules) || !writeWeights(folder, model, schedules->constants,
                                         weights, inputNormalization, error))
    return failure();
  json manifest{{"format", "nsl-artifact"},
                {"version", 1},
                {"target", kernels.target},
                {"kernels", kernels.kernels},
                {"buffers", std::move(schedules->buffers)},
                {"arena_bytes", schedules->arenaBytes},
                {"entry_points", std::move(schedules->entryPoints)},
                {"tuning", kernels.tuning}};
  if (!inputNormalization.is_null())
    manifest["input_normalization"] = std::move(inputNormalization);
  auto inFolder = [&](const std::string &file) {
    SmallString<256> path(folder);
    llvm::sys::path::append(path, file);
    return std::string(path);
  };
  // One graph per entry point: graph.json for the first,
  // graph.<entry>.json for the others.
  for (size_t i = 0; i < model.entries.size(); ++i) {
    std::string file =
        i == 0 ? "graph.json" : "graph." + model.entries[i].name + ".json";
    if (failed(writeTextFile(inFolder(file), model.graphs[i], error)))
      return failure();
  }
  if (failed(writeTextFile(inFolder("manifest.json"), prettyJson(manifest),
                           error)))
    return failure();
  return ArtifactSummary{schedules->numKernels, schedules->arenaBytes};
}
