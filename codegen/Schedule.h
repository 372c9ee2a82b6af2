//===- Schedule.h - Schedule and static memory plan of a model --*- C++ -*-===//
#ifndef NSL_CODEGEN_SCHEDULE_H
#define NSL_CODEGEN_SCHEDULE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace mlir::nsl {

/// A constant of the model, stored in weights.safetensors under `name`.
struct ConstantBuffer {
  std::string name;
  DenseElementsAttr value;
};

/// What the compiled kernel needs from the runtime.
struct KernelInfo {
  int64_t parallelExtent = 1;
  int64_t workspaceBytes = 0;
};

/// The manifest parts of one compiled entry point (docs/artifact.md).
struct CpuSchedule {
  llvm::json::Array buffers;
  int64_t arenaBytes = 0;
  llvm::json::Object entryPoint;
  std::vector<ConstantBuffer> constants;
};

/// Plans the buffers of a model function whose ops `--nsl-outline-kernels`
/// tagged with their kernels: arguments are caller buffers, constants are
/// weights, every op result gets a 64-byte aligned place in one arena, and
/// results whose lifetimes do not overlap share bytes (first fit, in
/// schedule order; an op's results never overlap its operands).
/// `kernels` describes the compiled kernels by name; the entry point is
/// called `entryName`. Buffer ids start at `firstBufferId` and constants are
/// named `constantPrefix` + their index, so that the schedules of several
/// entry points can share one manifest (they may share the arena: entry
/// points run one at a time).
FailureOr<CpuSchedule>
planCpuSchedule(func::FuncOp model, StringRef entryName,
                const llvm::StringMap<KernelInfo> &kernels,
                int64_t firstBufferId = 0,
                StringRef constantPrefix = "__constant_");

} // namespace mlir::nsl

#endif // NSL_CODEGEN_SCHEDULE_H
