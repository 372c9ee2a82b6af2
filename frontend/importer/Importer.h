//===- Importer.h - The TorchScript importer's internals --------*- C++ -*-===//
//
// Shared by the importer's sources only (it includes LibTorch), split as
// torch-mlir splits its importer: the module, its attributes and IValues
// (ModuleImport.cpp), node translation (NodeTranslation.cpp) and the
// binding of parameters and buffers to state_dict keys
// (StateDictBinding.cpp). TorchImporter.cpp holds the public entry points.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_FRONTEND_IMPORTER_IMPORTER_H
#define NSL_FRONTEND_IMPORTER_IMPORTER_H

#include "frontend/importer/TorchImporter.h"

#include "mlir/IR/Block.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include <torch/script.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace nsl::frontend::importer {

namespace jit = torch::jit;

/// An error with the TorchScript source location of its node.
struct ImportError {
  std::string message;
};

/// "file:line:col (in scope)" of a node, for error messages.
std::string describeLocation(const jit::Node *node);
/// The node's source location as an MLIR location.
mlir::Location locationOf(mlir::MLIRContext &context, const jit::Node *node);
/// "aten::conv2d" and the like.
std::string kindOf(const jit::Node *node);
/// "2x3x4" ("scalar" for rank 0).
std::string shapeToString(llvm::ArrayRef<int64_t> shape);
/// An int, a float or a bool.
bool isNumber(const c10::IValue &v);
inline llvm::ArrayRef<int64_t> shapeOf(mlir::Value value) {
  return mlir::cast<mlir::RankedTensorType>(value.getType()).getShape();
}

/// The first line of a LibTorch exception's message (c10::Error's what()
/// appends a C++ backtrace).
std::string describeException(const std::exception &failure);

/// Loads a TorchScript file in eval mode, the nsl:: schemas registered; on
/// failure sets `error` ("cannot load ...") and returns nothing.
std::optional<jit::Module> loadModule(const std::string &path,
                                      std::string &error);

/// Joins the diagnostics emitted while it lives into one line, so that IR
/// the dialect rejects becomes an error message, not an abort.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &diag) {
          text += (text.empty() ? "" : "; ") + diag.str();
          return mlir::success();
        }) {}
  DiagnosticCollector(const DiagnosticCollector &) = delete;
  DiagnosticCollector &operator=(const DiagnosticCollector &) = delete;
  const std::string &joined() const { return text; }

private:
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

/// The arguments of `forward`: the model's tensor inputs, then each
/// parameter and buffer the graph reaches, named by its state_dict key. A
/// tensor shared under several keys is one argument, named by its first key.
class StateDictBinding {
public:
  explicit StateDictBinding(mlir::MLIRContext &context) : context(context) {}
  /// Reads the state_dict's keys, their kinds and their order.
  void readStateDict(const jit::Module &module);
  /// Appends an input argument (role `input` or `label`) to `body`.
  mlir::Value addInput(mlir::Block &body, mlir::Type type,
                       const std::string &name, const std::string &role);
  /// The argument of a parameter or buffer that `node` reaches at `path`;
  /// appended to `body`, and its value kept, on first use.
  mlir::Value bind(mlir::Block &body, const jit::Node *node,
                   const at::Tensor &value, const std::string &path);
  /// Moves `body`'s operations into a new block whose arguments are in
  /// signature order: inputs first, then state_dict order.
  std::unique_ptr<mlir::Block> sortArguments(mlir::Block &body);
  /// (name, role) of each argument, in signature order once sorted.
  const std::vector<std::pair<std::string, std::string>> &
  argumentNames() const {
    return names;
  }
  std::map<std::string, ImportedTensor> takeWeights() {
    return std::move(weights);
  }

private:
  mlir::MLIRContext &context;
  /// The first key of each tensor, and whether it is a buffer.
  std::unordered_map<const c10::TensorImpl *, std::pair<std::string, bool>>
      firstKeys;
  std::unordered_map<const c10::TensorImpl *, size_t> stateDictOrder;
  std::unordered_map<const c10::TensorImpl *, mlir::Value> arguments;
  std::vector<std::pair<std::string, std::string>> names;
  /// The tensor of each argument; null for inputs.
  std::vector<const c10::TensorImpl *> argumentTensors;
  std::map<std::string, ImportedTensor> weights;
};

