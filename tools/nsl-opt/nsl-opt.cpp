//===- nsl-opt.cpp - mlir-opt with the nsl dialect and passes ------------===//
#include "codegen/common/Passes.h"
#include "codegen/cpu/CpuPipelines.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cuda/CudaCodegen.h"
#include "dialect/NSLDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::nsl::registerNSLPassesAndPipelines();
  mlir::nsl::registerNSLCodegenPasses();
  mlir::nsl::registerNSLCpuPasses();
  mlir::nsl::registerCpuPipelines();
  mlir::nsl::cuda::registerCudaPasses();

  mlir::DialectRegistry registry;
  registry.insert<mlir::nsl::NSLDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary needs the LLVM IR translations (TOOLCHAIN.md).
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "nsl optimizer driver: mlir-opt with the nsl dialect\n",
      registry));
}
