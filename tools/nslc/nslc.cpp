//===- nslc.cpp - Compile an nsl model into a runnable artifact ----------===//
//
// nslc MODEL.mlir -o MODEL.nslm (or MODEL.pt, a TorchScript model, with
// --input-shape): graph.json from the model as written; the
// kernels from the optimised model (codegen/), linked into kernels.so; the
// schedule and memory plan in manifest.json; parameters, buffers and
// constants in weights.safetensors (docs/artifact.md).
//
//===----------------------------------------------------------------------===//
#include "codegen/Passes.h"
#include "codegen/Pipelines.h"
#include "codegen/Schedule.h"
#include "codegen/cuda/CudaCodegen.h"
#include "frontend/importer/TorchImporter.h"
#include "passes/Passes.h"

#include "runtime/artifact/Safetensors.h"
#include "runtime/reference/Graph.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <nlohmann/json.hpp>

#include <cstring>

using namespace mlir;
namespace cl = llvm::cl;
namespace json = llvm::json;
namespace rt = ::nsl::runtime;
namespace ref = ::nsl::reference;

namespace {

cl::OptionCategory category("nslc options");
cl::opt<std::string> inputPath(cl::Positional,
                               cl::desc("<model.mlir or model.pt>"),
                               cl::Required, cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output artifact folder (.nslm)"),
                                cl::value_desc("path"), cl::Required,
                                cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("Target: cpu (the host CPU), cuda:sm_80 "
                                     "or cuda:sm_90 (PTX, docs/gpu.md)"),
                            cl::init("cpu"), cl::cat(category));
cl::opt<std::string> function("function",
                              cl::desc("The model function to compile"),
                              cl::init("forward"), cl::cat(category));
cl::opt<std::string>
    entryName("entry-point",
              cl::desc("Name of the compiled entry point in the artifact"),
              cl::init("forward"), cl::cat(category));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("safetensors file with the parameters and buffers, by name "
             "(default: seeded random values, for testing)"),
    cl::value_desc("file"), cl::cat(category));
cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Static shape of the next tensor input of a TorchScript (.pt) "
             "model's forward, e.g. 1x1x28x28 (once per input, in order)"),
    cl::value_desc("NxCxHxW"), cl::cat(category));
cl::OptionCategory tuningCategory("nslc code generation choices");
cl::opt<bool> fuseEpilogues(
    "fuse-epilogues",
    cl::desc("Put batch_norm and relu into the kernel of the op they follow"),
    cl::init(true), cl::cat(tuningCategory));
cl::opt<bool>
    directConv("direct-conv",
               cl::desc("Register-blocked vector loops for convolutions"),
               cl::init(true), cl::cat(tuningCategory));
cl::opt<int64_t> vectorWidth(
    "vector-width",
    cl::desc("Vector lanes of direct convolutions (0: the host's, 16 with "
             "AVX-512, else 8)"),
    cl::init(0), cl::cat(tuningCategory));
cl::opt<int64_t> convOutputChannels(
    "conv-output-channels",
    cl::desc("Output channels per register block of direct convolutions"),
    cl::init(8), cl::cat(tuningCategory));
cl::opt<int64_t>
    convPixelVectors("conv-pixel-vectors",
                     cl::desc("Vectors of output pixels per register block"),
                     cl::init(2), cl::cat(tuningCategory));
cl::opt<unsigned> seed("seed",
                       cl::desc("Seed of the random parameters and buffers "
                                "when no --weights are given"),
                       cl::init(0), cl::cat(category));

cl::OptionCategory trainingCategory(
    "nslc training options (with --train; see --nsl-generate-train-step)");
cl::opt<bool> train("train",
                    cl::desc("Also compile the train_step and eval entry "
                             "points (reverse pass and optimizer update)"),
                    cl::init(false), cl::cat(trainingCategory));
cl::opt<std::string> optimizerName("optimizer", cl::desc("sgd or adam"),
                                   cl::init("sgd"), cl::cat(trainingCategory));
cl::opt<double> momentum("momentum", cl::desc("SGD momentum (0: none)"),
                         cl::init(0.9), cl::cat(trainingCategory));
cl::opt<double> dampening("dampening", cl::desc("SGD dampening"), cl::init(0.0),
                          cl::cat(trainingCategory));
cl::opt<bool> nesterov("nesterov", cl::desc("SGD Nesterov momentum"),
                       cl::init(false), cl::cat(trainingCategory));
