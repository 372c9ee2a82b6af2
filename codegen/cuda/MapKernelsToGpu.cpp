//===- MapKernelsToGpu.cpp - Kernel functions to gpu.func kernels ---------===//
//
// See codegen/cuda/Passes.td: one block per sample, the block's threads share
// each outermost parallel loop (block-strided over its flattened iteration
// space), a barrier after each, sequential reductions.
//
//===----------------------------------------------------------------------===//
#include "codegen/common/KernelOutlining.h"
#include "codegen/cuda/CudaCodegen.h"
#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::nsl::cuda {
#define GEN_PASS_DEF_MAPKERNELSTOGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::nsl::cuda

using namespace mlir;
using namespace mlir::nsl;

namespace {

constexpr llvm::StringLiteral kModuleName = "nsl_kernels";

int64_t intAttr(Operation *op, StringRef name, int64_t otherwise) {
  auto attr = op->getAttrOfType<IntegerAttr>(name);
  return attr ? attr.getInt() : otherwise;
}

/// (ub - lb) ceildiv step, for non-negative trip counts.
Value tripCount(OpBuilder &b, Location loc, Value lb, Value ub, Value step) {
  Value span = arith::SubIOp::create(b, loc, ub, lb);
  return arith::CeilDivSIOp::create(b, loc, span, step);
}

/// Clones the body of `loop` (without its scf.reduce) at `b`, with the
/// induction variables mapped to `ivs`.
void cloneBody(OpBuilder &b, scf::ParallelOp loop, ValueRange ivs) {
  IRMapping mapping;
  mapping.map(loop.getInductionVars(), ivs);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
}

/// A nested parallel loop runs sequentially in its thread: nested scf.for.
LogicalResult sequentialize(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return loop.emitError("nsl-map-kernels-to-gpu: parallel loops with "
                          "reductions are not supported");
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  SmallVector<Value> ivs;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    auto inner = scf::ForOp::create(b, loc, lb, ub, step);
    ivs.push_back(inner.getInductionVar());
    b.setInsertionPoint(inner.getBody()->getTerminator());
  }
  cloneBody(b, loop, ivs);
  loop.erase();
  return success();
}

/// An outermost parallel loop: for i = tid; i < total; i += blockDim, the
/// iteration i of the flattened (row-major) space; then a barrier.
LogicalResult distribute(scf::ParallelOp loop, Value tid, Value threads) {
  if (loop.getNumResults() != 0)
    return loop.emitError("nsl-map-kernels-to-gpu: parallel loops with "
                          "reductions are not supported");
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  SmallVector<Value> extents;
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    extents.push_back(tripCount(b, loc, lb, ub, step));
    total = arith::MulIOp::create(b, loc, total, extents.back());
  }
  auto strided = scf::ForOp::create(b, loc, tid, total, threads);
  strided->setAttr("nsl.thread_loop", b.getUnitAttr());
  b.setInsertionPoint(strided.getBody()->getTerminator());
  Value rest = strided.getInductionVar();
  SmallVector<Value> ivs(extents.size());
  for (int64_t d = static_cast<int64_t>(extents.size()) - 1; d >= 0; --d) {
    Value index = rest;
    if (d > 0) {
      index = arith::RemUIOp::create(b, loc, rest, extents[d]);
      rest = arith::DivUIOp::create(b, loc, rest, extents[d]);
    }
    Value scaled = arith::MulIOp::create(b, loc, index, loop.getStep()[d]);
    ivs[d] = arith::AddIOp::create(b, loc, loop.getLowerBound()[d], scaled);
  }
  cloneBody(b, loop, ivs);
  b.setInsertionPointAfter(strided);
  gpu::BarrierOp::create(b, loc);
  loop.erase();
  return success();
}

bool containsParallel(Operation *op) {
  bool found = false;
  op->walk([&](scf::ParallelOp) {
    found = true;
    return WalkResult::interrupt();
  });
  return found;
}

