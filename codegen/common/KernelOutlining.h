//===- KernelOutlining.h - Kernel groups and outlined kernels ----*- C++
//-*-===//
//
// What `--nsl-outline-kernels` produces and how the later passes read it:
// the kernel groups of a model function (for the schedule) and the anatomy
// of an outlined kernel function (for the targets' kernel passes).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_COMMON_KERNELOUTLINING_H
#define NSL_CODEGEN_COMMON_KERNELOUTLINING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <optional>

namespace mlir::nsl {

/// For an op that computes each sample independently, which operands are
/// per sample (sliced along their leading batch dimension); nullopt for ops
/// that mix samples.
std::optional<SmallVector<bool>> perSampleOperands(Operation *op);

/// The ops of the model function that one kernel computes.
struct KernelGroup {
  std::string name;
  SmallVector<Operation *> ops;
  /// Values from outside the group, in order of first use: the kernel's
  /// operand buffers.
  SmallVector<Value> operands;
  /// The results of the group's last op: the kernel's result buffers.
  SmallVector<Value> results;
};

/// The kernel groups of a model function tagged by --nsl-outline-kernels
/// (`nsl.kernel` on every op), in order of their first op. A group is
/// launched where its last op stands.
SmallVector<KernelGroup> kernelGroups(func::FuncOp model);

/// A kernel argument as the group reads or writes it: whole, or (perSample)
/// the loop's [1, …] slice of it at the induction variable.
struct KernelBuffer {
  int64_t argument = -1;
  bool perSample = false;
  explicit operator bool() const { return argument >= 0; }
};

/// An outlined kernel function: `(operands..., results..., begin, end)`,
/// one scf.for over [begin, end) holding the group's ops on tensors read
/// from its buffers (`bufferization.to_tensor`) and the last op's results
/// stored into its result buffers (`bufferization.materialize_in_destination`).
struct OutlinedKernel {
  func::FuncOp function;
  scf::ForOp loop;
  /// The group's ops in program order.
  SmallVector<Operation *> ops;

  /// The buffer (an argument or the loop's slice of it) that a tensor read
  /// by the ops comes from; null if it is not read from a buffer.
  Value bufferOf(Value tensor) const;
  /// The buffer a result of the group is stored into; null if none.
  Value destinationOf(Value result) const;
  /// Which argument `buffer` is, and whether it is a per-sample slice.
  KernelBuffer argumentOf(Value buffer) const;
  /// Whether the loop runs over samples and `result` is stored into its
  /// sample's slice.
  bool storesPerSample(Value result) const;
};

/// The anatomy of `kernel` if it has the outlined form.
std::optional<OutlinedKernel> viewOutlinedKernel(func::FuncOp kernel);

/// The kernel functions (`nsl.kernel`) of a module.
SmallVector<func::FuncOp> kernelFunctions(ModuleOp module);

} // namespace mlir::nsl

#endif // NSL_CODEGEN_COMMON_KERNELOUTLINING_H
