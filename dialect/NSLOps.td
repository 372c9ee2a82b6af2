//===- NSLOps.td - Operations of the nsl dialect -----------*- tablegen -*-===//
//
// The math of every op is written once, here, in DESIGN.md's notation; the
// reference implementation (runtime/reference/Ops.h) follows it literally.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_OPS_TD
#define NSL_OPS_TD

include "dialect/NSLDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "dialect/NSLInterfaces.td"

def NSL_Tensor : StaticShapeTensorOf<[F32]>;
def NSL_LabelTensor : StaticShapeTensorOf<[I64]>;

// Elementwise ops whose operand and result types all match: nothing else
// to verify, and the result type is inferred from that trait.
class NSL_ElementwiseOp<string mnemonic, list<Trait> traits = []>
    : Op<NSL_Dialect, mnemonic,
         !listconcat([Pure, SameOperandsAndResultType], traits)>;

class NSL_Op<string mnemonic, list<Trait> traits = []>
    : Op<NSL_Dialect, mnemonic,
         !listconcat([Pure, InferTypeOpAdaptor], traits)> {
  // Every op checks its operands and computes its result types in one
  // checker (NSLOps.cpp), run by both the verifier and type inference.
  let hasVerifier = 1;
}

// Stride, padding and dilation of a 2-D window, [height, width] each, as in
// torch.nn.Conv2d.
defvar NSL_WindowAttrs = (ins
  DefaultValuedAttr<NSL_PairAttr, "{1, 1}">:$stride,
  DefaultValuedAttr<NSL_PairAttr, "{0, 0}">:$padding,
  DefaultValuedAttr<NSL_PairAttr, "{1, 1}">:$dilation);