/// Imports the `forward` method of one module. Tensors become SSA values;
/// everything else (ints, lists, strings, None, module flags) is evaluated
/// here, so that prim::If on shapes and flags reduces to the branch taken.
class Importer {
public:
  Importer(mlir::MLIRContext &context, const jit::Module &module)
      : context(context), module(module), builder(&context),
        stateDict(context) {}

  TorchImportResult run(const TorchImportOptions &options, std::string &error);

private:
  // The function (ModuleImport.cpp).
  mlir::LogicalResult addInputs(jit::Graph &graph,
                                const TorchImportOptions &options,
                                std::string &error);
  mlir::LogicalResult
  translateGraph(jit::Graph &graph, llvm::SmallVectorImpl<mlir::Value> &outputs,
                 std::string &error);
  void collectOutputs(const jit::Value *value,
                      llvm::SmallVectorImpl<mlir::Value> &outputs);
  void buildForward(mlir::ModuleOp moduleOp);

  // Module attributes, IValues and constants (ModuleImport.cpp).
  /// Resolves a GetAttr chain from `self` to its object and dotted path.
  std::pair<c10::IValue, std::string> resolve(const jit::Value *value);
  /// prim::GetAttr: a parameter or buffer argument, or a module flag.
  void importAttribute(jit::Node *node);
  /// prim::Constant: a tensor becomes arith.constant; others are evaluated
  /// on demand (scalar()).
  void importConstant(jit::Node *node);
  /// The value of a non-tensor, if the importer knows it.
  std::optional<c10::IValue> scalar(const jit::Value *value);
  c10::IValue constant(jit::Node *node, const jit::Value *value);
  int64_t integer(jit::Node *node, const jit::Value *value);
  double real(jit::Node *node, const jit::Value *value);
  bool boolean(jit::Node *node, const jit::Value *value);
  std::string string(jit::Node *node, const jit::Value *value);
  llvm::SmallVector<int64_t> ints(jit::Node *node, const jit::Value *value,
                                  size_t expand = 0);

  // Node translation (NodeTranslation.cpp).
  using Handler = std::function<void(Importer &, jit::Node *)>;
  static const std::unordered_map<std::string, Handler> &handlers();
  [[noreturn]] void fail(const jit::Node *node, const std::string &message);
  void translateBlock(jit::Block *block);
  void translateNode(jit::Node *node);
  /// " (inputs: Tensor 2x3x8x8, int)" for an error about `node`.
  std::string inputTypes(const jit::Node *node);
  jit::Value *input(jit::Node *node, const char *name);
  mlir::Value tensor(jit::Node *node, const jit::Value *value);
  mlir::Value optionalTensor(jit::Node *node, const jit::Value *value);
  llvm::SmallVector<mlir::Value> tensorList(jit::Node *node,
                                            const jit::Value *value);
  void setTensor(jit::Node *node, mlir::Value result) {
    tensors[node->output(0)] = result;
  }
  template <typename OpTy, typename... Args>
  mlir::Value build(jit::Node *node, Args &&...args);

  void convolution(jit::Node *node);
  void batchNorm(jit::Node *node);
  void pool(jit::Node *node);
  /// aten::adaptive_avg_pool2d and aten::adaptive_max_pool2d (its values;
  /// the indices must be unused).
  void adaptivePool(jit::Node *node);
  /// prim::TupleIndex and prim::TupleUnpack of a tuple built in the graph
  /// (prim::TupleConstruct): its elements.
  void tupleElements(jit::Node *node);
  /// aten::append to a tensor list built in the graph.
  void append(jit::Node *node);
  /// An elementwise row (dialect/NSLElementwise.td) from the node's
  /// `arguments` (tensors or numbers; `alpha` scales the second), or, when
  /// all of them are numbers, the scalar arithmetic of shape code.
  void elementwise(jit::Node *node, const char *op,
                   llvm::ArrayRef<const char *> arguments);
  /// The nsl elementwise op `op` on `operands`, broadcast.
  mlir::Value elementwiseOp(jit::Node *node, llvm::StringRef op,
                            mlir::ValueRange operands);
  mlir::Value tensorOrNumber(jit::Node *node, const jit::Value *value);
  mlir::Value number(jit::Node *node, double value);
  /// clamp, hardtanh and relu6: clamp_min, then clamp_max, where given.
  void clamp(jit::Node *node);
  /// aten::cat along a dimension after the batch.
  void concat(jit::Node *node);
  /// gelu: the exact or the tanh row, as `approximate` says.
  void gelu(jit::Node *node);
  /// elu with scale and input_scale 1.
  void elu(jit::Node *node);
  void simConv(jit::Node *node);
  void sphereConv(jit::Node *node);
  void patchNorm(jit::Node *node);
  void predictedSimilarity(jit::Node *node);
  void simLinear(jit::Node *node);
  void crossEntropy(jit::Node *node);

