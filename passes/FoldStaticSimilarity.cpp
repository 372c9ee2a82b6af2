//===- FoldStaticSimilarity.cpp - W' = W·M for static similarities -------===//
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nsl {
#define GEN_PASS_DEF_FOLDSTATICSIMILARITY
#include "passes/Passes.h.inc"
} // namespace mlir::nsl

using namespace mlir;
using namespace mlir::nsl;

namespace {

/// sim_conv2d S (static) → sim_conv2d identity with fold_similarity S(W).
struct FoldConvSimilarity : OpRewritePattern<SimConv2dOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SimConv2dOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getDynamic())
      return rewriter.notifyMatchFailure(op, "dynamic similarity");
    if (op.getStructure() == Structure::Identity)
      return rewriter.notifyMatchFailure(op, "already a plain convolution");
    Value folded = FoldSimilarityOp::create(
        rewriter, op.getLoc(), op.getWeight(), op.getSimilarity(),
        op.getStructureAttr(), /*group_size=*/IntegerAttr(), op.getAlphaAttr());
    rewriter.replaceOpWithNewOp<SimConv2dOp>(
        op, op.getType(), op.getInput(), folded, ValueRange(), op.getBias(),
        Structure::Identity, /*dynamic=*/false, /*alpha=*/APFloat(0.0f),
        op.getStride(), op.getPadding(), op.getDilation(), op.getGroups());
    return success();
  }
};

/// sim_linear S → linear with fold_similarity S(W) per feature group.
struct FoldLinearSimilarity : OpRewritePattern<SimLinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SimLinearOp op,
                                PatternRewriter &rewriter) const override {
    Value weight = op.getWeight();
    if (op.getStructure() != Structure::Identity)
      weight = FoldSimilarityOp::create(
          rewriter, op.getLoc(), op.getWeight(), op.getSimilarity(),
          op.getStructureAttr(), op.getGroupSizeAttr(), op.getAlphaAttr());
    rewriter.replaceOpWithNewOp<LinearOp>(op, op.getType(), op.getInput(),
                                          weight, op.getBias());
    return success();
  }
};

struct FoldStaticSimilarityPass
    : nsl::impl::FoldStaticSimilarityBase<FoldStaticSimilarityPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFoldStaticSimilarityPatterns(patterns);
    // The greedy driver also folds fold_similarity of constants.
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::nsl::populateFoldStaticSimilarityPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FoldConvSimilarity, FoldLinearSimilarity>(patterns.getContext());
}
