//===- LayoutTranslation.cpp - Shapes, reductions and their compositions --===//
//
// The TorchScript nodes that move or reduce elements — view/reshape/flatten,
// (un)squeeze, permute/transpose, slicing, chunk/split and their lists,
// sum/mean/amax/norm — as nsl.reshape, transpose, slice and the reductions,
// and the composite layers built from those and the elementwise rows:
// softmax, log_softmax, layer_norm, linear and matmul on any rank, F.unfold.
// Every shape is static: sizes and -1 resolve here.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/BuildOp.h"

#include "dialect/NSLOps.h"

#include <numeric>

using namespace mlir;

namespace nsl::frontend::importer {
namespace {

std::string listToString(ArrayRef<int64_t> values) {
  std::string text = "[";
  for (auto [index, value] : llvm::enumerate(values))
    text += (index ? ", " : "") + std::to_string(value);
  return text + "]";
}

} // namespace

int64_t Importer::dimension(jit::Node *node, int64_t dim, int64_t rank) {
  int64_t normalised = dim < 0 ? dim + rank : dim;
  if (normalised < 0 || normalised >= std::max<int64_t>(rank, 1))
    fail(node, "dimension " + std::to_string(dim) +
                   " is out of range for a tensor of rank " +
                   std::to_string(rank));
  return normalised;
}

Value Importer::reshapeTo(jit::Node *node, Value x,
                          SmallVector<int64_t> target) {
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t count = ShapedType::getNumElements(shape), known = 1;
  int64_t inferred = -1;
  for (auto [index, size] : llvm::enumerate(target)) {
    if (size == -1 && inferred < 0)
      inferred = static_cast<int64_t>(index);
    else if (size < 1)
      fail(node, "cannot reshape " + shapeToString(shape) + " to " +
                     listToString(target) +
                     ": sizes must be positive, with at most one -1");
    else
      known *= size;
  }
  if (inferred >= 0 && known > 0 && count % known == 0)
    target[inferred] = count / known;
  if (ShapedType::getNumElements(target) != count || target.empty())
    fail(node, "cannot reshape " + shapeToString(shape) + " (" +
                   std::to_string(count) + " elements) to " +
                   listToString(target) +
                   "; if the model was traced, its graph keeps the sizes it "
                   "was traced with: trace it with the --input-shape given "
                   "here (the batch included), or script it");
  if (ArrayRef<int64_t>(target) == shape)
    return x;
  // [N, …] → [N, F]: the flatten a classifier head reads.
  if (shape.size() > 2 && target.size() == 2 && target[0] == shape[0])
    return build<mlir::nsl::FlattenOp>(node, x);
  return build<mlir::nsl::ReshapeOp>(node, x, target);
}

void Importer::reshape(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  setTensor(node, reshapeTo(node, x, ints(node, input(node, "size"))));
}

void Importer::flatten(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t start =
      dimension(node, integer(node, input(node, "start_dim")), rank);
  int64_t end = dimension(node, integer(node, input(node, "end_dim")), rank);
  if (start > end)
    fail(node, "flatten's start_dim must not come after its end_dim");
  SmallVector<int64_t> target(shape.take_front(start));
  if (rank > 0)
    target.push_back(
        ShapedType::getNumElements(shape.slice(start, end - start + 1)));
  else
    target.push_back(1);
  llvm::append_range(target, shape.drop_front(end + 1));
  setTensor(node, reshapeTo(node, x, target));
}

void Importer::squeeze(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = static_cast<int64_t>(shape.size());
  SmallVector<int64_t> target;
  bool unsqueeze = node->kind() == c10::aten::unsqueeze ||
                   node->kind() == c10::aten::unsqueeze_;
  if (unsqueeze) {
    int64_t dim = dimension(node, integer(node, input(node, "dim")), rank + 1);
    target.assign(shape.begin(), shape.end());
    target.insert(target.begin() + dim, 1);
  } else {
    // squeeze(x) drops every size-1 dimension, squeeze(x, dim) that one.
    std::optional<int64_t> dim;
    if (node->schema().argumentIndexWithName("dim"))
      dim = dimension(node, integer(node, input(node, "dim")), rank);
    for (int64_t i = 0; i < rank; ++i)
      if (shape[i] != 1 || (dim && *dim != i))
        target.push_back(shape[i]);
    if (target.empty())
      fail(node, "squeezing " + shapeToString(shape) +
                     " to a scalar is not supported");
  }
  setTensor(node, reshapeTo(node, x, target));
}

Value Importer::permute(jit::Node *node, Value x,
                        ArrayRef<int64_t> permutation) {
  bool identity = true;
  for (auto [i, dim] : llvm::enumerate(permutation))
    identity = identity && dim == static_cast<int64_t>(i);
  if (identity)
    return x;
  return build<mlir::nsl::TransposeOp>(node, x, permutation);
}

void Importer::transpose(jit::Node *node) {
  Value x = tensor(node, node->input(0));
  int64_t rank = static_cast<int64_t>(shapeOf(x).size());
  SmallVector<int64_t> permutation(rank);
  std::iota(permutation.begin(), permutation.end(), 0);
  if (node->kind() == c10::aten::permute) {
    SmallVector<int64_t> dims = ints(node, input(node, "dims"));
    if (static_cast<int64_t>(dims.size()) != rank)
      fail(node, "permute of a rank-" + std::to_string(rank) +
                     " tensor needs " + std::to_string(rank) + " dimensions");
    for (auto [i, dim] : llvm::enumerate(dims))
      permutation[i] = dimension(node, dim, rank);
  } else if (node->kind() == c10::aten::t) {
    if (rank > 2)
      fail(node, "aten::t needs a tensor of rank at most 2");
    std::reverse(permutation.begin(), permutation.end());
  } else {
    int64_t a = dimension(node, integer(node, node->input(1)), rank);
    int64_t b = dimension(node, integer(node, node->input(2)), rank);
    std::swap(permutation[a], permutation[b]);
  }
  // A transposed 2-D weight may only feed x @ W.t(), a linear layer.
  if (rank == 2 && permutation[0] == 1)
    transposed[node->output(0)] = x;
  setTensor(node, permute(node, x, permutation));
}

Value Importer::narrow(jit::Node *node, Value x, int64_t dim, int64_t start,
                       int64_t size) {
  if (start == 0 && size == shapeOf(x)[dim])
    return x;
  return build<mlir::nsl::SliceOp>(node, x, dim, start, size);
}

void Importer::slice(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t dim = dimension(node, integer(node, input(node, "dim")), rank);
  int64_t size = shape[dim];
  // Python's slice bounds: None is the end, negatives count from the end,
  // anything past an end is clamped.
  auto bound = [&](const char *name, int64_t missing) {
    auto value = scalar(input(node, name));
    if (value && value->isNone())
      return missing;
    int64_t v = integer(node, input(node, name));
    if (v < 0)
      v += size;
    return std::clamp<int64_t>(v, 0, size);
  };
  int64_t start = bound("start", 0), end = bound("end", size);
  if (integer(node, input(node, "step")) != 1)
    fail(node, "slices with a step other than 1 are not supported");
  if (end <= start)
    fail(node, "the slice [" + std::to_string(start) + ":" +
                   std::to_string(end) + "] of dimension " +
                   std::to_string(dim) + " is empty");
  setTensor(node, narrow(node, x, dim, start, end - start));
}

void Importer::narrowNode(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t dim = dimension(node, integer(node, input(node, "dim")), rank);
  if (node->kind() == c10::aten::select) {
    int64_t index = integer(node, input(node, "index"));
    if (index < 0)
      index += shape[dim];
    if (index < 0 || index >= shape[dim])
      fail(node, "index " + std::to_string(index) + " is out of range for " +
                     "dimension " + std::to_string(dim) + " of size " +
                     std::to_string(shape[dim]));
    SmallVector<int64_t> target(shape);
    target.erase(target.begin() + dim);
    if (target.empty())
      fail(node, "selecting a scalar element is not supported");
    setTensor(node, reshapeTo(node, narrow(node, x, dim, index, 1), target));
    return;
  }
  int64_t start = integer(node, input(node, "start"));
  if (start < 0)
    start += shape[dim];
  int64_t length = integer(node, input(node, "length"));
  if (start < 0 || length < 1 || start + length > shape[dim])
    fail(node, "narrow(" + std::to_string(dim) + ", " + std::to_string(start) +
                   ", " + std::to_string(length) + ") does not fit " +
                   shapeToString(shape));
  setTensor(node, narrow(node, x, dim, start, length));
}

void Importer::split(jit::Node *node) {
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t dim = dimension(node, integer(node, input(node, "dim")), rank);
  int64_t total = shape[dim];
  SmallVector<int64_t> sizes;
  std::string kind = kindOf(node);
  if (kind == "aten::chunk" || kind == "aten::unsafe_chunk") {
    int64_t chunks = integer(node, input(node, "chunks"));
    if (chunks < 1)
      fail(node, "chunk needs at least one chunk");
    int64_t each = (total + chunks - 1) / chunks;
    for (int64_t at = 0; at < total; at += each)
      sizes.push_back(std::min(each, total - at));
  } else if (node->schema().argumentIndexWithName("split_sizes")) {
    sizes = ints(node, input(node, "split_sizes"));
  } else {
    c10::IValue splitSize = constant(node, input(node, "split_size"));
    if (splitSize.isInt()) {
      int64_t each = splitSize.toInt();
      if (each < 1)
        fail(node, "split_size must be positive");
      for (int64_t at = 0; at < total; at += each)
        sizes.push_back(std::min(each, total - at));
    } else {
      sizes = ints(node, input(node, "split_size"));
    }
  }
  if (std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != total ||
      llvm::any_of(sizes, [](int64_t s) { return s < 1; }))
    fail(node, "split sizes " + listToString(sizes) + " do not divide " +
                   "dimension " + std::to_string(dim) + " of size " +
                   std::to_string(total));
  SmallVector<Value> pieces;
  int64_t start = 0;
  for (int64_t size : sizes) {
    pieces.push_back(narrow(node, x, dim, start, size));
    start += size;
  }
  tensorLists[node->output(0)] = pieces;
}

void Importer::listUnpack(jit::Node *node) {
  const jit::Value *list = node->input(0);
  if (list->node()->kind() == c10::prim::TupleConstruct) {
    tupleElements(node);
    return;
  }
  if (auto it = tensorLists.find(list); it != tensorLists.end()) {
    if (it->second.size() != node->outputs().size())
      fail(node, "unpacking " + std::to_string(it->second.size()) +
                     " tensors into " + std::to_string(node->outputs().size()));
    for (auto [output, value] : llvm::zip(node->outputs(), it->second))
      tensors[output] = value;
    return;
  }
  c10::IValue known = constant(node, list);
  std::vector<c10::IValue> elements;
  if (known.isList())
    elements = known.toListRef().vec();
  else if (known.isTuple())
    elements = known.toTupleRef().elements().vec();
  if (elements.size() != node->outputs().size())
    fail(node, "cannot unpack this value into " +
                   std::to_string(node->outputs().size()) + " values");
  for (auto [output, element] : llvm::zip(node->outputs(), elements))
    scalars[output] = element;
}

void Importer::getItem(jit::Node *node) {
  const jit::Value *list = node->input(0);
  int64_t index = integer(node, node->input(1));
  if (auto it = tensorLists.find(list); it != tensorLists.end()) {
    int64_t count = static_cast<int64_t>(it->second.size());
    if (index < 0)
      index += count;
    if (index < 0 || index >= count)
      fail(node, "index " + std::to_string(index) +
                     " is out of range for a list of " + std::to_string(count) +
                     " tensors");
    setTensor(node, it->second[index]);
    return;
  }
  c10::IValue known = constant(node, list);
  if (!known.isList())
    fail(node, "aten::__getitem__ of a value that is not a list");
  c10::List<c10::IValue> elements = known.toList();
  int64_t count = static_cast<int64_t>(elements.size());
  if (index < 0)
    index += count;
  if (index < 0 || index >= count)
    fail(node, "index " + std::to_string(index) +
                   " is out of range for a list of " + std::to_string(count));
  scalars[node->output(0)] = elements.get(index);
}

SmallVector<int64_t> Importer::reducedDims(jit::Node *node, Value x,
                                           const char *name) {
  int64_t rank = static_cast<int64_t>(shapeOf(x).size());
  SmallVector<int64_t> dims;
  std::optional<c10::IValue> given;
  if (node->schema().argumentIndexWithName(name))
    given = scalar(input(node, name));
  if (!given || given->isNone() ||
      (given->isIntList() && given->toIntList().empty())) {
    // No dimensions: all of them.
    dims.resize(rank);
    std::iota(dims.begin(), dims.end(), 0);
  } else {
    for (int64_t dim : ints(node, input(node, name)))
      dims.push_back(dimension(node, dim, rank));
  }
  llvm::sort(dims);
  if (std::adjacent_find(dims.begin(), dims.end()) != dims.end())
    fail(node, "a dimension is reduced twice");
  if (dims.empty())
    fail(node, "reducing a scalar is not supported");
  return dims;
}

bool Importer::keepdim(jit::Node *node) {
  return node->schema().argumentIndexWithName("keepdim") &&
         boolean(node, input(node, "keepdim"));
}

void Importer::noDtype(jit::Node *node) {
  if (!node->schema().argumentIndexWithName("dtype"))
    return;
  auto dtype = scalar(input(node, "dtype"));
  if (!dtype || !dtype->isNone())
    fail(node, kindOf(node) + " with a dtype is not supported");
}

void Importer::reduction(jit::Node *node) {
  noDtype(node);
  Value x = tensor(node, input(node, "self"));
  SmallVector<int64_t> dims = reducedDims(node, x, "dim");
  bool keep = keepdim(node);
  std::string kind = kindOf(node);
  ArrayRef<int64_t> shape = shapeOf(x);
  if (kind == "aten::mean" && shape.size() == 4 &&
      dims == SmallVector<int64_t>{2, 3}) {
    // The global average pool's fast kernel (mnasnet's x.mean([2, 3])).
    Value pooled = build<mlir::nsl::GlobalAvgPool2dOp>(node, x);
    setTensor(node, keep ? pooled : build<mlir::nsl::FlattenOp>(node, pooled));
    return;
  }
  if (kind == "aten::sum") {
    setTensor(node, build<mlir::nsl::ReduceSumOp>(node, x, dims, keep));
    return;
  }
  if (kind == "aten::mean") {
    setTensor(node, build<mlir::nsl::ReduceMeanOp>(node, x, dims, keep));
    return;
  }
  // max, min (values; the indices of max(x, dim) are not computed), amax,
  // amin; a minimum is −max(−x).
  if (node->schema().argumentIndexWithName("other"))
    fail(node, kindOf(node) + " of two tensors is not supported; use "
                              "torch.clamp or a reduction over dimensions");
  if (node->outputs().size() > 1 && node->output(1)->hasUses())
    fail(node, "the indices of " + kindOf(node) +
                   "(x, dim) are not supported (only its values)");
  bool minimum = kind == "aten::min" || kind == "aten::amin";
  if (minimum)
    x = elementwiseOp(node, "nsl.neg", {x});
  Value y = build<mlir::nsl::ReduceMaxOp>(node, x, dims, keep);
  setTensor(node, minimum ? elementwiseOp(node, "nsl.neg", {y}) : y);
}

void Importer::norm(jit::Node *node) {
  noDtype(node);
  Value x = tensor(node, input(node, "self"));
  std::string kind = kindOf(node);
  const char *order = kind == "aten::linalg_vector_norm" ? "ord" : "p";
  if (kind != "aten::frobenius_norm") {
    auto p = scalar(input(node, order));
    if (!p || !(p->isNone() || (isNumber(*p) && p->toScalar().toDouble() == 2)))
      fail(node, kindOf(node) + " is supported for the 2-norm only");
  }
  SmallVector<int64_t> dims = reducedDims(node, x, "dim");
  Value squares = elementwiseOp(node, "nsl.mul", {x, x});
  Value sum = build<mlir::nsl::ReduceSumOp>(node, squares, dims, keepdim(node));
  setTensor(node, elementwiseOp(node, "nsl.sqrt", {sum}));
}

void Importer::softmax(jit::Node *node) {
  noDtype(node);
  Value x = tensor(node, input(node, "self"));
  int64_t rank = static_cast<int64_t>(shapeOf(x).size());
  SmallVector<int64_t> dim = {
      dimension(node, integer(node, input(node, "dim")), rank)};
  // exp(x − max) / Σ exp(x − max); log_softmax: (x − max) − log Σ exp(…).
  Value max = build<mlir::nsl::ReduceMaxOp>(node, x, dim, true);
  Value shifted = elementwiseOp(node, "nsl.sub", {x, max});
  Value exp = elementwiseOp(node, "nsl.exp", {shifted});
  Value sum = build<mlir::nsl::ReduceSumOp>(node, exp, dim, true);
  if (kindOf(node) == "aten::log_softmax")
    setTensor(node,
              elementwiseOp(node, "nsl.sub",
                            {shifted, elementwiseOp(node, "nsl.log", {sum})}));
  else
    setTensor(node, elementwiseOp(node, "nsl.div", {exp, sum}));
}

void Importer::layerNorm(jit::Node *node) {
  Value x = tensor(node, input(node, "input"));
  ArrayRef<int64_t> shape = shapeOf(x);
  SmallVector<int64_t> normalized = ints(node, input(node, "normalized_shape"));
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t count = static_cast<int64_t>(normalized.size());
  if (count < 1 || count > rank ||
      ArrayRef<int64_t>(normalized) != shape.take_back(count))
    fail(node, "normalized_shape " + listToString(normalized) +
                   " must be the last dimensions of the input " +
                   shapeToString(shape));
  SmallVector<int64_t> dims(count);
  std::iota(dims.begin(), dims.end(), rank - count);
  // (x − E[x]) / sqrt(Var[x] + ε) · weight + bias, the biased variance.
  Value mean = build<mlir::nsl::ReduceMeanOp>(node, x, dims, true);
  Value centred = elementwiseOp(node, "nsl.sub", {x, mean});
  Value variance = build<mlir::nsl::ReduceMeanOp>(
      node, elementwiseOp(node, "nsl.mul", {centred, centred}), dims, true);
  Value scale = elementwiseOp(
      node, "nsl.rsqrt",
      {elementwiseOp(
          node, "nsl.add",
          {variance, number(node, real(node, input(node, "eps")))})});
  Value y = elementwiseOp(node, "nsl.mul", {centred, scale});
  if (Value weight = optionalTensor(node, input(node, "weight")))
    y = elementwiseOp(node, "nsl.mul", {y, weight});
  if (Value bias = optionalTensor(node, input(node, "bias")))
    y = elementwiseOp(node, "nsl.add", {y, bias});
  setTensor(node, y);
}

Value Importer::linearOnRows(jit::Node *node, Value x, Value weight,
                             Value bias) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (shape.size() == 2)
    return build<mlir::nsl::LinearOp>(node, x, weight, bias);
  if (shape.empty())
    fail(node, "a linear layer needs an input of rank at least 1");
  // [..., F] as rows [R, F], then back to [..., O].
  int64_t features = shape.back();
  Value rows = reshapeTo(
      node, x, {ShapedType::getNumElements(shape) / features, features});
  Value y = build<mlir::nsl::LinearOp>(node, rows, weight, bias);
  SmallVector<int64_t> result(shape.drop_back());
  result.push_back(shapeOf(weight)[0]);
  return reshapeTo(node, y, result);
}