defvar NSL_SimilarityDoc = [{
    The similarity operands depend on `structure` (`K` taps; for a dynamic
    similarity `[Ho, Wo]` is the op's output size):

    | structure | static operands | dynamic operands | M |
    |---|---|---|---|
    | `identity` | none | — | `I` |
    | `diagonal` (DNS) | `m: [K]` | `m: [N, K, Ho, Wo]` | `diag(m)` |
    | `full` (UNS) | `M: [K, K]` | `M: [N, K·K, Ho, Wo]`, channel `t·K + s` holds `M_p[t,s]` | `M` |
    | `cholesky` | `L: [K, K]` | — | `L Lᵀ` (lower triangle of `L` only) |
    | `shape_masked` | `d_r: [K]`, `R: [K]` or `[K, K]` | `d_r: [K]`, `R: [N, K, Ho, Wo]` or `[N, K·K, Ho, Wo]` | `diag(D)·R`, `D[t] = 1[d_r[t] > alpha]` |

    An `R` of `K` elements (or `K` channels) is a diagonal `R`.
}];

//===----------------------------------------------------------------------===//
// Similarity layers
//===----------------------------------------------------------------------===//

def NSL_SimConv2dOp : NSL_Op<"sim_conv2d", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, AttrSizedOperandSegments, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "similarity convolution Y = Σ W·M·X_p";
  let description = !strconcat([{
    A 2-D convolution whose inner product is the bilinear similarity
    `wᵀ M x_p`:

        Y[n,o,p] = Σ_c Σ_t Σ_s W[o,c,t] · M[t,s] · X_p[c,s]   (+ bias[o])

    with `input: [N, C, H, W]`, `weight: [O, C, kh, kw]`, optional
    `bias: [O]` and result `[N, O, Ho, Wo]`,
    `Ho = (H + 2·ph − dh·(kh − 1) − 1) / sh + 1` (likewise `Wo`). `M` is
    shared by all input channels and all kernels of the layer. A static `M`
    is a learned parameter (`--nsl-fold-static-similarity` folds it into the
    weights); with the `dynamic` keyword `M_p` is given per sample and output
    position, usually by `nsl.predicted_similarity`. With `identity` the op
    is a plain convolution.

    With `groups = G` (a grouped convolution; depthwise when `G = C`) the
    channels split into `G` consecutive groups: `weight: [O, C/G, kh, kw]`,
    and output channel `o` reads only the input channels of its group
    `⌊o·G/O⌋`, `c = ⌊o·G/O⌋·C/G + c'`. `M` acts on the taps, so every group
    shares the layer's `M` (the static structures, folded per tap, apply to
    grouped layers unchanged), and a dynamic `M_p` is shared by all groups
    at position `p`.
  }], NSL_SimilarityDoc, [{

    Example (a DNS layer, 3×3 kernel, padding 1):

    ```mlir
    %y = nsl.sim_conv2d diagonal dynamic %x, %w
           similarity(%m : tensor<2x9x16x16xf32>) bias(%b : tensor<16xf32>)
           {padding = array<i64: 1, 1>}
         : tensor<2x8x16x16xf32>, tensor<16x8x3x3xf32> -> tensor<2x16x16x16xf32>
    ```
  }]);
  let arguments = !con((ins NSL_Tensor:$input, NSL_Tensor:$weight,
                            Variadic<NSL_Tensor>:$similarity,
                            Optional<NSL_Tensor>:$bias,
                            NSL_StructureAttr:$structure,
                            UnitAttr:$dynamic,
                            DefaultValuedAttr<F32Attr, "0.0f">:$alpha),
                       NSL_WindowAttrs,
                       (ins DefaultValuedAttr<I64Attr, "1">:$groups));
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $structure (`dynamic` $dynamic^)? $input `,` $weight
    (`similarity` `(` $similarity^ `:` type($similarity) `)`)? (`bias` `(` $bias^ `:` type($bias) `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
}

def NSL_SphereConv2dOp : NSL_Op<"sphere_conv2d", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "hyperspherical convolution g(θ_{w,x_p})";
  let description = [{
    SphereConv, the building block of the SphereNet predictor:

        ‖w_o‖ = sqrt(Σ_{c,t} W[o,c,t]² + ε)    ‖x_p‖ = sqrt(Σ_{c,s} X_p[c,s]² + ε)
        cos θ = (Σ_{c,t} W[o,c,t] · X_p[c,t]) / (‖w_o‖ · ‖x_p‖)
        Y[n,o,p] = g(θ)

    | variant | g(θ) |
    |---|---|
    | `cosine` | `cos θ` |
    | `linear` | `1 − 2θ/π`, `θ = acos(clamp(cos θ, −1+1e-6, 1−1e-6))` |
    | `sigmoid` | `κ·(1 − e^{θ/k − π/(2k)}) / (1 + e^{θ/k − π/(2k)})`, `κ = (1 + e^{−π/(2k)}) / (1 − e^{−π/(2k)})`, `k = sigmoid_k` |
    | `learned_sigmoid` | as `sigmoid` with `k = |k_param[o]| + 0.05` |

    `input: [N, C, H, W]`, `weight: [O, C, kh, kw]`, `k_param: [O]` (only and
    always with `learned_sigmoid`), result `[N, O, Ho, Wo]`. With
    `input_only` (cosine only) the output is
    `Σ W·X_p / ‖x_p‖`: a convolution normalised by its input, `W` left
    unnormalised. `‖x_p‖` is a box filter of `x²` over the patch, computed in
    the same pass as the product.
  }];
  let arguments = !con((ins NSL_Tensor:$input, NSL_Tensor:$weight,
                            Optional<NSL_Tensor>:$k_param,
                            NSL_SphereVariantAttr:$variant,
                            UnitAttr:$input_only,
                            DefaultValuedAttr<F32Attr, "1.0e-4f">:$epsilon,
                            DefaultValuedAttr<F32Attr, "0.3f">:$sigmoid_k),
                       NSL_WindowAttrs);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $variant (`input_only` $input_only^)? $input `,` $weight
    (`k_param` `(` $k_param^ `:` type($k_param) `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
}

def NSL_PatchNormOp : NSL_Op<"patch_norm", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "norm of every input patch, ‖x_p‖";
  let description = [{
        Y[n,0,p] = sqrt(Σ_{c,s} X_p[n,c,s]² + ε)

    `input: [N, C, H, W]` → `[N, 1, Ho, Wo]` for the window given by
    `kernel_size`, `stride`, `padding` and `dilation`.
  }];
  let arguments = !con((ins NSL_Tensor:$input,
                            NSL_PairAttr:$kernel_size,
                            DefaultValuedAttr<F32Attr, "1.0e-4f">:$epsilon),
                       NSL_WindowAttrs);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_PredictedSimilarityOp : NSL_Op<"predicted_similarity", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "dynamic similarity M_p = γ·P(X)_p + I";
  let description = [{
    Turns a predictor's output into the dynamic similarity operand of
    `nsl.sim_conv2d`:

        diagonal (DNS), prediction [N, K, Ho, Wo]:   M[n,t,p]     = γ·P[n,t,p] + 1
        full (UNS), prediction [N, K·K, Ho, Wo]:     M[n,t·K+s,p] = γ·P[n,t·K+s,p] + δ_ts

    `gamma` is the learned scalar gain (rank 0 or `[1]`); a small initial γ
    starts the layer at `M_p ≈ I`.
  }];
  let arguments = (ins NSL_Tensor:$prediction, NSL_Tensor:$gamma,
                       NSL_StructureAttr:$structure);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $structure $prediction `,` $gamma attr-dict `:` type($prediction) `,`
    type($gamma) `->` type($result)
  }];
}