cl::opt<double> weightDecay("weight-decay",
                            cl::desc("L2 weight decay (SGD and Adam)"),
                            cl::init(0.0), cl::cat(trainingCategory));
cl::opt<double> beta1("beta1", cl::desc("Adam beta1"), cl::init(0.9),
                      cl::cat(trainingCategory));
cl::opt<double> beta2("beta2", cl::desc("Adam beta2"), cl::init(0.999),
                      cl::cat(trainingCategory));
cl::opt<double> adamEps("eps", cl::desc("Adam epsilon"), cl::init(1e-8),
                        cl::cat(trainingCategory));
cl::opt<bool> amsgrad("amsgrad", cl::desc("Adam AMSGrad"), cl::init(false),
                      cl::cat(trainingCategory));
cl::opt<double> labelSmoothing("label-smoothing",
                               cl::desc("Label smoothing of the loss"),
                               cl::init(0.0), cl::cat(trainingCategory));
cl::opt<double> l1Strength("l1",
                           cl::desc("L1 penalty on the similarity parameters"),
                           cl::init(0.0), cl::cat(trainingCategory));
cl::opt<double>
    orthogonality("orthogonality",
                  cl::desc("Orthogonality penalty on SphereConv weights"),
                  cl::init(0.0), cl::cat(trainingCategory));
cl::opt<double> bnMomentum("bn-momentum",
                           cl::desc("Batch-norm running statistics momentum"),
                           cl::init(0.1), cl::cat(trainingCategory));
cl::opt<std::string> trainable(
    "trainable",
    cl::desc("Comma-separated glob patterns of the trained parameters "
             "(default: all), e.g. '*.similarity,*predictor*'"),
    cl::init("*"), cl::cat(trainingCategory));

cl::opt<bool> returnGradients(
    "return-gradients",
    cl::desc("train_step also returns every trained parameter's gradient "
             "('<name>.grad'), for checking against another framework"),
    cl::init(false), cl::cat(trainingCategory));

int fail(const llvm::Twine &message) {
  llvm::errs() << "nslc: error: " << message << "\n";
  return 1;
}

LogicalResult runPipeline(ModuleOp module,
                          llvm::function_ref<void(OpPassManager &)> build) {
  PassManager pm(module.getContext());
  build(pm);
  return pm.run(module);
}

