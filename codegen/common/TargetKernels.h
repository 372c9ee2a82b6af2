//===- TargetKernels.h - What a target's compiler produced -------*- C++
//-*-===//
#ifndef NSL_CODEGEN_COMMON_TARGETKERNELS_H
#define NSL_CODEGEN_COMMON_TARGETKERNELS_H

#include "codegen/common/Schedule.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace mlir::nsl {

/// The kernels a target compiled into the artifact folder, as the manifest
/// describes them (docs/artifact.md).
struct TargetKernels {
  /// The manifest's "target", e.g. cpu-x86_64-avx512 or cuda-sm_90.
  std::string target;
  /// The manifest's "kernels" object (files, ABI).
  nlohmann::json kernels;
  /// The manifest's "tuning" object: the choices the kernels were built
  /// with.
  nlohmann::json tuning;
  /// What each compiled kernel needs from the runtime, by name.
  llvm::StringMap<KernelInfo> info;
  /// Adds the target's fields to one launch of a schedule (may be empty).
  std::function<LogicalResult(nlohmann::json &launch)> completeLaunch;
};

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_TARGETKERNELS_H
