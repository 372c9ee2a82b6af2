//===- Optimizers.h - Reference SGD and Adam --------------------*- C++ -*-===//
//
// The parameter updates of training, in double precision with plain loops,
// exactly as torch.optim.SGD and torch.optim.Adam of PyTorch 1.13 (their
// default single-tensor, non-fused forms) compute them (DESIGN.md §1):
//
// SGD (lr, momentum µ, dampening τ, weight decay λ, nesterov):
//   d = g + λ·p                                      (λ ≠ 0)
//   if µ ≠ 0: buf = d on the first step (no dampening then),
//             buf = µ·buf + (1 − τ)·d afterwards;
//             d = d + µ·buf (nesterov) or d = buf
//   p = p − lr·d
//
// Adam (lr, β1, β2, ε, weight decay λ, amsgrad), at step t = 1, 2, ...:
//   g = g + λ·p                                      (λ ≠ 0)
//   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²   (m = v = 0 before t = 1)
//   amsgrad: v̂ = max(v̂, v), used instead of v below
//   denom = sqrt(v)/sqrt(1 − β2^t) + ε
//   p = p − (lr/(1 − β1^t))·m/denom
//
// The options are read afresh on every call and nothing of them is kept in
// the state, so a learning-rate schedule changes `lr` between calls (as a
// PyTorch scheduler changes param_groups[i]["lr"]). The checks are
// PyTorch's own (its messages, with "SGD: " or "Adam: " in front), made on
// every call; NaN options are rejected too. Parameters and gradients are
// F32 tensors of equal shapes (any rank); the state must belong to a
// parameter of that shape. Every failure throws ReferenceError and leaves the
// parameter and the state unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_OPTIMIZERS_H
#define NSL_RUNTIME_REFERENCE_OPTIMIZERS_H

#include "runtime/reference/Tensor.h"

#include <cstdint>

namespace nsl::reference {

/// torch.optim.SGD's hyper-parameters (its defaults but lr, which it
/// requires).
struct SgdOptions {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

/// torch.optim.Adam's hyper-parameters (its defaults but lr, 1e-3 there).
struct AdamOptions {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

/// The per-parameter state of SGD: PyTorch's "momentum_buffer", which exists
/// (initialized) from the first step with a non-zero momentum on.
struct SgdState {
  Tensor momentumBuffer;
  bool initialized = false;
};

/// The per-parameter state of Adam: the number of steps taken ("step"),
/// "exp_avg" (m), "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq" (v̂).
/// The tensors are created (zero, the parameter's shape) by the first step.
struct AdamState {
  int64_t step = 0;
  Tensor expAvg, expAvgSq, maxExpAvgSq;
};

/// Checks SGD's options as torch.optim.SGD does: lr ≥ 0, momentum ≥ 0,
/// weight_decay ≥ 0, nesterov only with momentum > 0 and dampening = 0.
void validateSgdOptions(const SgdOptions &options);
/// Checks Adam's options as torch.optim.Adam does: lr ≥ 0, eps ≥ 0,
/// 0 ≤ beta1 < 1, 0 ≤ beta2 < 1, weight_decay ≥ 0.
void validateAdamOptions(const AdamOptions &options);

/// One SGD step of `param` with gradient `grad` (same shape).
void sgdStep(Tensor &param, const Tensor &grad, SgdState &state,
             const SgdOptions &options);

/// One Adam step of `param` with gradient `grad` (same shape).
void adamStep(Tensor &param, const Tensor &grad, AdamState &state,
              const AdamOptions &options);

//===----------------------------------------------------------------------===//
// Functional forms (the nsl.sgd_update and nsl.adam_update ops)
//===----------------------------------------------------------------------===//
//
// The same arithmetic as sgdStep/adamStep, but nothing is updated in place:
// the state is given as tensors together with `step`, the number of steps
// taken before this one, and the updated parameter and state are returned.
// For step > 0 the results equal those of the stateful forms bit for bit;
// at step 0 SGD ignores the given momentum buffer (buf = d) while Adam uses
// the given exp_avg / exp_avg_sq / max_exp_avg_sq as they are (zero in a
// fresh optimizer).

struct SgdUpdateResult {
  Tensor param;
  Tensor momentumBuffer; // empty when momentum = 0
};
/// `momentumBuffer` is required (the parameter's shape) exactly when
/// options.momentum ≠ 0; `step` ≥ 0.
SgdUpdateResult sgdUpdate(const Tensor &param, const Tensor &grad,
                          const Tensor *momentumBuffer, int64_t step,
                          const SgdOptions &options);

struct AdamUpdateResult {
  Tensor param, expAvg, expAvgSq;
  Tensor maxExpAvgSq; // empty without amsgrad
};
/// `maxExpAvgSq` is required exactly with options.amsgrad; t = step + 1.
AdamUpdateResult adamUpdate(const Tensor &param, const Tensor &grad,
                            const Tensor &expAvg, const Tensor &expAvgSq,
                            const Tensor *maxExpAvgSq, int64_t step,
                            const AdamOptions &options);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_OPTIMIZERS_H