/// The kernels of a lowered module: the exported nsl-cpu-1 entry points.
llvm::StringMap<mlir::nsl::KernelInfo> compiledKernels(ModuleOp lowered) {
  llvm::StringMap<mlir::nsl::KernelInfo> kernels;
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

rt::Tensor importedTensor(const ::nsl::frontend::ImportedTensor &imported) {
  rt::Tensor tensor(rt::DType::F32,
                    rt::Shape(imported.shape.begin(), imported.shape.end()));
  llvm::copy(imported.values, tensor.data<float>());
  return tensor;
}

/// The initial optimizer state of a train_step function: the tensor of
/// `file` (--weights) if it has one (resuming), zeros otherwise.
void addOptimizerState(func::FuncOp trainStep, const rt::SafetensorsFile *file,
                       std::map<std::string, rt::Tensor> &weights) {
  for (unsigned i = 0; i < trainStep.getNumArguments(); ++i) {
    auto role = trainStep.getArgAttrOfType<StringAttr>(
        i, mlir::nsl::NSLDialect::kRoleAttr);
    auto name = trainStep.getArgAttrOfType<StringAttr>(
        i, mlir::nsl::NSLDialect::kNameAttr);
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

/// The parameters and buffers of the model (from --weights, else those of
/// an imported TorchScript model, else random), its constants and, with a
/// train_step function, its initial optimizer state, by name.
std::map<std::string, rt::Tensor> modelWeights(
    const std::string &graphJson,
    const std::vector<mlir::nsl::ConstantBuffer> &constants,
    const std::map<std::string, ::nsl::frontend::ImportedTensor> *imported,
    func::FuncOp trainStep = {}) {
  ref::Graph graph = ref::parseGraph(graphJson);
  std::map<std::string, rt::Tensor> weights;
  std::optional<rt::SafetensorsFile> file;
  if (!weightsPath.empty())
    file = rt::readSafetensors(weightsPath);
  // The seeded draw of every argument, made once if something needs it.
  std::vector<ref::Tensor> random;
  auto drawn = [&](size_t index) {
    if (random.empty())
      random = ref::randomArguments(graph, {seed, std::nullopt});
    return rt::fromReference(random[index]);
  };
  for (auto [index, argument] : llvm::enumerate(graph.arguments)) {
    if (argument.role == "optimizer_state") {
      // A model written with its own optimizer state (train_step's is added
      // by addOptimizerState): the file's tensor, else a random draw.
      const rt::Tensor *stored = file ? file->find(argument.name) : nullptr;
      if (stored)
        weights[argument.name] = stored->clone();
      else if (!imported)
        weights[argument.name] = drawn(index);
      continue;
    }
    if (argument.role != "parameter" && argument.role != "buffer")
      continue;
    if (!file && imported) {
      auto found = imported->find(argument.name);
      if (found == imported->end())
        throw ref::ReferenceError("the imported model has no values for '" +
                                  argument.name + "'");
      weights[argument.name] = importedTensor(found->second);
      continue;
    }
    if (!file) {
      weights[argument.name] = drawn(index);
      continue;
    }
    const rt::Tensor *tensor = file->find(argument.name);
    std::string expected = ref::typeToString(argument.type);
    if (!tensor)
      throw ref::ReferenceError(weightsPath + ": no tensor '" + argument.name +
                                "' (" + expected + ") for the model's " +
                                argument.role);
    ref::TensorType found{tensor->dtype() == rt::DType::F32 ? ref::DType::F32
                                                            : ref::DType::I64,
                          tensor->shape()};
    if (found != argument.type)
      throw ref::ReferenceError(weightsPath + ": tensor '" + argument.name +
                                "' is " + ref::typeToString(found) +
                                ", the model needs " + expected);
    weights[argument.name] = tensor->clone();
  }
  for (const mlir::nsl::ConstantBuffer &constant : constants)
    weights[constant.name] = constantTensor(constant.value);
  if (trainStep)
    addOptimizerState(trainStep, file ? &*file : nullptr, weights);
  return weights;
}

LogicalResult writeText(const std::string &path, const std::string &text) {
  std::string message;
  auto file = openOutputFile(path, &message);
  if (!file) {
    llvm::errs() << "nslc: error: cannot write '" << path << "': " << message
                 << "\n";
    return failure();
  }
  file->os() << text;
  file->keep();
  return success();
}

std::string pretty(json::Value value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", value) << "\n";
  return text;
}

/// The schedules of all entry points in one manifest: shared buffer list
/// (ids numbered on), one arena of the largest size, constants named per
/// entry. `finish` completes each entry point (the CUDA launch
/// configuration).
struct Schedules {
  json::Array buffers, entryPoints;
  int64_t arenaBytes = 0;
  size_t numKernels = 0;
  std::vector<mlir::nsl::ConstantBuffer> constants;
};

FailureOr<Schedules>
planSchedules(ModuleOp module,
              const std::vector<std::pair<std::string, std::string>> &entries,
              const llvm::StringMap<mlir::nsl::KernelInfo> &kernels,
              llvm::function_ref<LogicalResult(json::Object &)> finish = {}) {
  Schedules all;
  for (auto [index, functionEntry] : llvm::enumerate(entries)) {
    auto &[functionName, entry] = functionEntry;
    FailureOr<mlir::nsl::CpuSchedule> schedule = mlir::nsl::planCpuSchedule(
        module.lookupSymbol<func::FuncOp>(functionName), entry, kernels,
        static_cast<int64_t>(all.buffers.size()),
        index == 0 ? "__constant_" : "__constant_" + entry + "_");
    if (failed(schedule) || (finish && failed(finish(schedule->entryPoint))))
      return failure();
    for (json::Value &buffer : schedule->buffers)
      all.buffers.push_back(std::move(buffer));
    all.arenaBytes = std::max(all.arenaBytes, schedule->arenaBytes);
    all.numKernels += schedule->entryPoint.getArray("schedule")->size();
    all.entryPoints.push_back(std::move(schedule->entryPoint));
    llvm::append_range(all.constants, schedule->constants);
  }
  return all;
}

//===----------------------------------------------------------------------===//
// CUDA target hook (--target cuda:sm_XY; codegen/cuda, docs/gpu.md). Uses the
// CPU path's outlining and schedule planning; everything CUDA-specific is
// here and in codegen/cuda.
//===----------------------------------------------------------------------===//

cl::OptionCategory cudaCategory("nslc CUDA options (--target cuda:sm_XY)");
cl::opt<int64_t> cudaThreads("cuda-threads",
                             cl::desc("Threads per block of every kernel"),
                             cl::init(256), cl::cat(cudaCategory));
cl::opt<bool> cudaTiledConv(
    "cuda-tiled-conv",
    cl::desc("Convolution groups as tiled implicit-GEMM kernels (shared "
             "memory, register tiles; docs/gpu.md); off: one block per sample"),
    cl::init(true), cl::cat(cudaCategory));
cl::opt<int64_t> cudaTileM("cuda-tile-m",
                           cl::desc("Tiled convolution: output channels per "
                                    "block (power of two)"),
                           cl::init(64), cl::cat(cudaCategory));
cl::opt<int64_t> cudaTileN("cuda-tile-n",
                           cl::desc("Tiled convolution: output pixels per "
                                    "block (power of two)"),
                           cl::init(128), cl::cat(cudaCategory));
cl::opt<int64_t> cudaTileK("cuda-tile-k",
                           cl::desc("Tiled convolution: reduction (C*K) chunk "
                                    "per shared-memory stage"),
                           cl::init(8), cl::cat(cudaCategory));
cl::opt<int64_t> cudaThreadM("cuda-thread-m",
                             cl::desc("Tiled convolution: output channels "
                                      "per thread (1, 2, 4, 8)"),
                             cl::init(8), cl::cat(cudaCategory));
cl::opt<int64_t> cudaThreadN("cuda-thread-n",
                             cl::desc("Tiled convolution: output pixels per "
                                      "thread (1, 2, 4, 8)"),
                             cl::init(8), cl::cat(cudaCategory));
cl::opt<int64_t> cudaStages("cuda-stages",
                            cl::desc("Tiled convolution: shared-memory "
                                     "buffers (2: double buffering)"),
                            cl::init(2), cl::cat(cudaCategory));
cl::opt<bool> emulateCudaTiles(
    "emulate-cuda-tiles",
    cl::desc("For testing without a GPU: compile for the host CPU with the "
             "tiled convolution kernels of the CUDA target emulated (each "
             "phase between barriers a loop over the threads)"),
    cl::init(false), cl::cat(cudaCategory));

mlir::nsl::cuda::TiledConvOptions tiledConvOptions() {
  mlir::nsl::cuda::TiledConvOptions tiles;
  tiles.tileM = cudaTileM;
  tiles.tileN = cudaTileN;
  tiles.tileK = cudaTileK;
  tiles.threadM = cudaThreadM;
  tiles.threadN = cudaThreadN;
  tiles.stages = cudaStages;
  return tiles;
}

cl::opt<bool> printGpuIR(
    "print-gpu-ir",
    cl::desc("Print the gpu.module of the kernels (before NVVM) to stdout"),
    cl::init(false), cl::cat(cudaCategory));
cl::opt<bool> printPtx("print-ptx", cl::desc("Print the PTX to stdout"),
                       cl::init(false), cl::cat(cudaCategory));

int compileForCuda(
    ModuleOp module, const std::string &chip,
    const std::vector<std::pair<std::string, std::string>> &entries,
    const std::string &graphJson,
    const std::map<std::string, ::nsl::frontend::ImportedTensor> *imported) {
  namespace nc = mlir::nsl::cuda;
  if (cudaThreads < 1 || cudaThreads > 1024)
    return fail("--cuda-threads must be in [1, 1024]");
  mlir::nsl::CpuCodegenOptions outline;
  outline.fuseEpilogues = fuseEpilogues;
  outline.directConv = false; // Vector code is for CPUs.
  for (auto &[functionName, entry] : entries) {
    outline.function = functionName;
    if (failed(runPipeline(module, [&](OpPassManager &pm) {
          mlir::nsl::buildCpuOutlinePipeline(pm, outline);
        })))
      return fail("optimising and outlining @" + functionName + " of '" +
                  inputPath + "' failed");
  }
  nc::CudaCodegenOptions options;
  options.chip = chip;
  options.threads = cudaThreads;
  options.fuseEpilogues = fuseEpilogues;
  options.tiledConv = cudaTiledConv;
  options.tiles = tiledConvOptions();
  FailureOr<nc::CudaKernels> kernels = nc::compileCudaKernels(module, options);
  if (failed(kernels))
    return fail("compiling the CUDA kernels of '" + inputPath + "' failed");
  if (printGpuIR)
    llvm::outs() << kernels->gpuIR;
  if (printPtx)
    llvm::outs() << kernels->ptx;

  auto inOutput = [&](StringRef file) {
    SmallString<256> path(outputPath);
    llvm::sys::path::append(path, file);
    return std::string(path);
  };
  std::string ptxFile = "kernels." + chip + ".ptx";
  std::string cubinFile = "kernels." + chip + ".cubin";
  if (failed(writeText(inOutput(ptxFile), kernels->ptx)))
    return 1;
  // A cubin where ptxas is installed; the runtime JIT-compiles the PTX
  // otherwise.
  json::Value cubin = nullptr;
  llvm::sys::fs::remove(inOutput(cubinFile));
  if (std::string ptxas = nc::findPtxas(); !ptxas.empty()) {
    std::string log;
    if (!nc::assembleCubin(ptxas, inOutput(ptxFile), inOutput(cubinFile), chip,
                           log))
      return fail("assembling " + ptxFile + ": " + log);
    cubin = cubinFile;
  }

  llvm::StringMap<mlir::nsl::KernelInfo> kernelInfo;
  for (auto &entry : kernels->kernels)
    kernelInfo[entry.getKey()] = {entry.getValue().parallelExtent,
                                  entry.getValue().workspaceBytes};
  FailureOr<Schedules> schedules =
      planSchedules(module, entries, kernelInfo, [&](json::Object &entry) {
        return nc::addLaunchConfiguration(entry, kernels->kernels);
      });
  if (failed(schedules))
    return 1;
  auto &[buffers, entryPoints, arenaBytes, numKernels, constants] = *schedules;
  try {
    std::map<std::string, rt::Tensor> weights =
        modelWeights(graphJson, constants, imported);
    rt::writeSafetensors(inOutput("weights.safetensors"), weights,
                         {{"producer", "nslc"}, {"model", inputPath}});
  } catch (const std::exception &error) {
    return fail(error.what());
  }
  std::string targetName = "cuda-" + chip;
  json::Object manifest{
      {"format", "nsl-artifact"},
      {"version", 1},
      {"target", targetName},
      {"kernels", json::Object{{"ptx", ptxFile},
                               {"cubin", std::move(cubin)},
                               {"abi", "nsl-cuda-1"}}},
      {"buffers", std::move(buffers)},
      {"arena_bytes", arenaBytes},
      {"entry_points", std::move(entryPoints)},
      {"tuning",
       json::Object{
           {"kernel_grouping", fuseEpilogues ? "fuse-epilogues" : "per-op"},
           {"threads_per_block", static_cast<int64_t>(cudaThreads)},
           {"mapping", "block-per-sample"},
           {"tiled_conv", static_cast<bool>(cudaTiledConv)}}}};
  if (failed(writeText(inOutput("graph.json"), graphJson)) ||
      failed(writeText(inOutput("manifest.json"),
                       pretty(json::Value(std::move(manifest))))))
    return 1;
  llvm::outs() << "nslc: wrote " << outputPath << " (" << entries.size()
               << (entries.size() == 1 ? " entry point, " : " entry points, ")
               << numKernels << " kernels, arena " << arenaBytes << " bytes, "
               << targetName << ")\n";
  return 0;
}

//===-------------------------- end of the CUDA hook ----------------------===//

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(
      {&category, &tuningCategory, &trainingCategory, &cudaCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "nslc: compile an nsl model (MODEL.mlir) into a self-contained "
      "artifact folder that nsl-run executes\n");

  // CUDA target hook: which chip, if any.
  std::optional<std::string> cudaChip =
      mlir::nsl::cuda::parseCudaTarget(target);
  if (target != "cpu" && !cudaChip)
    return fail("target '" + target +
                "' is not supported; the targets are 'cpu', 'cuda:sm_80' and "
                "'cuda:sm_90' (any cuda:sm_XY)");
  if (cudaChip && train)
    return fail("--train is not supported yet with --target " + target);
  bool torchScript = StringRef(inputPath).ends_with(".pt");
  std::vector<std::vector<int64_t>> shapes;
  if (torchScript) {
    if (!llvm::sys::fs::exists(inputPath))
      return fail("cannot open '" + inputPath + "': No such file or directory");
    if (inputShapes.empty())
      return fail("'" + inputPath +
                  "' is a TorchScript model: give the shape of each tensor "
                  "input of its forward with --input-shape (e.g. "
                  "--input-shape 1x3x32x32)");
    for (const std::string &text : inputShapes) {
      if (!::nsl::frontend::parseShape(text, shapes.emplace_back()))
        return fail("bad --input-shape '" + text +
                    "': expected positive sizes joined by 'x', e.g. 1x3x32x32");
    }
  } else if (!inputShapes.empty()) {
    return fail("--input-shape applies to TorchScript (.pt) models only");
  }

  if (llvm::sys::fs::exists(outputPath) &&
      !llvm::sys::fs::is_directory(outputPath))
    return fail("cannot create '" + outputPath +
                "': it exists and is not a folder");
  if (std::error_code code = llvm::sys::fs::create_directories(outputPath))
    return fail("cannot create '" + outputPath + "': " + code.message());

  DialectRegistry registry;
  registry.insert<mlir::nsl::NSLDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllPasses();
  mlir::nsl::registerNSLPassesAndPipelines();
  mlir::nsl::registerNSLCodegenPasses();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // One error line per problem: no IR dump under each diagnostic.
  context.printOpOnDiagnostic(false);

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  std::optional<std::map<std::string, ::nsl::frontend::ImportedTensor>>
      importedWeights;
  if (torchScript) {
    std::string error;
    ::nsl::frontend::TorchImportResult imported =
        ::nsl::frontend::importTorchScript(context, inputPath, {shapes}, error);
    if (!imported.module) {
      // One error line per problem the importer found.
      SmallVector<StringRef> lines;
      StringRef(error).trim().split(lines, '\n');
      for (StringRef line : lines)
        fail("'" + inputPath + "': " + line);
      return 1;
    }
    module = std::move(imported.module);
    importedWeights = std::move(imported.weights);
  } else {
    std::string message;
    std::unique_ptr<llvm::MemoryBuffer> input =
        openInputFile(inputPath, &message);
    if (!input)
      return fail("cannot open '" + inputPath + "': " + message);
    sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
    // A malformed model has been reported, with its location, by the parser.
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1;
  }
  auto model = module->lookupSymbol<func::FuncOp>(function);
  if (!model)
    return fail("'" + inputPath + "' has no function @" + function);
  // The entry points: (function, entry point name).
  std::vector<std::pair<std::string, std::string>> entries = {
      {function, entryName}};
  if (train) {
    mlir::nsl::GenerateTrainStepOptions trainOptions;
    trainOptions.function = function;
    trainOptions.optimizer = optimizerName;
    trainOptions.momentum = momentum;
    trainOptions.dampening = dampening;
    trainOptions.nesterov = nesterov;
    trainOptions.weightDecay = weightDecay;
    trainOptions.beta1 = beta1;
    trainOptions.beta2 = beta2;
    trainOptions.eps = adamEps;
    trainOptions.amsgrad = amsgrad;
    trainOptions.labelSmoothing = labelSmoothing;
    trainOptions.l1 = l1Strength;
    trainOptions.orthogonality = orthogonality;
    trainOptions.bnMomentum = bnMomentum;
    trainOptions.trainable = trainable;
    trainOptions.returnGradients = returnGradients;
    if (failed(runPipeline(*module, [&](OpPassManager &pm) {
          pm.addPass(mlir::nsl::createGenerateTrainStep(trainOptions));
        })))
      return fail("generating the training step of '" + inputPath + "' failed");
    entries.push_back({"train_step", "train_step"});
    entries.push_back({"eval", "eval"});
  }

  // One graph per entry point: graph.json for the first, graph.<entry>.json
  // for the others; each describes its entry point, whatever the function's
  // name.
  std::vector<std::string> graphJsons;
  for (auto &[functionName, entry] : entries) {
    FailureOr<nlohmann::json> graph = mlir::nsl::exportGraph(
        module->lookupSymbol<func::FuncOp>(functionName));
    if (failed(graph))
      return 1;
    (*graph)["function"] = entry;
    graphJsons.push_back(mlir::nsl::printGraph(*graph));
  }
  std::string graphJson = graphJsons.front();
  // CUDA target hook.
  if (cudaChip)
    return compileForCuda(*module, *cudaChip, entries, graphJson,
                          importedWeights ? &*importedWeights : nullptr);

  if (vectorWidth < 0 || convOutputChannels < 1 || convPixelVectors < 1)
    return fail("--vector-width must be at least 0, --conv-output-channels "
                "and --conv-pixel-vectors at least 1");
  mlir::nsl::CpuCodegenOptions options;
  options.function = function;
  options.fuseEpilogues = fuseEpilogues;
  // The emulated CUDA convolutions replace the CPU's own.
  options.directConv = directConv && !emulateCudaTiles;
  options.vectorWidth = vectorWidth;
  options.convOutputChannels = convOutputChannels;
  options.convPixelVectors = convPixelVectors;
  for (auto &[functionName, entry] : entries) {
    options.function = functionName;
    if (failed(runPipeline(*module, [&](OpPassManager &pm) {
          mlir::nsl::buildCpuOutlinePipeline(pm, options);
        })))
      return fail("optimising and outlining @" + functionName + " of '" +
                  inputPath + "' failed");
  }
  OwningOpRef<ModuleOp> lowered = module->clone();
  if (emulateCudaTiles) {
    mlir::nsl::cuda::TiledConvOptions tiles = tiledConvOptions();
    tiles.emulate = true;
    if (failed(runPipeline(*lowered, [&](OpPassManager &pm) {
          pm.addPass(mlir::nsl::cuda::createTileConvsForGpu(tiles));
        })))
      return fail("emulating the CUDA convolution kernels failed");
  }
  if (failed(runPipeline(*lowered, mlir::nsl::buildCpuKernelLoweringPipeline)))
    return fail("lowering the kernels of '" + inputPath + "' failed");

  auto inOutput = [&](StringRef file) {
    SmallString<256> path(outputPath);
    llvm::sys::path::append(path, file);
    return std::string(path);
  };
  // The library and the manifest identify each other by a hash of the
  // kernels, so that the runtime refuses a kernels.so of another build.
  std::string kernelsId = mlir::nsl::stampKernelsId(*lowered);
  FailureOr<mlir::nsl::CompiledKernels> compiled =
      mlir::nsl::compileKernelLibrary(*lowered, inOutput("kernels.so"));
  if (failed(compiled))
    return 1;
  // The entry points' schedules share one buffer list and one arena.
  FailureOr<Schedules> schedules =
      planSchedules(*module, entries, compiledKernels(*lowered));
  if (failed(schedules))
    return 1;
  auto &[buffers, entryPoints, arenaBytes, numKernels, constants] = *schedules;

  try {
    std::map<std::string, rt::Tensor> weights = modelWeights(
        graphJson, constants, importedWeights ? &*importedWeights : nullptr,
        train ? module->lookupSymbol<func::FuncOp>("train_step")
              : func::FuncOp());
    rt::writeSafetensors(inOutput("weights.safetensors"), weights,
                         {{"producer", "nslc"}, {"model", inputPath}});
  } catch (const std::exception &error) {
    return fail(error.what());
  }
  json::Array dependencies;
  for (const std::string &library : compiled->dependencies)
    dependencies.push_back(library);
  json::Object manifest{
      {"format", "nsl-artifact"},
      {"version", 1},
      {"target", compiled->target},
      {"kernels", json::Object{{"library", "kernels.so"},
                               {"abi", "nsl-cpu-1"},
                               {"id", kernelsId},
                               {"dependencies", std::move(dependencies)}}},
      {"buffers", std::move(buffers)},
      {"arena_bytes", arenaBytes},
      {"entry_points", std::move(entryPoints)},
      {"tuning",
       json::Object{
           {"kernel_grouping",
            options.fuseEpilogues ? "fuse-epilogues" : "per-op"},
           {"direct_conv", options.directConv},
           {"emulated_cuda_tiles", static_cast<bool>(emulateCudaTiles)},
           {"vector_width", options.vectorWidth},
           {"conv_output_channels", options.convOutputChannels},
           {"conv_pixel_vectors", options.convPixelVectors}}}};
  for (size_t i = 1; i < entries.size(); ++i)
    if (failed(writeText(inOutput("graph." + entries[i].second + ".json"),
                         graphJsons[i])))
      return 1;
  if (failed(writeText(inOutput("graph.json"), graphJson)) ||
      failed(writeText(inOutput("manifest.json"),
                       pretty(json::Value(std::move(manifest))))))
    return 1;
  llvm::outs() << "nslc: wrote " << outputPath << " (" << entries.size()
               << (entries.size() == 1 ? " entry point, " : " entry points, ")
               << numKernels << " kernels, arena " << arenaBytes << " bytes, "
               << compiled->target << ")\n";
  return 0;
}