/// Ops that write memory outside every parallel loop would run in every
/// thread: each becomes a one-iteration parallel loop (run by thread 0,
/// then a barrier). Returns the ops to wrap, outermost first.
FailureOr<SmallVector<Operation *>> sequentialWriters(gpu::GPUFuncOp kernel) {
  llvm::SetVector<Operation *> roots;
  WalkResult result = kernel.walk([&](Operation *op) {
    if (op == kernel.getOperation() || isa<scf::ParallelOp>(op) ||
        op->getParentOfType<scf::ParallelOp>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects || !effects.hasEffect<MemoryEffects::Write>() ||
        isa<gpu::BarrierOp>(op))
      return WalkResult::advance();
    // The outermost enclosing op that holds no parallel loop.
    Operation *root = op;
    while (root->getParentOp() != kernel.getOperation() &&
           !containsParallel(root->getParentOp()))
      root = root->getParentOp();
    if (root->getNumResults() != 0) {
      op->emitError("nsl-map-kernels-to-gpu: a sequential op that writes "
                    "memory and has results cannot be mapped to threads");
      return WalkResult::interrupt();
    }
    roots.insert(root);
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  // Drop roots nested in other roots.
  SmallVector<Operation *> outermost;
  for (Operation *root : roots)
    if (llvm::none_of(roots, [&](Operation *other) {
          return other != root && other->isProperAncestor(root);
        }))
      outermost.push_back(root);
  return outermost;
}

/// The gpu.func of `kernel` in `gpuModule`: its buffers (and the
/// workspace, grid slices of it) as arguments, the launch sizes known.
FailureOr<gpu::GPUFuncOp> createGpuFunc(func::FuncOp kernel,
                                        gpu::GPUModuleOp gpuModule,
                                        int64_t threads) {
  Location loc = kernel.getLoc();
  unsigned numArguments = kernel.getNumArguments();
  int64_t grid = intAttr(kernel, "nsl.parallel_extent", 1);
  int64_t workspaceBytes = intAttr(kernel, "nsl.workspace_bytes", 0);
  SmallVector<Type> types;
  for (unsigned i = 0; i + 2 < numArguments; ++i) {
    auto type = dyn_cast<MemRefType>(kernel.getArgument(i).getType());
    if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity())
      return kernel.emitError()
             << "nsl-map-kernels-to-gpu: kernel argument #" << i
             << " must be a static memref with identity layout, got "
             << kernel.getArgument(i).getType();
    types.push_back(type);
  }
  if (workspaceBytes > 0)
    types.back() = MemRefType::get({grid * workspaceBytes},
                                   IntegerType::get(kernel.getContext(), 8));
  OpBuilder b(gpuModule.getBodyRegion());
  b.setInsertionPointToEnd(gpuModule.getBody());
  auto gpuFunc = gpu::GPUFuncOp::create(b, loc, kernel.getName(),
                                        b.getFunctionType(types, {}));
  gpuFunc->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  gpuFunc.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  gpuFunc.setKnownGridSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(grid), 1, 1}));
  for (StringRef name : {"nsl.parallel_extent", "nsl.workspace_bytes"})
    if (Attribute value = kernel->getAttr(name))
      gpuFunc->setAttr(name, value);
  return gpuFunc;
}

/// The kernel's body in the gpu.func: the sample range [begin, end) is this
/// block's [blockIdx.x, blockIdx.x + 1).
LogicalResult cloneBody(func::FuncOp kernel, gpu::GPUFuncOp gpuFunc,
                        OpBuilder &b, Value block) {
  unsigned numArguments = kernel.getNumArguments();
  Block &entry = gpuFunc.getBody().front();
  Location loc = kernel.getLoc();
  Value next = arith::AddIOp::create(b, loc, block,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  IRMapping mapping;
  for (unsigned i = 0; i + 2 < numArguments; ++i)
    mapping.map(kernel.getArgument(i), entry.getArgument(i));
  mapping.map(kernel.getArgument(numArguments - 2), block);
  mapping.map(kernel.getArgument(numArguments - 1), next);
  if (!kernel.getBody().hasOneBlock())
    return kernel.emitError("nsl-map-kernels-to-gpu: kernels must have one "
                            "block");
  for (Operation &op : kernel.getBody().front()) {
    if (isa<func::ReturnOp>(op)) {
      gpu::ReturnOp::create(b, op.getLoc());
      continue;
    }
    b.clone(op, mapping);
  }
  return success();
}

/// Constants the kernel reads (memref.global of bufferized tensor
/// constants) move into the gpu.module with it.
LogicalResult moveGlobals(func::FuncOp kernel, gpu::GPUFuncOp gpuFunc,
                          gpu::GPUModuleOp gpuModule) {
  SmallVector<memref::GetGlobalOp> globals;
  gpuFunc.walk([&](memref::GetGlobalOp get) { globals.push_back(get); });
  for (memref::GetGlobalOp get : globals) {
    if (gpuModule.lookupSymbol(get.getNameAttr()))
      continue;
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        kernel, get.getNameAttr());
    if (!global)
      return get.emitError("nsl-map-kernels-to-gpu: no memref.global @")
             << get.getName();
    OpBuilder atStart(gpuModule.getBodyRegion());
    atStart.clone(*global);
  }
  return success();
}