def NSL_SimLinearOp : NSL_Op<"sim_linear", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, AttrSizedOperandSegments]> {
  let summary = "similarity fully connected layer";
  let description = !strconcat([{
    The `F` input features form `G` groups of `B = group_size` (`F = G·B`)
    sharing one static `M ∈ R^{B×B}`:

        y[n,o] = Σ_g Σ_t Σ_s W[o, g·B+t] · M[t,s] · x[n, g·B+s]   (+ b[o])

    `input: [N, F]`, `weight: [O, F]`, optional `bias: [O]`, result `[N, O]`:
    the similarity convolution of a 1×1 image with `K = B` taps. The
    structures and their operands are those of `nsl.sim_conv2d` (static only).
  }], NSL_SimilarityDoc);
  let arguments = (ins NSL_Tensor:$input, NSL_Tensor:$weight,
                       Variadic<NSL_Tensor>:$similarity,
                       Optional<NSL_Tensor>:$bias,
                       NSL_StructureAttr:$structure,
                       ConfinedAttr<I64Attr, [IntPositive]>:$group_size,
                       DefaultValuedAttr<F32Attr, "0.0f">:$alpha);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $structure $input `,` $weight (`similarity` `(` $similarity^ `:` type($similarity) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict `:` type($input) `,`
    type($weight) `->` type($result)
  }];
}

def NSL_FoldSimilarityOp : NSL_Op<"fold_similarity", [DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "fold a static similarity into the weights, W' = W·M";
  let description = !strconcat([{
    For a convolution weight `[O, C, kh, kw]` (`K = kh·kw`):

        W'[o,c,s] = Σ_t W[o,c,t] · M[t,s]

    after which `nsl.sim_conv2d identity` with `W'` computes the structured
    layer exactly. For a linear weight `[O, F]` the same product is taken
    per group of `group_size` features. The result has the weight's shape.
    The similarity operands are those of a static `nsl.sim_conv2d`; the op
    folds to a constant when all its operands are constants.
  }], NSL_SimilarityDoc);
  let arguments = (ins NSL_Tensor:$weight, Variadic<NSL_Tensor>:$similarity,
                       NSL_StructureAttr:$structure,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$group_size,
                       DefaultValuedAttr<F32Attr, "0.0f">:$alpha);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $structure $weight (`similarity` `(` $similarity^ `:` type($similarity) `)`)?
    attr-dict `:` type($weight) `->` type($result)
  }];
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Ordinary layers
//===----------------------------------------------------------------------===//

// The four per-channel parameters share one type [C].
defvar NSL_BatchNormParametersMatch =
    AllTypesMatch<["weight", "bias", "running_mean", "running_var"]>;

