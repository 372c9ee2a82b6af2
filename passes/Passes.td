//===- Passes.td - Passes over the nsl dialect -------------*- tablegen -*-===//
#ifndef NSL_PASSES_TD
#define NSL_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldStaticSimilarity : Pass<"nsl-fold-static-similarity"> {
  let summary = "Fold static similarity matrices into the weights";
  let description = [{
    A static similarity layer is a plain convolution with the weights

        W'[o,c,s] = Σ_t W[o,c,t] · M[t,s]

    (DESIGN.md §1). This pass rewrites every static, non-identity
    `nsl.sim_conv2d` into `nsl.fold_similarity` (the small O·C·K² product, on
    the operands, so the IR still trains) followed by an identity
    `nsl.sim_conv2d`, and every `nsl.sim_linear` into `nsl.fold_similarity`
    and `nsl.linear`. When the weight and the similarity parameters are
    constants (a frozen build), the product folds to a constant. Dynamic
    similarities are left alone: their `M_p` depends on the input.
  }];
  let dependentDialects = ["::mlir::nsl::NSLDialect"];
}

def ExportGraph : Pass<"nsl-export-graph", "::mlir::ModuleOp"> {
  let summary = "Write a function as graph.json for the reference interpreter";
  let description = [{
    Writes one function of the module in the MLIR-free `graph.json` format
    (docs/graph-json.md), so that the reference interpreter in
    `runtime/reference/` can execute it on any machine. Every argument needs
    `nsl.name` and `nsl.role`; the body may hold `nsl` ops, `arith.constant`
    with dense `f32`/`i64` values, and `func.return`. The IR is left
    unchanged.
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "File to write the graph to ('-' for standard output)">,
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Name of the function to export">,
  ];
}

def GenerateTrainStep : Pass<"nsl-generate-train-step", "::mlir::ModuleOp"> {
  let summary = "Generate the train_step and eval entry points of a model";
  let description = [{
    Reverse-mode differentiation over the VJP interface (DESIGN.md §1–2).
    From the model function (`function`, default `forward`), whose first
    result is the logits `[N, C]` (or a rank-0 loss computed by
    `nsl.softmax_cross_entropy`), the pass adds two functions:

    - `@train_step(<forward arguments>, labels, lr, <optimizer state>)`:
      the forward pass in training mode (`nsl.batch_norm` becomes
      `nsl.batch_norm_train`; static similarities are folded on the
      operands), the mean cross-entropy (with `label-smoothing`) plus the
      regularisers (`l1` on the similarity parameters, `orthogonality` on
      SphereConv weights), the reverse pass, and one optimizer update
      (`nsl.sgd_update`, the default, or `nsl.adam_update`) of every
      trainable parameter that gets a gradient. It returns `loss` and
      `correct` (samples whose arg-max logit is the label), then the new
      value of every updated parameter, optimizer state tensor and batch-norm
      running statistic, each result named (`nsl.name`) after the argument
      it replaces: the runtime writes it back (in place for the caller).
    - `@eval(<forward arguments>, labels)`: the forward pass in inference
      mode, returning `loss` (cross-entropy only) and `correct`.

    New arguments: `labels` (role `label`, i64 `[N]`; absent when the model
    computes its loss), `lr` (role `learning_rate`, f32 rank 0),
    `optimizer.step` (steps taken so far) and per parameter
    `<name>.momentum_buffer` (SGD with momentum) or `<name>.exp_avg`,
    `<name>.exp_avg_sq` (+ `<name>.max_exp_avg_sq` with amsgrad) for Adam,
    all with role `optimizer_state` and initial value zero.
    `trainable` selects the trained parameters by name (comma-separated
    glob patterns, e.g. `*.similarity,*predictor*`); the others are frozen.
    With `return-gradients`, `train_step` also returns the gradient of the
    loss (regularisers included) with respect to every trained parameter
    that gets one, named `<name>.grad`, after everything else.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "The model function to differentiate">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"sgd\"",
           "sgd or adam (PyTorch 1.13's definitions)">,
    Option<"momentum", "momentum", "double", /*default=*/"0.9",
           "SGD momentum (0: none)">,
    Option<"dampening", "dampening", "double", /*default=*/"0.0",
           "SGD dampening">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "SGD Nesterov momentum">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0",
           "L2 weight decay of SGD or Adam">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "Adam beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999", "Adam beta2">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "Adam epsilon">,
    Option<"amsgrad", "amsgrad", "bool", /*default=*/"false", "Adam AMSGrad">,
    Option<"labelSmoothing", "label-smoothing", "double", /*default=*/"0.0",
           "Label smoothing of the cross-entropy">,
    Option<"l1", "l1", "double", /*default=*/"0.0",
           "Strength of the L1 penalty on the similarity parameters">,
    Option<"orthogonality", "orthogonality", "double", /*default=*/"0.0",
           "Strength of the orthogonality penalty on SphereConv weights">,
    Option<"bnMomentum", "bn-momentum", "double", /*default=*/"0.1",
           "Momentum of the batch-norm running statistics">,
    Option<"trainable", "trainable", "std::string", /*default=*/"\"*\"",
           "Comma-separated glob patterns of the trained parameters' names">,
    Option<"returnGradients", "return-gradients", "bool", /*default=*/"false",
           "Also return the gradient of every trained parameter, named "
           "'<name>.grad', last (the loss's gradient before the update)">,
  ];
  let dependentDialects = ["::mlir::nsl::NSLDialect",
                           "::mlir::arith::ArithDialect"];
}

def HoistWeightPreparation
    : Pass<"nsl-hoist-weight-preparation", "::mlir::ModuleOp"> {
  let summary = "Move what depends only on the weights into a prepare "
                "function that runs when the weights change";
  let description = [{
    An inference function computes some values from its parameters and
    buffers alone: after `--nsl-fold-static-similarity`, the folded weight
    `W·M` of every static similarity layer. Computing them on every call
    makes a static NSN cost more than the convolution it folds to. This
    pass moves every side-effect-free op of `function` whose operands are
    parameters, buffers, constants or results of such ops into a new
    function `prepare` (default `prepare_<function>`) that takes the
    parameters and buffers it needs (with their `nsl.name`/`nsl.role`) and
    returns the values the rest of `function` uses, each named
    `<name of the first weight it depends on>@prepared` (`#2`, `#3`, ... on
    a clash). `function` takes them as new trailing arguments of role
    `derived` with those names, keeps its original arguments (a caller may
    still give new weights), and gets the attribute
    `nsl.prepared_by = "<prepare>"`. The runtime runs the prepare entry
    point when the model's weights change (loading, a training step, a
    caller that gives weights) and binds its results to the `derived`
    arguments (docs/artifact.md). A function with nothing to hoist is left
    unchanged and no prepare function is created.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "The inference function to split">,
    Option<"prepare", "prepare", "std::string", /*default=*/"\"\"",
           "Name of the prepare function (default prepare_<function>)">,
  ];
}

#endif // NSL_PASSES_TD
