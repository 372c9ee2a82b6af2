//===- NSLTrainingOps.td - Ops of the training step --------*- tablegen -*-===//
//
// What --nsl-generate-train-step emits besides the forward ops: one
// vector-Jacobian product op per differentiable forward op, the regularisers,
// the optimizer updates and the accuracy count. Included by NSLOps.td.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_TRAINING_OPS_TD
#define NSL_TRAINING_OPS_TD

//===----------------------------------------------------------------------===//
// Vector-Jacobian products
//===----------------------------------------------------------------------===//

// The VJP of `forward`: the forward op's operands and attributes, then the
// upstream gradient(s) of its result(s), then `wrt`, the indices (into the
// forward operands, ascending) of the operands whose gradients the op
// returns, in that order, each with its operand's type. The verifier runs the
// forward op's own checker on the forward operands, so a VJP op is exactly
// as valid as the op it differentiates, and checks the upstream gradient
// against the forward result type.
class NSL_VJPOp<string mnemonic, Op forward, dag gradOutputs,
                list<Trait> traits = []>
    : Op<NSL_Dialect, mnemonic, !listconcat([Pure], traits)> {
  let summary = "vector-Jacobian product of `nsl." # forward.opName # "`";
  let description = "Gradients of the operands listed in `wrt` of `nsl." #
    forward.opName # "` for the upstream gradient, in double-checked f32 " #
    "(runtime/reference/Gradients.h is the oracle; conventions at " #
    "non-differentiable points follow PyTorch 1.13).";
  let arguments = !con(forward.arguments, gradOutputs,
                       (ins DenseI64ArrayAttr:$wrt));
  let results = (outs Variadic<NSL_Tensor>:$grads);
  let hasVerifier = 1;
}

def NSL_SimConv2dVJPOp
    : NSL_VJPOp<"sim_conv2d_vjp", NSL_SimConv2dOp,
                (ins NSL_Tensor:$grad_output), [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, AttrSizedOperandSegments]> {
  let description = [{
    Gradients of a plain (`identity`) or dynamic (`diagonal`, `full`,
    `shape_masked` with the straight-through `d_r`) similarity convolution for upstream `G [N, O, Ho, Wo]` (DESIGN.md §1):

        ∂X: scatter Σ_o Σ_t G[n,o,p]·W[o,c,t]·M_p[t,s] into X_p[c,s]
        ∂W[o,c,t] = Σ_{n,p} G[n,o,p]·Σ_s M_p[t,s]·X_p[c,s]
        ∂M_p[t,s] = Σ_{o,c} G[n,o,p]·W[o,c,t]·X_p[c,s]   (DNS: t = s)
        ∂bias[o]  = Σ_{n,p} G[n,o,p]

    Static similarities are folded (`nsl.fold_similarity`) before
    differentiation. Every sum runs in a fixed order: same inputs, same bits.
  }];
  let assemblyFormat = [{
    $structure (`dynamic` $dynamic^)? $input `,` $weight
    (`similarity` `(` $similarity^ `:` type($similarity) `)`)? (`bias` `(` $bias^ `:` type($bias) `)`)?
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `,` type($weight) `->` type($grads)
  }];
}

def NSL_SphereConv2dVJPOp
    : NSL_VJPOp<"sphere_conv2d_vjp", NSL_SphereConv2dOp,
                (ins NSL_Tensor:$grad_output), [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>]> {
  let assemblyFormat = [{
    $variant (`input_only` $input_only^)? $input `,` $weight
    (`k_param` `(` $k_param^ `:` type($k_param) `)`)?
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `,` type($weight) `->` type($grads)
  }];
}

def NSL_PatchNormVJPOp
    : NSL_VJPOp<"patch_norm_vjp", NSL_PatchNormOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_PredictedSimilarityVJPOp
    : NSL_VJPOp<"predicted_similarity_vjp", NSL_PredictedSimilarityOp,
                (ins NSL_Tensor:$grad_output), [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>]> {
  let assemblyFormat = [{
    $structure $prediction `,` $gamma
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($prediction) `,` type($gamma) `->` type($grads)
  }];
}

def NSL_FoldSimilarityVJPOp
    : NSL_VJPOp<"fold_similarity_vjp", NSL_FoldSimilarityOp,
                (ins NSL_Tensor:$grad_output)> {
  let assemblyFormat = [{
    $structure $weight (`similarity` `(` $similarity^ `:` type($similarity) `)`)?
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($weight) `->` type($grads)
  }];
}

def NSL_LinearVJPOp
    : NSL_VJPOp<"linear_vjp", NSL_LinearOp, (ins NSL_Tensor:$grad_output)> {
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)?
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `,` type($weight) `->` type($grads)
  }];
}