def NSL_BatchNormOp : NSL_Op<"batch_norm", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, NSL_BatchNormParametersMatch]> {
  let summary = "batch normalisation, inference form";
  let description = [{
        Y[n,c,…] = (X[n,c,…] − running_mean[c]) / sqrt(running_var[c] + ε)
                   · weight[c] + bias[c]

    `input: [N, C]` or `[N, C, H, W]`; the four parameters are `[C]`.
  }];
  let arguments = (ins NSL_Tensor:$input, NSL_Tensor:$weight,
                       NSL_Tensor:$bias, NSL_Tensor:$running_mean,
                       NSL_Tensor:$running_var,
                       DefaultValuedAttr<F32Attr, "1.0e-5f">:$epsilon);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` type($input) `,` type($weight) `->` type($result)
  }];
}

def NSL_BatchNormTrainOp
    : NSL_Op<"batch_norm_train", [NSL_BatchNormParametersMatch, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "batch normalisation, training form";
  let description = [{
    PyTorch 1.13's training-mode batch norm over all dimensions but the
    channel dimension 1 (`m` elements per channel):

        batch_mean[c] = Σ X[·,c,·] / m
        batch_var[c]  = Σ (X[·,c,·] − batch_mean[c])² / m          (biased)
        Y = (X − batch_mean[c]) / sqrt(batch_var[c] + ε) · weight[c] + bias[c]
        new_running_mean = (1 − momentum)·running_mean + momentum·batch_mean
        new_running_var  = (1 − momentum)·running_var + momentum·batch_var·m/(m − 1)

    The running statistics are results, not updated in place; they are not
    differentiated.
  }];
  let arguments = (ins NSL_Tensor:$input, NSL_Tensor:$weight,
                       NSL_Tensor:$bias, NSL_Tensor:$running_mean,
                       NSL_Tensor:$running_var,
                       DefaultValuedAttr<F32Attr, "1.0e-5f">:$epsilon,
                       DefaultValuedAttr<F32Attr, "0.1f">:$momentum);
  let results = (outs NSL_Tensor:$result, NSL_Tensor:$batch_mean,
                      NSL_Tensor:$batch_var, NSL_Tensor:$new_running_mean,
                      NSL_Tensor:$new_running_var);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` type($input) `,` type($weight) `->` type(results)
  }];
}

def NSL_ReluOp : NSL_ElementwiseOp<"relu", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "rectified linear unit, max(x, 0)";
  let arguments = (ins NSL_Tensor:$input);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
}

