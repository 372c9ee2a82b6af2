//===- TorchOptimTest.cpp - The reference optimizers against PyTorch ------===//
//
// sgdStep and adamStep of runtime/reference/Optimizers.h against
// torch.optim.SGD and torch.optim.Adam of PyTorch 1.13 in float64
// (torch_optim_oracle.py), through the shared TorchHarness: the test writes,
// for each case, a fresh random parameter, a fresh random gradient for each
// of 20 steps and a learning rate for each step (it changes every step, as
// under a scheduler) with a manifest into a temporary directory, runs the
// Python script once for all cases, then replays the 20 steps with the
// reference and compares, after every step, the parameter and every tensor
// of the optimizer's state (momentum_buffer; exp_avg, exp_avg_sq,
// max_exp_avg_sq and the step count): relative error ‖y − r‖₂/‖r‖₂ ≤ 1e-12
// (both sides compute in double, the same operations in the same order).
// A missing Python or torch fails every test with the reason.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Optimizers.h"
#include "test/runtime/reference/TorchHarness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <variant>

using namespace nsl::reference;
using namespace nsl::reference::test;

namespace {

constexpr int64_t kSteps = 20;
/// Tighter than kTorchTolerance: an update is a handful of operations.
constexpr double kOptimTolerance = 1e-12;

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

struct OptimCase {
  TorchCase torch;
  std::variant<SgdOptions, AdamOptions> options;
};

std::vector<OptimCase> buildCases() {
  Random rng(20240613);
  std::vector<OptimCase> cases;
  auto add = [&](const std::string &name, const Shape &shape,
                 std::variant<SgdOptions, AdamOptions> options) {
    const bool sgd = std::holds_alternative<SgdOptions>(options);
    TorchCase c{name, sgd ? "sgd" : "adam", {}, {}, {}, {}};
    Shape stacked{kSteps};
    stacked.insert(stacked.end(), shape.begin(), shape.end());
    Tensor lr({kSteps});
    for (double &v : lr.data) // in [0.01, 0.19], exact in float32
      v = static_cast<float>(0.1 + 0.09 * rng.next());
    c.input("param", rng.tensor(shape))
        .input("grads", rng.tensor(stacked))
        .input("lr", lr)
        .attr("steps", std::to_string(kSteps));
    if (sgd) {
      const SgdOptions &o = std::get<SgdOptions>(options);
      c.attr("momentum", o.momentum)
          .attr("dampening", o.dampening)
          .attr("weight_decay", o.weight_decay)
          .attr("nesterov", o.nesterov ? "1" : "0");
    } else {
      const AdamOptions &o = std::get<AdamOptions>(options);
      c.attr("beta1", o.beta1)
          .attr("beta2", o.beta2)
          .attr("eps", o.eps)
          .attr("weight_decay", o.weight_decay)
          .attr("amsgrad", o.amsgrad ? "1" : "0");
    }
    cases.push_back({c, options});
  };
  auto sgd = [](double momentum, double dampening, double weightDecay,
                bool nesterov) {
    SgdOptions o;
    o.momentum = momentum;
    o.dampening = dampening;
    o.weight_decay = weightDecay;
    o.nesterov = nesterov;
    return o;
  };
  auto adam = [](double weightDecay, bool amsgrad, double beta1 = 0.9,
                 double beta2 = 0.999, double eps = 1e-8) {
    AdamOptions o;
    o.beta1 = beta1;
    o.beta2 = beta2;
    o.eps = eps;
    o.weight_decay = weightDecay;
    o.amsgrad = amsgrad;
    return o;
  };
  add("sgd_plain", {3, 4}, sgd(0, 0, 0, false));
  add("sgd_weight_decay", {5}, sgd(0, 0, 5e-4, false));
  add("sgd_momentum", {2, 3, 3, 3}, sgd(0.9, 0, 0, false));
  add("sgd_momentum_dampening", {7, 2}, sgd(0.9, 0.3, 0, false));
  add("sgd_nesterov", {4, 3}, sgd(0.9, 0, 0, true));
  add("sgd_momentum_dampening_weight_decay", {6}, sgd(0.8, 0.1, 1e-2, false));
  add("sgd_nesterov_weight_decay", {3, 3}, sgd(0.5, 0, 0.1, true));
  add("adam_plain", {3, 4}, adam(0, false));
  add("adam_weight_decay", {2, 3, 3, 3}, adam(1e-2, false));
  add("adam_amsgrad", {10}, adam(0, true));
  add("adam_amsgrad_weight_decay", {4, 5}, adam(0.1, true));
  // Fast-moving averages and a large eps, so that both matter.
  add("adam_betas_eps", {3, 2}, adam(0, false, 0.5, 0.75, 0.1));
  add("adam_amsgrad_betas_eps", {3, 2}, adam(1e-3, true, 0.6, 0.7, 1e-3));

  // Operand names travel in the manifest (the harness's convention).
  for (OptimCase &c : cases) {
    std::string names;
    for (const auto &[key, tensor] : c.torch.inputs)
      names += (names.empty() ? "" : ",") + key;
    c.torch.attr("inputs", names);
  }
  return cases;
}

const std::vector<OptimCase> &optimCases() {
  static const std::vector<OptimCase> cases = buildCases();
  return cases;
}

//===----------------------------------------------------------------------===//
// The one Python run
//===----------------------------------------------------------------------===//

std::vector<TorchCase> torchCases() {
  std::vector<TorchCase> cases;
  for (const OptimCase &c : optimCases())
    cases.push_back(c.torch);
  return cases;
}

const PythonRun &oracleRun() {
  static const PythonRun run("nsl-torch-optim-oracle-XXXXXX",
                             "torch_optim_oracle.py",
                             "PyTorch optimizer oracle", torchCases());
  return run;
}

/// The worst relative error of all comparisons, printed at the end.
class ReportWorst : public ::testing::Environment {
public:
  void TearDown() override {
    std::printf("[ worst    ] relative error %.3g against torch.optim\n",
                worstRelativeError());
  }
};
const auto *const kReportWorst =
    ::testing::AddGlobalTestEnvironment(new ReportWorst);

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

/// Row `step` of a tensor stacked over the steps ([steps, *shape]).
Tensor row(const Tensor &stacked, int64_t step) {
  Shape shape(stacked.shape.begin() + 1, stacked.shape.end());
  const int64_t n = numElements(shape);
  Tensor t(shape);
  std::copy(stacked.data.begin() + step * n,
            stacked.data.begin() + (step + 1) * n, t.data.begin());
  return t;
}

/// closeToOracle's comparison at the tighter kOptimTolerance.
::testing::AssertionResult closeToTorch(const Tensor &y, const Tensor &r) {
  if (y.shape != r.shape)
    return ::testing::AssertionFailure()
           << "reference shape " << shapeToString(y.shape) << ", PyTorch shape "
           << shapeToString(r.shape);
  Difference d = difference(y, r);
  if (std::isfinite(d.relative))
    worstRelativeError() = std::max(worstRelativeError(), d.relative);
  if (d.relative <= kOptimTolerance && std::isfinite(d.diff))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "relative error " << d.relative << " > " << kOptimTolerance
         << ", max abs error " << d.maxAbs;
}

using TorchOptim = PythonSuite<oracleRun>;

TEST_P(TorchOptim, Matches) {
  const PythonRun &run = oracleRun();
  ASSERT_TRUE(run.error.empty()) << run.error;
  const OptimCase &c = optimCases()[GetParam()];
  const std::string prefix = run.dir + "/" + c.torch.name;
  ASSERT_FALSE(std::filesystem::exists(prefix + ".error.txt"))
      << "torch_optim_oracle.py failed on " << c.torch.name << ":\n"
      << readText(prefix + ".error.txt");
  auto state = [&](const std::string &key) {
    return prefix + ".state." + key + ".npy";
  };
  const Tensor params = loadNpy(prefix + ".params.npy");
  const Tensor &grads = c.torch["grads"];
  const Tensor &lr = c.torch["lr"];
  Tensor p = c.torch["param"];

  if (const auto *options = std::get_if<SgdOptions>(&c.options)) {
    const bool momentum = options->momentum != 0;
    ASSERT_EQ(std::filesystem::exists(state("momentum_buffer")), momentum);
    Tensor buffers = momentum ? loadNpy(state("momentum_buffer")) : Tensor();
    SgdOptions o = *options;
    SgdState s;
    for (int64_t step = 0; step < kSteps; ++step) {
      o.lr = lr.data[step];
      sgdStep(p, row(grads, step), s, o);
      ASSERT_TRUE(closeToTorch(p, row(params, step)))
          << c.torch.name << ": the parameter after step " << step + 1;
      ASSERT_EQ(s.initialized, momentum);
      if (momentum)
        ASSERT_TRUE(closeToTorch(s.momentumBuffer, row(buffers, step)))
            << c.torch.name << ": momentum_buffer after step " << step + 1;
    }
    return;
  }

  const AdamOptions &options = std::get<AdamOptions>(c.options);
  ASSERT_EQ(std::filesystem::exists(state("max_exp_avg_sq")), options.amsgrad);
  const Tensor steps = loadNpy(state("step"));
  const Tensor expAvg = loadNpy(state("exp_avg"));
  const Tensor expAvgSq = loadNpy(state("exp_avg_sq"));
  const Tensor maxExpAvgSq =
      options.amsgrad ? loadNpy(state("max_exp_avg_sq")) : Tensor();
  ASSERT_EQ(steps.shape, Shape{kSteps});
  AdamOptions o = options;
  AdamState s;
  for (int64_t step = 0; step < kSteps; ++step) {
    o.lr = lr.data[step];
    adamStep(p, row(grads, step), s, o);
    const std::string after = " after step " + std::to_string(step + 1);
    ASSERT_TRUE(closeToTorch(p, row(params, step)))
        << c.torch.name << ": the parameter" << after;
    ASSERT_EQ(static_cast<double>(s.step), steps.data[step])
        << c.torch.name << ": the step count" << after;
    ASSERT_TRUE(closeToTorch(s.expAvg, row(expAvg, step)))
        << c.torch.name << ": exp_avg" << after;
    ASSERT_TRUE(closeToTorch(s.expAvgSq, row(expAvgSq, step)))
        << c.torch.name << ": exp_avg_sq" << after;
    if (options.amsgrad)
      ASSERT_TRUE(closeToTorch(s.maxExpAvgSq, row(maxExpAvgSq, step)))
          << c.torch.name << ": max_exp_avg_sq" << after;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchOptim,
                         ::testing::Range<size_t>(0, optimCases().size()),
                         [](const ::testing::TestParamInfo<size_t> &info) {
                           return optimCases()[info.param].torch.name;
                         });

} // namespace
