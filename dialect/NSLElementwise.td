//===- NSLElementwise.td - The elementwise ops, one row each -*- tablegen -*-===//
//
// Every elementwise op is one row of this table: its mnemonic, a summary,
// the formula of its result from its operands and the derivative of that
// formula by each operand. Everything else is made from the row: the op and
// its VJP op (with broadcasting), the reference forward and VJP, the
// graph.json export, the lowering for both targets
// (dialect/generate_op_schema.py, docs/adding-an-op.md).
//
// Formulas (dialect/elementwise_formula.py) are expressions over `x` (unary:
// the input; binary: the left operand) and `y` (the right operand), with
// numbers, `pi`, + - * / ** and comparisons, exp, log, sqrt, rsqrt, tanh,
// erf, abs, min, max and select(condition, a, b). A derivative may also use
// `out`, the op's result.
//
// Binary operands broadcast as in NumPy and PyTorch: shapes are aligned on
// their last dimension and a dimension of size 1 (or a missing one) stretches
// to the other's; a rank-0 operand is a scalar. The gradient of a stretched
// operand sums over the dimensions it was stretched along.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_ELEMENTWISE_TD
#define NSL_ELEMENTWISE_TD

// The description every row gets.
class NSL_RowDescription<string formula, list<string> derivatives> {
  string text = "Elementwise `" # formula # "`" #
    !if(!eq(!size(derivatives), 1),
        " of `x` = `input`, with `d/dx = " # !head(derivatives) # "`.",
        " of `x` = `lhs` and `y` = `rhs`, broadcast as in NumPy (shapes " #
        "aligned on the last dimension, size-1 and missing dimensions " #
        "stretched), with `d/dx = " # !head(derivatives) # "` and `d/dy = " #
        !head(!tail(derivatives)) # "`.") #
    " A row of the elementwise table (dialect/NSLElementwise.td), from " #
    "which the reference, the lowering and the export are generated.";
}

// The members every row carries: what the generators read. `torch` lists
// the TorchScript ops the importer maps to the row (their `self` and
// `other` operands; a Python number operand becomes a rank-0 constant).
class NSL_Row<string formula, list<string> derivatives, list<string> torch> {
  string nslFormula = formula;
  list<string> nslDerivatives = derivatives;
  list<string> nslTorchOps = torch;
}

class NSL_UnaryElementwiseOp<string mnemonic, string summaryText,
                             string formula, string derivative,
                             list<string> torch, string vjpClass>
    : Op<NSL_Dialect, mnemonic,
         [Pure, SameOperandsAndResultType, NSL_PerSampleOpInterface,
          DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]>,
      NSL_Row<formula, [derivative], torch> {
  let summary = summaryText;
  let description = NSL_RowDescription<formula, [derivative]>.text;
  let arguments = (ins NSL_Tensor:$input);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::buildVJP(
        ::mlir::OpBuilder &builder, ::mlir::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::ArrayRef<bool> needed,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::mlir::nsl::buildElementwiseVJP<}] # vjpClass # [{>(
          *this, {"}] # derivative # [{"}, builder, resultGrads, needed,
          operandGrads);
    }
  }];
}

class NSL_BinaryElementwiseOp<string mnemonic, string summaryText,
                              string formula, list<string> derivatives,
                              list<string> torch, string vjpClass,
                              list<Trait> traits = []>
    : Op<NSL_Dialect, mnemonic,
         !listconcat([Pure, InferTypeOpAdaptor, NSL_PerSampleOpInterface,
                      DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>],
                     traits)>,
      NSL_Row<formula, derivatives, torch> {
  let summary = summaryText;
  let description = NSL_RowDescription<formula, derivatives>.text;
  let arguments = (ins NSL_Tensor:$lhs, NSL_Tensor:$rhs);
  let results = (outs NSL_Tensor:$result);
  // One type when both operands have it: `nsl.add %a, %b : tensor<...>`.
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` custom<BroadcastTypes>(type($lhs), type($rhs))";
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return ::mlir::nsl::verifyBroadcast(getOperation());
    }
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> location,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::mlir::nsl::inferBroadcastType(
          location, {adaptor.getLhs().getType(), adaptor.getRhs().getType()},
          types);
    }
    ::llvm::LogicalResult $cppClass::buildVJP(
        ::mlir::OpBuilder &builder, ::mlir::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::ArrayRef<bool> needed,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::mlir::nsl::buildElementwiseVJP<}] # vjpClass # [{>(
          *this, {"}] # !interleave(derivatives, "\", \"") # [{"}, builder,
          resultGrads, needed, operandGrads);
    }
  }];
}

// The VJP of a row: the forward operands, the upstream gradient (the
// forward result's type) and `wrt`; each gradient has its operand's type.
class NSL_ElementwiseVJPOp<string mnemonic, Op forward, string operandsFormat,
                           string typesFormat>
    : NSL_VJPOp<mnemonic, forward, (ins NSL_Tensor:$grad_output),
                [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface,
                                           ["getPerSampleOperands"]>]> {
  let assemblyFormat = operandsFormat #
    " `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt " #
    "attr-dict `:` " # typesFormat # " `->` type($grads)";
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return ::mlir::nsl::verifyElementwiseVJP(getOperation());
    }
    std::optional<::llvm::SmallVector<bool>>
    $cppClass::getPerSampleOperands() {
      return ::mlir::nsl::elementwiseVJPPerSampleOperands(getOperation());
    }
  }];
}

