//===- ExecutorFactory.cpp - The executor of a device ---------------------===//

#include "runtime/artifact/ExecutorFactory.h"

#include "runtime/artifact/CpuExecutor.h"
#include "runtime/cuda/CudaExecutor.h"

namespace nsl::runtime {

std::unique_ptr<Executor> createExecutor(const std::string &path,
                                         const ModelOptions &options) {
  if (options.device == "cpu")
    return std::make_unique<CpuExecutor>(Artifact::load(path), options);
  if (options.device == "cuda")
    return std::make_unique<cuda::CudaExecutor>(Artifact::loadCuda(path),
                                                options);
  throw Error("unknown device '" + options.device + "' (expected cpu or cuda)");
}

} // namespace nsl::runtime