void Importer::linear(jit::Node *node) {
  setTensor(node, linearOnRows(node, tensor(node, input(node, "input")),
                               tensor(node, input(node, "weight")),
                               optionalTensor(node, input(node, "bias"))));
}

void Importer::matmul(jit::Node *node) {
  std::string kind = kindOf(node);
  bool addmm = kind == "aten::addmm";
  const jit::Value *rhs = input(node, addmm                    ? "mat2"
                                      : kind == "aten::matmul" ? "other"
                                                               : "mat2");
  Value x = tensor(node, input(node, addmm ? "mat1" : "self"));
  Value bias;
  if (addmm) {
    if (real(node, input(node, "beta")) != 1.0 ||
        real(node, input(node, "alpha")) != 1.0)
      fail(node, "aten::addmm is supported with beta 1 and alpha 1 only");
    bias = tensor(node, input(node, "self"));
    if (shapeOf(bias).size() != 1)
      fail(node, "aten::addmm is supported with a 1-D bias only");
  }
  // x @ W.t() (+ b): a linear layer.
  if (auto weight = transposed.find(rhs); weight != transposed.end()) {
    setTensor(node, linearOnRows(node, x, weight->second, bias));
    return;
  }
  if (addmm)
    fail(node, "aten::addmm is supported as b + x @ W.t() only");
  // A batched product with broadcasting: x[..., M, K, 1] · y[..., 1, K, N]
  // summed over K.
  Value y = tensor(node, rhs);
  ArrayRef<int64_t> xs = shapeOf(x), ys = shapeOf(y);
  if (xs.size() < 2 || ys.size() < 2)
    fail(node, kindOf(node) + " of 1-D operands is not supported");
  if (xs.back() != ys[ys.size() - 2])
    fail(node,
         "cannot multiply " + shapeToString(xs) + " by " + shapeToString(ys));
  SmallVector<int64_t> xe(xs), ye(ys);
  xe.push_back(1);
  ye.insert(ye.end() - 2, 1);
  Value product = elementwiseOp(
      node, "nsl.mul", {reshapeTo(node, x, xe), reshapeTo(node, y, ye)});
  int64_t rank = static_cast<int64_t>(shapeOf(product).size());
  setTensor(node, build<mlir::nsl::ReduceSumOp>(
                      node, product, SmallVector<int64_t>{rank - 2}, false));
}