def NSL_BatchNormTrainVJPOp
    : NSL_VJPOp<"batch_norm_train_vjp", NSL_BatchNormTrainOp,
                (ins NSL_Tensor:$grad_output),
                [NSL_BatchNormParametersMatch]> {
  let description = [{
    Gradients of the normalised output of `nsl.batch_norm_train` (its batch
    and running statistics are not differentiated):

        ∂X = γ/σ·(G − mean(G) − x̂·mean(G·x̂))   per channel, σ = sqrt(batch_var + ε)
        ∂weight[c] = Σ G·x̂        ∂bias[c] = Σ G
  }];
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var
    `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `,` type($weight) `->` type($grads)
  }];
}

def NSL_ReluVJPOp
    : NSL_VJPOp<"relu_vjp", NSL_ReluOp, (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_MaxPool2dVJPOp
    : NSL_VJPOp<"max_pool2d_vjp", NSL_MaxPool2dOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_AvgPool2dVJPOp
    : NSL_VJPOp<"avg_pool2d_vjp", NSL_AvgPool2dOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_GlobalAvgPool2dVJPOp
    : NSL_VJPOp<"global_avg_pool2d_vjp", NSL_GlobalAvgPool2dOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_AdaptiveAvgPool2dVJPOp
    : NSL_VJPOp<"adaptive_avg_pool2d_vjp", NSL_AdaptiveAvgPool2dOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_AdaptiveMaxPool2dVJPOp
    : NSL_VJPOp<"adaptive_max_pool2d_vjp", NSL_AdaptiveMaxPool2dOp,
                (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_FlattenVJPOp
    : NSL_VJPOp<"flatten_vjp", NSL_FlattenOp, (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_ConcatVJPOp
    : NSL_VJPOp<"concat_vjp", NSL_ConcatOp, (ins NSL_Tensor:$grad_output), [NSL_PerSampleOpInterface]> {
  let assemblyFormat = [{
    $inputs `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($inputs) `->` type($grads)
  }];
}

