//===- OutlineKernels.cpp - One kernel function per model op -------------===//
#include "codegen/common/ConvGroup.h"
#include "codegen/common/KernelOutlining.h"
#include "codegen/common/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "codegen/common/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

std::optional<SmallVector<bool>> mlir::nsl::perSampleOperands(Operation *op) {
  if (auto perSample = dyn_cast<PerSampleOpInterface>(op))
    return perSample.getPerSampleOperands();
  return std::nullopt;
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

/// The same tensor type with dimension `dim` set to `size`.
RankedTensorType sliceType(Type type, int64_t dim, int64_t size) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[dim] = size;
  return tensor.clone(shape);
}

/// The slice [.., i·size, ..] of `size` elements along `dim` of a buffer.
Value sliceBuffer(OpBuilder &b, Location loc, Value buffer, Value i,
                  int64_t dim, int64_t size) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
  offsets[dim] =
      size == 1 ? i
                : Value(arith::MulIOp::create(
                      b, loc, i, arith::ConstantIndexOp::create(b, loc, size)));
  for (int64_t extent : type.getShape())
    sizes.push_back(b.getIndexAttr(extent));
  sizes[dim] = b.getIndexAttr(size);
  return memref::SubViewOp::create(b, loc, buffer, offsets, sizes, strides);
}

/// How a kernel splits its work into [begin, end): operand and result i are
/// sliced along dimension dims[i] (-1: not at all) into pieces of `size`.
struct Split {
  /// Every op of the group computes each sample alone.
  bool perSample = false;
  int64_t extent = 1, size = 1;
  SmallVector<int64_t> operandDims, resultDims;
};

/// The weight (and bias) gradient of a convolution, alone in its kernel,
/// splits over blocks of output channels: the weight, the bias and both
/// gradients along dimension 0, the upstream gradient along dimension 1.
/// Every element is still one sum in a fixed order, wherever it runs.
std::optional<Split> outputChannelSplit(ArrayRef<Operation *> group,
                                        ArrayRef<Value> operands) {
  if (group.size() != 1)
    return std::nullopt;
  // Training batch norm and its VJP work channel by channel: the [N, C, ...]
  // tensors split along dimension 1, the per-channel ones along 0.
  Operation *only = group.front();
  if (isa<BatchNormTrainOp, BatchNormTrainVJPOp>(only)) {
    Value input = only->getOperand(0);
    Split split;
    split.size = 1;
    split.extent = cast<RankedTensorType>(input.getType()).getDimSize(1);
    Value gradOutput = isa<BatchNormTrainVJPOp>(only)
                           ? cast<BatchNormTrainVJPOp>(only).getGradOutput()
                           : Value();
    for (Value operand : operands)
      split.operandDims.push_back(
          operand == input || operand == gradOutput ? 1 : 0);
    for (Value result : only->getResults())
      split.resultDims.push_back(cast<RankedTensorType>(result.getType()) ==
                                         cast<RankedTensorType>(input.getType())
                                     ? 1
                                     : 0);
    return split;
  }
  // A convolution's weight (bias, k') gradient: output channel o needs only
  // its own weight and G[:, o] (and the whole input). At most 4 pieces: each
  // call pads (and phase-splits) the whole input again, so many small pieces
  // would redo that work many times.
  auto pieces = [&](Value weight, ValueRange perChannel, Value gradOutput,
                    Operation *vjpOp) {
    int64_t outputs = cast<RankedTensorType>(weight.getType()).getDimSize(0);
    Split split;
    split.size = outputs;
    for (int64_t count : {4, 3, 2})
      if (outputs % count == 0) {
        split.size = outputs / count;
        break;
      }
    split.extent = outputs / split.size;
    for (Value operand : operands)
      split.operandDims.push_back(
          operand == weight || llvm::is_contained(perChannel, operand) ? 0
          : operand == gradOutput                                      ? 1
                                                                       : -1);
    split.resultDims.assign(vjpOp->getNumResults(), 0);
    return split;
  };
  if (auto sphere = dyn_cast<SphereConv2dVJPOp>(only)) {
    if (llvm::is_contained(sphere.getWrt(), 0))
      return std::nullopt;
    SmallVector<Value> perChannel;
    if (sphere.getKParam())
      perChannel.push_back(sphere.getKParam());
    return pieces(sphere.getWeight(), perChannel, sphere.getGradOutput(),
                  sphere);
  }
  // A grouped convolution's output channels read different input channels:
  // it stays whole.
  auto vjp = dyn_cast<SimConv2dVJPOp>(only);
  if (!vjp || vjp.getGroups() != 1)
    return std::nullopt;
  int64_t biasIndex = 2 + static_cast<int64_t>(vjp.getSimilarity().size());
  if (!llvm::all_of(vjp.getWrt(), [&](int64_t i) {
        return i == 1 || (vjp.getBias() && i == biasIndex);
      }))
    return std::nullopt;
  SmallVector<Value> perChannel;
  if (vjp.getBias())
    perChannel.push_back(vjp.getBias());
  return pieces(vjp.getWeight(), perChannel, vjp.getGradOutput(), vjp);
}

