//===- EmitCpuKernelABI.cpp - The nsl-cpu-1 C ABI of lowered kernels -----===//
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_EMITCPUKERNELABI
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

struct EmitCpuKernelABIPass
    : nsl::impl::EmitCpuKernelABIBase<EmitCpuKernelABIPass> {
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
