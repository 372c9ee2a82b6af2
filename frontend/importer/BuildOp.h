//===- BuildOp.h - Importer::build, shared by the translation files -*- C++
//-*-===//
//
// Internal to frontend/importer: the definition of Importer::build, included
// by each file that translates nodes.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_FRONTEND_IMPORTER_BUILDOP_H
#define NSL_FRONTEND_IMPORTER_BUILDOP_H

#include "frontend/importer/Importer.h"

namespace nsl::frontend::importer {

/// Builds an nsl op through its ODS builder (a placeholder result type),
/// then infers the result type with the op's own checker, so that a model
/// the dialect rejects is an error here, not an abort.
template <typename OpTy, typename... Args>
mlir::Value Importer::build(jit::Node *node, Args &&...args) {
  mlir::OperationState state(locationOf(context, node),
                             OpTy::getOperationName());
  mlir::Type placeholder = mlir::UnrankedTensorType::get(builder.getF32Type());
  OpTy::build(builder, state, mlir::TypeRange{placeholder},
              std::forward<Args>(args)...);
  state.types.clear();
  llvm::SmallVector<mlir::Type> types;
  {
    DiagnosticCollector diagnostics(context);
    if (mlir::failed(OpTy::inferReturnTypes(
            &context, state.location, state.operands,
            state.attributes.getDictionary(&context), state.getRawProperties(),
            state.regions, types)))
      fail(node, "the " + kindOf(node) +
                     " node does not fit the nsl dialect's " +
                     OpTy::getOperationName().str() + ": " +
                     (diagnostics.joined().empty() ? "invalid operands"
                                                   : diagnostics.joined()));
  }
  state.addTypes(types);
  return builder.create(state)->getResult(0);
}

} // namespace nsl::frontend::importer

#endif // NSL_FRONTEND_IMPORTER_BUILDOP_H
