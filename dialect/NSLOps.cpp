//===- NSLOps.cpp - Operations of the nsl dialect ---------------*- C++ -*-===//
//
// Each op has one checker that validates its operands and attributes and
// computes its result types. The verifier runs it with diagnostics for people
// (naming the operand, the expected and the actual shape); result type
// inference runs it too, so builders need no result types.
//
//===----------------------------------------------------------------------===//
#include "dialect/NSLOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace mlir::nsl;

#include "dialect/NSLEnums.cpp.inc"
#include "dialect/NSLInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/NSLOps.cpp.inc"

namespace {

/// Reports a failed check: as an op error from a verifier, at an optional
/// location from result type inference.
class Diagnoser {
public:
  explicit Diagnoser(Operation *op) : op(op) {}
  explicit Diagnoser(std::optional<Location> loc) : loc(loc) {}

  InFlightDiagnostic emit() const {
    if (op)
      return op->emitOpError();
    if (loc)
      return mlir::emitError(*loc);
    return InFlightDiagnostic();
  }
  template <typename... Args> LogicalResult fail(Args &&...args) const {
    InFlightDiagnostic diag = emit();
    (diag << ... << std::forward<Args>(args));
    return diag;
  }

private:
  Operation *op = nullptr;
  std::optional<Location> loc;
};

std::string str(ArrayRef<int64_t> values) {
  return "[" +
         llvm::join(llvm::map_range(
                        values, [](int64_t v) { return std::to_string(v); }),
                    ", ") +
         "]";
}

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

RankedTensorType f32Tensor(MLIRContext *context, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(context));
}

LogicalResult checkRank(const Diagnoser &d, Value value, StringRef name,
                        int64_t rank, StringRef layout) {
  ArrayRef<int64_t> shape = shapeOf(value);
  if (static_cast<int64_t>(shape.size()) != rank)
    return d.fail(name, " must be a ", rank, "-D tensor ", layout, ", got ",
                  str(shape));
  return success();
}

LogicalResult checkShape(const Diagnoser &d, Value value, StringRef name,
                         ArrayRef<int64_t> expected, StringRef meaning) {
  if (shapeOf(value) != expected)
    return d.fail(name, " must have shape ", meaning, " = ", str(expected),
                  ", got ", str(shapeOf(value)));
  return success();
}

/// Checks a window's attributes against a [N, C, H, W] input and computes the
/// output size [Ho, Wo]: PyTorch's, ⌊(H + 2p − span) / s⌋ + 1, or for a
/// pooling op's `ceilMode` rounded up, less a last window that would start at
/// or past H + p.
LogicalResult checkWindow(const Diagnoser &d, ArrayRef<int64_t> inputShape,
                          ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                          ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation,
                          SmallVectorImpl<int64_t> &outputSize,
                          bool ceilMode = false) {
  struct Named {
    StringRef name;
    ArrayRef<int64_t> values;
    int64_t minimum;
  } attrs[] = {{"kernel size", kernel, 1},
               {"stride", stride, 1},
               {"padding", padding, 0},
               {"dilation", dilation, 1}};
  for (const Named &attr : attrs) {
    if (attr.values.size() != 2)
      return d.fail(attr.name, " must have 2 values [height, width], got ",
                    str(attr.values));
    if (llvm::any_of(attr.values, [&](int64_t v) { return v < attr.minimum; }))
      return d.fail(attr.name, " values must be at least ", attr.minimum,
                    ", got ", str(attr.values));
  }
  outputSize.clear();
  for (int i = 0; i < 2; ++i) {
    int64_t span = dilation[i] * (kernel[i] - 1) + 1;
    int64_t padded = inputShape[2 + i] + 2 * padding[i];
    int64_t size =
        llvm::divideFloorSigned(padded - span + (ceilMode ? stride[i] - 1 : 0),
                                stride[i]) +
        1;
    if (ceilMode && (size - 1) * stride[i] >= inputShape[2 + i] + padding[i])
      --size;
    if (size < 1)
      return d.fail("the ", kernel[0], "x", kernel[1], " window (dilation ",
                    str(dilation), ", padding ", str(padding),
                    ceilMode ? ", ceil_mode" : "", ") does not fit the ",
                    inputShape[2], "x", inputShape[3], " input");
    outputSize.push_back(size);
  }
  return success();
}

LogicalResult checkOptionalBias(const Diagnoser &d, Value bias,
                                int64_t outputs) {
  if (bias)
    return checkShape(d, bias, "bias", {outputs}, "[O]");
  return success();
}

StringRef structureOperandNames(Structure structure) {
  switch (structure) {
  case Structure::Identity:
    return "none";
  case Structure::Diagonal:
    return "m";
  case Structure::Full:
    return "M";
  case Structure::Cholesky:
    return "L";
  case Structure::ShapeMasked:
    return "d_r, R";
  }
  llvm_unreachable("unknown structure");
}

size_t structureOperandCount(Structure structure) {
  switch (structure) {
  case Structure::Identity:
    return 0;
  case Structure::ShapeMasked:
    return 2;
  default:
    return 1;
  }
}

/// The spatial frame a dynamic similarity must match: batch and output size
/// of the convolution it modulates.
struct DynamicFrame {
  int64_t batch, height, width;
};

