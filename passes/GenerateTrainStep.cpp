//===- GenerateTrainStep.cpp - train_step and eval by reverse-mode AD -----===//
//
// Clones the model function twice: `eval` (inference mode, loss and correct
// count) and `train_step` (training mode, loss, reverse pass over the VJP
// interface of the nsl ops, optimizer updates). The pass description in
// Passes.td is the user documentation.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/GlobPattern.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_GENERATETRAINSTEP
#include "passes/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

RankedTensorType scalarF32(MLIRContext *context) {
  return RankedTensorType::get({}, Float32Type::get(context));
}

Value scalarConstant(OpBuilder &b, Location loc, float value) {
  auto type = scalarF32(b.getContext());
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, value));
}

/// What a training function is built from: the loss inputs found in (or
/// added to) a clone of the model.
struct LossInputs {
  Value logits;
  Value labels;
  /// The model's own loss (a softmax_cross_entropy result), if it has one.
  Value modelLoss;
};

/// Names and roles of a function's arguments, and appending new ones.
class Signature {
public:
  explicit Signature(func::FuncOp function) : function(function) {}

  StringRef name(unsigned index) {
    auto attr =
        function.getArgAttrOfType<StringAttr>(index, NSLDialect::kNameAttr);
    return attr ? attr.getValue() : StringRef();
  }
  StringRef role(unsigned index) {
    auto attr =
        function.getArgAttrOfType<StringAttr>(index, NSLDialect::kRoleAttr);
    return attr ? attr.getValue() : StringRef();
  }
  bool hasName(StringRef wanted) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      if (name(i) == wanted)
        return true;
    return false;
  }
  /// Appends an argument; fails (with an error) if the name is taken.
  FailureOr<Value> append(Type type, StringRef argName, StringRef argRole) {
    if (hasName(argName))
      return function.emitError()
             << "cannot add the argument '" << argName << "' to @"
             << function.getName() << ": the model already has one";
    MLIRContext *context = function.getContext();
    unsigned index = function.getNumArguments();
    NamedAttrList attrs;
    attrs.append(NSLDialect::kNameAttr, StringAttr::get(context, argName));
    attrs.append(NSLDialect::kRoleAttr, StringAttr::get(context, argRole));
    if (failed(function.insertArgument(
            index, type, attrs.getDictionary(context), function.getLoc())))
      return failure();
    return function.getArgument(index);
  }

private:
  func::FuncOp function;
};

/// Replaces the function's results by `results` named `names`.
void setResults(func::FuncOp function, ArrayRef<Value> results,
                ArrayRef<std::string> names) {
  auto ret = cast<func::ReturnOp>(function.getBody().front().getTerminator());
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  SmallVector<Type> types;
  for (Value result : results)
    types.push_back(result.getType());
  function.setType(FunctionType::get(function.getContext(),
                                     function.getArgumentTypes(), types));
  MLIRContext *context = function.getContext();
  SmallVector<Attribute> attrs;
  for (const std::string &name : names)
    attrs.push_back(DictionaryAttr::get(
        context,
        {NamedAttribute(StringAttr::get(context, NSLDialect::kNameAttr),
                        StringAttr::get(context, name))}));
  function.setAllResultAttrs(attrs);
}

/// A function's results under construction, with their names.
struct NamedResults {
  SmallVector<Value> values;
  SmallVector<std::string> names;

  void add(Value value, StringRef name) {
    values.push_back(value);
    names.push_back(name.str());
  }
  /// Adds `value` named after the argument `arg` (plus `suffix`).
  void add(Value value, Signature &signature, Value arg,
           StringRef suffix = "") {
    add(value,
        (signature.name(cast<BlockArgument>(arg).getArgNumber()) + suffix)
            .str());
  }
  void append(const NamedResults &other) {
    values.append(other.values.begin(), other.values.end());
    names.append(other.names.begin(), other.names.end());
  }
};

/// What an optimizer update of one parameter reads.
struct ParameterUpdate {
  Value param;
  Value grad;
  Value step;
  Value lr;
};

