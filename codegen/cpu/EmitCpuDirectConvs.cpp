//===- EmitCpuDirectConvs.cpp - Convolution kernels as vector loops -------===//
#include "codegen/common/ConvGroup.h"
#include "codegen/common/KernelOutlining.h"
#include "codegen/cpu/DirectConv.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

#include "llvm/TargetParser/Host.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_EMITCPUDIRECTCONVS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

int64_t mlir::nsl::hostVectorWidth() {
  return llvm::sys::getHostCPUFeatures().lookup("avx512f") ? 16 : 8;
}

namespace {

/// The buffers of the group's operands from outside it, and its output,
/// when the kernel runs the group one sample at a time; nullopt otherwise.
std::optional<std::pair<IRMapping, Value>>
sampleBuffers(const OutlinedKernel &kernel, const ConvGroup &group) {
  if (!kernel.storesPerSample(group.result) ||
      !kernel.argumentOf(kernel.bufferOf(group.input())).perSample)
    return std::nullopt;
  IRMapping buffers;
  for (Operation *op : kernel.ops)
    for (Value operand : op->getOperands()) {
      if (llvm::is_contained(kernel.ops, operand.getDefiningOp()))
        continue;
      Value buffer = kernel.bufferOf(operand);
      if (!buffer)
        return std::nullopt;
      buffers.map(operand, buffer);
    }
  return std::make_pair(buffers, kernel.destinationOf(group.result));
}

/// Replaces the group's tensor ops in the kernel by the direct loops.
void replaceByDirectConv(const OutlinedKernel &kernel, const ConvGroup &group,
                         const IRMapping &buffers, Value output,
                         const DirectConvTiling &tiling) {
  Operation *store = *group.result.user_begin();
  OpBuilder b(kernel.ops.front());
  emitDirectConv(b, group.conv->getLoc(), group, buffers, output, kernel.loop,
                 tiling);
  store->erase();
  for (Operation *op : llvm::reverse(kernel.ops))
    op->erase();
  // The tensors the ops read are dead now.
  scf::ForOp loop = kernel.loop;
  for (Operation &op :
       llvm::make_early_inc_range(loop.getBody()->without_terminator()))
    if (isa<bufferization::ToTensorOp>(op) && op.use_empty())
      op.erase();
}

struct EmitCpuDirectConvsPass
    : nsl::impl::EmitCpuDirectConvsBase<EmitCpuDirectConvsPass> {
  using EmitCpuDirectConvsBase::EmitCpuDirectConvsBase;

  void runOnOperation() override {
    DirectConvTiling tiling{vectorWidth > 0 ? vectorWidth : hostVectorWidth(),
                            convOutputChannels, convPixelVectors};
    if (tiling.outputChannels < 1 || tiling.pixelVectors < 1) {
      getOperation().emitError()
          << "--nsl-emit-cpu-direct-convs: conv-output-channels and "
             "conv-pixel-vectors must be at least 1";
      return signalPassFailure();
    }
    for (func::FuncOp function : kernelFunctions(getOperation())) {
      std::optional<OutlinedKernel> kernel = viewOutlinedKernel(function);
      if (!kernel)
        continue;
      std::optional<ConvGroup> group = matchConvGroup(kernel->ops);
      if (!group || !canEmitDirectConv(*group))
        continue;
      if (auto buffers = sampleBuffers(*kernel, *group))
        replaceByDirectConv(*kernel, *group, buffers->first, buffers->second,
                            tiling);
    }
  }
};

} // namespace
