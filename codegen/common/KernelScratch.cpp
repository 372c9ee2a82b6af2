//===- KernelScratch.cpp - Kernel functions and their scratch memory -----===//
#include "codegen/common/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_HOISTKERNELSCRATCH
#include "codegen/common/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

constexpr int64_t kAlignment = 64;

struct HoistKernelScratchPass
    : nsl::impl::HoistKernelScratchBase<HoistKernelScratchPass> {
  void runOnOperation() override {
    for (auto kernel : getOperation().getOps<func::FuncOp>()) {
      if (!kernel->hasAttr("nsl.kernel"))
        continue;
      if (failed(hoist(kernel)))
        return signalPassFailure();
    }
  }

  LogicalResult hoist(func::FuncOp kernel) {
    // Copies between strided views would call MLIR's runtime library
    // (memrefCopy); as linalg.copy they become loops in the kernel.
    kernel.walk([](memref::CopyOp copy) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    });
    SmallVector<memref::AllocOp> allocs;
    kernel.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    SmallVector<int64_t> offsets;
    int64_t bytes = 0;
    for (memref::AllocOp alloc : allocs) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return alloc.emitError()
               << "kernel scratch must have a static shape and identity "
                  "layout, got "
               << type;
      offsets.push_back(bytes);
      int64_t size = type.getNumElements() *
                     static_cast<int64_t>(type.getElementTypeBitWidth() / 8);
      bytes += (size + kAlignment - 1) / kAlignment * kAlignment;
    }
    kernel->setAttr(
        "nsl.workspace_bytes",
        IntegerAttr::get(IntegerType::get(&getContext(), 64), bytes));
    if (allocs.empty())
      return success();
    // The workspace goes after the results, before (begin, end).
    unsigned position = kernel.getNumArguments() - 2;
    auto workspaceType =
        MemRefType::get({bytes}, IntegerType::get(&getContext(), 8));
    if (failed(kernel.insertArgument(position, workspaceType, {},
                                     kernel.getLoc())))
      return failure();
    Value workspace = kernel.getArgument(position);
    for (auto [alloc, offset] : llvm::zip(allocs, offsets)) {
      OpBuilder b(alloc);
      Value at = arith::ConstantIndexOp::create(b, alloc.getLoc(), offset);
      Value view = memref::ViewOp::create(b, alloc.getLoc(), alloc.getType(),
                                          workspace, at, ValueRange());
      alloc.replaceAllUsesWith(view);
      alloc.erase();
    }
    return success();
  }
};

} // namespace

namespace mlir::nsl {
#define GEN_PASS_DEF_KEEPKERNELSONLY
#include "codegen/common/Passes.h.inc"
} // namespace mlir::nsl

namespace {
struct KeepKernelsOnlyPass
    : nsl::impl::KeepKernelsOnlyBase<KeepKernelsOnlyPass> {
  void runOnOperation() override {
    for (auto function :
         llvm::make_early_inc_range(getOperation().getOps<func::FuncOp>()))
      if (!function->hasAttr("nsl.kernel"))
        function.erase();
  }
};
} // namespace
