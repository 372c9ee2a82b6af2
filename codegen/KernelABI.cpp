//===- KernelABI.cpp - Workspace and C ABI of CPU kernels -----------------===//
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_HOISTKERNELSCRATCH
#define GEN_PASS_DEF_EMITKERNELABI
#include "codegen/Passes.h.inc"
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

struct EmitKernelABIPass : nsl::impl::EmitKernelABIBase<EmitKernelABIPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> kernels;
    for (auto function : module.getOps<LLVM::LLVMFuncOp>())
      if (function->hasAttr("nsl.kernel"))
        kernels.push_back(function);
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    for (LLVM::LLVMFuncOp impl : kernels) {
      std::string name = impl.getName().str();
      LLVM::LLVMFunctionType implType = impl.getFunctionType();
      unsigned numBuffers = implType.getNumParams() - 2;
      for (unsigned i = 0; i < numBuffers; ++i)
        if (implType.getParamType(i) != ptr) {
          impl.emitError() << "kernel argument #" << i
                           << " is not a pointer after lowering (lower "
                              "memrefs with use-bare-ptr-memref-call-conv)";
          return signalPassFailure();
        }
      impl.setName(name + "_impl");
      impl.setLinkage(LLVM::Linkage::Internal);

      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointAfter(impl);
      Location loc = impl.getLoc();
      auto entry = LLVM::LLVMFuncOp::create(
          b, loc, name,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                      {ptr, i64, i64}));
      for (StringRef attr :
           {"nsl.kernel", "nsl.parallel_extent", "nsl.workspace_bytes"})
        if (Attribute value = impl->getAttr(attr))
          entry->setAttr(attr, value);
      impl->removeAttr("nsl.kernel");
      Block *block = entry.addEntryBlock(b);
      b.setInsertionPointToStart(block);
      SmallVector<Value> args;
      for (unsigned i = 0; i < numBuffers; ++i) {
        Value slot =
            LLVM::GEPOp::create(b, loc, ptr, ptr, block->getArgument(0),
                                ArrayRef<LLVM::GEPArg>{int32_t(i)});
        args.push_back(LLVM::LoadOp::create(b, loc, ptr, slot));
      }
      args.push_back(block->getArgument(1));
      args.push_back(block->getArgument(2));
      LLVM::CallOp::create(b, loc, impl, args);
      LLVM::ReturnOp::create(b, loc, ValueRange());
    }
  }
};

} // namespace

namespace mlir::nsl {
#define GEN_PASS_DEF_KEEPKERNELSONLY
#include "codegen/Passes.h.inc"
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
