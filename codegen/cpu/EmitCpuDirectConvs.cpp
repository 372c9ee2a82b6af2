//===- EmitCpuDirectConvs.cpp - Convolution kernels as vector loops -------===//
#include "codegen/common/ConvGroup.h"
#include "codegen/common/KernelOutlining.h"
#include "codegen/cpu/DirectConv.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

/// Makes the kernel's loop over `samples` run over samples × `chunks`:
/// iteration i is chunk i mod chunks of sample i / chunks. Returns the
/// chunk index.
Value splitSampleLoop(const OutlinedKernel &kernel, int64_t samples,
                      int64_t chunks) {
  scf::ForOp loop = kernel.loop;
  OpBuilder b = OpBuilder::atBlockBegin(loop.getBody());
  Location loc = loop.getLoc();
  Value iv = loop.getInductionVar();
  Value count = arith::ConstantIndexOp::create(b, loc, chunks);
  Value sample = arith::DivUIOp::create(b, loc, iv, count);
  Value chunk = arith::RemUIOp::create(b, loc, iv, count);
  iv.replaceAllUsesExcept(sample,
                          SmallPtrSet<Operation *, 2>{sample.getDefiningOp(),
                                                      chunk.getDefiningOp()});
  kernel.function->setAttr("nsl.parallel_extent",
                           b.getI64IntegerAttr(samples * chunks));
  return chunk;
}

/// Replaces the group's tensor ops in the kernel by the direct loops, each
/// sample split into chunks so that the kernel has at least `iterations`
/// parallel iterations where the layer allows.
void replaceByDirectConv(const OutlinedKernel &kernel, const ConvGroup &group,
                         const IRMapping &buffers, Value output,
                         const DirectConvTiling &tiling, int64_t iterations) {
  Operation *store = *group.result.user_begin();
  auto extent =
      kernel.function->getAttrOfType<IntegerAttr>("nsl.parallel_extent");
  int64_t samples = extent ? extent.getInt() : 1;
  DirectConvSplit split =
      chooseDirectConvSplit(group, samples, iterations, tiling);
  Value chunk;
  if (split.chunks() > 1)
    chunk = splitSampleLoop(kernel, samples, split.chunks());
  OpBuilder b(kernel.ops.front());
  emitDirectConv(b, group.conv->getLoc(), group, buffers, output, kernel.loop,
                 tiling, split, chunk);
  if (split.chunks() > 1) {
    kernel.function->setAttr("nsl.row_chunks",
                             b.getI64IntegerAttr(split.rowChunks));
    kernel.function->setAttr("nsl.channel_chunks",
                             b.getI64IntegerAttr(split.channelChunks));
  }
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
    if (tiling.outputChannels < 1 || tiling.pixelVectors < 1 ||
        convParallelIterations < 1) {
      getOperation().emitError()
          << "--nsl-emit-cpu-direct-convs: conv-output-channels, "
             "conv-pixel-vectors and conv-parallel-iterations must be at "
             "least 1";
      return signalPassFailure();
    }
    for (func::FuncOp function : kernelFunctions(getOperation())) {
      std::optional<OutlinedKernel> kernel = viewOutlinedKernel(function);
      if (!kernel)
        continue;
      std::optional<ConvGroup> group = matchConvGroup(kernel->ops);
      if (!group || !canEmitDirectConv(*group))
        continue;
      if (auto buffers = sampleBuffers(*kernel, *group)) {
        replaceByDirectConv(*kernel, *group, buffers->first, buffers->second,
                            tiling, convParallelIterations);
        if (failed(approximateMath(function)))
          return signalPassFailure();
      }
    }
  }

  /// The vector acos and exp of a SphereConv's g(θ) as MLIR's polynomial
  /// approximations (in vectors) instead of a libm call per lane: with them
  /// the linear and sigmoid variants cost about what the cosine costs.
  static LogicalResult approximateMath(func::FuncOp kernel) {
    RewritePatternSet patterns(kernel.getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return name == math::AcosOp::getOperationName() ||
             name == math::AsinOp::getOperationName() ||
             name == math::ExpOp::getOperationName();
    });
    return applyPatternsGreedily(kernel, std::move(patterns));
  }
};

} // namespace
