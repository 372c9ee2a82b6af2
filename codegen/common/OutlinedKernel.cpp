//===- OutlinedKernel.cpp - The anatomy of an outlined kernel -------------===//
#include "codegen/common/KernelOutlining.h"
#include "dialect/NSLDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::nsl;

SmallVector<func::FuncOp> mlir::nsl::kernelFunctions(ModuleOp module) {
  SmallVector<func::FuncOp> kernels;
  for (auto function : module.getOps<func::FuncOp>())
    if (function->hasAttr("nsl.kernel"))
      kernels.push_back(function);
  return kernels;
}

std::optional<OutlinedKernel>
mlir::nsl::viewOutlinedKernel(func::FuncOp kernel) {
  if (!kernel.getBody().hasOneBlock())
    return std::nullopt;
  Block &entry = kernel.getBody().front();
  unsigned numArgs = entry.getNumArguments();
  if (numArgs < 3)
    return std::nullopt;
  OutlinedKernel view;
  view.function = kernel;
  for (Operation &op : entry) {
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      if (view.loop)
        return std::nullopt;
      view.loop = loop;
    } else if (!isa<arith::ConstantOp, func::ReturnOp>(op)) {
      return std::nullopt;
    }
  }
  if (!view.loop ||
      view.loop.getLowerBound() != entry.getArgument(numArgs - 2) ||
      view.loop.getUpperBound() != entry.getArgument(numArgs - 1) ||
      getConstantIntValue(view.loop.getStep()) != 1)
    return std::nullopt;
  for (Operation &op : view.loop.getBody()->without_terminator())
    if (isa<NSLDialect>(op.getDialect()))
      view.ops.push_back(&op);
  if (view.ops.empty())
    return std::nullopt;
  return view;
}

Value OutlinedKernel::bufferOf(Value tensor) const {
  auto toTensor = tensor.getDefiningOp<bufferization::ToTensorOp>();
  return toTensor ? toTensor.getBuffer() : Value();
}

Value OutlinedKernel::destinationOf(Value result) const {
  if (!result.hasOneUse())
    return {};
  auto store =
      dyn_cast<bufferization::MaterializeInDestinationOp>(*result.user_begin());
  return store ? store.getDest() : Value();
}

KernelBuffer OutlinedKernel::argumentOf(Value buffer) const {
  if (!buffer)
    return {};
  func::FuncOp kernel = function;
  scf::ForOp sampleLoop = loop;
  Block *entry = &kernel.getBody().front();
  if (auto arg = dyn_cast<BlockArgument>(buffer))
    return arg.getOwner() == entry
               ? KernelBuffer{static_cast<int64_t>(arg.getArgNumber()), false}
               : KernelBuffer{};
  // The loop's [1, …] slice of an argument at the induction variable.
  auto subview = buffer.getDefiningOp<memref::SubViewOp>();
  if (!subview)
    return {};
  auto arg = dyn_cast<BlockArgument>(subview.getSource());
  if (!arg || arg.getOwner() != entry)
    return {};
  auto full = cast<MemRefType>(arg.getType());
  SmallVector<OpFoldResult> offsets = subview.getMixedOffsets();
  if (offsets.empty() ||
      dyn_cast<Value>(offsets.front()) != sampleLoop.getInductionVar())
    return {};
  for (OpFoldResult offset : ArrayRef(offsets).drop_front())
    if (getConstantIntValue(offset) != 0)
      return {};
  ArrayRef<int64_t> sizes = subview.getStaticSizes();
  if (sizes.front() != 1 ||
      sizes.drop_front() != full.getShape().drop_front() ||
      !llvm::all_of(subview.getStaticStrides(),
                    [](int64_t stride) { return stride == 1; }))
    return {};
  return KernelBuffer{static_cast<int64_t>(arg.getArgNumber()), true};
}

bool OutlinedKernel::storesPerSample(Value result) const {
  return argumentOf(destinationOf(result)).perSample;
}