/// Each block's views of the workspace move to its own slice.
LogicalResult sliceWorkspace(gpu::GPUFuncOp gpuFunc, Value block,
                             int64_t workspaceBytes) {
  Block &entry = gpuFunc.getBody().front();
  Value workspace = entry.getArgument(entry.getNumArguments() - 1);
  SmallVector<memref::ViewOp> views;
  for (Operation *user : workspace.getUsers()) {
    auto view = dyn_cast<memref::ViewOp>(user);
    if (!view || view.getSource() != workspace)
      return user->emitError("nsl-map-kernels-to-gpu: the workspace "
                             "must be used through memref.view only");
    views.push_back(view);
  }
  for (memref::ViewOp view : views) {
    OpBuilder at(view);
    Location loc = view.getLoc();
    Value base = arith::MulIOp::create(
        at, loc, block,
        arith::ConstantIndexOp::create(at, loc, workspaceBytes));
    Value shift = arith::AddIOp::create(at, loc, base, view.getByteShift());
    view.getByteShiftMutable().assign(shift);
  }
  return success();
}

/// The block's threads share the parallel loops: sequential writers become
/// one-iteration parallel loops, nested parallel loops run sequentially per
/// thread, the outermost ones are strided over the threads.
LogicalResult distributeOverThreads(gpu::GPUFuncOp gpuFunc, Value tid,
                                    Value threadCount) {
  FailureOr<SmallVector<Operation *>> writers = sequentialWriters(gpuFunc);
  if (failed(writers))
    return failure();
  for (Operation *writer : *writers) {
    OpBuilder at(writer);
    Location loc = writer->getLoc();
    Value zero = arith::ConstantIndexOp::create(at, loc, 0);
    Value unit = arith::ConstantIndexOp::create(at, loc, 1);
    auto single = scf::ParallelOp::create(at, loc, ValueRange{zero},
                                          ValueRange{unit}, ValueRange{unit});
    writer->moveBefore(single.getBody()->getTerminator());
  }
  // Nested parallel loops first (post-order), then the outermost ones.
  SmallVector<scf::ParallelOp> nested, outermost;
  gpuFunc.walk([&](scf::ParallelOp loop) {
    if (loop->getParentOfType<scf::ParallelOp>())
      nested.push_back(loop);
    else
      outermost.push_back(loop);
  });
  for (scf::ParallelOp loop : nested)
    if (failed(sequentialize(loop)))
      return failure();
  for (scf::ParallelOp loop : outermost)
    if (failed(distribute(loop, tid, threadCount)))
      return failure();
  return success();
}

struct MapKernelsToGpuPass
    : cuda::impl::MapKernelsToGpuBase<MapKernelsToGpuPass> {
  using MapKernelsToGpuBase::MapKernelsToGpuBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threads < 1 || threads > 1024) {
      module.emitError() << "nsl-map-kernels-to-gpu: threads must be in "
                            "[1, 1024], got "
                         << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> kernels;
    for (auto kernel : module.getOps<func::FuncOp>())
      if (kernel->hasAttr("nsl.kernel"))
        kernels.push_back(kernel);
    if (kernels.empty())
      return;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(kModuleName);
    if (!gpuModule)
      gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), kModuleName);
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    for (func::FuncOp kernel : kernels) {
      if (failed(convert(kernel, gpuModule)))
        return signalPassFailure();
      kernel.erase();
    }
  }

  LogicalResult convert(func::FuncOp kernel, gpu::GPUModuleOp gpuModule) {
    unsigned numArguments = kernel.getNumArguments();
    if (numArguments < 2 ||
        !kernel.getArgument(numArguments - 1).getType().isIndex() ||
        !kernel.getArgument(numArguments - 2).getType().isIndex())
      return kernel.emitError("nsl-map-kernels-to-gpu: a kernel ends with "
                              "its (begin, end) index arguments");
    FailureOr<gpu::GPUFuncOp> gpuFunc =
        createGpuFunc(kernel, gpuModule, threads);
    if (failed(gpuFunc))
      return failure();
    Location loc = kernel.getLoc();
    OpBuilder b = OpBuilder::atBlockBegin(&gpuFunc->getBody().front());
    Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value threadCount = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
    int64_t workspaceBytes = intAttr(kernel, "nsl.workspace_bytes", 0);
    if (failed(cloneBody(kernel, *gpuFunc, b, block)) ||
        failed(moveGlobals(kernel, *gpuFunc, gpuModule)) ||
        (workspaceBytes > 0 &&
         failed(sliceWorkspace(*gpuFunc, block, workspaceBytes))))
      return failure();
    return distributeOverThreads(*gpuFunc, tid, threadCount);
  }
};

} // namespace
