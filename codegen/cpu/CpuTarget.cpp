//===- CpuTarget.cpp - Kernels from the LLVM dialect to a shared library --===//
#include "codegen/common/Pipelines.h"
#include "codegen/cpu/CpuPipelines.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;

std::string nsl::hostCpuTarget() {
  llvm::Triple triple(llvm::sys::getProcessTriple());
  if (triple.getArch() != llvm::Triple::x86_64)
    return ("cpu-" + triple.getArchName()).str();
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return "cpu-x86_64-avx512";
  if (features.lookup("avx2") && features.lookup("fma"))
    return "cpu-x86_64-avx2";
  return "cpu-x86_64";
}

std::string nsl::stampKernelsId(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  std::string id = llvm::utohexstr(llvm::xxh3_64bits(text), /*LowerCase=*/true);
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), id.size() + 1);
  LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true,
                         LLVM::Linkage::External, "nsl_kernels_id",
                         b.getStringAttr(id + '\0'));
  return id;
}

namespace {

/// A target machine for the host CPU, position-independent code.
FailureOr<std::unique_ptr<llvm::TargetMachine>>
hostTargetMachine(Location loc) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return emitError(loc) << "no LLVM target for " << triple.str() << ": "
                          << error;
  llvm::SubtargetFeatures features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.first(), feature.second);
  std::unique_ptr<llvm::TargetMachine> machine(
      target->createTargetMachine(triple, llvm::sys::getHostCPUName(),
                                  features.getString(), {}, llvm::Reloc::PIC_));
  if (!machine)
    return emitError(loc) << "cannot create a target machine for "
                          << triple.str();
  return machine;
}

/// The DT_NEEDED entries of an ELF shared library.
FailureOr<std::vector<std::string>> neededLibraries(Location loc,
                                                    StringRef path) {
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (!binary)
    return emitError(loc) << "cannot read '" << path
                          << "': " << llvm::toString(binary.takeError());
  auto *elf = dyn_cast<llvm::object::ELF64LEObjectFile>(binary->getBinary());
  if (!elf)
    return emitError(loc) << "'" << path << "' is not a 64-bit ELF file";
  const auto &file = elf->getELFFile();
  auto entries = file.dynamicEntries();
  if (!entries)
    return emitError(loc) << "'" << path << "' has no dynamic section: "
                          << llvm::toString(entries.takeError());
  uint64_t strtab = 0;
  std::vector<uint64_t> offsets;
  for (const auto &entry : *entries) {
    if (entry.getTag() == llvm::ELF::DT_STRTAB)
      strtab = entry.getPtr();
    if (entry.getTag() == llvm::ELF::DT_NEEDED)
      offsets.push_back(entry.getVal());
  }
  auto base = file.toMappedAddr(strtab);
  if (!base)
    return emitError(loc) << "'" << path << "' has no dynamic string table: "
                          << llvm::toString(base.takeError());
  std::vector<std::string> needed;
  for (uint64_t offset : offsets)
    needed.emplace_back(reinterpret_cast<const char *>(*base + offset));
  return needed;
}

} // namespace

FailureOr<nsl::CompiledKernels>
nsl::compileKernelLibrary(ModuleOp module, StringRef libraryPath) {
  Location loc = module.getLoc();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, "nsl_kernels");
  if (!llvmModule)
    return emitError(loc) << "cannot translate the kernels to LLVM IR";
  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
      hostTargetMachine(loc);
  if (failed(machine))
    return failure();
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  if (llvm::Error error =
          makeOptimizingTransformer(3, 0, machine->get())(llvmModule.get()))
    return emitError(loc) << "LLVM optimisation failed: "
                          << llvm::toString(std::move(error));

  // Object file next to the library, then the library.
  std::string objectPath = (libraryPath + ".o").str();
  {
    std::error_code code;
    llvm::raw_fd_ostream object(objectPath, code, llvm::sys::fs::OF_None);
    if (code)
      return emitError(loc)
             << "cannot write '" << objectPath << "': " << code.message();
    llvm::legacy::PassManager passes;
    if ((*machine)->addPassesToEmitFile(passes, object, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return emitError(loc) << "the target cannot emit object files";
    passes.run(*llvmModule);
  }
  llvm::ErrorOr<std::string> driver = llvm::sys::findProgramByName("clang-22");
  if (!driver)
    driver = llvm::sys::findProgramByName("cc");
  if (!driver)
    return emitError(loc) << "no C compiler driver (clang-22 or cc) on PATH "
                             "to link the kernel library";
  SmallVector<StringRef> args = {*driver,     "-shared",  "-o",
                                 libraryPath, objectPath, "-lm"};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*driver, args, std::nullopt, {}, 0, 0,
                                         &message);
  llvm::sys::fs::remove(objectPath);
  if (status != 0)
    return emitError(loc) << "linking '" << libraryPath << "' with " << *driver
                          << " failed (exit " << status << ") " << message;
  FailureOr<std::vector<std::string>> needed =
      neededLibraries(loc, libraryPath);
  if (failed(needed))
    return failure();
  return CompiledKernels{hostCpuTarget(), std::move(*needed)};
}

namespace {

/// The kernels of a lowered module: the exported nsl-cpu-1 entry points.
llvm::StringMap<nsl::KernelInfo> compiledKernels(ModuleOp lowered) {
  llvm::StringMap<nsl::KernelInfo> kernels;
  for (auto entry : lowered.getOps<LLVM::LLVMFuncOp>()) {
    if (!entry->hasAttr("nsl.kernel"))
      continue;
    auto integer = [&](StringRef name) {
      auto attr = entry->getAttrOfType<IntegerAttr>(name);
      return attr ? attr.getInt() : 0;
    };
    kernels[entry.getName()] = {
        std::max<int64_t>(integer("nsl.parallel_extent"), 1),
        integer("nsl.workspace_bytes")};
  }
  return kernels;
}

} // namespace

FailureOr<nsl::TargetKernels>
nsl::compileCpuKernels(ModuleOp module, StringRef folder,
                       const CpuCodegenOptions &options,
                       function_ref<void(OpPassManager &)> beforeLowering) {
  OwningOpRef<ModuleOp> lowered = module.clone();
  if (failed(runPipeline(*lowered, [&](OpPassManager &pm) {
        if (beforeLowering)
          beforeLowering(pm);
        buildCpuKernelLoweringPipeline(pm, options);
      })))
    return failure();
  // The library and the manifest identify each other by a hash of the
  // kernels, so that the runtime refuses a kernels.so of another build.
  std::string kernelsId = stampKernelsId(*lowered);
  SmallString<256> library(folder);
  llvm::sys::path::append(library, "kernels.so");
  FailureOr<CompiledKernels> compiled = compileKernelLibrary(*lowered, library);
  if (failed(compiled))
    return failure();
  TargetKernels result;
  result.target = compiled->target;
  result.kernels = {{"library", "kernels.so"},
                    {"abi", "nsl-cpu-1"},
                    {"id", kernelsId},
                    {"dependencies", compiled->dependencies}};
  int64_t width =
      options.vectorWidth > 0 ? options.vectorWidth : hostVectorWidth();
  result.tuning = {
      {"direct_conv", options.directConv},
      {"vector_width", width},
      {"conv_output_channels", options.convOutputChannels},
      {"conv_pixel_vectors", options.convPixelVectors},
      {"conv_parallel_iterations", options.convParallelIterations}};
  result.info = compiledKernels(*lowered);
  return result;
}
