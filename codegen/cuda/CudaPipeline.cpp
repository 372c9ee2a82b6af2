//===- CudaPipeline.cpp - CUDA pipelines, PTX extraction, schedule --------===//
#include "codegen/common/Pipelines.h"
#include "codegen/cuda/CudaCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::cuda;
using json = nlohmann::json;

std::optional<std::string> cuda::parseCudaTarget(StringRef target) {
  if (!target.consume_front("cuda:sm_"))
    return std::nullopt;
  unsigned version = 0;
  // sm_XY with an optional suffix letter (sm_90a).
  StringRef digits = target.take_while([](char c) { return isdigit(c); });
  StringRef suffix = target.drop_front(digits.size());
  if (digits.size() < 2 || digits.getAsInteger(10, version) || version < 50 ||
      !(suffix.empty() || suffix == "a"))
    return std::nullopt;
  return ("sm_" + digits + suffix).str();
}

std::string cuda::ptxFeatures(StringRef chip) {
  unsigned version = 0;
  chip.drop_front(3)
      .take_while([](char c) { return isdigit(c); })
      .getAsInteger(10, version);
  return version >= 90 ? "+ptx80" : "+ptx70";
}

void cuda::buildCudaKernelMappingPipeline(OpPassManager &pm,
                                          const CudaCodegenOptions &options) {
  pm.addPass(createKeepKernelsOnly());
  if (options.tiledConv)
    pm.addPass(createTileConvsForGpu(options.tiles));
  pm.addPass(createLowerToLinalg());
  addKernelBufferization(pm);
  addParsedPipeline(pm, "convert-linalg-to-parallel-loops,canonicalize");
  MapKernelsToGpuOptions mapping;
  mapping.threads = options.threads;
  pm.addPass(createMapKernelsToGpu(mapping));
  addParsedPipeline(pm, "canonicalize,cse");
}

std::string cuda::findLibdevice() {
  SmallVector<std::string> roots;
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *root = std::getenv(variable); root && *root)
      roots.push_back(root);
  if (std::string ptxas = findPtxas(); !ptxas.empty())
    roots.push_back(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(ptxas))
            .str());
  roots.push_back("/usr/local/cuda");
  for (const std::string &root : roots) {
    SmallString<256> path(root);
    llvm::sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::exists(path))
      return std::string(path);
  }
  return "";
}

void cuda::buildCudaToPtxPipeline(OpPassManager &pm,
                                  const CudaCodegenOptions &options) {
  // Math functions become libdevice calls (__nv_*), linked in explicitly:
  // MLIR finds libdevice by itself only through $CUDA_HOME and friends.
  std::string libdevice = findLibdevice();
  std::string pipeline =
      "gpu.module(expand-strided-metadata,lower-affine,convert-scf-to-cf),"
      "nvvm-attach-target{chip=" +
      options.chip + " features=" + ptxFeatures(options.chip) + " O=3" +
      (libdevice.empty() ? "" : " l=" + libdevice) +
      "},"
      "gpu.module(convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1},"
      "canonicalize,cse,reconcile-unrealized-casts),"
      "gpu-module-to-binary{format=isa}";
  addParsedPipeline(pm, pipeline);
}

