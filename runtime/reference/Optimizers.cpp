//===- Optimizers.cpp - Reference SGD and Adam ----------------------------===//
//
// See Optimizers.h. The arithmetic follows PyTorch 1.13's
// _single_tensor_sgd and _single_tensor_adam operation by operation (the
// same products in the same order), so that both agree to rounding.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Optimizers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace nsl::reference {

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

void checkTensors(const char *who, const Tensor &param, const Tensor &grad) {
  if (param.dtype != DType::F32)
    throw ReferenceError(std::string(who) +
                         ": the parameter must be an f32 tensor, not " +
                         dtypeName(param.dtype));
  if (grad.dtype != DType::F32)
    throw ReferenceError(std::string(who) +
                         ": the gradient must be an f32 tensor, not " +
                         dtypeName(grad.dtype));
  if (grad.shape != param.shape)
    throw ReferenceError(std::string(who) + ": the gradient's shape " +
                         shapeToString(grad.shape) +
                         " differs from the parameter's " +
                         shapeToString(param.shape));
  if (param.numel() != numElements(param.shape) ||
      grad.numel() != numElements(grad.shape))
    throw ReferenceError(std::string(who) +
                         ": a tensor's data does not match its shape");
}

void checkStateTensor(const char *who, const char *name, const Tensor &t,
                      const Tensor &param) {
  if (t.shape != param.shape || t.numel() != param.numel())
    throw ReferenceError(std::string(who) + ": the state's " + name +
                         " has shape " + shapeToString(t.shape) +
                         ", the parameter " + shapeToString(param.shape) +
                         " (a state of another parameter?)");
}

} // namespace

void validateSgdOptions(const SgdOptions &o) {
  if (!(o.lr >= 0.0))
    throw ReferenceError("SGD: Invalid learning rate: " + number(o.lr));
  if (!(o.momentum >= 0.0))
    throw ReferenceError("SGD: Invalid momentum value: " + number(o.momentum));
  if (!(o.weight_decay >= 0.0))
    throw ReferenceError("SGD: Invalid weight_decay value: " +
                         number(o.weight_decay));
  if (std::isnan(o.dampening))
    throw ReferenceError("SGD: Invalid dampening value: " +
                         number(o.dampening));
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    throw ReferenceError(
        "SGD: Nesterov momentum requires a momentum and zero dampening "
        "(momentum " +
        number(o.momentum) + ", dampening " + number(o.dampening) + ")");
}

void validateAdamOptions(const AdamOptions &o) {
  if (!(o.lr >= 0.0))
    throw ReferenceError("Adam: Invalid learning rate: " + number(o.lr));
  if (!(o.eps >= 0.0))
    throw ReferenceError("Adam: Invalid epsilon value: " + number(o.eps));
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0))
    throw ReferenceError("Adam: Invalid beta parameter at index 0: " +
                         number(o.beta1) + " (0 <= beta1 < 1)");
  if (!(o.beta2 >= 0.0 && o.beta2 < 1.0))
    throw ReferenceError("Adam: Invalid beta parameter at index 1: " +
                         number(o.beta2) + " (0 <= beta2 < 1)");
  if (!(o.weight_decay >= 0.0))
    throw ReferenceError("Adam: Invalid weight_decay value: " +
                         number(o.weight_decay));
}

void sgdStep(Tensor &param, const Tensor &grad, SgdState &state,
             const SgdOptions &o) {
  validateSgdOptions(o);
  checkTensors("SGD", param, grad);
  const bool momentum = o.momentum != 0.0;
  if (momentum && state.initialized)
    checkStateTensor("SGD", "momentum buffer", state.momentumBuffer, param);

  const size_t n = param.data.size();
  const bool first = !state.initialized;
  if (momentum && first) {
    state.momentumBuffer = Tensor(param.shape);
    state.initialized = true;
  }
  for (size_t i = 0; i < n; ++i) {
    // d_p = d_p.add(param, alpha=weight_decay)
    double d = grad.data[i];
    if (o.weight_decay != 0.0)
      d = d + o.weight_decay * param.data[i];
    if (momentum) {
      double &buf = state.momentumBuffer.data[i];
      // buf = clone(d_p) on the first step, else
      // buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
      buf = first ? d : buf * o.momentum + (1.0 - o.dampening) * d;
      // d_p = d_p.add(buf, alpha=momentum) or d_p = buf
      d = o.nesterov ? d + o.momentum * buf : buf;
    }
    // param.add_(d_p, alpha=-lr)
    param.data[i] = param.data[i] + (-o.lr) * d;
  }
}

