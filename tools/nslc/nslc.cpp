//===- nslc.cpp - Compile an nsl model into a runnable artifact ----------===//
//
// nslc MODEL.mlir -o MODEL.nslm (or MODEL.pt, a TorchScript model, with
// --input-shape): option parsing and calls. The model is loaded or
// imported (frontend/), the training step generated (passes/), the kernels
// outlined and compiled for the target (codegen/cpu, codegen/cuda), and the
// artifact written (codegen/common/ArtifactWriter.h, docs/artifact.md).
//
//===----------------------------------------------------------------------===//
#include "codegen/common/ArtifactWriter.h"
#include "codegen/common/Passes.h"
#include "codegen/common/Pipelines.h"
#include "codegen/cpu/CpuPipelines.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cuda/CudaCodegen.h"
#include "frontend/importer/TorchImporter.h"
#include "passes/Passes.h"

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
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
namespace cl = llvm::cl;
namespace rt = ::nsl::runtime;

namespace {

cl::OptionCategory category("nslc options");
cl::opt<std::string> inputPath(cl::Positional,
                               cl::desc("<model.mlir or model.pt>"),
                               cl::Required, cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output artifact folder (.nslm)"),
                                cl::value_desc("path"), cl::cat(category));
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
cl::opt<bool> prepareWeightsOnce(
    "prepare-weights-once",
    cl::desc("Compute what inference entry points derive from the weights "
             "alone (folded static similarities) in a prepare_<entry> entry "
             "point that the runtime runs when the weights change, not on "
             "every call (--nsl-hoist-weight-preparation)"),
    cl::init(true), cl::cat(tuningCategory));
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
cl::opt<int64_t> convParallelIterations(
    "conv-parallel-iterations",
    cl::desc("Split each sample of a direct convolution into chunks of "
             "output rows or channels until its kernel has this many "
             "parallel iterations (batch x chunks), so that small batches "
             "use every thread; 1: one iteration per sample"),
    cl::init(8), cl::cat(tuningCategory));
cl::opt<unsigned> seed("seed",
                       cl::desc("Seed of the random parameters and buffers "
                                "when no --weights are given"),
                       cl::init(0), cl::cat(category));

cl::OptionCategory trainingCategory(
    "nslc training options (with --train; see --nsl-generate-train-step)");
cl::opt<bool> importReport(
    "report",
    cl::desc("For a TorchScript model: print every node of forward that "
             "cannot be imported, grouped by kind, and stop (exit 1 if there "
             "is one)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> dropoutAsIdentity(
    "dropout-as-identity",
    cl::desc("With --train: train a model whose dropout layers have p > 0 "
             "without dropout (train_step has no dropout masks; by default "
             "such a model is refused)"),
    cl::init(false), cl::cat(category));
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

cl::opt<bool> printGpuIR(
    "print-gpu-ir",
    cl::desc("Print the gpu.module of the kernels (before NVVM) to stdout"),
    cl::init(false), cl::cat(cudaCategory));
cl::opt<bool> printPtx("print-ptx", cl::desc("Print the PTX to stdout"),
                       cl::init(false), cl::cat(cudaCategory));

int fail(const llvm::Twine &message) {
  llvm::errs() << "nslc: error: " << message << "\n";
  return 1;
}

void reportError(const std::string &message) { fail(message); }

/// The shapes of --input-shape for a TorchScript model; checks that they
/// are given exactly for one.
LogicalResult torchScriptShapes(bool torchScript,
                                std::vector<std::vector<int64_t>> &shapes) {
  if (!torchScript) {
    if (!inputShapes.empty())
      return fail("--input-shape applies to TorchScript (.pt) models only"),
             failure();
    return success();
  }
  if (!llvm::sys::fs::exists(inputPath))
    return fail("cannot open '" + inputPath + "': No such file or directory"),
           failure();
  if (inputShapes.empty())
    return fail("'" + inputPath +
                "' is a TorchScript model: give the shape of each tensor "
                "input of its forward with --input-shape (e.g. "
                "--input-shape 1x3x32x32)"),
           failure();
  for (const std::string &text : inputShapes)
    if (!::nsl::frontend::parseShape(text, shapes.emplace_back()))
      return fail("bad --input-shape '" + text +
                  "': expected positive sizes joined by 'x', e.g. 1x3x32x32"),
             failure();
  return success();
}

/// Under --report: whether the model failed to import (a node listed by
/// the report, or no report because the file could not be read).
bool reportFailed = true;

/// The model: parsed from .mlir, or imported from TorchScript with its
/// parameter values (`imported`). Errors are reported.
OwningOpRef<ModuleOp> loadModel(MLIRContext &context, llvm::SourceMgr &sources,
                                std::map<std::string, rt::Tensor> &imported,
                                bool &torchScript) {
  torchScript = StringRef(inputPath).ends_with(".pt");
  std::vector<std::vector<int64_t>> shapes;
  if (failed(torchScriptShapes(torchScript, shapes)))
    return nullptr;
  if (!torchScript) {
    std::string message;
    std::unique_ptr<llvm::MemoryBuffer> input =
        openInputFile(inputPath, &message);
    if (!input)
      return fail("cannot open '" + inputPath + "': " + message), nullptr;
    sources.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
    // A malformed model has been reported, with its location, by the parser.
    return parseSourceFile<ModuleOp>(sources, &context);
  }
  std::string error;
  ::nsl::frontend::TorchImportOptions options{shapes, importReport};
  ::nsl::frontend::TorchImportResult result =
      ::nsl::frontend::importTorchScript(context, inputPath, options, error);
  if (importReport && !result.report.empty()) {
    llvm::outs() << inputPath << ": " << result.report;
    reportFailed = !result.module;
    return nullptr;
  }
  if (!result.module) {
    // One error line per problem the importer found.
    SmallVector<StringRef> lines;
    StringRef(error).trim().split(lines, '\n');
    for (StringRef line : lines)
      fail("'" + inputPath + "': " + line);
    return nullptr;
  }
  for (auto &[name, tensor] : result.weights) {
    rt::Tensor values(rt::DType::F32,
                      rt::Shape(tensor.shape.begin(), tensor.shape.end()));
    llvm::copy(tensor.values, values.data<float>());
    imported[name] = std::move(values);
  }
  return std::move(result.module);
}

/// --nsl-generate-train-step with the training options.
LogicalResult generateTrainStep(ModuleOp module) {
  mlir::nsl::GenerateTrainStepOptions options;
  options.function = function;
  options.optimizer = optimizerName;
  options.momentum = momentum;
  options.dampening = dampening;
  options.nesterov = nesterov;
  options.weightDecay = weightDecay;
  options.beta1 = beta1;
  options.beta2 = beta2;
  options.eps = adamEps;
  options.amsgrad = amsgrad;
  options.labelSmoothing = labelSmoothing;
  options.l1 = l1Strength;
  options.orthogonality = orthogonality;
  options.bnMomentum = bnMomentum;
  options.trainable = trainable;
  options.returnGradients = returnGradients;
  return mlir::nsl::runPipeline(module, [&](OpPassManager &pm) {
    pm.addPass(mlir::nsl::createGenerateTrainStep(options));
  });
}

/// graph.json of each entry point, describing it under its entry name.
FailureOr<std::vector<std::string>>
exportGraphs(ModuleOp module, ArrayRef<mlir::nsl::EntryFunction> entries) {
  std::vector<std::string> graphs;
  for (const mlir::nsl::EntryFunction &entry : entries) {
    FailureOr<nlohmann::json> graph = mlir::nsl::exportGraph(
        module.lookupSymbol<func::FuncOp>(entry.function));
    if (failed(graph))
      return failure();
    (*graph)["function"] = entry.name;
    graphs.push_back(mlir::nsl::printGraph(*graph));
  }
  return graphs;
}

/// --nsl-hoist-weight-preparation on every inference entry point (not
/// train_step); each prepare function found is an entry point of its own,
/// with its graph.
LogicalResult
hoistWeightPreparation(ModuleOp module,
                       std::vector<mlir::nsl::EntryFunction> &entries,
                       std::vector<std::string> &graphs) {
  std::vector<mlir::nsl::EntryFunction> inference;
  for (const mlir::nsl::EntryFunction &entry : entries)
    if (entry.name != "train_step")
      inference.push_back(entry);
  for (const mlir::nsl::EntryFunction &entry : inference) {
    mlir::nsl::HoistWeightPreparationOptions options;
    options.function = entry.function;
    if (failed(mlir::nsl::runPipeline(module, [&](OpPassManager &pm) {
          mlir::nsl::buildOptimizePipeline(pm);
          pm.addPass(mlir::nsl::createHoistWeightPreparation(options));
        })))
      return fail("moving the weight preparation of @" + entry.function +
                  " of '" + inputPath + "' failed"),
             failure();
    auto model = module.lookupSymbol<func::FuncOp>(entry.function);
    auto prepare = model->getAttrOfType<FlatSymbolRefAttr>(
        mlir::nsl::NSLDialect::kPreparedByAttr);
    if (!prepare)
      continue;
    std::string name = prepare.getValue().str();
    FailureOr<nlohmann::json> graph = mlir::nsl::exportGraph(
        module.lookupSymbol<func::FuncOp>(prepare.getAttr()));
    if (failed(graph))
      return failure();
    (*graph)["function"] = name;
    graphs.push_back(mlir::nsl::printGraph(*graph));
    entries.push_back({name, name});
  }
  return success();
}

/// Optimises and outlines the kernels of every entry point's function.
LogicalResult outlineKernels(ModuleOp module,
                             ArrayRef<mlir::nsl::EntryFunction> entries) {
  for (const mlir::nsl::EntryFunction &entry : entries) {
    mlir::nsl::OutlineKernelsOptions options;
    options.function = entry.function;
    options.fuseEpilogues = fuseEpilogues;
    if (failed(mlir::nsl::runPipeline(module, [&](OpPassManager &pm) {
          mlir::nsl::buildOutlinePipeline(pm, options);
        })))
      return fail("optimising and outlining @" + entry.function + " of '" +
                  inputPath + "' failed"),
             failure();
  }
  return success();
}

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

/// The host CPU's kernels (or, with --emulate-cuda-tiles, the CUDA tiled
/// convolutions emulated on it).
FailureOr<mlir::nsl::TargetKernels> compileCpu(ModuleOp module) {
  if (vectorWidth < 0 || convOutputChannels < 1 || convPixelVectors < 1 ||
      convParallelIterations < 1)
    return fail("--vector-width must be at least 0, --conv-output-channels, "
                "--conv-pixel-vectors and --conv-parallel-iterations at least "
                "1"),
           failure();
  mlir::nsl::CpuCodegenOptions options;
  // The emulated CUDA convolutions replace the CPU's own.
  options.directConv = directConv && !emulateCudaTiles;
  options.vectorWidth = vectorWidth;
  options.convOutputChannels = convOutputChannels;
  options.convPixelVectors = convPixelVectors;
  options.convParallelIterations = convParallelIterations;
  auto emulation = [&](OpPassManager &pm) {
    mlir::nsl::cuda::TiledConvOptions tiles = tiledConvOptions();
    tiles.emulate = true;
    pm.addPass(mlir::nsl::cuda::createTileConvsForGpu(tiles));
  };
  FailureOr<mlir::nsl::TargetKernels> kernels = mlir::nsl::compileCpuKernels(
      module, outputPath, options,
      emulateCudaTiles ? function_ref<void(OpPassManager &)>(emulation)
                       : function_ref<void(OpPassManager &)>());
  if (failed(kernels))
    return fail("compiling the kernels of '" + inputPath + "' failed"),
           failure();
  kernels->tuning["emulated_cuda_tiles"] = static_cast<bool>(emulateCudaTiles);
  return kernels;
}

FailureOr<mlir::nsl::TargetKernels> compileCuda(ModuleOp module,
                                                const std::string &chip) {
  if (cudaThreads < 1 || cudaThreads > 1024)
    return fail("--cuda-threads must be in [1, 1024]"), failure();
  mlir::nsl::cuda::CudaCodegenOptions options;
  options.chip = chip;
  options.threads = cudaThreads;
  options.fuseEpilogues = fuseEpilogues;
  options.tiledConv = cudaTiledConv;
  options.tiles = tiledConvOptions();
  std::string gpuIR, ptx;
  FailureOr<mlir::nsl::TargetKernels> kernels =
      mlir::nsl::cuda::compileCudaTarget(module, outputPath, options, &gpuIR,
                                         &ptx);
  if (failed(kernels))
    return fail("compiling the CUDA kernels of '" + inputPath + "' failed"),
           failure();
  if (printGpuIR)
    llvm::outs() << gpuIR;
  if (printPtx)
    llvm::outs() << ptx;
  return kernels;
}

void registerEverything(DialectRegistry &registry) {
  registry.insert<mlir::nsl::NSLDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllPasses();
  mlir::nsl::registerNSLPassesAndPipelines();
  mlir::nsl::registerNSLCodegenPasses();
  mlir::nsl::registerNSLCpuPasses();
}

/// The entry points of the artifact, after generating the training step
/// with --train.
FailureOr<std::vector<mlir::nsl::EntryFunction>> entryPoints(ModuleOp module) {
  if (!module.lookupSymbol<func::FuncOp>(function))
    return fail("'" + inputPath + "' has no function @" + function), failure();
  std::vector<mlir::nsl::EntryFunction> entries = {{function, entryName}};
  if (train) {
    // Dropout imports as the identity of eval mode; train_step has no random
    // masks, so training would silently change the model.
    if (auto dropout = module->getAttrOfType<ArrayAttr>("nsl.dropout");
        dropout && !dropoutAsIdentity) {
      std::string where;
      for (Attribute location : dropout)
        where += "\n  " + cast<StringAttr>(location).str();
      return fail("'" + inputPath + "' has " + std::to_string(dropout.size()) +
                  " dropout layer(s) with p > 0, and train_step has no "
                  "dropout masks: set their p to 0 before saving the model, "
                  "or pass --dropout-as-identity to train without dropout:" +
                  where),
             failure();
    }
    if (failed(generateTrainStep(module)))
      return fail("generating the training step of '" + inputPath + "' failed"),
             failure();
    entries.push_back({"train_step", "train_step"});
    entries.push_back({"eval", "eval"});
  }
  return entries;
}

LogicalResult createOutputFolder() {
  if (llvm::sys::fs::exists(outputPath) &&
      !llvm::sys::fs::is_directory(outputPath))
    return fail("cannot create '" + outputPath +
                "': it exists and is not a folder"),
           failure();
  if (std::error_code code = llvm::sys::fs::create_directories(outputPath))
    return fail("cannot create '" + outputPath + "': " + code.message()),
           failure();
  return success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(
      {&category, &tuningCategory, &trainingCategory, &cudaCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "nslc: compile an nsl model (MODEL.mlir) into a self-contained "
      "artifact folder that nsl-run executes\n");

  std::optional<std::string> cudaChip =
      mlir::nsl::cuda::parseCudaTarget(target);
  if (target != "cpu" && !cudaChip)
    return fail("target '" + target +
                "' is not supported; the targets are 'cpu', 'cuda:sm_80' and "
                "'cuda:sm_90' (any cuda:sm_XY)");
  if (cudaChip && train)
    return fail("--train is not supported yet with --target " + target);

  DialectRegistry registry;
  registerEverything(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // One error line per problem: no IR dump under each diagnostic.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sources;
  SourceMgrDiagnosticHandler diagnostics(sources, &context);

  std::map<std::string, rt::Tensor> imported;
  bool torchScript = false;
  if (outputPath.empty() && !importReport)
    return fail("no output given: -o MODEL.nslm names the artifact folder");
  if (importReport && !StringRef(inputPath).ends_with(".pt"))
    return fail("--report lists the nodes of a TorchScript model (.pt) that "
                "cannot be imported; '" +
                inputPath + "' is not one");
  OwningOpRef<ModuleOp> module =
      loadModel(context, sources, imported, torchScript);
  if (importReport && !module)
    return reportFailed ? 1 : 0;
  if (!module)
    return 1;
  if (failed(createOutputFolder()))
    return 1;
  FailureOr<std::vector<mlir::nsl::EntryFunction>> entries =
      entryPoints(*module);
  if (failed(entries))
    return 1;
  // graph.json describes the model as written, before optimisation.
  FailureOr<std::vector<std::string>> graphs = exportGraphs(*module, *entries);
  if (failed(graphs) ||
      (prepareWeightsOnce &&
       failed(hoistWeightPreparation(*module, *entries, *graphs))) ||
      failed(outlineKernels(*module, *entries)))
    return 1;
  FailureOr<mlir::nsl::TargetKernels> kernels =
      cudaChip ? compileCuda(*module, *cudaChip) : compileCpu(*module);
  if (failed(kernels))
    return 1;
  kernels->tuning["kernel_grouping"] =
      fuseEpilogues ? "fuse-epilogues" : "per-op";

  mlir::nsl::WeightSource weights{weightsPath,
                                  torchScript ? &imported : nullptr, seed};
  mlir::nsl::CompiledModel model{*module, *entries, *graphs, inputPath};
  FailureOr<mlir::nsl::ArtifactSummary> summary = mlir::nsl::writeArtifact(
      outputPath, model, *kernels, weights, reportError);
  if (failed(summary))
    return 1;
  llvm::outs() << "nslc: wrote " << outputPath << " (" << entries->size()
               << (entries->size() == 1 ? " entry point, " : " entry points, ")
               << summary->numKernels << " kernels, arena "
               << summary->arenaBytes << " bytes, " << kernels->target << ")\n";
  return 0;
}