/// Checks the similarity operands of a layer with K = `taps` (DESIGN.md §1,
/// the table in the ops' descriptions). `frame` is set for dynamic ones.
LogicalResult checkSimilarity(const Diagnoser &d, Structure structure,
                              ValueRange operands, int64_t taps,
                              std::optional<DynamicFrame> frame) {
  StringRef name = stringifyStructure(structure);
  size_t expectedCount = structureOperandCount(structure);
  if (operands.size() != expectedCount)
    return d.fail("structure '", name, "' takes ", expectedCount,
                  " similarity operand(s) (", structureOperandNames(structure),
                  "), got ", operands.size());
  if (frame &&
      (structure == Structure::Identity || structure == Structure::Cholesky))
    return d.fail("structure '", name,
                  "' cannot be dynamic (dynamic structures: diagonal, full, "
                  "shape_masked)");
  int64_t k = taps, k2 = taps * taps;
  auto staticShape = [&](Value value, StringRef what, bool diagonalAllowed,
                         bool fullAllowed) -> LogicalResult {
    ArrayRef<int64_t> shape = shapeOf(value);
    if ((diagonalAllowed && shape == ArrayRef<int64_t>{k}) ||
        (fullAllowed && shape == ArrayRef<int64_t>{k, k}))
      return success();
    std::string expected = diagonalAllowed && fullAllowed
                               ? str({k}) + " or " + str({k, k})
                           : diagonalAllowed ? str({k})
                                             : str({k, k});
    return d.fail("static ", name, " similarity operand ", what,
                  " must have shape ", expected, " for K = ", k, " taps, got ",
                  str(shape));
  };
  auto dynamicShape = [&](Value value, StringRef what, bool diagonalAllowed,
                          bool fullAllowed) -> LogicalResult {
    ArrayRef<int64_t> shape = shapeOf(value);
    SmallVector<int64_t> diagonal{frame->batch, k, frame->height, frame->width};
    SmallVector<int64_t> full{frame->batch, k2, frame->height, frame->width};
    if ((diagonalAllowed && shape == ArrayRef<int64_t>(diagonal)) ||
        (fullAllowed && shape == ArrayRef<int64_t>(full)))
      return success();
    std::string expected = diagonalAllowed && fullAllowed
                               ? str(diagonal) + " (N, K, Ho, Wo) or " +
                                     str(full) + " (N, K·K, Ho, Wo)"
                           : diagonalAllowed ? str(diagonal) + " (N, K, Ho, Wo)"
                                             : str(full) + " (N, K·K, Ho, Wo)";
    InFlightDiagnostic diag = d.emit();
    diag << "dynamic " << name << " similarity operand " << what
         << " must have shape " << expected << " for K = " << k
         << " taps and the " << frame->height << "x" << frame->width
         << " output, got " << str(shape);
    // The two dynamic layouts are easily confused: say which one was given.
    if (shape.size() == 4 && !diagonalAllowed && shape[1] == k)
      diag << " (K channels is the layout of a diagonal (DNS) similarity)";
    if (shape.size() == 4 && !fullAllowed && shape[1] == k2 && k2 != k)
      diag << " (K·K channels is the layout of a full (UNS) similarity)";
    return diag;
  };
  switch (structure) {
  case Structure::Identity:
    return success();
  case Structure::Diagonal:
    return frame ? dynamicShape(operands[0], "m", true, false)
                 : staticShape(operands[0], "m", true, false);
  case Structure::Full:
    return frame ? dynamicShape(operands[0], "M", false, true)
                 : staticShape(operands[0], "M", false, true);
  case Structure::Cholesky:
    return staticShape(operands[0], "L", false, true);
  case Structure::ShapeMasked:
    if (failed(staticShape(operands[0], "d_r", true, false)))
      return failure();
    return frame ? dynamicShape(operands[1], "R", true, true)
                 : staticShape(operands[1], "R", true, true);
  }
  llvm_unreachable("unknown structure");
}

LogicalResult checkAlpha(const Diagnoser &d, Structure structure, float alpha) {
  if (alpha != 0.0f && structure != Structure::ShapeMasked)
    return d.fail("'alpha' (the kernel shape threshold) applies only to the "
                  "shape_masked structure");
  return success();
}

