//===- TorchImporter.cpp - TorchScript models into the nsl dialect --------===//
//
// The public entry points. The import itself is split as torch-mlir splits
// its importer (Importer.h): the module, its attributes and IValues
// (ModuleImport.cpp), node translation (NodeTranslation.cpp), parameters and
// buffers bound to state_dict keys (StateDictBinding.cpp).
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/TorchImporter.h"

#include "frontend/importer/Importer.h"

#include "dialect/NSLDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/FileSystem.h"

#include <sstream>

using namespace mlir;

namespace nsl::frontend {

bool parseShape(const std::string &text, std::vector<int64_t> &shape) {
  shape.clear();
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, 'x')) {
    if (part.empty() ||
        part.find_first_not_of("0123456789") != std::string::npos)
      return false;
    try {
      int64_t size = std::stoll(part);
      if (size <= 0)
        return false;
      shape.push_back(size);
    } catch (const std::exception &) {
      return false;
    }
  }
  return !shape.empty() && text.back() != 'x';
}

TorchImportResult importTorchScript(MLIRContext &context,
                                    const std::string &path,
                                    const TorchImportOptions &options,
                                    std::string &error) {
  context.loadDialect<mlir::nsl::NSLDialect, func::FuncDialect,
                      arith::ArithDialect>();
  if (!llvm::sys::fs::exists(path)) {
    error = "cannot open '" + path + "': No such file or directory";
    return {};
  }
  std::optional<torch::jit::Module> module = importer::loadModule(path, error);
  if (!module)
    return {};
  if (!module->find_method("forward")) {
    error = "'" + path + "' has no forward method";
    return {};
  }
  // LibTorch reports with exceptions; loading and translating are told
  // apart in the message.
  try {
    importer::Importer importer(context, *module);
    return importer.run(options, error);
  } catch (const std::exception &failure) {
    error = "importing '" + path +
            "' failed: " + importer::describeException(failure);
  }
  return {};
}

} // namespace nsl::frontend
