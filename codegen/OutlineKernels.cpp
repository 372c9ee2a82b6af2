//===- OutlineKernels.cpp - One kernel function per model op -------------===//
#include "codegen/DirectConv.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/TargetParser/Host.h"

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
      .Case<ReluOp, AddOp>(
          [&](Operation *op) -> std::optional<SmallVector<bool>> {
            // Rank 0 (a loss): nothing to split.
            if (cast<RankedTensorType>(op->getResult(0).getType()).getRank() ==
                0)
              return std::nullopt;
            return all(true);
          })
      .Case<MaxPool2dOp, AvgPool2dOp, GlobalAvgPool2dOp, FlattenOp>(
          [&](Operation *) { return all(true); })
      .Default([](Operation *) { return std::nullopt; });
}

/// Values used by the group's ops but defined outside it, in order of
/// first use, each once.
static SmallVector<Value> outsideOperands(ArrayRef<Operation *> ops) {
  llvm::SmallPtrSet<Operation *, 4> inside(ops.begin(), ops.end());
  llvm::SetVector<Value> operands;
  for (Operation *op : ops)
    for (Value operand : op->getOperands())
      if (!inside.contains(operand.getDefiningOp()))
        operands.insert(operand);
  return operands.takeVector();
}

SmallVector<KernelGroup> mlir::nsl::kernelGroups(func::FuncOp model) {
  SmallVector<KernelGroup> groups;
  llvm::StringMap<size_t> index;
  for (Operation &op : model.getBody().getOps()) {
    auto name = op.getAttrOfType<StringAttr>("nsl.kernel");
    if (!name)
      continue;
    auto [it, inserted] = index.try_emplace(name.getValue(), groups.size());
    if (inserted)
      groups.push_back({name.getValue().str(), {}, {}, {}});
    groups[it->second].ops.push_back(&op);
  }
  for (KernelGroup &group : groups) {
    group.operands = outsideOperands(group.ops);
    group.results = SmallVector<Value>(group.ops.back()->getResults());
  }
  return groups;
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

/// Groups the model's ops: each op alone, or followed by its single-user
/// chain of batch_norm (inference) and relu when `fuse` is set.
SmallVector<SmallVector<Operation *>> formGroups(func::FuncOp model,
                                                 bool fuse) {
  SmallVector<SmallVector<Operation *>> groups;
  llvm::SmallPtrSet<Operation *, 16> taken;
  for (Operation &op : model.getBody().getOps()) {
    if (isa<arith::ConstantOp, func::ReturnOp>(op) || taken.contains(&op))
      continue;
    SmallVector<Operation *> group = {&op};
    taken.insert(&op);
    Operation *last = &op;
    // A SphereConv predicting a DNS mask from the convolution's own input
    // joins them: one pass over the input computes the mask and the layer.
    if (auto sphere = dyn_cast<SphereConv2dOp>(op);
        fuse && sphere && sphere.getResult().hasOneUse()) {
      auto predicted =
          dyn_cast<PredictedSimilarityOp>(*sphere->getUsers().begin());
      if (predicted && predicted.getStructure() == Structure::Diagonal &&
          predicted.getPrediction() == sphere.getResult() &&
          predicted.getResult().hasOneUse()) {
        auto conv = dyn_cast<SimConv2dOp>(*predicted->getUsers().begin());
        if (conv && conv.getDynamic() &&
            conv.getStructure() == Structure::Diagonal &&
            conv.getInput() == sphere.getInput() &&
            conv.getSimilarity()[0] == predicted.getResult() &&
            conv->getBlock() == op.getBlock()) {
          group.append({predicted, conv});
          taken.insert(predicted);
          taken.insert(conv);
          last = conv;
        }
      }
    }
    // A predicted mask (DNS or UNS) joins the convolution it modulates:
    // γ·P + I is then computed as the mask is loaded.
    if (auto predicted = dyn_cast<PredictedSimilarityOp>(op);
        fuse && predicted && predicted.getResult().hasOneUse()) {
      auto conv = dyn_cast<SimConv2dOp>(*predicted->getUsers().begin());
      if (conv && conv.getDynamic() &&
          conv.getStructure() == predicted.getStructure() &&
          conv->getBlock() == op.getBlock() &&
          conv.getSimilarity()[0] == predicted.getResult()) {
        group.push_back(conv);
        taken.insert(conv);
        last = conv;
      }
    }
    while (fuse && perSampleOperands(last) && last->getNumResults() == 1 &&
           last->getResult(0).hasOneUse()) {
      Operation *user = *last->getResult(0).getUsers().begin();
      bool epilogue =
          isa<ReluOp>(user) ||
          (isa<BatchNormOp>(user) &&
           cast<BatchNormOp>(user).getInput() == last->getResult(0));
      if (!epilogue || user->getBlock() != op.getBlock())
        break;
      group.push_back(user);
      taken.insert(user);
      last = user;
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

/// Creates the kernel function of a group at the end of `module`.
void outline(ArrayRef<Operation *> group, StringRef name, ModuleOp module,
             const DirectConvTiling *direct) {
  SmallVector<Value> operands = outsideOperands(group);
  Operation *last = group.back();
  // Per-sample slicing: every op of the group must compute each sample
  // alone; an operand is sliced as its first user sees it.
  bool perSample = llvm::all_of(
      group, [](Operation *op) { return perSampleOperands(op).has_value(); });
  SmallVector<bool> batched(operands.size(), false);
  int64_t extent = 1;
  if (perSample)
    for (auto [i, operand] : llvm::enumerate(operands))
      for (Operation *op : group) {
        auto position = llvm::find(op->getOperands(), operand);
        if (position == op->operand_end())
          continue;
        batched[i] = (*perSampleOperands(
            op))[std::distance(op->operand_begin(), position)];
        if (batched[i])
          extent = cast<RankedTensorType>(operand.getType()).getDimSize(0);
        break;
      }

  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = group.front()->getLoc();
  SmallVector<Type> argTypes;
  for (Value operand : operands)
    argTypes.push_back(bufferType(operand.getType()));
  for (Type type : last->getResultTypes())
    argTypes.push_back(bufferType(type));
  argTypes.append(2, b.getIndexType());
  auto kernel =
      func::FuncOp::create(b, loc, name, b.getFunctionType(argTypes, {}));
  kernel->setAttr("nsl.kernel", b.getUnitAttr());
  kernel->setAttr("nsl.parallel_extent", b.getI64IntegerAttr(extent));
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ValueRange args = entry->getArguments();
  Value begin = args[args.size() - 2], end = args.back();
  Value step = arith::ConstantIndexOp::create(b, loc, 1);

  auto loop = scf::ForOp::create(b, loc, begin, end, step);
  b.setInsertionPointToStart(loop.getBody());
  Value n = loop.getInductionVar();
  // This sample's buffers (or the whole batch's).
  IRMapping buffers;
  for (auto [i, operand] : llvm::enumerate(operands))
    buffers.map(operand,
                batched[i] ? sampleSlice(b, loc, args[i], n) : args[i]);
  SmallVector<Value> outputs;
  for (unsigned i = 0; i < last->getNumResults(); ++i) {
    Value buffer = args[operands.size() + i];
    outputs.push_back(perSample ? sampleSlice(b, loc, buffer, n) : buffer);
  }

  if (direct && perSample && canEmitDirectConv(group)) {
    emitDirectConv(b, loc, group, buffers, outputs.front(), loop, *direct);
  } else {
    // The ops themselves on tensors of this sample, for --nsl-lower-to-linalg.
    IRMapping values;
    for (auto [i, operand] : llvm::enumerate(operands)) {
      Type type = batched[i] ? oneSample(operand.getType()) : operand.getType();
      values.map(operand,
                 bufferization::ToTensorOp::create(
                     b, loc, type, buffers.lookup(operand), /*restrict=*/true));
    }
    for (Operation *op : group) {
      SmallVector<Value> newOperands;
      for (Value operand : op->getOperands())
        newOperands.push_back(values.lookup(operand));
      SmallVector<Type> resultTypes;
      for (Type type : op->getResultTypes())
        resultTypes.push_back(perSample ? oneSample(type) : type);
      SmallVector<NamedAttribute> attrs;
      for (NamedAttribute attr : op->getAttrs())
        if (attr.getName() != "nsl.kernel")
          attrs.push_back(attr);
      OperationState state(op->getLoc(), op->getName(), newOperands,
                           resultTypes, attrs);
      Operation *clone = b.create(state);
      values.map(op->getResults(), clone->getResults());
    }
    for (auto [result, buffer] : llvm::zip(last->getResults(), outputs)) {
      auto store = bufferization::MaterializeInDestinationOp::create(
          b, loc, values.lookup(result), buffer);
      store.setRestrict(true);
      store.setWritable(true);
    }
  }
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc);
}

int64_t hostVectorWidth() {
  return llvm::sys::getHostCPUFeatures().lookup("avx512f") ? 16 : 8;
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
    for (Operation &op : model.getBody().getOps())
      if (!isa<arith::ConstantOp, func::ReturnOp>(op) &&
          !isa<NSLDialect>(op.getDialect())) {
        op.emitError() << "cannot compile '" << op.getName()
                       << "' in a model function: it holds nsl ops, "
                          "arith.constant and func.return only";
        return signalPassFailure();
      }
    DirectConvTiling tiling{vectorWidth > 0 ? vectorWidth : hostVectorWidth(),
                            convOutputChannels, convPixelVectors};
    if (tiling.outputChannels < 1 || tiling.pixelVectors < 1) {
      module.emitError() << "--nsl-outline-kernels: conv-output-channels and "
                            "conv-pixel-vectors must be at least 1";
      return signalPassFailure();
    }
    unsigned index = 0;
    for (ArrayRef<Operation *> group : formGroups(model, fuseEpilogues)) {
      std::string name = "nsl_" + function + "_k" + std::to_string(index++);
      outline(group, name, module, directConv ? &tiling : nullptr);
      for (Operation *op : group)
        op->setAttr("nsl.kernel", StringAttr::get(&getContext(), name));
    }
  }
};

} // namespace