void Importer::unfold(jit::Node *node) {
  // F.unfold is a depthwise convolution whose kernels pick one tap each:
  // output channel c·K + t copies tap t of channel c; then [N, C·K, L].
  Value x = tensor(node, input(node, "self"));
  ArrayRef<int64_t> shape = shapeOf(x);
  if (shape.size() != 4)
    fail(node, "F.unfold is supported on [N, C, H, W] inputs");
  SmallVector<int64_t> kernel = ints(node, input(node, "kernel_size"), 2);
  int64_t channels = shape[1], taps = kernel[0] * kernel[1];
  auto type = RankedTensorType::get({channels * taps, 1, kernel[0], kernel[1]},
                                    builder.getF32Type());
  SmallVector<float> picks(channels * taps * taps, 0.0f);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t t = 0; t < taps; ++t)
      picks[(c * taps + t) * taps + t] = 1.0f;
  Value weight = arith::ConstantOp::create(
      builder, locationOf(context, node),
      DenseElementsAttr::get(type, ArrayRef<float>(picks)));
  Value patches = build<mlir::nsl::SimConv2dOp>(
      node, x, weight, ValueRange(), Value(), mlir::nsl::Structure::Identity,
      false, APFloat(0.0f), ints(node, input(node, "stride"), 2),
      ints(node, input(node, "padding"), 2),
      ints(node, input(node, "dilation"), 2), channels);
  ArrayRef<int64_t> out = shapeOf(patches);
  setTensor(node, reshapeTo(node, patches, {out[0], out[1], out[2] * out[3]}));
}

