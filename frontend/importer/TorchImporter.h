//===- TorchImporter.h - TorchScript models into nsl -----------*- C++ -*-===//
//
// Imports a TorchScript model (a torch.jit.script or torch.jit.trace file)
// into a module with one `func.func @forward` in the nsl dialect, following
// DESIGN.md §2: the model's inputs, then its parameters and buffers, are
// function arguments carrying `nsl.name` (the input's name or the
// state_dict key) and `nsl.role`. The header is free of LibTorch so that
// tools include it without LibTorch's headers.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_FRONTEND_IMPORTER_TORCHIMPORTER_H
#define NSL_FRONTEND_IMPORTER_TORCHIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nsl::frontend {

/// A parameter or buffer of the imported model: float32 values, row-major.
struct ImportedTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct TorchImportOptions {
  /// The static shape of each tensor input of `forward`, in order.
  std::vector<std::vector<int64_t>> inputShapes;
  /// Fill TorchImportResult::report: every node that cannot be imported.
  bool report = false;
};

struct TorchImportResult {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The parameters and buffers, by their argument's `nsl.name`.
  std::map<std::string, ImportedTensor> weights;
  /// With TorchImportOptions::report, whether or not the import succeeded:
  /// the node count and every node that cannot be imported, grouped by
  /// kind, one per line (empty if forward could not be read at all).
  std::string report;
  /// With TorchImportOptions::report: the number of nodes that failed.
  size_t failedNodes = 0;
};

/// Loads `path` and translates its `forward` method. On failure returns a
/// null module and sets `error` to one line per problem (each with the
/// TorchScript source location where known); never aborts. The context
/// must have the nsl, func and arith dialects registered or loadable.
TorchImportResult importTorchScript(mlir::MLIRContext &context,
                                    const std::string &path,
                                    const TorchImportOptions &options,
                                    std::string &error);

/// Parses "1x3x28x28" into {1, 3, 28, 28}; false when malformed.
bool parseShape(const std::string &text, std::vector<int64_t> &shape);

} // namespace nsl::frontend

#endif // NSL_FRONTEND_IMPORTER_TORCHIMPORTER_H