def NSL_MaxPool2dOp : NSL_Op<"max_pool2d", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "2-D max pooling";
  let description = [{
        Y[n,c,p] = max_t X_p[n,c,t]

    over the window (`kernel_size`, `stride`, `padding`, `dilation`); padded
    positions count as −∞, as in PyTorch (padding at most half the
    kernel). `[N, C, H, W]` → `[N, C, Ho, Wo]` with
    `Ho = ⌊(H + 2·ph − dh·(kh − 1) − 1) / sh⌋ + 1`; with `ceil_mode` (PyTorch's)
    the division rounds up, less one when the last window would start at or
    past `H + ph`, and a partial last window takes the maximum of the pixels
    it covers.
  }];
  let arguments = !con((ins NSL_Tensor:$input, NSL_PairAttr:$kernel_size),
                       NSL_WindowAttrs,
                       (ins DefaultValuedAttr<BoolAttr, "false">:$ceil_mode));
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_AvgPool2dOp : NSL_Op<"avg_pool2d", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "2-D average pooling";
  let description = [{
        Y[n,c,p] = Σ_t X_p[n,c,t] / count_p

    Padding is at most half the kernel; dilation is 1; the output size as
    `nsl.max_pool2d`'s (`ceil_mode` included). `count_p` is PyTorch's
    divisor: with `count_include_pad` (PyTorch's default) the taps of the
    window inside the padded input `[−ph, H + ph) × [−pw, W + pw)` — `kh·kw`
    but for a partial last window of `ceil_mode` — else the taps inside the
    image.
  }];
  let arguments = (ins NSL_Tensor:$input, NSL_PairAttr:$kernel_size,
                       DefaultValuedAttr<NSL_PairAttr, "{1, 1}">:$stride,
                       DefaultValuedAttr<NSL_PairAttr, "{0, 0}">:$padding,
                       DefaultValuedAttr<BoolAttr, "true">:$count_include_pad,
                       DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_GlobalAvgPool2dOp : NSL_Op<"global_avg_pool2d", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "mean over the spatial dimensions";
  let description = [{
    `Y[n,c,0,0] = Σ_{y,x} X[n,c,y,x] / (H·W)`: `[N, C, H, W]` → `[N, C, 1, 1]`
    (PyTorch's `adaptive_avg_pool2d(x, 1)`).
  }];
  let arguments = (ins NSL_Tensor:$input);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

defvar NSL_AdaptiveWindowsDoc = [{
    `[N, C, H, W]` → `[N, C, Ho, Wo]` for `output_size = [Ho, Wo]`, any
    sizes ≥ 1 (larger than the input too), with PyTorch's windows: output row
    `i` pools the input rows `[⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉)` (likewise the
    columns), so windows may differ in size and overlap.
}];

def NSL_AdaptiveAvgPool2dOp : NSL_Op<"adaptive_avg_pool2d", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "2-D average pooling to a given output size";
  let description = !strconcat([{
        Y[n,c,i,j] = Σ_{y ∈ rows(i), x ∈ cols(j)} X[n,c,y,x] / (|rows(i)|·|cols(j)|)

  }], NSL_AdaptiveWindowsDoc, [{
    PyTorch's `adaptive_avg_pool2d`; output `[1, 1]` is
    `nsl.global_avg_pool2d`.
  }]);
  let arguments = (ins NSL_Tensor:$input, NSL_PairAttr:$output_size);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_AdaptiveMaxPool2dOp : NSL_Op<"adaptive_max_pool2d", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "2-D max pooling to a given output size";
  let description = !strconcat([{
        Y[n,c,i,j] = max_{y ∈ rows(i), x ∈ cols(j)} X[n,c,y,x]

  }], NSL_AdaptiveWindowsDoc, [{
    The values of PyTorch's `adaptive_max_pool2d` (not its indices).
  }]);
  let arguments = (ins NSL_Tensor:$input, NSL_PairAttr:$output_size);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_LinearOp : NSL_Op<"linear", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "fully connected layer y = x·Wᵀ + b";
  let description = [{
        y[n,o] = Σ_f W[o,f] · x[n,f]   (+ bias[o])

    `input: [N, F]`, `weight: [O, F]`, optional `bias: [O]` → `[N, O]`.
  }];
  let arguments = (ins NSL_Tensor:$input, NSL_Tensor:$weight,
                       Optional<NSL_Tensor>:$bias);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict `:`
    type($input) `,` type($weight) `->` type($result)
  }];
}

def NSL_FlattenOp : NSL_Op<"flatten", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "flatten all dimensions after the batch dimension";
  let description = [{
    `[N, d1, d2, …]` → `[N, d1·d2·…]`, row-major (PyTorch's
    `torch.flatten(x, 1)`).
  }];
  let arguments = (ins NSL_Tensor:$input);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def NSL_ConcatOp : NSL_Op<"concat", [NSL_PerSampleOpInterface, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "concatenation along a dimension after the batch";
  let description = [{
    `torch.cat(inputs, dim)`: the inputs, of equal rank (≥ 2) and equal sizes
    but along `dim`, one after the other along `dim`. `dim` is at least 1:
    the batch dimension is the runtime's to split.

    ```mlir
    %y = nsl.concat %a, %b {dim = 1}
        : tensor<2x3x8x8xf32>, tensor<2x5x8x8xf32> -> tensor<2x8x8x8xf32>
    ```
  }];
  let arguments = (ins Variadic<NSL_Tensor>:$inputs, I64Attr:$dim);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Layout and reductions
//===----------------------------------------------------------------------===//

def NSL_ReshapeOp : NSL_Op<"reshape", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "the same elements, row-major, in another shape";
  let description = [{
    `torch.reshape(x, shape)` on a contiguous tensor: the element at
    row-major position `i` of the input is the element at row-major
    position `i` of the result. `shape` has rank 1 to 6 and the input's
    element count. Per sample when the batch dimension is kept.

    ```mlir
    %y = nsl.reshape %x {shape = array<i64: 2, 4, 2, 8, 8>}
        : tensor<2x8x8x8xf32> -> tensor<2x4x2x8x8xf32>
    ```
  }];
  let arguments = (ins NSL_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def NSL_TransposeOp : NSL_Op<"transpose", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "permutation of the dimensions";
  let description = [{
    `x.permute(permutation)`: `Y[i_0, …, i_(r−1)]` is `X` at the index whose
    dimension `permutation[k]` is `i_k`; the result's dimension `k` has the
    size of the input's dimension `permutation[k]`. PyTorch's `transpose`
    is the permutation swapping two dimensions. Per sample when
    `permutation[0] = 0`.

    ```mlir
    %y = nsl.transpose %x {permutation = array<i64: 0, 2, 3, 1>}
        : tensor<2x8x4x4xf32> -> tensor<2x4x4x8xf32>
    ```
  }];
  let arguments = (ins NSL_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def NSL_SliceOp : NSL_Op<"slice", [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "a contiguous range along one dimension";
  let description = [{
    `x.narrow(dim, start, size)`: `Y[…, i, …] = X[…, start + i, …]` along
    `dim`, `0 ≤ i < size`, every other dimension whole (PyTorch's `chunk`
    and `split` are several slices). Per sample when `dim ≥ 1`.

    ```mlir
    %y = nsl.slice %x {dim = 1, start = 4, size = 4}
        : tensor<2x8x4x4xf32> -> tensor<2x4x4x4xf32>
    ```
  }];
  let arguments = (ins NSL_Tensor:$input, I64Attr:$dim, I64Attr:$start,
                       I64Attr:$size);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

// A reduction over the dimensions `dims` (distinct, ascending after
// normalisation, each in [0, rank)); `keepdim` keeps them with size 1.
class NSL_ReduceOp<string mnemonic, string summaryText, string formula>
    : NSL_Op<mnemonic, [DeclareOpInterfaceMethods<NSL_PerSampleOpInterface, ["getPerSampleOperands"]>, DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = summaryText;
  let description = !strconcat([{
    Over the dimensions `dims` (at least one, distinct, ascending), the
    reduced index `r` running over their product:

        }], formula, [{

    The reduced dimensions are dropped, or kept with size 1 with `keepdim`
    (PyTorch's `keepdim`). Per sample when `0` is not reduced.

    ```mlir
    %y = nsl.}], mnemonic, [{ %x {dims = array<i64: 2, 3>, keepdim}
        : tensor<2x8x4x4xf32> -> tensor<2x8x1x1xf32>
    ```
  }]);
  let arguments = (ins NSL_Tensor:$input, DenseI64ArrayAttr:$dims,
                       UnitAttr:$keepdim);
  let results = (outs NSL_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NSL_ReduceSumOp
    : NSL_ReduceOp<"reduce_sum", "sum over dimensions",
                   "Y[i] = Σ_r X[i, r]">;
def NSL_ReduceMeanOp
    : NSL_ReduceOp<"reduce_mean", "mean over dimensions",
                   "Y[i] = Σ_r X[i, r] / R   (R the number of reduced elements)">;
def NSL_ReduceMaxOp
    : NSL_ReduceOp<"reduce_max", "maximum over dimensions",
                   "Y[i] = max_r X[i, r]     (the gradient is shared evenly by ties, as torch.amax)">;

def NSL_SoftmaxCrossEntropyOp : NSL_Op<"softmax_cross_entropy", [DeclareOpInterfaceMethods<NSL_DifferentiableOpInterface>]> {
  let summary = "mean cross-entropy of softmax(logits) with label smoothing";
  let description = [{
    PyTorch 1.13's `F.cross_entropy(logits, labels, label_smoothing=ε)` with
    mean reduction:

        log p[n,c] = logits[n,c] − log Σ_j exp(logits[n,j])
        loss = (1/N) Σ_n [ (1 − ε)·(−log p[n, labels[n]]) + ε·(1/C) Σ_c (−log p[n,c]) ]

    `logits: [N, C]` (f32), `labels: [N]` (i64, in `[0, C)`) → rank-0 loss.
  }];
  let arguments = (ins NSL_Tensor:$logits, NSL_LabelTensor:$labels,
                       DefaultValuedAttr<F32Attr, "0.0f">:$label_smoothing);
  let results = (outs NSL_Tensor:$loss);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->`
    type($loss)
  }];
}

include "dialect/NSLTrainingOps.td"
include "dialect/NSLElementwise.td"

#endif // NSL_OPS_TD