/// Appends the optimizer state argument of `param` named after it with
/// `suffix` (".exp_avg", ...).
FailureOr<Value> appendStateArgument(Signature &signature, Value param,
                                     StringRef suffix) {
  unsigned index = cast<BlockArgument>(param).getArgNumber();
  return signature.append(param.getType(),
                          (signature.name(index) + suffix).str(),
                          "optimizer_state");
}

FloatAttr f32(OpBuilder &b, double value) {
  return b.getF32FloatAttr(static_cast<float>(value));
}

/// Adds `op`'s VJP contributions to the gradients of its operands that
/// depend on a trained parameter.
LogicalResult propagateGradients(OpBuilder &b, Location loc, Operation *op,
                                 const llvm::DenseSet<Value> &active,
                                 llvm::DenseMap<Value, Value> &grads) {
  SmallVector<Value> resultGrads;
  for (Value result : op->getResults())
    resultGrads.push_back(grads.lookup(result));
  if (llvm::none_of(resultGrads, [](Value grad) { return grad; }))
    return success();
  SmallVector<bool> needed;
  for (Value operand : op->getOperands())
    needed.push_back(active.contains(operand));
  if (llvm::none_of(needed, [](bool n) { return n; }))
    return success();
  auto differentiable = dyn_cast<DifferentiableOpInterface>(op);
  if (!differentiable)
    return op->emitError()
           << "cannot differentiate '" << op->getName()
           << "': the op has no VJP (a trained parameter flows through it)";
  SmallVector<Value> operandGrads;
  if (failed(differentiable.buildVJP(b, resultGrads, needed, operandGrads)))
    return failure();
  for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
    if (!grad || !active.contains(operand))
      continue;
    Value &slot = grads[operand];
    slot = slot ? AddOp::create(b, loc, slot, grad).getResult() : grad;
  }
  return success();
}

/// The gradient of `total` with respect to every value of `body` that
/// depends on a trained parameter, by reverse-mode AD over the VJP
/// interface; the VJPs are built at `b`, after the forward ops.
FailureOr<llvm::DenseMap<Value, Value>>
reversePass(OpBuilder &b, Location loc, Block &body, Value total,
            const llvm::SetVector<Value> &trained) {
  llvm::DenseSet<Value> active(trained.begin(), trained.end());
  SmallVector<Operation *> forwardOps;
  for (Operation &op : body.without_terminator()) {
    forwardOps.push_back(&op);
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return active.contains(v); }))
      active.insert(op.getResults().begin(), op.getResults().end());
  }
  llvm::DenseMap<Value, Value> grads;
  grads[total] = scalarConstant(b, loc, 1.0f);
  for (Operation *op : llvm::reverse(forwardOps))
    if (failed(propagateGradients(b, loc, op, active, grads)))
      return failure();
  return grads;
}

