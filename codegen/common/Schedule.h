//===- Schedule.h - Schedule and static memory plan of a model --*- C++ -*-===//
//
// The manifest parts that describe how the runtime executes a compiled
// model (docs/artifact.md), for every target: the buffers, the static memory
// plan (one arena), and per entry point its arguments, results and the
// ordered kernel launches. A target adds its own launch fields (the CUDA
// grid and block) through a callback.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_SCHEDULE_H
#define NSL_CODEGEN_COMMON_SCHEDULE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringMap.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mlir::nsl {

/// A constant of the model, stored in weights.safetensors under `name`.
struct ConstantBuffer {
  std::string name;
  DenseElementsAttr value;
};

/// What a compiled kernel needs from the runtime.
struct KernelInfo {
  int64_t parallelExtent = 1;
  int64_t workspaceBytes = 0;
};

/// One entry point of an artifact: the model function that computes it and
/// the entry point's name.
struct EntryFunction {
  std::string function;
  std::string name;
};

/// The manifest parts of all entry points of one artifact: one buffer list
/// (ids numbered on across entry points), one arena of the largest size
/// (entry points run one at a time), the constants (named per entry).
struct Schedules {
  nlohmann::json buffers = nlohmann::json::array();
  nlohmann::json entryPoints = nlohmann::json::array();
  int64_t arenaBytes = 0;
  size_t numKernels = 0;
  std::vector<ConstantBuffer> constants;
};

/// Completes one launch object of a schedule for the target (e.g. the CUDA
/// grid and block of its kernel); emits an error and fails if it cannot.
using LaunchCompleter = llvm::function_ref<LogicalResult(nlohmann::json &)>;

/// Plans the buffers of the entry points' model functions, whose ops
/// `--nsl-outline-kernels` tagged with their kernels: arguments are caller
/// buffers, constants are weights, every op result gets a 64-byte aligned
/// place in one arena, and results whose lifetimes do not overlap share
/// bytes (first fit, in schedule order; an op's results never overlap its
/// operands). `kernels` describes the compiled kernels by name. Errors are
/// emitted on the IR.
FailureOr<Schedules> planSchedules(ModuleOp module,
                                   ArrayRef<EntryFunction> entries,
                                   const llvm::StringMap<KernelInfo> &kernels,
                                   LaunchCompleter completeLaunch = nullptr);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_SCHEDULE_H