  // Shapes, reductions and their compositions (LayoutTranslation.cpp).
  static void addLayoutHandlers(std::unordered_map<std::string, Handler> &t);
  /// `dim` (negative from the end) as an index into `rank` dimensions.
  int64_t dimension(jit::Node *node, int64_t dim, int64_t rank);
  /// x in `target` (PyTorch's sizes, one -1 inferred); [N, …] → [N, F] is
  /// nsl.flatten.
  mlir::Value reshapeTo(jit::Node *node, mlir::Value x,
                        llvm::SmallVector<int64_t> target);
  mlir::Value permute(jit::Node *node, mlir::Value x,
                      llvm::ArrayRef<int64_t> permutation);
  mlir::Value narrow(jit::Node *node, mlir::Value x, int64_t dim, int64_t start,
                     int64_t size);
  /// nsl.linear on the rows of x [..., F].
  mlir::Value linearOnRows(jit::Node *node, mlir::Value x, mlir::Value weight,
                           mlir::Value bias);
  /// The dimensions a reduction node names in `name` (all when none).
  llvm::SmallVector<int64_t> reducedDims(jit::Node *node, mlir::Value x,
                                         const char *name);
  bool keepdim(jit::Node *node);
  /// Refuses a node whose `dtype` argument is given.
  void noDtype(jit::Node *node);
  void reshape(jit::Node *node);
  void flatten(jit::Node *node);
  void squeeze(jit::Node *node);
  void transpose(jit::Node *node);
  void slice(jit::Node *node);
  /// aten::narrow and aten::select.
  void narrowNode(jit::Node *node);
  /// chunk and split: a list of slices.
  void split(jit::Node *node);
  void listUnpack(jit::Node *node);
  void getItem(jit::Node *node);
  /// sum, mean and amax over dimensions.
  void reduction(jit::Node *node);
  void norm(jit::Node *node);
  /// softmax and log_softmax, from max, exp, sum and the elementwise rows.
  void softmax(jit::Node *node);
  void layerNorm(jit::Node *node);
  void linear(jit::Node *node);
  void matmul(jit::Node *node);
  /// F.unfold (aten::im2col) as a depthwise convolution with one-hot kernels.
  void unfold(jit::Node *node);
  void scalarOp(jit::Node *node);
  void ifNode(jit::Node *node);
  /// floordiv and remainder of known numbers (shape arithmetic).
  void floorDivision(jit::Node *node);

  mlir::MLIRContext &context;
  const jit::Module &module;
  mlir::OpBuilder builder;
  /// The body of `forward` while it is built, before its arguments are
  /// sorted.
  std::unique_ptr<mlir::Block> body;
  StateDictBinding stateDict;
  std::unordered_map<const jit::Value *, mlir::Value> tensors;
  /// Tensor lists grown by aten::append (DenseNet's features): the
  /// elements so far, in order.
  std::unordered_map<const jit::Value *, std::vector<const jit::Value *>>
      appended;
  std::unordered_map<const jit::Value *, c10::IValue> scalars;
  /// Tensor lists made by chunk and split.
  std::unordered_map<const jit::Value *, llvm::SmallVector<mlir::Value>>
      tensorLists;
  /// Transposed 2-D weights (aten::t), built only as the weight of a
  /// linear layer: x @ W.t() (+ b) is nsl.linear(x, W, b).
  std::unordered_map<const jit::Value *, mlir::Value> transposed;
  std::unordered_map<const jit::Value *, std::pair<c10::IValue, std::string>>
      attributes;
  /// One error per node kind; nodes fed by a failed node are skipped.
  std::set<std::string> reportedKinds;
  /// For --report: every failed node (its kind, then its message), the
  /// nodes translated and those skipped as consequences.
  std::vector<std::pair<std::string, std::string>> failures;
  size_t translatedNodes = 0, skippedNodes = 0;
  /// The source locations of the dropout layers with p > 0 (identity in
  /// the imported eval graph), for the module attribute `nsl.dropout`.
  std::vector<std::string> dropouts;
  /// The report of TorchImportResult::report.
  std::string report() const;
  std::unordered_set<const jit::Value *> poisoned;
  std::vector<std::string> errors;
};

} // namespace nsl::frontend::importer

#endif // NSL_FRONTEND_IMPORTER_IMPORTER_H