struct GenerateTrainStepPass
    : nsl::impl::GenerateTrainStepBase<GenerateTrainStepPass> {
  using GenerateTrainStepBase::GenerateTrainStepBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto model = module.lookupSymbol<func::FuncOp>(function);
    if (!model) {
      module.emitError() << "--nsl-generate-train-step: the module has no "
                            "function @"
                         << function;
      return signalPassFailure();
    }
    for (StringRef name : {"train_step", "eval"})
      if (module.lookupSymbol(name)) {
        module.emitError() << "--nsl-generate-train-step: the module already "
                              "has a symbol @"
                           << name;
        return signalPassFailure();
      }
    if (optimizer != "sgd" && optimizer != "adam") {
      module.emitError() << "--nsl-generate-train-step: unknown optimizer '"
                         << optimizer << "' (sgd or adam)";
      return signalPassFailure();
    }
    if (optimizer == "sgd" && nesterov &&
        (momentum <= 0.0 || dampening != 0.0)) {
      module.emitError() << "--nsl-generate-train-step: nesterov momentum "
                            "requires a momentum and zero dampening (as "
                            "torch.optim.SGD)";
      return signalPassFailure();
    }
    if (model.getNumResults() == 0) {
      model.emitError() << "cannot train @" << function
                        << ": it returns nothing (the logits are expected)";
      return signalPassFailure();
    }
    if (failed(buildEval(module, model)) ||
        failed(buildTrainStep(module, model)))
      return signalPassFailure();
  }

  /// A clone of the model named `name`, after the model.
  func::FuncOp cloneModel(ModuleOp module, func::FuncOp model, StringRef name) {
    func::FuncOp clone = model.clone();
    clone.setName(name);
    clone.setPublic();
    module.insert(std::next(Block::iterator(model)), clone);
    return clone;
  }

  /// Finds the logits (and labels, when the model computes its own loss) of
  /// a clone; adds the labels argument otherwise.
  FailureOr<LossInputs> lossInputs(func::FuncOp clone) {
    auto ret = cast<func::ReturnOp>(clone.getBody().front().getTerminator());
    Value first = ret.getOperand(0);
    auto type = cast<RankedTensorType>(first.getType());
    if (auto loss = first.getDefiningOp<SoftmaxCrossEntropyOp>())
      return LossInputs{loss.getLogits(), loss.getLabels(), first};
    if (type.getRank() != 2 || !type.getElementType().isF32())
      return clone.emitError()
             << "cannot train @" << function
             << ": its first result must be the logits [N, C] (f32) or a "
                "softmax_cross_entropy loss, got "
             << first.getType();
    Signature signature(clone);
    FailureOr<Value> labels = signature.append(
        RankedTensorType::get({type.getDimSize(0)},
                              IntegerType::get(clone.getContext(), 64)),
        "labels", "label");
    if (failed(labels))
      return failure();
    return LossInputs{first, *labels, Value()};
  }

  /// The mean cross-entropy of the model's logits (the model's own loss
  /// if it computes one).
  Value crossEntropy(OpBuilder &b, Location loc, const LossInputs &inputs) {
    if (inputs.modelLoss)
      return inputs.modelLoss;
    return SoftmaxCrossEntropyOp::create(
        b, loc, inputs.logits, inputs.labels,
        b.getF32FloatAttr(static_cast<float>(labelSmoothing)));
  }

  LogicalResult buildEval(ModuleOp module, func::FuncOp model) {
    func::FuncOp eval = cloneModel(module, model, "eval");
    FailureOr<LossInputs> inputs = lossInputs(eval);
    if (failed(inputs))
      return failure();
    OpBuilder b(eval.getBody().front().getTerminator());
    Location loc = eval.getLoc();
    Value loss = crossEntropy(b, loc, *inputs);
    Value correct =
        CountCorrectOp::create(b, loc, inputs->logits, inputs->labels);
    setResults(eval, {loss, correct}, {"loss", "correct"});
    return success();
  }

  /// nsl.batch_norm → nsl.batch_norm_train; returns (running statistic
  /// argument, its new value) pairs.
  SmallVector<std::pair<BlockArgument, Value>>
  useBatchStatistics(func::FuncOp train) {
    SmallVector<std::pair<BlockArgument, Value>> updates;
    SmallVector<BatchNormOp> norms(train.getBody().getOps<BatchNormOp>());
    for (BatchNormOp norm : norms) {
      OpBuilder b(norm);
      auto trained = BatchNormTrainOp::create(
          b, norm.getLoc(), norm.getInput(), norm.getWeight(), norm.getBias(),
          norm.getRunningMean(), norm.getRunningVar(), norm.getEpsilonAttr(),
          b.getF32FloatAttr(static_cast<float>(bnMomentum)));
      norm.getResult().replaceAllUsesWith(trained.getResult());
      for (auto [stat, updated] :
           {std::pair(norm.getRunningMean(), trained.getNewRunningMean()),
            std::pair(norm.getRunningVar(), trained.getNewRunningVar())})
        if (auto arg = dyn_cast<BlockArgument>(stat))
          updates.push_back({arg, updated});
      norm.erase();
    }
    return updates;
  }

  /// Static similarities become fold_similarity on the operands, so that
  /// their parameters are differentiated through the fold.
  LogicalResult foldStaticSimilarities(func::FuncOp train) {
    RewritePatternSet patterns(train.getContext());
    populateFoldStaticSimilarityPatterns(patterns);
    if (failed(applyPatternsGreedily(train, std::move(patterns))))
      return train.emitError() << "folding the static similarities failed";
    return success();
  }

  /// The parameters whose names match --trainable.
  FailureOr<llvm::SetVector<Value>> trainedParameters(func::FuncOp train,
                                                      Signature &signature) {
    SmallVector<llvm::GlobPattern> patterns;
    SmallVector<StringRef> texts;
    StringRef(trainable).split(texts, ',', -1, /*KeepEmpty=*/false);
    for (StringRef text : texts) {
      llvm::Expected<llvm::GlobPattern> pattern =
          llvm::GlobPattern::create(text.trim());
      if (!pattern)
        return train.emitError()
               << "bad trainable pattern '" << text
               << "': " << llvm::toString(pattern.takeError());
      patterns.push_back(std::move(*pattern));
    }
    llvm::SetVector<Value> trained;
    for (unsigned i = 0; i < train.getNumArguments(); ++i)
      if (signature.role(i) == "parameter" &&
          llvm::any_of(patterns, [&](const llvm::GlobPattern &p) {
            return p.match(signature.name(i));
          }))
        trained.insert(train.getArgument(i));
    if (trained.empty())
      return train.emitError()
             << "no parameter of @" << function << " matches --trainable '"
             << trainable << "': nothing to train";
    return trained;
  }

  /// The loss plus the regularisers' penalties on the trained parameters.
  Value addRegularisers(OpBuilder &b, Location loc, Block &body, Value loss,
                        const llvm::SetVector<Value> &trained) {
    llvm::SetVector<Value> similarityParams, sphereWeights;
    for (Operation &op : body) {
      if (auto fold = dyn_cast<FoldSimilarityOp>(op))
        similarityParams.insert(fold.getSimilarity().begin(),
                                fold.getSimilarity().end());
      if (auto conv = dyn_cast<SimConv2dOp>(op))
        similarityParams.insert(conv.getSimilarity().begin(),
                                conv.getSimilarity().end());
      if (auto sphere = dyn_cast<SphereConv2dOp>(op))
        sphereWeights.insert(sphere.getWeight());
    }
    Value total = loss;
    auto addPenalties = [&](const llvm::SetVector<Value> &values,
                            double strength, auto makePenalty) {
      if (strength == 0.0)
        return;
      for (Value value : values)
        if (trained.contains(value))
          total = AddOp::create(b, loc, total, makePenalty(value));
    };
    addPenalties(similarityParams, l1, [&](Value value) -> Value {
      return L1PenaltyOp::create(b, loc, value, f32(b, l1));
    });
    addPenalties(sphereWeights, orthogonality, [&](Value value) -> Value {
      return OrthogonalityPenaltyOp::create(b, loc, value,
                                            f32(b, orthogonality));
    });
    return total;
  }

  /// SGD's state arguments and update of one parameter; returns its new
  /// value and adds the new state to `state`.
  FailureOr<Value> sgdUpdate(OpBuilder &b, Location loc, Signature &signature,
                             const ParameterUpdate &operands,
                             NamedResults &state) {
    Value buffer;
    if (momentum != 0.0) {
      FailureOr<Value> arg =
          appendStateArgument(signature, operands.param, ".momentum_buffer");
      if (failed(arg))
        return failure();
      buffer = *arg;
    }
    auto update = SgdUpdateOp::create(
        b, loc, operands.param, operands.grad, buffer, operands.step,
        operands.lr, f32(b, momentum), f32(b, dampening), f32(b, weightDecay),
        nesterov ? b.getUnitAttr() : UnitAttr());
    if (buffer)
      state.add(update.getNewMomentumBuffer(), signature, buffer);
    return update.getNewParam();
  }

  /// Adam's state arguments and update of one parameter; returns its new
  /// value and adds the new state to `state`.
  FailureOr<Value> adamUpdate(OpBuilder &b, Location loc, Signature &signature,
                              const ParameterUpdate &operands,
                              NamedResults &state) {
    FailureOr<Value> expAvg =
        appendStateArgument(signature, operands.param, ".exp_avg");
    if (failed(expAvg))
      return failure();
    FailureOr<Value> expAvgSq =
        appendStateArgument(signature, operands.param, ".exp_avg_sq");
    if (failed(expAvgSq))
      return failure();
    Value maxExpAvgSq;
    if (amsgrad) {
      FailureOr<Value> arg =
          appendStateArgument(signature, operands.param, ".max_exp_avg_sq");
      if (failed(arg))
        return failure();
      maxExpAvgSq = *arg;
    }
    auto update = AdamUpdateOp::create(
        b, loc, operands.param, operands.grad, *expAvg, *expAvgSq, maxExpAvgSq,
        operands.step, operands.lr, f32(b, beta1), f32(b, beta2), f32(b, eps),
        f32(b, weightDecay), amsgrad ? b.getUnitAttr() : UnitAttr());
    state.add(update.getNewExpAvg(), signature, *expAvg);
    state.add(update.getNewExpAvgSq(), signature, *expAvgSq);
    if (amsgrad)
      state.add(update.getNewMaxExpAvgSq(), signature, maxExpAvgSq);
    return update.getNewParam();
  }

  /// The optimizer step of every trained parameter that a gradient
  /// reaches: the new parameters, then the new optimizer state, then the
  /// next step count, appended to `results`.
  LogicalResult buildOptimizer(OpBuilder &b, func::FuncOp train, Value lr,
                               const llvm::SetVector<Value> &trained,
                               const llvm::DenseMap<Value, Value> &grads,
                               NamedResults &results) {
    Signature signature(train);
    Location loc = train.getLoc();
    NamedResults state;
    Value step, nextStep;
    for (Value param : trained) {
      Value grad = grads.lookup(param);
      if (!grad)
        continue; // Frozen by the graph: no gradient reaches it.
      if (!step) {
        FailureOr<Value> arg = signature.append(
            scalarF32(b.getContext()), "optimizer.step", "optimizer_state");
        if (failed(arg))
          return failure();
        step = *arg;
        nextStep = AddOp::create(b, loc, step, scalarConstant(b, loc, 1.0f));
      }
      ParameterUpdate operands{param, grad, step, lr};
      FailureOr<Value> updated =
          optimizer == "adam" ? adamUpdate(b, loc, signature, operands, state)
                              : sgdUpdate(b, loc, signature, operands, state);
      if (failed(updated))
        return failure();
      results.add(*updated, signature, param);
    }
    if (!step)
      return train.emitError()
             << "no gradient reaches the trained parameters of @" << function;
    results.append(state);
    results.add(nextStep, "optimizer.step");
    return success();
  }

  LogicalResult buildTrainStep(ModuleOp module, func::FuncOp model) {
    func::FuncOp train = cloneModel(module, model, "train_step");
    SmallVector<std::pair<BlockArgument, Value>> statistics =
        useBatchStatistics(train);
    if (failed(foldStaticSimilarities(train)))
      return failure();
    FailureOr<LossInputs> inputs = lossInputs(train);
    if (failed(inputs))
      return failure();
    Signature signature(train);
    FailureOr<Value> lr =
        signature.append(scalarF32(train.getContext()), "lr", "learning_rate");
    if (failed(lr))
      return failure();
    FailureOr<llvm::SetVector<Value>> trained =
        trainedParameters(train, signature);
    if (failed(trained))
      return failure();

    Block &body = train.getBody().front();
    OpBuilder b(body.getTerminator());
    Location loc = train.getLoc();
    Value loss = crossEntropy(b, loc, *inputs);
    Value correct =
        CountCorrectOp::create(b, loc, inputs->logits, inputs->labels);
    Value total = addRegularisers(b, loc, body, loss, *trained);
    FailureOr<llvm::DenseMap<Value, Value>> grads =
        reversePass(b, loc, body, total, *trained);
    if (failed(grads))
      return failure();

    NamedResults results;
    results.add(total, "loss");
    results.add(correct, "correct");
    if (failed(buildOptimizer(b, train, *lr, *trained, *grads, results)))
      return failure();
    for (auto [arg, updated] : statistics)
      results.add(updated, signature, arg);
    if (returnGradients)
      for (Value param : *trained)
        if (Value grad = grads->lookup(param))
          results.add(grad, signature, param, ".grad");
    setResults(train, results.values, results.names);
    return success();
  }
};

} // namespace