/// Groups the model's ops: each op alone, or (with `fuse`) a convolution
/// group's head (ConvGroup.h) followed by its single-user chain of
/// epilogue ops (inference batch_norm, relu).
SmallVector<SmallVector<Operation *>> formGroups(func::FuncOp model,
                                                 bool fuse) {
  SmallVector<SmallVector<Operation *>> groups;
  llvm::SmallPtrSet<Operation *, 16> taken;
  for (Operation &op : model.getBody().getOps()) {
    if (isa<arith::ConstantOp, func::ReturnOp>(op) || taken.contains(&op))
      continue;
    SmallVector<Operation *> group =
        fuse ? convGroupHead(&op) : SmallVector<Operation *>{&op};
    while (fuse && perSampleOperands(group.back()) &&
           group.back()->getNumResults() == 1 &&
           group.back()->getResult(0).hasOneUse()) {
      Operation *user = *group.back()->getResult(0).getUsers().begin();
      if (!isEpilogueOf(user, group.back()))
        break;
      group.push_back(user);
    }
    taken.insert(group.begin(), group.end());
    groups.push_back(std::move(group));
  }
  return groups;
}

/// How the kernel of `group` splits its work: per sample when every op
/// computes each sample alone (an operand sliced as its first user sees
/// it), else over channels where outputChannelSplit applies, else not.
Split splitOf(ArrayRef<Operation *> group, ArrayRef<Value> operands) {
  Operation *last = group.back();
  bool perSample = llvm::all_of(
      group, [](Operation *op) { return perSampleOperands(op).has_value(); });
  Split split;
  split.perSample = perSample;
  split.operandDims.assign(operands.size(), -1);
  split.resultDims.assign(last->getNumResults(), perSample ? 0 : -1);
  if (!perSample) {
    if (std::optional<Split> channels = outputChannelSplit(group, operands))
      return *channels;
    return split;
  }
  for (auto [i, operand] : llvm::enumerate(operands))
    for (Operation *op : group) {
      auto position = llvm::find(op->getOperands(), operand);
      if (position == op->operand_end())
        continue;
      if ((*perSampleOperands(
              op))[std::distance(op->operand_begin(), position)]) {
        split.operandDims[i] = 0;
        split.extent = cast<RankedTensorType>(operand.getType()).getDimSize(0);
      }
      break;
    }
  return split;
}

/// The group's ops cloned at `b` on tensors of this iteration's slices
/// (`buffers` maps each outside operand to its buffer), their results
/// materialised into `outputs`.
void cloneOnTensors(OpBuilder &b, Location loc, ArrayRef<Operation *> group,
                    ArrayRef<Value> operands, const Split &split,
                    const IRMapping &buffers, ArrayRef<Value> outputs) {
  Operation *last = group.back();
  IRMapping values;
  for (auto [i, operand] : llvm::enumerate(operands)) {
    int64_t dim = split.operandDims[i];
    Type type = dim < 0 ? operand.getType()
                        : sliceType(operand.getType(), dim, split.size);
    values.map(operand,
               bufferization::ToTensorOp::create(
                   b, loc, type, buffers.lookup(operand), /*restrict=*/true));
  }
  for (Operation *op : group) {
    SmallVector<Value> newOperands;
    for (Value operand : op->getOperands())
      newOperands.push_back(values.lookup(operand));
    SmallVector<Type> resultTypes;
    for (auto [k, type] : llvm::enumerate(op->getResultTypes())) {
      // Results of inner ops are per sample (dim 0) when the group is;
      // the last op's follow the split.
      int64_t dim =
          op == last ? split.resultDims[k] : (split.perSample ? 0 : -1);
      resultTypes.push_back(dim < 0 ? type : sliceType(type, dim, split.size));
    }
    SmallVector<NamedAttribute> attrs;
    for (NamedAttribute attr : op->getAttrs())
      if (attr.getName() != "nsl.kernel")
        attrs.push_back(attr);
    // A reshape names its result shape, batch included: the slice's.
    if (isa<ReshapeOp>(op))
      for (NamedAttribute &attr : attrs)
        if (attr.getName() == "shape")
          attr.setValue(b.getDenseI64ArrayAttr(
              cast<RankedTensorType>(resultTypes.front()).getShape()));
    OperationState state(op->getLoc(), op->getName(), newOperands, resultTypes,
                         attrs);
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

/// Creates the kernel function of a group at the end of `module`: a loop
/// over [begin, end) of its split running the group on that iteration's
/// slices.
void outline(ArrayRef<Operation *> group, StringRef name, ModuleOp module) {
  SmallVector<Value> operands = outsideOperands(group);
  Operation *last = group.back();
  Split split = splitOf(group, operands);

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
  kernel->setAttr("nsl.parallel_extent", b.getI64IntegerAttr(split.extent));
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ValueRange args = entry->getArguments();
  Value begin = args[args.size() - 2], end = args.back();
  Value step = arith::ConstantIndexOp::create(b, loc, 1);

  auto loop = scf::ForOp::create(b, loc, begin, end, step);
  b.setInsertionPointToStart(loop.getBody());
  Value n = loop.getInductionVar();
  // This iteration's buffers (or the whole tensors).
  IRMapping buffers;
  for (auto [i, operand] : llvm::enumerate(operands)) {
    int64_t dim = split.operandDims[i];
    buffers.map(operand,
                dim < 0 ? args[i]
                        : sliceBuffer(b, loc, args[i], n, dim, split.size));
  }
  SmallVector<Value> outputs;
  for (unsigned i = 0; i < last->getNumResults(); ++i) {
    Value buffer = args[operands.size() + i];
    int64_t dim = split.resultDims[i];
    outputs.push_back(
        dim < 0 ? buffer : sliceBuffer(b, loc, buffer, n, dim, split.size));
  }
  cloneOnTensors(b, loc, group, operands, split, buffers, outputs);
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc);
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
    unsigned index = 0;
    for (ArrayRef<Operation *> group : formGroups(model, fuseEpilogues)) {
      std::string name = "nsl_" + function + "_k" + std::to_string(index++);
      outline(group, name, module);
      for (Operation *op : group)
        op->setAttr("nsl.kernel", StringAttr::get(&getContext(), name));
    }
  }
};

} // namespace