def NSL_SliceVJPOp
    : NSL_VJPOp<"slice_vjp", NSL_SliceOp, (ins NSL_Tensor:$grad_output),
                [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

// The reductions' VJPs: the upstream gradient spread over the reduced
// dimensions (divided by their count for the mean, onto the maxima for the
// maximum).
class NSL_ReduceVJPOp<string mnemonic, Op forward>
    : NSL_VJPOp<mnemonic, forward, (ins NSL_Tensor:$grad_output),
                [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>]> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_ReduceSumVJPOp : NSL_ReduceVJPOp<"reduce_sum_vjp", NSL_ReduceSumOp>;
def NSL_ReduceMeanVJPOp : NSL_ReduceVJPOp<"reduce_mean_vjp", NSL_ReduceMeanOp>;
def NSL_ReduceMaxVJPOp : NSL_ReduceVJPOp<"reduce_max_vjp", NSL_ReduceMaxOp>;

def NSL_SoftmaxCrossEntropyVJPOp
    : NSL_VJPOp<"softmax_cross_entropy_vjp", NSL_SoftmaxCrossEntropyOp,
                (ins NSL_Tensor:$grad_output)> {
  let assemblyFormat = [{
    $logits `,` $labels `grad` `(` $grad_output `:` type($grad_output) `)`
    `wrt` $wrt attr-dict `:` type($logits) `,` type($labels) `->` type($grads)
  }];
}

//===----------------------------------------------------------------------===//
// Regularisers (DESIGN.md §1) and their VJPs
//===----------------------------------------------------------------------===//

def NSL_L1PenaltyOp : NSL_Op<"l1_penalty", [DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "L1 sparsity penalty λ·Σ|M|";
  let description = [{
    `λ·Σ|M|` over all elements of an f32 tensor of any shape, as a rank-0
    tensor; `--nsl-generate-train-step` adds it to the loss for the
    similarity parameters. The VJP is `λ·sign(M)` with `sign(0) = 0`.
  }];
  let arguments = (ins NSL_Tensor:$input,
                       DefaultValuedAttr<F32Attr, "0.0f">:$strength);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_OrthogonalityPenaltyOp
    : NSL_Op<"orthogonality_penalty", [DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "SphereNet orthogonality penalty λ·‖W_f·W_fᵀ − I‖²";
  let description = [{
    `λ·‖W_f·W_fᵀ − I‖²_F` with `W_f` the weight viewed as `[O, F]`, one
    filter per row (`F = C·kh·kw` for a convolution weight), as a rank-0
    tensor. The VJP is `4λ·(W_f·W_fᵀ − I)·W_f`.
  }];
  let arguments = (ins NSL_Tensor:$input,
                       DefaultValuedAttr<F32Attr, "0.0f">:$strength);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_L1PenaltyVJPOp
    : NSL_VJPOp<"l1_penalty_vjp", NSL_L1PenaltyOp,
                (ins NSL_Tensor:$grad_output)> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

def NSL_OrthogonalityPenaltyVJPOp
    : NSL_VJPOp<"orthogonality_penalty_vjp", NSL_OrthogonalityPenaltyOp,
                (ins NSL_Tensor:$grad_output)> {
  let assemblyFormat = [{
    $input `grad` `(` $grad_output `:` type($grad_output) `)` `wrt` $wrt
    attr-dict `:` type($input) `->` type($grads)
  }];
}

//===----------------------------------------------------------------------===//
// Accuracy and optimizer updates
//===----------------------------------------------------------------------===//

def NSL_CountCorrectOp : NSL_Op<"count_correct"> {
  let summary = "number of samples whose arg-max logit is the label";
  let description = [{
    `Σ_n 1[argmax_c logits[n,c] = labels[n]]` as a rank-0 i64 tensor; the
    arg-max is the first maximal index (as `torch.argmax`), a NaN counts as
    the maximum. `logits: [N, C]`, `labels: [N]`.
  }];
  let arguments = (ins NSL_Tensor:$logits, NSL_LabelTensor:$labels);
  let results = (outs 0DTensorOf<[I64]>:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->`
    type($result)
  }];
}

def NSL_SgdUpdateOp : NSL_Op<"sgd_update", [AllTypesMatch<["param", "grad"]>,
                                          AllTypesMatch<["step", "lr"]>]> {
  let summary = "one torch.optim.SGD step of a parameter";
  let description = [{
    PyTorch 1.13's SGD on one parameter, `lr` a rank-0 input and `step` the
    number of steps taken before this one (rank 0):

        d = g + λ·p                                   (λ = weight_decay ≠ 0)
        buf = d if step = 0, else µ·buf + (1 − τ)·d   (µ = momentum ≠ 0)
        d = d + µ·buf (nesterov) or buf               (µ ≠ 0)
        p' = p − lr·d

    The momentum buffer is an operand and a result exactly when
    `momentum ≠ 0`. Nothing is updated in place: the results replace the
    parameter and its buffer.
  }];
  let arguments = (ins NSL_Tensor:$param, NSL_Tensor:$grad,
                       Optional<NSL_Tensor>:$momentum_buffer,
                       NSL_Tensor:$step, NSL_Tensor:$lr,
                       DefaultValuedAttr<F32Attr, "0.0f">:$momentum,
                       DefaultValuedAttr<F32Attr, "0.0f">:$dampening,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay,
                       UnitAttr:$nesterov);
  let results = (outs NSL_Tensor:$new_param,
                      Optional<NSL_Tensor>:$new_momentum_buffer);
  let assemblyFormat = [{
    $param `,` $grad (`momentum_buffer` `(` $momentum_buffer^ `:` type($momentum_buffer) `)`)?
    `step` `(` $step `)` `lr` `(` $lr `)` attr-dict `:` type($param) `,`
    type($step) `->` type(results)
  }];
}

def NSL_AdamUpdateOp
    : NSL_Op<"adam_update",
             [AllTypesMatch<["param", "grad", "exp_avg", "exp_avg_sq"]>,
              AllTypesMatch<["step", "lr"]>]> {
  let summary = "one torch.optim.Adam step of a parameter";
  let description = [{
    PyTorch 1.13's Adam on one parameter, `lr` a rank-0 input and `step` the
    number of steps taken before this one (rank 0), t = step + 1:

        g = g + λ·p                                   (λ = weight_decay ≠ 0)
        m' = β1·m + (1 − β1)·g      v' = β2·v + (1 − β2)·g²
        v̂' = max(v̂, v')                               (amsgrad; used for v' below)
        p' = p − lr/(1 − β1^t) · m' / (sqrt(v')/sqrt(1 − β2^t) + ε)

    `max_exp_avg_sq` is an operand and a result exactly with `amsgrad`.
  }];
  let arguments = (ins NSL_Tensor:$param, NSL_Tensor:$grad,
                       NSL_Tensor:$exp_avg, NSL_Tensor:$exp_avg_sq,
                       Optional<NSL_Tensor>:$max_exp_avg_sq,
                       NSL_Tensor:$step, NSL_Tensor:$lr,
                       DefaultValuedAttr<F32Attr, "0.9f">:$beta1,
                       DefaultValuedAttr<F32Attr, "0.999f">:$beta2,
                       DefaultValuedAttr<F32Attr, "1.0e-8f">:$eps,
                       DefaultValuedAttr<F32Attr, "0.0f">:$weight_decay,
                       UnitAttr:$amsgrad);
  let results = (outs NSL_Tensor:$new_param, NSL_Tensor:$new_exp_avg,
                      NSL_Tensor:$new_exp_avg_sq,
                      Optional<NSL_Tensor>:$new_max_exp_avg_sq);
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq
    (`max_exp_avg_sq` `(` $max_exp_avg_sq^ `:` type($max_exp_avg_sq) `)`)?
    `step` `(` $step `)` `lr` `(` $lr `)` attr-dict `:` type($param) `,`
    type($step) `->` type(results)
  }];
}

#endif // NSL_TRAINING_OPS_TD
