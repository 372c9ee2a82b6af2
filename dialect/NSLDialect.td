//===- NSLDialect.td - The nsl dialect ---------------------*- tablegen -*-===//
//
// Neural similarity learning: convolutions whose inner product wᵀx becomes a
// learned bilinear similarity wᵀMx (DESIGN.md §1).
//
//===----------------------------------------------------------------------===//
#ifndef NSL_DIALECT_TD
#define NSL_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def NSL_Dialect : Dialect {
  let name = "nsl";
  let cppNamespace = "::mlir::nsl";
  let summary = "Neural similarity learning networks on tensors";
  let description = [{
    The `nsl` dialect expresses neural similarity networks (NSNs) on ranked,
    statically shaped `f32` tensors in NCHW layout. Its central op,
    `nsl.sim_conv2d`, generalises a convolution's inner product `wᵀx` to a
    bilinear similarity `wᵀMx` with a static (learned parameter) or dynamic
    (predicted per output position) similarity matrix `M`.

    Notation (shared with every backend and with the reference in
    `runtime/reference/`): input `X[n,c,y,x]` (N, C, H, W), kernel
    `W[o,c,t]` (O, C, K) with `K = kh·kw` taps numbered row-major
    `t = ky·kw + kx`; `X_p[n,c,t] = X[n, c, y·sh − ph + ky·dh,
    x·sw − pw + kx·dw]` is the zero-padded input patch at output position
    `p = (y, x)`, exactly as `F.unfold` numbers it.

    Every parameter (weights, biases, similarity parameters, gains, batch-norm
    affine parameters and running statistics) is an SSA operand, never an
    attribute, so one IR serves training, checkpoints and inference. The
    function arguments of a model carry `nsl.name` (the PyTorch `state_dict`
    key, or the input's name) and `nsl.role` (`input`, `parameter`, `buffer`,
    and for training entry points `label`, `optimizer_state`,
    `learning_rate`; `derived` for a value computed from the weights by the
    function that the attribute `nsl.prepared_by` of the function names,
    see `--nsl-hoist-weight-preparation`).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let hasConstantMaterializer = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral kNameAttr = "nsl.name";
    static constexpr ::llvm::StringLiteral kRoleAttr = "nsl.role";
    /// On a function with `derived` arguments: the function (a symbol of the
    /// same module) that computes them from the weights.
    static constexpr ::llvm::StringLiteral kPreparedByAttr = "nsl.prepared_by";
    /// The roles a function argument may have.
    static ::llvm::ArrayRef<::llvm::StringLiteral> argumentRoles();
  }];
}

// A [height, width] pair of a 2-D window (kernel size, stride, padding,
// dilation): a DenseI64ArrayAttr, named so that the schema generated from ODS
// (dialect/generate_op_schema.py) knows it is a pair.
def NSL_PairAttr : DenseArrayAttrBase<"DenseI64ArrayAttr", "int64_t", "i64">;

def NSL_StructureAttr : I32EnumAttr<"Structure",
    "structure of the similarity matrix M", [
  I32EnumAttrCase<"Identity", 0, "identity">,
  I32EnumAttrCase<"Diagonal", 1, "diagonal">,
  I32EnumAttrCase<"Full", 2, "full">,
  I32EnumAttrCase<"Cholesky", 3, "cholesky">,
  I32EnumAttrCase<"ShapeMasked", 4, "shape_masked">
]> {
  let cppNamespace = "::mlir::nsl";
}

def NSL_SphereVariantAttr : I32EnumAttr<"SphereVariant",
    "the function g(θ) of a SphereConv", [
  I32EnumAttrCase<"Cosine", 0, "cosine">,
  I32EnumAttrCase<"Linear", 1, "linear">,
  I32EnumAttrCase<"Sigmoid", 2, "sigmoid">,
  I32EnumAttrCase<"LearnedSigmoid", 3, "learned_sigmoid">
]> {
  let cppNamespace = "::mlir::nsl";
}

#endif // NSL_DIALECT_TD
