//===- OutlineKernels.cpp - One kernel function per model op -------------===//
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/TypeSwitch.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "codegen/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

std::optional<SmallVector<bool>> mlir::nsl::perSampleOperands(Operation *op) {
  auto all = [&](bool value) {
    return SmallVector<bool>(op->getNumOperands(), value);
  };
  auto only = [&](ArrayRef<Value> batched) {
    SmallVector<bool> flags;
    for (Value operand : op->getOperands())
      flags.push_back(llvm::is_contained(batched, operand));
    return flags;
  };
  return llvm::TypeSwitch<Operation *, std::optional<SmallVector<bool>>>(op)
      .Case([&](SimConv2dOp conv) {
        // The dynamic similarity is per sample ([N, …, Ho, Wo]); d_r is not.
        SmallVector<Value> batched = {conv.getInput()};
        if (conv.getDynamic())
          batched.push_back(conv.getSimilarity().back());
        return only(batched);
      })
      .Case<SphereConv2dOp, PatchNormOp, SimLinearOp, LinearOp, BatchNormOp>(
          [&](auto layer) { return only({layer.getInput()}); })
      .Case([&](PredictedSimilarityOp predicted) {
        return only({predicted.getPrediction()});
      })
      .Case<ReluOp, AddOp, MaxPool2dOp, AvgPool2dOp, GlobalAvgPool2dOp,
            FlattenOp>([&](Operation *) { return all(true); })
      .Default([](Operation *) { return std::nullopt; });
}

namespace {

MemRefType bufferType(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

/// The same tensor type with its leading dimension set to 1.
RankedTensorType oneSample(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[0] = 1;
  return tensor.clone(shape);
}

/// The one-sample slice [n, 0, …] of size [1, …] of a buffer.
Value sampleSlice(OpBuilder &b, Location loc, Value buffer, Value n) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
  offsets[0] = n;
  for (int64_t size : type.getShape())
    sizes.push_back(b.getIndexAttr(size));
  sizes[0] = b.getIndexAttr(1);
  return memref::SubViewOp::create(b, loc, buffer, offsets, sizes, strides);
}

/// Creates the kernel function of `op` at the end of `module`.
func::FuncOp outline(Operation *op, StringRef name, ModuleOp module) {
  std::optional<SmallVector<bool>> batched = perSampleOperands(op);
  int64_t extent = 1;
  if (batched)
    for (auto [flag, operand] : llvm::zip(*batched, op->getOperands()))
      if (flag)
        extent = cast<RankedTensorType>(operand.getType()).getDimSize(0);

  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = op->getLoc();
  SmallVector<Type> argTypes;
  for (Type type : op->getOperandTypes())
    argTypes.push_back(bufferType(type));
  for (Type type : op->getResultTypes())
    argTypes.push_back(bufferType(type));
  argTypes.append(2, b.getIndexType());
  auto kernel =
      func::FuncOp::create(b, loc, name, b.getFunctionType(argTypes, {}));
  kernel->setAttr("nsl.kernel", b.getUnitAttr());
  kernel->setAttr("nsl.parallel_extent", b.getI64IntegerAttr(extent));
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);
  unsigned numOperands = op->getNumOperands();
  ValueRange args = entry->getArguments();
  Value begin = args[args.size() - 2], end = args.back();
  Value step = arith::ConstantIndexOp::create(b, loc, 1);

  auto loop = scf::ForOp::create(b, loc, begin, end, step);
  b.setInsertionPointToStart(loop.getBody());
  Value n = loop.getInductionVar();
  // Operands and results as tensors of one sample (or of the whole batch).
  SmallVector<Value> operands;
  for (unsigned i = 0; i < numOperands; ++i) {
    bool slice = batched && (*batched)[i];
    Value buffer = slice ? sampleSlice(b, loc, args[i], n) : args[i];
    Type type = slice ? oneSample(op->getOperand(i).getType())
                      : op->getOperand(i).getType();
    operands.push_back(bufferization::ToTensorOp::create(b, loc, type, buffer,
                                                         /*restrict=*/true));
  }
  SmallVector<Type> resultTypes;
  for (Type type : op->getResultTypes())
    resultTypes.push_back(batched ? oneSample(type) : type);
  OperationState state(loc, op->getName(), operands, resultTypes,
                       op->getAttrs());
  Operation *clone = b.create(state);
  for (auto [i, result] : llvm::enumerate(clone->getResults())) {
    Value buffer = args[numOperands + i];
    if (batched)
      buffer = sampleSlice(b, loc, buffer, n);
    auto store = bufferization::MaterializeInDestinationOp::create(
        b, loc, result, buffer);
    store.setRestrict(true);
    store.setWritable(true);
  }
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc);
  return kernel;
}

struct OutlineKernelsPass : nsl::impl::OutlineKernelsBase<OutlineKernelsPass> {
  using OutlineKernelsBase::OutlineKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto model = module.lookupSymbol<func::FuncOp>(function);
    if (!model) {
      module.emitError()
          << "--nsl-outline-kernels: the module has no function @" << function;
      return signalPassFailure();
    }
    unsigned index = 0;
    for (Operation &op : model.getBody().getOps()) {
      if (isa<arith::ConstantOp, func::ReturnOp>(op))
        continue;
      if (!isa<NSLDialect>(op.getDialect())) {
        op.emitError() << "cannot compile '" << op.getName()
                       << "' in a model function: it holds nsl ops, "
                          "arith.constant and func.return only";
        return signalPassFailure();
      }
      std::string name = "nsl_" + function + "_k" + std::to_string(index++);
      outline(&op, name, module);
      op.setAttr("nsl.kernel", StringAttr::get(&getContext(), name));
    }
  }
};

} // namespace
