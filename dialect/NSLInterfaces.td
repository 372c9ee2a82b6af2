//===- NSLInterfaces.td - Interfaces of the nsl dialect ----*- tablegen -*-===//
#ifndef NSL_INTERFACES_TD
#define NSL_INTERFACES_TD

include "mlir/IR/OpBase.td"

def NSL_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let description = [{
    An op whose vector-Jacobian product the compiler can build (DESIGN.md §1,
    "Training"). `--nsl-generate-train-step` runs reverse-mode
    differentiation over it: for each op, from the last to the first, it
    asks for the gradients of the operands it needs given the gradients of
    the op's results.
  }];
  let cppNamespace = "::mlir::nsl";
  let methods = [
    InterfaceMethod<[{
        Builds, at the builder's insertion point, the gradients of the
        operands flagged in `needed` (one flag per operand) given
        `resultGrads` (one per result; a null Value for a result that gets
        no gradient, at least one is non-null). Sets `operandGrads` to one
        Value per operand: the gradient where needed and the operand is
        differentiable, null otherwise. Fails (with an error on the op) when
        the op in this form cannot be differentiated.
      }],
      "::llvm::LogicalResult", "buildVJP",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::ArrayRef<bool>":$needed,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

def NSL_PerSampleOpInterface : OpInterface<"PerSampleOpInterface"> {
  let description = [{
    An op that can compute each sample of a batch on its own: the outliner
    (`--nsl-outline-kernels`) splits its kernel over the batch, slicing the
    per-sample operands along their leading dimension and reading the others
    whole. Ops that mix samples (training batch norm, the loss, weight
    folding, the weight gradients) do not have it.
  }];
  let cppNamespace = "::mlir::nsl";
  let methods = [
    InterfaceMethod<[{
        One flag per operand: true for an operand that is per sample (its
        leading dimension is the batch), false for one every sample reads
        whole. std::nullopt when this instance mixes samples after all (a
        rank-0 result; a VJP asked for batch sums). The default: an operand
        is per sample when its leading dimension is the first result's,
        std::nullopt for a rank-0 result — right for ops whose operands are
        all batched (activations, pooling, reshapes, elementwise ops, whose
        broadcast operands have a leading 1 or a lower rank).
      }],
      "std::optional<::llvm::SmallVector<bool>>", "getPerSampleOperands",
      (ins), "", [{
        return ::mlir::nsl::leadingDimensionOperands($_op.getOperation());
      }]>,
  ];
}

#endif // NSL_INTERFACES_TD
