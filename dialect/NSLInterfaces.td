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

#endif // NSL_INTERFACES_TD
