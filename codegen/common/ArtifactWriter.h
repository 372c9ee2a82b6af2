//===- ArtifactWriter.h - Writing a compiled model's artifact ----*- C++
//-*-===//
//
// The one place that writes an artifact folder (docs/artifact.md) for every
// target: manifest.json (the schedule and memory plan of each entry point,
// the target's kernel files and tuning), weights.safetensors (parameters,
// buffers, constants, optimizer state), graph.json (+ graph.<entry>.json)
// for the reference interpreter. The target's compiler writes its kernel
// files (kernels.so, kernels.sm_XY.ptx/.cubin) into the folder first and
// describes them in a TargetKernels.
//
// Built with C++ exceptions (the runtime's safetensors and reference code
// report errors with them); every error reaches the caller's `error`
// callback or, for errors in the IR, the context's diagnostics.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_ARTIFACTWRITER_H
#define NSL_CODEGEN_COMMON_ARTIFACTWRITER_H

#include "codegen/common/Schedule.h"
#include "codegen/common/TargetKernels.h"
#include "runtime/artifact/Tensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace mlir::nsl {

/// Where the artifact's parameters and buffers come from: a safetensors
/// file by name (`weightsPath`), else the values an imported TorchScript
/// model brought (`imported`), else seeded random values for testing.
struct WeightSource {
  std::string weightsPath;
  const std::map<std::string, ::nsl::runtime::Tensor> *imported = nullptr;
  unsigned seed = 0;
};

/// The model as compiled: the module with its outlined model functions,
/// the entry points (the first is `forward`'s), the graph.json text of
/// each (same order), and the name of the model file (for the metadata).
struct CompiledModel {
  ModuleOp module;
  std::vector<EntryFunction> entries;
  std::vector<std::string> graphs;
  std::string source;
};

/// What was written, for the tool's summary line.
struct ArtifactSummary {
  size_t numKernels = 0;
  int64_t arenaBytes = 0;
};

/// Writes the artifact into `folder` (which holds the target's kernel files
/// already). A `train_step` entry's optimizer state starts from the weight
/// file's tensors when it has them (resuming), zeros otherwise. Errors of
/// the inputs go to `error` as one message each; errors in the IR are
/// emitted as diagnostics.
FailureOr<ArtifactSummary>
writeArtifact(StringRef folder, const CompiledModel &model,
              const TargetKernels &kernels, const WeightSource &weights,
              llvm::function_ref<void(const std::string &)> error);

/// Pretty JSON text (2-space indent, newline-terminated), as every file of
/// the artifact is written.
std::string prettyJson(const nlohmann::json &value);

/// Writes `text` to `path`; on failure reports "cannot write ..." to
/// `error` and fails.
LogicalResult
writeTextFile(StringRef path, StringRef text,
              llvm::function_ref<void(const std::string &)> error);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_ARTIFACTWRITER_H