void adamStep(Tensor &param, const Tensor &grad, AdamState &state,
              const AdamOptions &o) {
  validateAdamOptions(o);
  checkTensors("Adam", param, grad);
  if (state.step < 0)
    throw ReferenceError("Adam: the state's step count is negative (" +
                         std::to_string(state.step) + ")");
  if (state.step > 0) {
    checkStateTensor("Adam", "exp_avg", state.expAvg, param);
    checkStateTensor("Adam", "exp_avg_sq", state.expAvgSq, param);
    if (o.amsgrad)
      checkStateTensor("Adam", "max_exp_avg_sq", state.maxExpAvgSq, param);
  } else {
    state.expAvg = Tensor(param.shape);
    state.expAvgSq = Tensor(param.shape);
    state.maxExpAvgSq = o.amsgrad ? Tensor(param.shape) : Tensor();
  }

  state.step += 1;
  const double step = static_cast<double>(state.step);
  // Python's float ** float, i.e. C's pow.
  const double biasCorrection1 = 1.0 - std::pow(o.beta1, step);
  const double biasCorrection2 = 1.0 - std::pow(o.beta2, step);
  const double stepSize = o.lr / biasCorrection1;
  const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);
  const double oneMinusBeta1 = 1.0 - o.beta1;
  const double oneMinusBeta2 = 1.0 - o.beta2;

  const size_t n = param.data.size();
  for (size_t i = 0; i < n; ++i) {
    // grad = grad.add(param, alpha=weight_decay)
    double g = grad.data[i];
    if (o.weight_decay != 0.0)
      g = g + o.weight_decay * param.data[i];
    // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    double &m = state.expAvg.data[i];
    m = m * o.beta1 + oneMinusBeta1 * g;
    // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    double &v = state.expAvgSq.data[i];
    v = v * o.beta2 + oneMinusBeta2 * g * g;
    double second = v;
    if (o.amsgrad) {
      // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
      double &vmax = state.maxExpAvgSq.data[i];
      vmax = (std::isnan(vmax) || std::isnan(v)) ? NAN : std::max(vmax, v);
      second = vmax;
    }
    // denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)
    const double denom = std::sqrt(second) / biasCorrection2Sqrt + o.eps;
    // param.addcdiv_(exp_avg, denom, value=-step_size)
    param.data[i] = param.data[i] + (-stepSize) * (m / denom);
  }
}

SgdUpdateResult sgdUpdate(const Tensor &param, const Tensor &grad,
                          const Tensor *momentumBuffer, int64_t step,
                          const SgdOptions &o) {
  validateSgdOptions(o);
  checkTensors("SGD", param, grad);
  if (step < 0)
    throw ReferenceError("SGD: the step count is negative (" +
                         std::to_string(step) + ")");
  const bool momentum = o.momentum != 0.0;
  if (momentum != (momentumBuffer != nullptr))
    throw ReferenceError(std::string("SGD: the momentum buffer must be given "
                                     "exactly when momentum is not 0 (it is ") +
                         (momentumBuffer ? "given" : "absent") + ", momentum " +
                         number(o.momentum) + ")");
  if (momentumBuffer)
    checkStateTensor("SGD", "momentum buffer", *momentumBuffer, param);
  // sgdStep on a state that has been initialised exactly when step > 0.
  SgdState state;
  if (momentumBuffer && step > 0) {
    state.momentumBuffer = *momentumBuffer;
    state.initialized = true;
  }
  SgdUpdateResult result{param, Tensor()};
  sgdStep(result.param, grad, state, o);
  if (momentum)
    result.momentumBuffer = std::move(state.momentumBuffer);
  return result;
}

AdamUpdateResult adamUpdate(const Tensor &param, const Tensor &grad,
                            const Tensor &expAvg, const Tensor &expAvgSq,
                            const Tensor *maxExpAvgSq, int64_t step,
                            const AdamOptions &o) {
  validateAdamOptions(o);
  checkTensors("Adam", param, grad);
  if (step < 0)
    throw ReferenceError("Adam: the step count is negative (" +
                         std::to_string(step) + ")");
  if (o.amsgrad != (maxExpAvgSq != nullptr))
    throw ReferenceError(std::string("Adam: max_exp_avg_sq must be given "
                                     "exactly with amsgrad (it is ") +
                         (maxExpAvgSq ? "given" : "absent") + ", amsgrad " +
                         (o.amsgrad ? "on" : "off") + ")");
  checkStateTensor("Adam", "exp_avg", expAvg, param);
  checkStateTensor("Adam", "exp_avg_sq", expAvgSq, param);
  if (maxExpAvgSq)
    checkStateTensor("Adam", "max_exp_avg_sq", *maxExpAvgSq, param);

  AdamUpdateResult r{param, expAvg, expAvgSq,
                     maxExpAvgSq ? *maxExpAvgSq : Tensor()};
  // adamStep's arithmetic, operation by operation, at t = step + 1.
  const double t = static_cast<double>(step + 1);
  const double biasCorrection1 = 1.0 - std::pow(o.beta1, t);
  const double biasCorrection2 = 1.0 - std::pow(o.beta2, t);
  const double stepSize = o.lr / biasCorrection1;
  const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);
  const double oneMinusBeta1 = 1.0 - o.beta1;
  const double oneMinusBeta2 = 1.0 - o.beta2;

  const size_t n = r.param.data.size();
  for (size_t i = 0; i < n; ++i) {
    double g = grad.data[i];
    if (o.weight_decay != 0.0)
      g = g + o.weight_decay * r.param.data[i];
    double &m = r.expAvg.data[i];
    m = m * o.beta1 + oneMinusBeta1 * g;
    double &v = r.expAvgSq.data[i];
    v = v * o.beta2 + oneMinusBeta2 * g * g;
    double second = v;
    if (o.amsgrad) {
      double &vmax = r.maxExpAvgSq.data[i];
      vmax = (std::isnan(vmax) || std::isnan(v)) ? NAN : std::max(vmax, v);
      second = vmax;
    }
    const double denom = std::sqrt(second) / biasCorrection2Sqrt + o.eps;
    r.param.data[i] = r.param.data[i] + (-stepSize) * (m / denom);
  }
  return r;
}

} // namespace nsl::reference
