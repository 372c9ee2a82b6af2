//===- nsl-import.cpp - Print a TorchScript model in the nsl dialect -----===//
//
// nsl-import MODEL.pt --input-shape 1x1x28x28 [-o OUT.mlir]: the model's
// forward in the nsl dialect (frontend/importer). Exit status 1 when the
// model cannot be imported, 2 for a bad command line.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/TorchImporter.h"

#include "dialect/NSLDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

#include <optional>

namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("nsl-import options");
cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.pt>"),
                               cl::cat(category));
cl::list<std::string>
    inputShapes("input-shape",
                cl::desc("Static shape of the next tensor input of forward, "
                         "e.g. 1x1x28x28 (once per input, in order)"),
                cl::value_desc("NxCxHxW"), cl::cat(category));
cl::opt<bool> reportOnly(
    "report",
    cl::desc("Print every node of forward that cannot be imported, grouped "
             "by kind, instead of the IR; exit 1 if there is one"),
    cl::init(false), cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default stdout)"),
                                cl::value_desc("path"), cl::init("-"),
                                cl::cat(category));

int fail(const llvm::Twine &message, int status) {
  llvm::errs() << "nsl-import: error: " << message << "\n";
  return status;
}

/// The import options from the command line; nothing (after an error)
/// when an --input-shape is missing or malformed.
std::optional<nsl::frontend::TorchImportOptions> parseImportOptions() {
  if (inputShapes.empty()) {
    fail("no --input-shape given; give one per tensor input of forward, "
         "e.g. --input-shape 1x1x28x28",
         2);
    return std::nullopt;
  }
  nsl::frontend::TorchImportOptions options;
  for (const std::string &text : inputShapes) {
    std::vector<int64_t> shape;
    if (!nsl::frontend::parseShape(text, shape)) {
      fail("bad --input-shape '" + text +
               "': expected positive sizes joined by 'x', e.g. 1x3x32x32",
           2);
      return std::nullopt;
    }
    options.inputShapes.push_back(shape);
  }
  return options;
}

/// The importer's error holds one complete message per line.
int reportImportErrors(const std::string &error) {
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(error).trim().split(lines, '\n');
  for (llvm::StringRef line : lines)
    llvm::errs() << "nsl-import: error: " << inputPath << ": " << line << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "nsl-import: translate a TorchScript model (torch.jit.script or "
      "torch.jit.trace, saved with torch.jit.save) into the nsl dialect\n");
  if (inputPath.empty())
    return fail("no model given; usage: nsl-import MODEL.pt --input-shape "
                "NxCxHxW [-o OUT.mlir]",
                2);
  std::optional<nsl::frontend::TorchImportOptions> options =
      parseImportOptions();
  if (!options)
    return 2;
  options->report = reportOnly;

  mlir::DialectRegistry registry;
  registry.insert<mlir::nsl::NSLDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect>();
  mlir::MLIRContext context(registry);
  std::string error;
  nsl::frontend::TorchImportResult imported =
      nsl::frontend::importTorchScript(context, inputPath, *options, error);
  if (reportOnly && !imported.report.empty()) {
    llvm::outs() << inputPath << ": " << imported.report;
    return imported.module ? 0 : 1;
  }
  if (!imported.module)
    return reportImportErrors(error);
  std::string message;
  auto output = mlir::openOutputFile(outputPath, &message);
  if (!output)
    return fail("cannot write '" + outputPath + "': " + message, 1);
  imported.module->print(output->os());
  output->keep();
  return 0;
}