FailureOr<CudaKernels>
cuda::compileCudaKernels(ModuleOp module, const CudaCodegenOptions &options) {
  if (options.threads < 1 || options.threads > 1024)
    return module.emitError() << "CUDA threads per block must be in [1, "
                                 "1024], got "
                              << options.threads;
  // gpu-module-to-binary translates the gpu.module to LLVM IR and needs the
  // NVVM target's serialisation.
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  module.getContext()->appendDialectRegistry(registry);
  OwningOpRef<ModuleOp> lowered = module.clone();
  if (failed(runPipeline(*lowered, [&](OpPassManager &pm) {
        buildCudaKernelMappingPipeline(pm, options);
      })))
    return failure();
  CudaKernels result;
  for (auto gpuModule : lowered->getOps<gpu::GPUModuleOp>()) {
    llvm::raw_string_ostream os(result.gpuIR);
    gpuModule.print(os);
    os << "\n";
    for (auto kernel : gpuModule.getOps<gpu::GPUFuncOp>()) {
      CudaKernelInfo info;
      auto integer = [&](StringRef name) {
        auto attr = kernel->getAttrOfType<IntegerAttr>(name);
        return attr ? attr.getInt() : 0;
      };
      info.parallelExtent =
          std::max<int64_t>(integer("nsl.parallel_extent"), 1);
      info.workspaceBytes = integer("nsl.workspace_bytes");
      info.grid = {info.parallelExtent, 1, 1};
      info.block = {options.threads, 1, 1};
      // The tiled convolutions choose their own launch shape.
      auto triple = [&](StringRef name, std::array<int64_t, 3> &into) {
        if (auto attr = kernel->getAttrOfType<DenseI64ArrayAttr>(name))
          if (attr.size() == 3)
            llvm::copy(attr.asArrayRef(), into.begin());
      };
      triple("nsl.grid", info.grid);
      triple("nsl.block", info.block);
      if (auto tiles = kernel->getAttrOfType<DenseI64ArrayAttr>("nsl.tiles"))
        info.tiles.assign(tiles.asArrayRef().begin(), tiles.asArrayRef().end());
      result.kernels[kernel.getName()] = info;
    }
  }
  if (failed(runPipeline(*lowered, [&](OpPassManager &pm) {
        buildCudaToPtxPipeline(pm, options);
      })))
    return failure();
  for (auto binary : lowered->getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      if (auto ptx = dyn_cast<gpu::ObjectAttr>(object))
        result.ptx += ptx.getObject().getValue().str();
  if (result.ptx.empty() && !result.kernels.empty())
    return module.emitError("CUDA code generation produced no PTX");
  if (StringRef(result.ptx).contains(".extern .func") &&
      StringRef(result.ptx).contains("__nv_"))
    return module.emitError(
        "the kernels call libdevice math functions (__nv_*), but "
        "libdevice.10.bc was not found: set CUDA_HOME to the CUDA toolkit");
  return result;
}

LogicalResult
cuda::addLaunchConfiguration(ModuleOp module, json &launch,
                             const llvm::StringMap<CudaKernelInfo> &kernels) {
  auto name = launch.find("kernel");
  auto found = name != launch.end() && name->is_string()
                   ? kernels.find(name->get<std::string>())
                   : kernels.end();
  if (found == kernels.end())
    return module.emitError()
           << "kernel '"
           << (name != launch.end() ? name->dump() : std::string("?"))
           << "' of the schedule was not compiled for CUDA";
  const CudaKernelInfo &info = found->second;
  launch["grid"] = info.grid;
  launch["block"] = info.block;
  launch["shared_bytes"] = info.sharedBytes;
  launch["workspace_bytes"] = info.workspaceBytes;
  if (!info.tiles.empty())
    launch["tiles"] = info.tiles;
  return success();
}

FailureOr<TargetKernels>
cuda::compileCudaTarget(ModuleOp module, StringRef folder,
                        const CudaCodegenOptions &options, std::string *gpuIR,
                        std::string *ptx) {
  FailureOr<CudaKernels> compiled = compileCudaKernels(module, options);
  if (failed(compiled))
    return failure();
  if (gpuIR)
    *gpuIR = compiled->gpuIR;
  if (ptx)
    *ptx = compiled->ptx;
  auto inFolder = [&](StringRef file) {
    SmallString<256> path(folder);
    llvm::sys::path::append(path, file);
    return std::string(path);
  };
  std::string ptxFile = "kernels." + options.chip + ".ptx";
  std::string cubinFile = "kernels." + options.chip + ".cubin";
  {
    std::error_code code;
    llvm::raw_fd_ostream os(inFolder(ptxFile), code);
    if (code)
      return module.emitError() << "cannot write '" << inFolder(ptxFile)
                                << "': " << code.message();
    os << compiled->ptx;
  }
  // A cubin where ptxas is installed; the runtime JIT-compiles the PTX
  // otherwise.
  json cubin = nullptr;
  llvm::sys::fs::remove(inFolder(cubinFile));
  if (std::string ptxas = findPtxas(); !ptxas.empty()) {
    std::string log;
    if (!assembleCubin(ptxas, inFolder(ptxFile), inFolder(cubinFile),
                       options.chip, log))
      return module.emitError() << "assembling " << ptxFile << ": " << log;
    cubin = cubinFile;
  }
  TargetKernels result;
  result.target = "cuda-" + options.chip;
  result.kernels = {{"ptx", ptxFile}, {"cubin", cubin}, {"abi", "nsl-cuda-1"}};
  result.tuning = {{"threads_per_block", options.threads},
                   {"mapping", "block-per-sample"},
                   {"tiled_conv", options.tiledConv}};
  for (auto &entry : compiled->kernels)
    result.info[entry.getKey()] = {entry.getValue().parallelExtent,
                                   entry.getValue().workspaceBytes};
  auto launchInfo = std::make_shared<llvm::StringMap<CudaKernelInfo>>(
      std::move(compiled->kernels));
  result.completeLaunch = [module, launchInfo](json &launch) {
    return addLaunchConfiguration(module, launch, *launchInfo);
  };
  return result;
}

std::string cuda::findPtxas() {
  if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  SmallVector<std::string> candidates;
  if (const char *home = std::getenv("CUDA_HOME"))
    candidates.push_back(std::string(home) + "/bin/ptxas");
  candidates.push_back("/usr/local/cuda/bin/ptxas");
  for (const std::string &candidate : candidates)
    if (llvm::sys::fs::can_execute(candidate))
      return candidate;
  return "";
}

bool cuda::assembleCubin(StringRef ptxas, StringRef ptxPath,
                         StringRef cubinPath, StringRef chip,
                         std::string &log) {
  SmallString<128> logPath;
  if (llvm::sys::fs::createTemporaryFile("nslc-ptxas", "log", logPath)) {
    log = "cannot create a temporary file for ptxas' output";
    return false;
  }
  std::string arch = ("-arch=" + chip).str();
  SmallVector<StringRef> args = {ptxas, arch, "-O3", ptxPath, "-o", cubinPath};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string message;
  int code = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                       /*SecondsToWait=*/300, 0, &message);
  if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
    log = (*buffer)->getBuffer().str();
  llvm::sys::fs::remove(logPath);
  if (code != 0) {
    log = (ptxas + " failed (" +
           (message.empty() ? "exit code " + std::to_string(code) : message) +
           "): " + log)
              .str();
    return false;
  }
  return true;
}

void cuda::registerCudaPasses() {
  registerNSLCudaPasses();
  PassPipelineRegistration<>(
      "nsl-cuda-map-kernels",
      "Lower outlined kernels to gpu.func kernels (tiled convolutions, "
      "linalg, bufferize, parallel loops, nsl-map-kernels-to-gpu) for sm_90, "
      "256 threads",
      [](OpPassManager &pm) {
        buildCudaKernelMappingPipeline(pm, CudaCodegenOptions());
      });
  PassPipelineRegistration<>(
      "nsl-cuda-to-ptx",
      "Lower the nsl_kernels gpu.module through NVVM to PTX for sm_90",
      [](OpPassManager &pm) {
        buildCudaToPtxPipeline(pm, CudaCodegenOptions());
      });
}
