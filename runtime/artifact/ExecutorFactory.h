//===- ExecutorFactory.h - The executor of a device -------------*- C++ -*-===//
//
// The one place that maps ModelOptions::device to an Executor, so that Model
// (and anything else that runs artifacts) stays device-agnostic. It lives in
// the library NSLRuntime, above both devices (runtime/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_EXECUTORFACTORY_H
#define NSL_RUNTIME_ARTIFACT_EXECUTORFACTORY_H

#include "runtime/artifact/Executor.h"

#include <memory>
#include <string>

namespace nsl::runtime {

/// Loads the artifact folder at `path` for options.device and makes its
/// executor: "cpu" (Artifact::load, kernels.so; CpuExecutor) or "cuda"
/// (Artifact::loadCuda, the PTX or cubin; cuda::CudaExecutor). Throws Error,
/// also "unknown device 'D' (expected cpu or cuda)".
std::unique_ptr<Executor> createExecutor(const std::string &path,
                                         const ModelOptions &options);

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_EXECUTORFACTORY_H
