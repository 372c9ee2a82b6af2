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

#endif // NSL_PASSES_TD