// A unary row: `defm NSL_Name : NSL_Unary<mnemonic, summary, formula,
// derivative, torch ops>` defines NSL_NameOp and NSL_NameVJPOp.
multiclass NSL_Unary<string mnemonic, string summaryText, string formula,
                     string derivative, list<string> torch = []> {
  def Op : NSL_UnaryElementwiseOp<mnemonic, summaryText, formula, derivative,
                                  torch, !subst("NSL_", "", NAME) # "VJPOp">;
  def VJPOp : NSL_ElementwiseVJPOp<mnemonic # "_vjp", !cast<Op>(NAME # "Op"),
                                   "$input", "type($input)">;
}

// A binary row, likewise.
multiclass NSL_Binary<string mnemonic, string summaryText, string formula,
                      list<string> derivatives, list<string> torch = [],
                      list<Trait> traits = []> {
  def Op : NSL_BinaryElementwiseOp<mnemonic, summaryText, formula, derivatives,
                                   torch, !subst("NSL_", "", NAME) # "VJPOp",
                                   traits>;
  def VJPOp : NSL_ElementwiseVJPOp<mnemonic # "_vjp", !cast<Op>(NAME # "Op"),
                                   "$lhs `,` $rhs",
                                   "type($lhs) `,` type($rhs)">;
}

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

// Binary rows. The importer passes the named TorchScript arguments as `x`
// and `y` ("aten::rsub(other, self)"; `self` and `other` when unnamed); an
// `alpha` argument scales `y`.
defm NSL_Add : NSL_Binary<"add", "elementwise sum", "x + y", ["1", "1"],
                          ["aten::add", "aten::add_"], [Commutative]>;
defm NSL_Sub : NSL_Binary<"sub", "elementwise difference", "x - y",
                          ["1", "-1"],
                          ["aten::sub", "aten::sub_", "aten::rsub(other, self)"]>;
defm NSL_Mul : NSL_Binary<"mul", "elementwise product", "x * y", ["y", "x"],
                          ["aten::mul", "aten::mul_"], [Commutative]>;
defm NSL_Div : NSL_Binary<"div", "elementwise quotient", "x / y",
                          ["1 / y", "-x / (y * y)"],
                          ["aten::div", "aten::div_"]>;
// As torch.pow: no gradient by an exponent of 0, none by the exponent where
// the base is 0 and the exponent is not negative.
defm NSL_Pow : NSL_Binary<"pow", "elementwise power", "x ** y",
                          ["select(y == 0, 0, y * x ** (y - 1))",
                           "select(x == 0, select(y >= 0, 0, out * log(x)), "
                           "out * log(x))"],
                          ["aten::pow(self, exponent)",
                           "aten::pow_(self, exponent)"]>;
// torch.clamp_min and clamp_max; a bound equal to `x` passes the gradient
// to `x`, as torch.clamp does.
defm NSL_ClampMin : NSL_Binary<"clamp_min", "lower bound (torch.clamp_min)",
                               "max(x, y)",
                               ["select(x >= y, 1, 0)", "select(x >= y, 0, 1)"],
                               ["aten::clamp_min(self, min)",
                                "aten::clamp_min_(self, min)"]>;
defm NSL_ClampMax : NSL_Binary<"clamp_max", "upper bound (torch.clamp_max)",
                               "min(x, y)",
                               ["select(x <= y, 1, 0)", "select(x <= y, 0, 1)"],
                               ["aten::clamp_max(self, max)",
                                "aten::clamp_max_(self, max)"]>;