LogicalResult checkResults(const Diagnoser &d, TypeRange actual,
                           ArrayRef<Type> expected) {
  for (auto [index, pair] : llvm::enumerate(llvm::zip(actual, expected))) {
    auto [got, want] = pair;
    if (got != want) {
      InFlightDiagnostic diag = d.emit();
      diag << "result #" << index << " must be " << want << ", got " << got;
      return diag;
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Per-op checkers: validate and compute the result types.
//===----------------------------------------------------------------------===//

template <typename Adaptor>
LogicalResult checkConvInputs(const Diagnoser &d, Adaptor adaptor,
                              SmallVectorImpl<int64_t> &outputSize,
                              int64_t groups = 1) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 4, "[N, C, H, W]")) ||
      failed(
          checkRank(d, adaptor.getWeight(), "weight", 4,
                    groups == 1 ? "[O, C, kh, kw]" : "[O, C/groups, kh, kw]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  if (groups > 1 && input[1] % groups != 0)
    return d.fail("groups = ", groups, " must divide the ", input[1],
                  " input channels");
  if (groups > 1 && weight[1] * groups != input[1])
    return d.fail("weight ", str(weight), " expects ", weight[1], " × ", groups,
                  " groups = ", weight[1] * groups,
                  " input channels but the input ", str(input), " has ",
                  input[1]);
  if (groups == 1 && weight[1] != input[1])
    return d.fail("weight ", str(weight), " expects ", weight[1],
                  " input channels but the input ", str(input), " has ",
                  input[1]);
  return checkWindow(d, input, weight.drop_front(2), adaptor.getStride(),
                     adaptor.getPadding(), adaptor.getDilation(), outputSize);
}

LogicalResult check(const Diagnoser &d, SimConv2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> out;
  int64_t groups = adaptor.getGroups();
  if (groups < 1)
    return d.fail("groups must be positive, got ", groups);
  if (failed(checkConvInputs(d, adaptor, out, groups)))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  if (groups > 1 && weight[0] % groups != 0)
    return d.fail("groups = ", groups, " must divide the ", weight[0],
                  " output channels");
  std::optional<DynamicFrame> frame;
  if (adaptor.getDynamic())
    frame = DynamicFrame{input[0], out[0], out[1]};
  if (failed(checkSimilarity(d, adaptor.getStructure(), adaptor.getSimilarity(),
                             weight[2] * weight[3], frame)) ||
      failed(checkAlpha(d, adaptor.getStructure(),
                        adaptor.getAlpha().convertToFloat())) ||
      failed(checkOptionalBias(d, adaptor.getBias(), weight[0])))
    return failure();
  types.push_back(f32Tensor(adaptor.getInput().getContext(),
                            {input[0], weight[0], out[0], out[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, SphereConv2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> out;
  if (failed(checkConvInputs(d, adaptor, out)))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  SphereVariant variant = adaptor.getVariant();
  bool learned = variant == SphereVariant::LearnedSigmoid;
  if (learned && !adaptor.getKParam())
    return d.fail("variant 'learned_sigmoid' needs a k_param operand of shape "
                  "[O] = ",
                  str({weight[0]}));
  if (!learned && adaptor.getKParam())
    return d.fail("k_param is only used by the 'learned_sigmoid' variant, not "
                  "by '",
                  stringifySphereVariant(variant), "'");
  if (learned &&
      failed(checkShape(d, adaptor.getKParam(), "k_param", {weight[0]}, "[O]")))
    return failure();
  if (adaptor.getInputOnly() && variant != SphereVariant::Cosine)
    return d.fail("'input_only' applies to the cosine variant only, got '",
                  stringifySphereVariant(variant), "'");
  if (!(adaptor.getEpsilon().convertToFloat() > 0.0f))
    return d.fail("epsilon must be positive, got ",
                  adaptor.getEpsilon().convertToFloat());
  if (variant == SphereVariant::Sigmoid &&
      !(adaptor.getSigmoidK().convertToFloat() > 0.0f))
    return d.fail("sigmoid_k must be positive, got ",
                  adaptor.getSigmoidK().convertToFloat());
  types.push_back(f32Tensor(adaptor.getInput().getContext(),
                            {input[0], weight[0], out[0], out[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, PatchNormOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 4, "[N, C, H, W]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  SmallVector<int64_t> out;
  if (failed(checkWindow(d, input, adaptor.getKernelSize(), adaptor.getStride(),
                         adaptor.getPadding(), adaptor.getDilation(), out)))
    return failure();
  if (!(adaptor.getEpsilon().convertToFloat() > 0.0f))
    return d.fail("epsilon must be positive, got ",
                  adaptor.getEpsilon().convertToFloat());
  types.push_back(f32Tensor(adaptor.getInput().getContext(),
                            {input[0], 1, out[0], out[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, PredictedSimilarityOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  Structure structure = adaptor.getStructure();
  if (structure != Structure::Diagonal && structure != Structure::Full)
    return d.fail("a predicted similarity is 'diagonal' (DNS) or 'full' (UNS), "
                  "got '",
                  stringifyStructure(structure), "'");
  if (failed(checkRank(d, adaptor.getPrediction(), "prediction", 4,
                       "[N, K or K·K, Ho, Wo]")))
    return failure();
  ArrayRef<int64_t> prediction = shapeOf(adaptor.getPrediction());
  if (structure == Structure::Full) {
    auto k = static_cast<int64_t>(std::llround(std::sqrt(prediction[1])));
    if (k * k != prediction[1])
      return d.fail("a full (UNS) prediction needs K·K channels, got ",
                    prediction[1], " (not a square)");
  }
  if (ShapedType::getNumElements(shapeOf(adaptor.getGamma())) != 1 ||
      shapeOf(adaptor.getGamma()).size() > 1)
    return d.fail("gamma must have one element (shape [] or [1]), got ",
                  str(shapeOf(adaptor.getGamma())));
  types.push_back(adaptor.getPrediction().getType());
  return success();
}

LogicalResult check(const Diagnoser &d, SimLinearOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 2, "[N, F]")) ||
      failed(checkRank(d, adaptor.getWeight(), "weight", 2, "[O, F]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  if (weight[1] != input[1])
    return d.fail("weight ", str(weight), " expects ", weight[1],
                  " input features but the input ", str(input), " has ",
                  input[1]);
  int64_t group = adaptor.getGroupSize();
  if (input[1] % group != 0)
    return d.fail("group_size ", group, " does not divide the ", input[1],
                  " input features");
  if (failed(checkSimilarity(d, adaptor.getStructure(), adaptor.getSimilarity(),
                             group, std::nullopt)) ||
      failed(checkAlpha(d, adaptor.getStructure(),
                        adaptor.getAlpha().convertToFloat())) ||
      failed(checkOptionalBias(d, adaptor.getBias(), weight[0])))
    return failure();
  types.push_back(
      f32Tensor(adaptor.getInput().getContext(), {input[0], weight[0]}));
  return success();
}

LogicalResult check(const Diagnoser &d, FoldSimilarityOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  std::optional<uint64_t> group = adaptor.getGroupSize();
  int64_t taps;
  if (weight.size() == 4) {
    if (group)
      return d.fail("group_size applies to a linear weight [O, F], not to a "
                    "convolution weight ",
                    str(weight));
    taps = weight[2] * weight[3];
  } else if (weight.size() == 2) {
    if (!group)
      return d.fail("a linear weight [O, F] needs group_size");
    if (weight[1] % static_cast<int64_t>(*group) != 0)
      return d.fail("group_size ", *group, " does not divide the ", weight[1],
                    " input features");
    taps = static_cast<int64_t>(*group);
  } else {
    return d.fail("weight must be a convolution weight [O, C, kh, kw] or a "
                  "linear weight [O, F], got ",
                  str(weight));
  }
  if (failed(checkSimilarity(d, adaptor.getStructure(), adaptor.getSimilarity(),
                             taps, std::nullopt)) ||
      failed(checkAlpha(d, adaptor.getStructure(),
                        adaptor.getAlpha().convertToFloat())))
    return failure();
  types.push_back(adaptor.getWeight().getType());
  return success();
}

template <typename Adaptor>
LogicalResult checkBatchNormOperands(const Diagnoser &d, Adaptor adaptor) {
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  if (input.size() != 2 && input.size() != 4)
    return d.fail("input must be [N, C] or [N, C, H, W], got ", str(input));
  int64_t channels = input[1];
  std::pair<Value, StringRef> parameters[] = {
      {adaptor.getWeight(), "weight"},
      {adaptor.getBias(), "bias"},
      {adaptor.getRunningMean(), "running_mean"},
      {adaptor.getRunningVar(), "running_var"}};
  for (auto [value, name] : parameters)
    if (failed(checkShape(d, value, name, {channels}, "[C]")))
      return failure();
  if (!(adaptor.getEpsilon().convertToFloat() > 0.0f))
    return d.fail("epsilon must be positive, got ",
                  adaptor.getEpsilon().convertToFloat());
  return success();
}

LogicalResult check(const Diagnoser &d, BatchNormOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkBatchNormOperands(d, adaptor)))
    return failure();
  types.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult check(const Diagnoser &d, BatchNormTrainOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkBatchNormOperands(d, adaptor)))
    return failure();
  float momentum = adaptor.getMomentum().convertToFloat();
  if (!(momentum >= 0.0f && momentum <= 1.0f))
    return d.fail("momentum must be in [0, 1], got ", momentum);
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  if (ShapedType::getNumElements(input) / input[1] < 2)
    return d.fail("training batch norm needs more than one value per channel "
                  "to estimate the variance, got input ",
                  str(input));
  types.push_back(adaptor.getInput().getType());
  types.append(4, adaptor.getWeight().getType());
  return success();
}

LogicalResult checkPoolPadding(const Diagnoser &d, ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> padding) {
  for (int i = 0; i < 2; ++i)
    if (padding[i] * 2 > kernel[i])
      return d.fail("padding ", str(padding),
                    " must be at most half of the kernel size ", str(kernel));
  return success();
}

LogicalResult check(const Diagnoser &d, MaxPool2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 4, "[N, C, H, W]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  SmallVector<int64_t> out;
  if (failed(checkWindow(d, input, adaptor.getKernelSize(), adaptor.getStride(),
                         adaptor.getPadding(), adaptor.getDilation(), out,
                         adaptor.getCeilMode())) ||
      failed(
          checkPoolPadding(d, adaptor.getKernelSize(), adaptor.getPadding())))
    return failure();
  types.push_back(f32Tensor(adaptor.getInput().getContext(),
                            {input[0], input[1], out[0], out[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, AvgPool2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 4, "[N, C, H, W]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  SmallVector<int64_t> out;
  int64_t unit[] = {1, 1};
  if (failed(checkWindow(d, input, adaptor.getKernelSize(), adaptor.getStride(),
                         adaptor.getPadding(), unit, out,
                         adaptor.getCeilMode())) ||
      failed(
          checkPoolPadding(d, adaptor.getKernelSize(), adaptor.getPadding())))
    return failure();
  types.push_back(f32Tensor(adaptor.getInput().getContext(),
                            {input[0], input[1], out[0], out[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, GlobalAvgPool2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 4, "[N, C, H, W]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  types.push_back(
      f32Tensor(adaptor.getInput().getContext(), {input[0], input[1], 1, 1}));
  return success();
}

/// An adaptive pool: [N, C, H, W] → [N, C, Ho, Wo] for any output size ≥ 1.
LogicalResult checkAdaptivePool(const Diagnoser &d, Value input,
                                ArrayRef<int64_t> outputSize,
                                SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, input, "input", 4, "[N, C, H, W]")))
    return failure();
  if (outputSize.size() != 2)
    return d.fail("output size must have 2 values [height, width], got ",
                  str(outputSize));
  if (llvm::any_of(outputSize, [](int64_t v) { return v < 1; }))
    return d.fail("output size values must be at least 1, got ",
                  str(outputSize));
  ArrayRef<int64_t> shape = shapeOf(input);
  types.push_back(f32Tensor(
      input.getContext(), {shape[0], shape[1], outputSize[0], outputSize[1]}));
  return success();
}

LogicalResult check(const Diagnoser &d, AdaptiveAvgPool2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  return checkAdaptivePool(d, adaptor.getInput(), adaptor.getOutputSize(),
                           types);
}

LogicalResult check(const Diagnoser &d, AdaptiveMaxPool2dOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  return checkAdaptivePool(d, adaptor.getInput(), adaptor.getOutputSize(),
                           types);
}

LogicalResult check(const Diagnoser &d, LinearOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getInput(), "input", 2, "[N, F]")) ||
      failed(checkRank(d, adaptor.getWeight(), "weight", 2, "[O, F]")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> weight = shapeOf(adaptor.getWeight());
  if (weight[1] != input[1])
    return d.fail("weight ", str(weight), " expects ", weight[1],
                  " input features but the input ", str(input), " has ",
                  input[1]);
  if (failed(checkOptionalBias(d, adaptor.getBias(), weight[0])))
    return failure();
  types.push_back(
      f32Tensor(adaptor.getInput().getContext(), {input[0], weight[0]}));
  return success();
}

LogicalResult check(const Diagnoser &d, FlattenOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  if (input.size() < 2)
    return d.fail("input must have a batch dimension and at least one more, "
                  "got ",
                  str(input));
  types.push_back(
      f32Tensor(adaptor.getInput().getContext(),
                {input[0], ShapedType::getNumElements(input.drop_front())}));
  return success();
}

LogicalResult check(const Diagnoser &d, ConcatOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return d.fail("needs at least one input");
  SmallVector<int64_t> result(shapeOf(inputs.front()));
  int64_t rank = static_cast<int64_t>(result.size());
  int64_t dim = static_cast<int64_t>(adaptor.getDim());
  if (rank < 2)
    return d.fail("inputs must have a batch dimension and at least one more, "
                  "got ",
                  str(result));
  if (dim < 1 || dim >= rank)
    return d.fail("dim must be a dimension after the batch, 1 to ", rank - 1,
                  ", got ", dim);
  for (auto [index, input] : llvm::enumerate(inputs.drop_front())) {
    ArrayRef<int64_t> shape = shapeOf(input);
    bool fits = static_cast<int64_t>(shape.size()) == rank;
    for (int64_t i = 0; fits && i < rank; ++i)
      fits = i == dim || shape[i] == result[i];
    if (!fits)
      return d.fail("input #", index + 1, " ", str(shape),
                    " must have the shape of input #0 ",
                    str(shapeOf(inputs.front())), " but along dim ", dim);
    result[dim] += shape[dim];
  }
  types.push_back(f32Tensor(inputs.front().getContext(), result));
  return success();
}

LogicalResult check(const Diagnoser &d, ReshapeOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> shape = adaptor.getShape();
  if (shape.empty() || shape.size() > 6)
    return d.fail("shape must have rank 1 to 6, got ", str(shape));
  if (llvm::any_of(shape, [](int64_t size) { return size < 1; }))
    return d.fail("shape must have positive sizes, got ", str(shape));
  if (ShapedType::getNumElements(shape) != ShapedType::getNumElements(input))
    return d.fail("shape ", str(shape), " holds ",
                  ShapedType::getNumElements(shape), " elements but the input ",
                  str(input), " holds ", ShapedType::getNumElements(input));
  types.push_back(f32Tensor(adaptor.getInput().getContext(), shape));
  return success();
}

LogicalResult check(const Diagnoser &d, TransposeOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> permutation = adaptor.getPermutation();
  int64_t rank = static_cast<int64_t>(input.size());
  SmallVector<bool> seen(input.size(), false);
  bool valid = static_cast<int64_t>(permutation.size()) == rank;
  for (int64_t dim : permutation) {
    valid = valid && dim >= 0 && dim < rank && !seen[dim];
    if (valid)
      seen[dim] = true;
  }
  if (!valid)
    return d.fail("permutation ", str(permutation),
                  " must order the input's dimensions 0 to ", rank - 1,
                  ", each once");
  SmallVector<int64_t> result;
  for (int64_t dim : permutation)
    result.push_back(input[dim]);
  types.push_back(f32Tensor(adaptor.getInput().getContext(), result));
  return success();
}

LogicalResult check(const Diagnoser &d, SliceOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape(shapeOf(adaptor.getInput()));
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t dim = static_cast<int64_t>(adaptor.getDim());
  int64_t start = static_cast<int64_t>(adaptor.getStart());
  int64_t size = static_cast<int64_t>(adaptor.getSize());
  if (dim < 0 || dim >= rank)
    return d.fail("dim must be 0 to ", rank - 1, ", got ", dim);
  if (start < 0 || size < 1 || start + size > shape[dim])
    return d.fail("the range [", start, ", ", start + size,
                  ") must be non-empty and lie in [0, ", shape[dim],
                  ") along dim ", dim, " of the input ", str(shape));
  shape[dim] = size;
  types.push_back(f32Tensor(adaptor.getInput().getContext(), shape));
  return success();
}

/// The reductions share their checker.
template <typename Adaptor>
LogicalResult checkReduce(const Diagnoser &d, Adaptor adaptor,
                          SmallVectorImpl<Type> &types) {
  ArrayRef<int64_t> input = shapeOf(adaptor.getInput());
  ArrayRef<int64_t> dims = adaptor.getDims();
  int64_t rank = static_cast<int64_t>(input.size());
  bool valid = !dims.empty();
  for (auto [i, dim] : llvm::enumerate(dims))
    valid = valid && dim >= 0 && dim < rank && (i == 0 || dims[i - 1] < dim);
  if (!valid)
    return d.fail("dims ", str(dims),
                  " must be distinct ascending dimensions of the input ",
                  str(input), ", at least one");
  SmallVector<int64_t> result;
  for (int64_t i = 0; i < rank; ++i) {
    if (!llvm::is_contained(dims, i))
      result.push_back(input[i]);
    else if (adaptor.getKeepdim())
      result.push_back(1);
  }
  types.push_back(f32Tensor(adaptor.getInput().getContext(), result));
  return success();
}

LogicalResult check(const Diagnoser &d, ReduceSumOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  return checkReduce(d, adaptor, types);
}

LogicalResult check(const Diagnoser &d, ReduceMeanOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  return checkReduce(d, adaptor, types);
}

LogicalResult check(const Diagnoser &d, ReduceMaxOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  return checkReduce(d, adaptor, types);
}

LogicalResult check(const Diagnoser &d, SoftmaxCrossEntropyOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getLogits(), "logits", 2, "[N, C]")))
    return failure();
  ArrayRef<int64_t> logits = shapeOf(adaptor.getLogits());
  if (shapeOf(adaptor.getLabels()) != ArrayRef<int64_t>{logits[0]})
    return d.fail("labels must have shape [N] = ", str({logits[0]}),
                  " to match the logits ", str(logits), ", got ",
                  str(shapeOf(adaptor.getLabels())));
  float smoothing = adaptor.getLabelSmoothing().convertToFloat();
  if (!(smoothing >= 0.0f && smoothing <= 1.0f))
    return d.fail("label_smoothing must be in [0, 1], got ", smoothing);
  types.push_back(f32Tensor(adaptor.getLogits().getContext(), {}));
  return success();
}

//===----------------------------------------------------------------------===//
// Training ops: regularisers, accuracy and optimizer updates.
//===----------------------------------------------------------------------===//

LogicalResult checkStrength(const Diagnoser &d, APFloat strength) {
  float value = strength.convertToFloat();
  if (!(value >= 0.0f) || std::isinf(value))
    return d.fail("strength must be a finite number >= 0, got ", value);
  return success();
}

LogicalResult check(const Diagnoser &d, L1PenaltyOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkStrength(d, adaptor.getStrength())))
    return failure();
  types.push_back(f32Tensor(adaptor.getInput().getContext(), {}));
  return success();
}

LogicalResult check(const Diagnoser &d, OrthogonalityPenaltyOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (shapeOf(adaptor.getInput()).size() < 2)
    return d.fail("input must be a weight of rank 2 or more ([O, ...], one "
                  "filter per row), got ",
                  str(shapeOf(adaptor.getInput())));
  if (failed(checkStrength(d, adaptor.getStrength())))
    return failure();
  types.push_back(f32Tensor(adaptor.getInput().getContext(), {}));
  return success();
}

LogicalResult check(const Diagnoser &d, CountCorrectOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  if (failed(checkRank(d, adaptor.getLogits(), "logits", 2, "[N, C]")))
    return failure();
  ArrayRef<int64_t> logits = shapeOf(adaptor.getLogits());
  if (shapeOf(adaptor.getLabels()) != ArrayRef<int64_t>{logits[0]})
    return d.fail("labels must have shape [N] = ", str({logits[0]}),
                  " to match the logits ", str(logits), ", got ",
                  str(shapeOf(adaptor.getLabels())));
  types.push_back(RankedTensorType::get(
      {}, IntegerType::get(adaptor.getLogits().getContext(), 64)));
  return success();
}

/// The operands every update shares: a gradient of the parameter's shape,
/// rank-0 step and learning rate, non-negative finite hyper-parameters.
LogicalResult checkUpdate(const Diagnoser &d, Value param, Value grad,
                          Value step, Value lr,
                          ArrayRef<std::pair<StringRef, float>> nonNegative) {
  if (failed(checkShape(d, grad, "grad", shapeOf(param), "the parameter's")) ||
      failed(checkShape(d, step, "step", {}, "[] (rank 0)")) ||
      failed(checkShape(d, lr, "lr", {}, "[] (rank 0)")))
    return failure();
  for (auto [name, value] : nonNegative)
    if (!(value >= 0.0f) || std::isinf(value))
      return d.fail(name, " must be a finite number >= 0, got ", value);
  return success();
}

LogicalResult check(const Diagnoser &d, SgdUpdateOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  float momentum = adaptor.getMomentum().convertToFloat();
  float dampening = adaptor.getDampening().convertToFloat();
  if (failed(checkUpdate(
          d, adaptor.getParam(), adaptor.getGrad(), adaptor.getStep(),
          adaptor.getLr(),
          {{"momentum", momentum},
           {"dampening", dampening},
           {"weight_decay", adaptor.getWeightDecay().convertToFloat()}})))
    return failure();
  if (adaptor.getNesterov() && (momentum <= 0.0f || dampening != 0.0f))
    return d.fail("nesterov momentum requires a momentum and zero dampening");
  Value buffer = adaptor.getMomentumBuffer();
  if ((momentum != 0.0f) != static_cast<bool>(buffer))
    return d.fail("the momentum buffer must be given exactly when momentum "
                  "is not 0 (momentum ",
                  momentum, ", buffer ", buffer ? "given" : "absent", ")");
  if (buffer &&
      failed(checkShape(d, buffer, "momentum_buffer",
                        shapeOf(adaptor.getParam()), "the parameter's")))
    return failure();
  types.push_back(adaptor.getParam().getType());
  if (buffer)
    types.push_back(buffer.getType());
  return success();
}

LogicalResult check(const Diagnoser &d, AdamUpdateOp::Adaptor adaptor,
                    SmallVectorImpl<Type> &types) {
  float beta1 = adaptor.getBeta1().convertToFloat();
  float beta2 = adaptor.getBeta2().convertToFloat();
  if (failed(checkUpdate(
          d, adaptor.getParam(), adaptor.getGrad(), adaptor.getStep(),
          adaptor.getLr(),
          {{"eps", adaptor.getEps().convertToFloat()},
           {"weight_decay", adaptor.getWeightDecay().convertToFloat()}})))
    return failure();
  if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
    return d.fail("beta1 and beta2 must be in [0, 1), got ", beta1, " and ",
                  beta2);
  ArrayRef<int64_t> shape = shapeOf(adaptor.getParam());
  Value vmax = adaptor.getMaxExpAvgSq();
  if (adaptor.getAmsgrad() != static_cast<bool>(vmax))
    return d.fail("max_exp_avg_sq must be given exactly with amsgrad");
  if (failed(checkShape(d, adaptor.getExpAvg(), "exp_avg", shape,
                        "the parameter's")) ||
      failed(checkShape(d, adaptor.getExpAvgSq(), "exp_avg_sq", shape,
                        "the parameter's")) ||
      (vmax &&
       failed(checkShape(d, vmax, "max_exp_avg_sq", shape, "the parameter's"))))
    return failure();
  for (int i = 0; i < (vmax ? 4 : 3); ++i)
    types.push_back(adaptor.getParam().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// VJP ops: the forward op's checker on the forward operands.
//===----------------------------------------------------------------------===//

/// Checks `wrt` and the gradients an op returns: ascending indices of f32
/// forward operands, one result of the operand's type each.
LogicalResult checkWrt(const Diagnoser &d, Operation *op,
                       ValueRange forwardOperands, ArrayRef<int64_t> wrt) {
  if (wrt.empty())
    return d.fail("'wrt' must name at least one operand");
  for (auto [i, index] : llvm::enumerate(wrt)) {
    if (index < 0 || index >= static_cast<int64_t>(forwardOperands.size()))
      return d.fail("'wrt' index ", index, " is not a forward operand (0..",
                    forwardOperands.size() - 1, ")");
    if (i > 0 && index <= wrt[i - 1])
      return d.fail("'wrt' must be strictly ascending, got ", str(wrt));
    if (!cast<RankedTensorType>(forwardOperands[index].getType())
             .getElementType()
             .isF32())
      return d.fail("operand ", index, " is not differentiable (not f32)");
  }
  if (op->getNumResults() != wrt.size())
    return d.fail("returns ", op->getNumResults(),
                  " gradient(s) but 'wrt' "
                  "names ",
                  wrt.size(), " operand(s)");
  for (auto [index, result] : llvm::zip(wrt, op->getResults()))
    if (result.getType() != forwardOperands[index].getType())
      return d.fail("the gradient of operand ", index, " must have its type ",
                    forwardOperands[index].getType(), ", got ",
                    result.getType());
  return success();
}

/// Runs Forward's checker on the VJP op's forward operands and attributes,
/// then checks the upstream gradient (the last operand) against the forward
/// op's first result and `wrt`.
template <typename Forward, typename VJP> LogicalResult verifyVJP(VJP op) {
  Operation *operation = op.getOperation();
  Diagnoser d(operation);
  ValueRange forwardOperands = operation->getOperands().drop_back(1);
  Value gradOutput = operation->getOperands().back();
  // The VJP op's properties less its own, as the forward op's.
  NamedAttrList attrs;
  if (auto dict = dyn_cast_or_null<DictionaryAttr>(
          operation->getPropertiesAsAttribute()))
    for (NamedAttribute attr : dict) {
      if (attr.getName() == "wrt")
        continue;
      if (attr.getName() == "operandSegmentSizes") {
        auto sizes = cast<DenseI32ArrayAttr>(attr.getValue()).asArrayRef();
        attrs.append(attr.getName(),
                     DenseI32ArrayAttr::get(operation->getContext(),
                                            sizes.drop_back(1)));
        continue;
      }
      attrs.push_back(attr);
    }
  typename Forward::Properties properties;
  if (failed(Forward::setPropertiesFromAttr(
          properties, attrs.getDictionary(operation->getContext()),
          [&] { return operation->emitOpError(); })))
    return failure();
  typename Forward::Adaptor adaptor(forwardOperands, DictionaryAttr(),
                                    properties);
  SmallVector<Type> forwardTypes;
  if (failed(check(d, adaptor, forwardTypes)))
    return failure();
  if (gradOutput.getType() != forwardTypes.front())
    return d.fail("the upstream gradient must have the forward result type ",
                  forwardTypes.front(), ", got ", gradOutput.getType());
  return checkWrt(d, operation, forwardOperands, op.getWrt());
}

} // namespace

LogicalResult mlir::nsl::verifyGradients(Operation *op,
                                         ValueRange forwardOperands,
                                         ArrayRef<int64_t> wrt) {
  return checkWrt(Diagnoser(op), op, forwardOperands, wrt);
}

// Every op verifies and infers its result types with its checker.
#define NSL_CHECKED_OP(OP)                                                     \
  LogicalResult OP::verify() {                                                 \
    SmallVector<Type> types;                                                   \
    Diagnoser d(getOperation());                                               \
    if (failed(check(d, Adaptor(*this), types)))                               \
      return failure();                                                        \
    return checkResults(d, getOperation()->getResultTypes(), types);           \
  }                                                                            \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *context, std::optional<Location> location, Adaptor adaptor, \
      SmallVectorImpl<Type> &inferredReturnTypes) {                            \
    return check(Diagnoser(location), adaptor, inferredReturnTypes);           \
  }

NSL_CHECKED_OP(SimConv2dOp)
NSL_CHECKED_OP(SphereConv2dOp)
NSL_CHECKED_OP(PatchNormOp)
NSL_CHECKED_OP(PredictedSimilarityOp)
NSL_CHECKED_OP(SimLinearOp)
NSL_CHECKED_OP(FoldSimilarityOp)
NSL_CHECKED_OP(BatchNormOp)
NSL_CHECKED_OP(BatchNormTrainOp)
NSL_CHECKED_OP(MaxPool2dOp)
NSL_CHECKED_OP(AvgPool2dOp)
NSL_CHECKED_OP(GlobalAvgPool2dOp)
NSL_CHECKED_OP(AdaptiveAvgPool2dOp)
NSL_CHECKED_OP(AdaptiveMaxPool2dOp)
NSL_CHECKED_OP(LinearOp)
NSL_CHECKED_OP(FlattenOp)
NSL_CHECKED_OP(ConcatOp)
NSL_CHECKED_OP(ReshapeOp)
NSL_CHECKED_OP(TransposeOp)
NSL_CHECKED_OP(SliceOp)
NSL_CHECKED_OP(ReduceSumOp)
NSL_CHECKED_OP(ReduceMeanOp)
NSL_CHECKED_OP(ReduceMaxOp)
NSL_CHECKED_OP(SoftmaxCrossEntropyOp)
NSL_CHECKED_OP(L1PenaltyOp)
NSL_CHECKED_OP(OrthogonalityPenaltyOp)
NSL_CHECKED_OP(CountCorrectOp)
NSL_CHECKED_OP(SgdUpdateOp)
NSL_CHECKED_OP(AdamUpdateOp)

#define NSL_VJP_OP(FORWARD)                                                    \
  LogicalResult FORWARD##VJPOp::verify() {                                     \
    return verifyVJP<FORWARD##Op>(*this);                                      \
  }

NSL_VJP_OP(SimConv2d)
NSL_VJP_OP(SphereConv2d)
NSL_VJP_OP(PatchNorm)
NSL_VJP_OP(PredictedSimilarity)
NSL_VJP_OP(FoldSimilarity)
NSL_VJP_OP(Linear)
NSL_VJP_OP(BatchNormTrain)
NSL_VJP_OP(MaxPool2d)
NSL_VJP_OP(AvgPool2d)
NSL_VJP_OP(GlobalAvgPool2d)
NSL_VJP_OP(AdaptiveAvgPool2d)
NSL_VJP_OP(AdaptiveMaxPool2d)
NSL_VJP_OP(Flatten)
NSL_VJP_OP(Concat)
NSL_VJP_OP(Slice)
NSL_VJP_OP(ReduceSum)
NSL_VJP_OP(ReduceMean)
NSL_VJP_OP(ReduceMax)
NSL_VJP_OP(SoftmaxCrossEntropy)
NSL_VJP_OP(L1Penalty)
NSL_VJP_OP(OrthogonalityPenalty)

LogicalResult ReluVJPOp::verify() {
  Diagnoser d(getOperation());
  if (getGradOutput().getType() != getInput().getType())
    return d.fail("the upstream gradient must have the input's type ",
                  getInput().getType(), ", got ", getGradOutput().getType());
  return checkWrt(d, getOperation(), getOperation()->getOperands().drop_back(1),
                  getWrt());
}
#undef NSL_CHECKED_OP

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

OpFoldResult ReluOp::fold(FoldAdaptor adaptor) {
  // relu is idempotent.
  if (getInput().getDefiningOp<ReluOp>())
    return getInput();
  return {};
}

OpFoldResult FlattenOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  // A reshape of a reshape reads the first one's input.
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> permutation = getPermutation();
  for (auto [i, dim] : llvm::enumerate(permutation))
    if (dim != static_cast<int64_t>(i))
      return {};
  return getInput();
}

SmallVector<double>
mlir::nsl::staticSimilarityMatrix(Structure structure, int64_t taps,
                                  ArrayRef<SmallVector<double>> operands,
                                  double alpha) {
  int64_t k = taps;
  SmallVector<double> m(k * k, 0.0);
  auto square = [&](ArrayRef<double> r, int64_t t, int64_t s) {
    // An R of K elements is diagonal.
    if (static_cast<int64_t>(r.size()) == k)
      return t == s ? r[t] : 0.0;
    return r[t * k + s];
  };
  for (int64_t t = 0; t < k; ++t) {
    for (int64_t s = 0; s < k; ++s) {
      double value = 0.0;
      switch (structure) {
      case Structure::Identity:
        value = t == s ? 1.0 : 0.0;
        break;
      case Structure::Diagonal:
        value = t == s ? operands[0][t] : 0.0;
        break;
      case Structure::Full:
        value = operands[0][t * k + s];
        break;
      case Structure::Cholesky:
        // (L Lᵀ)[t,s] over the lower triangle of L only.
        for (int64_t j = 0; j <= std::min(t, s); ++j)
          value += operands[0][t * k + j] * operands[0][s * k + j];
        break;
      case Structure::ShapeMasked:
        value = operands[0][t] > alpha ? square(operands[1], t, s) : 0.0;
        break;
      }
      m[t * k + s] = value;
    }
  }
  return m;
}

OpFoldResult FoldSimilarityOp::fold(FoldAdaptor adaptor) {
  if (getStructure() == Structure::Identity)
    return getWeight();
  // Fold to a constant when the weight and every similarity operand are
  // constants (a frozen inference build).
  auto weight = dyn_cast_or_null<DenseElementsAttr>(adaptor.getWeight());
  if (!weight)
    return {};
  SmallVector<SmallVector<double>> operands;
  for (Attribute attr : adaptor.getSimilarity()) {
    auto elements = dyn_cast_or_null<DenseElementsAttr>(attr);
    if (!elements)
      return {};
    operands.emplace_back(llvm::map_range(elements.getValues<float>(),
                                          [](float v) { return double(v); }));
  }
  ArrayRef<int64_t> shape = getType().getShape();
  int64_t taps = getGroupSize() ? static_cast<int64_t>(*getGroupSize())
                                : shape[2] * shape[3];
  SmallVector<double> m = staticSimilarityMatrix(getStructure(), taps, operands,
                                                 getAlpha().convertToDouble());
  SmallVector<float> w(weight.getValues<float>());
  SmallVector<float> folded(w.size());
  // Rows of `taps` consecutive values share M: [O, C, K] or [O, G, B].
  for (size_t row = 0; row < w.size(); row += taps)
    for (int64_t s = 0; s < taps; ++s) {
      double sum = 0.0;
      for (int64_t t = 0; t < taps; ++t)
        sum += double(w[row + t]) * m[t * taps + s];
      folded[row + s] = static_cast<float>(sum);
    }
  return DenseElementsAttr::get(getType(), ArrayRef<float>(folded));
}