void Importer::addLayoutHandlers(std::unordered_map<std::string, Handler> &t) {
  for (const char *kind :
       {"aten::view", "aten::reshape", "aten::_reshape_alias"})
    t[kind] = &Importer::reshape;
  t["aten::flatten"] = &Importer::flatten;
  for (const char *kind : {"aten::squeeze", "aten::squeeze_", "aten::unsqueeze",
                           "aten::unsqueeze_"})
    t[kind] = &Importer::squeeze;
  for (const char *kind : {"aten::permute", "aten::transpose", "aten::t"})
    t[kind] = &Importer::transpose;
  t["aten::slice"] = &Importer::slice;
  t["aten::narrow"] = &Importer::narrowNode;
  t["aten::select"] = &Importer::narrowNode;
  for (const char *kind : {"aten::chunk", "aten::unsafe_chunk", "aten::split",
                           "aten::unsafe_split", "aten::split_with_sizes",
                           "aten::unsafe_split_with_sizes"})
    t[kind] = &Importer::split;
  t["prim::ListUnpack"] = &Importer::listUnpack;
  t["prim::TupleUnpack"] = &Importer::listUnpack;
  t["aten::__getitem__"] = &Importer::getItem;
  for (const char *kind : {"aten::sum", "aten::mean", "aten::amax",
                           "aten::amin", "aten::max", "aten::min"})
    t[kind] = &Importer::reduction;
  for (const char *kind :
       {"aten::norm", "aten::linalg_vector_norm", "aten::frobenius_norm"})
    t[kind] = &Importer::norm;
  t["aten::softmax"] = &Importer::softmax;
  t["aten::log_softmax"] = &Importer::softmax;
  t["aten::layer_norm"] = &Importer::layerNorm;
  t["aten::linear"] = &Importer::linear;
  for (const char *kind :
       {"aten::matmul", "aten::mm", "aten::bmm", "aten::addmm"})
    t[kind] = &Importer::matmul;
  t["aten::im2col"] = &Importer::unfold;
}

} // namespace nsl::frontend::importer