defm NSL_LeakyRelu : NSL_Binary<"leaky_relu",
                                "leaky ReLU with slope `y` below zero",
                                "select(x > 0, x, x * y)",
                                ["select(x > 0, 1, y)", "select(x > 0, 0, x)"],
                                ["aten::leaky_relu(self, negative_slope)",
                                 "aten::leaky_relu_(self, negative_slope)"]>;
// torch.nn.functional.elu with scale and input_scale 1 (the importer
// refuses others).
defm NSL_Elu : NSL_Binary<"elu", "exponential linear unit with alpha `y`",
                          "select(x > 0, x, y * (exp(x) - 1))",
                          ["select(x > 0, 1, y * exp(x))",
                           "select(x > 0, 0, exp(x) - 1)"]>;

// Unary rows.
defm NSL_Neg : NSL_Unary<"neg", "negation", "-x", "-1",
                         ["aten::neg", "aten::neg_"]>;
defm NSL_Abs : NSL_Unary<"abs", "absolute value", "abs(x)",
                         "select(x > 0, 1, select(x < 0, -1, 0))",
                         ["aten::abs", "aten::abs_"]>;
defm NSL_Reciprocal : NSL_Unary<"reciprocal", "reciprocal", "1 / x",
                                "-out * out",
                                ["aten::reciprocal", "aten::reciprocal_"]>;
defm NSL_Sqrt : NSL_Unary<"sqrt", "square root", "sqrt(x)", "0.5 / out",
                          ["aten::sqrt", "aten::sqrt_"]>;
defm NSL_Rsqrt : NSL_Unary<"rsqrt", "reciprocal square root", "rsqrt(x)",
                           "-0.5 * out * out * out",
                           ["aten::rsqrt", "aten::rsqrt_"]>;
defm NSL_Exp : NSL_Unary<"exp", "exponential", "exp(x)", "out",
                         ["aten::exp", "aten::exp_"]>;
defm NSL_Log : NSL_Unary<"log", "natural logarithm", "log(x)", "1 / x",
                         ["aten::log", "aten::log_"]>;
defm NSL_Tanh : NSL_Unary<"tanh", "hyperbolic tangent", "tanh(x)",
                          "1 - out * out", ["aten::tanh", "aten::tanh_"]>;
defm NSL_Sigmoid : NSL_Unary<"sigmoid", "logistic sigmoid", "1 / (1 + exp(-x))",
                             "out * (1 - out)",
                             ["aten::sigmoid", "aten::sigmoid_"]>;
defm NSL_Silu : NSL_Unary<"silu", "x · sigmoid(x) (SiLU, swish)",
                          "x / (1 + exp(-x))",
                          "1 / (1 + exp(-x)) * (1 + x * (1 - 1 / (1 + exp(-x))))",
                          ["aten::silu", "aten::silu_"]>;
// torch.nn.functional.gelu(approximate='none'); the importer maps the
// approximate form to gelu_tanh.
defm NSL_Gelu : NSL_Unary<"gelu", "Gaussian error linear unit (exact)",
                          "0.5 * x * (1 + erf(x * 0.7071067811865476))",
                          "0.5 * (1 + erf(x * 0.7071067811865476)) + "
                          "x * exp(-0.5 * x * x) * 0.3989422804014327">;
defm NSL_GeluTanh : NSL_Unary<"gelu_tanh",
                              "Gaussian error linear unit (tanh approximation)",
                              "0.5 * x * (1 + tanh(0.7978845608028654 * "
                              "(x + 0.044715 * x * x * x)))",
                              "0.5 * (1 + tanh(0.7978845608028654 * (x + "
                              "0.044715 * x * x * x))) + 0.5 * x * (1 - "
                              "tanh(0.7978845608028654 * (x + 0.044715 * x * "
                              "x * x)) * tanh(0.7978845608028654 * (x + "
                              "0.044715 * x * x * x))) * 0.7978845608028654 * "
                              "(1 + 0.134145 * x * x)">;
// The derivatives at the kinks are PyTorch's.
defm NSL_Hardswish : NSL_Unary<"hardswish", "x · hardsigmoid(x)",
                               "x * min(max(x + 3, 0), 6) / 6",
                               "select(x < -3, 0, select(x <= 3, x / 3 + 0.5, 1))",
                               ["aten::hardswish", "aten::hardswish_"]>;
defm NSL_Hardsigmoid : NSL_Unary<"hardsigmoid", "min(max(x + 3, 0), 6) / 6",
                                 "min(max(x + 3, 0), 6) / 6",
                                 "select(x > -3, select(x < 3, 1 / 6, 0), 0)",
                                 ["aten::hardsigmoid", "aten::hardsigmoid_"]>;

#endif // NSL_ELEMENTWISE_TD
