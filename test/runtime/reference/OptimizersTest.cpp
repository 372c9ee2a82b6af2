//===- OptimizersTest.cpp - Tests of the reference SGD and Adam -----------===//
//
// Three steps of every option combination on a 4-element parameter, against
// values computed by hand, outside this code (exact rational arithmetic for
// SGD, whose values here are all dyadic, so the comparison is exact; 60-digit
// decimal arithmetic for Adam, compared to 1e-14 relative), with the
// learning rate changing every step (1/2, 1/4, 1/8). Then the checks of the
// options, shapes and states, and what a step leaves in the state.
//
// p0 = [1, −5/2, 3/4, −3/4]; gradients [1/2, 1, −2, 1/4], [−1, 3/2, 1/2, 0],
// [2, −1/4, 1, −3/2]. For instance SGD with momentum 1/2, dampening 1/4:
// step 1 buf = g1 = [1/2, ...], p = 1 − 1/2·1/2 = 3/4; step 2
// buf = 1/2·1/2 + 3/4·(−1) = −1/2, p = 3/4 + 1/4·1/2 = 7/8; step 3
// buf = 1/2·(−1/2) + 3/4·2 = 5/4, p = 7/8 − 1/8·5/4 = 23/32.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Optimizers.h"
#include "test/runtime/reference/TestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace nsl::reference;
using namespace nsl::reference::test;

namespace {

using Values = std::vector<double>;

Tensor initialParam() { return Tensor({2, 2}, {1, -2.5, 0.75, -0.75}); }

const std::vector<Tensor> &gradients() {
  static const std::vector<Tensor> g = {
      Tensor({2, 2}, {0.5, 1, -2, 0.25}),
      Tensor({2, 2}, {-1, 1.5, 0.5, 0}),
      Tensor({2, 2}, {2, -0.25, 1, -1.5}),
  };
  return g;
}

const double kLearningRates[3] = {0.5, 0.25, 0.125};

//===----------------------------------------------------------------------===//
// SGD
//===----------------------------------------------------------------------===//

struct SgdExpected {
  double momentum, dampening, weightDecay;
  bool nesterov;
  std::vector<Values> params; // after each of the 3 steps
  Values buffer;              // after the last step; empty without momentum
};

const std::vector<SgdExpected> &sgdTable() {
  static const std::vector<SgdExpected> table = {
      {0,
       0,
       0,
       false,
       {{0.75, -3.0, 1.75, -0.875},
        {1.0, -3.375, 1.625, -0.875},
        {0.75, -3.34375, 1.5, -0.6875}},
       {}},
      {0,
       0,
       0.5,
       false,
       {{0.5, -2.375, 1.5625, -0.6875},
        {0.6875, -2.453125, 1.2421875, -0.6015625},
        {0.39453125, -2.2685546875, 1.03955078125, -0.37646484375}},
       {}},
      {0,
       0.25,
       0,
       false,
       {{0.75, -3.0, 1.75, -0.875},
        {1.0, -3.375, 1.625, -0.875},
        {0.75, -3.34375, 1.5, -0.6875}},
       {}},
      {0,
       0.25,
       0.5,
       false,
       {{0.5, -2.375, 1.5625, -0.6875},
        {0.6875, -2.453125, 1.2421875, -0.6015625},
        {0.39453125, -2.2685546875, 1.03955078125, -0.37646484375}},
       {}},
      {0.5,
       0,
       0,
       false,
       {{0.75, -3.0, 1.75, -0.875},
        {0.9375, -3.5, 1.875, -0.90625},
        {0.734375, -3.59375, 1.78125, -0.7265625}},
       {1.625, 0.75, 0.75, -1.4375}},
      {0.5,
       0,
       0,
       true,
       {{0.625, -3.25, 2.25, -0.9375},
        {0.96875, -3.875, 2.1875, -0.953125},
        {0.6171875, -3.890625, 2.015625, -0.67578125}},
       {1.625, 0.75, 0.75, -1.4375}},
      {0.5,
       0,
       0.5,
       false,
       {{0.5, -2.375, 1.5625, -0.6875},
        {0.5625, -2.421875, 1.4453125, -0.5859375},
        {0.29296875, -2.2509765625, 1.20068359375, -0.33642578125}},
       {2.15625, -1.3671875, 1.95703125, -1.99609375}},
      {0.5,
       0,
       0.5,
       true,
       {{0.25, -2.3125, 1.96875, -0.65625},
        {0.515625, -2.42578125, 1.513671875, -0.525390625},
        {0.10400390625, -2.1583251953125, 1.16326904296875, -0.18267822265625}},
       {2.0703125, -1.353515625, 2.0927734375, -1.9580078125}},
      {0.5,
       0.25,
       0,
       false,
       {{0.75, -3.0, 1.75, -0.875},
        {0.875, -3.40625, 1.90625, -0.90625},
        {0.71875, -3.484375, 1.8515625, -0.7734375}},
       {1.25, 0.625, 0.4375, -1.0625}},
      {0.5,
       0.25,
       0.5,
       false,
       {{0.5, -2.375, 1.5625, -0.6875},
        {0.515625, -2.40234375, 1.525390625, -0.607421875},
        {0.307861328125, -2.27313232421875, 1.350860595703125,
         -0.418304443359375}},
       {1.662109375, -1.03369140625, 1.396240234375, -1.512939453125}},
  };
  return table;
}

std::string sgdName(const ::testing::TestParamInfo<size_t> &info) {
  const SgdExpected &e = sgdTable()[info.param];
  std::string name = e.momentum == 0 ? "plain" : "momentum";
  if (e.dampening != 0)
    name += "_dampening";
  if (e.nesterov)
    name += "_nesterov";
  if (e.weightDecay != 0)
    name += "_weight_decay";
  return name;
}

class SgdSteps : public ::testing::TestWithParam<size_t> {};

TEST_P(SgdSteps, MatchHandComputedValues) {
  const SgdExpected &e = sgdTable()[GetParam()];
  SgdOptions o;
  o.momentum = e.momentum;
  o.dampening = e.dampening;
  o.weight_decay = e.weightDecay;
  o.nesterov = e.nesterov;
  Tensor p = initialParam();
  SgdState state;
  for (int s = 0; s < 3; ++s) {
    o.lr = kLearningRates[s];
    sgdStep(p, gradients()[s], state, o);
    EXPECT_EQ(p.shape, (Shape{2, 2}));
    EXPECT_EQ(p.data, e.params[s]) << "after step " << s + 1;
  }
  EXPECT_EQ(state.initialized, e.momentum != 0);
  if (e.momentum != 0) {
    EXPECT_EQ(state.momentumBuffer.shape, (Shape{2, 2}));
    EXPECT_EQ(state.momentumBuffer.data, e.buffer);
  }
}

INSTANTIATE_TEST_SUITE_P(AllOptions, SgdSteps,
                         ::testing::Range<size_t>(0, sgdTable().size()),
                         sgdName);

//===----------------------------------------------------------------------===//
// Adam
//===----------------------------------------------------------------------===//

struct AdamExpected {
  bool amsgrad;
  double weightDecay, eps;
  std::vector<Values> params;           // after each of the 3 steps
  Values expAvg, expAvgSq, maxExpAvgSq; // after the last step
};

// β1 = 1/2, β2 = 3/4.
const std::vector<AdamExpected> &adamTable() {
  static const std::vector<AdamExpected> table = {
      {false,
       0,
       0,
       {{0.5, -3, 1.25, -1.25},
        {0.65174424466672098, -3.2545875386086576, 1.3111499488087786,
         -1.3772937693043288},
        {0.57192933645039701, -3.3081589671800864, 1.2672106881517398,
         -1.274002708421361}},
       {0.8125, 0.375, 0.375, -0.71875},
       {1.22265625, 0.578125, 0.859375, 0.5712890625},
       {}},
      {false,
       0,
       0.25,
       {{0.66666666666666663, -2.8999999999999999, 1.1944444444444444, -1},
        {0.78308061731406953, -3.1137701301596161, 1.2461153699115719,
         -1.0503630063550866},
        {0.71497387356241004, -3.1566272730167588, 1.2096527626166458,
         -0.96782862306109463}},
       {0.8125, 0.375, 0.375, -0.71875},
       {1.22265625, 0.578125, 0.859375, 0.5712890625},
       {}},
      {false,
       0.5,
       0,
       {{0.5, -2, 1.25, -0.25},
        {0.54811252243246877, -2.151744244666721, 1.2117582932898749, 0},
        {0.45402724832603081, -2.063882574992951, 1.1262745354335495,
         0.11488717022721746}},
       {1.0745281306081171, -0.56918606116668025, 0.88106457332246879,
        -0.796875},
       {1.5389267197941896, 0.49514828369519243, 1.2533545365322682,
        0.567626953125},
       {}},
      {false,
       0.5,
       0.25,
       {{0.59999999999999998, -2.25, 1.1833333333333333, -0.58333333333333337},
        {0.63053154925419197, -2.322171712997056, 1.1541871866739373,
         -0.46167061211122407},
        {0.54722027420107744, -2.2462599626277617, 1.0820853874043872,
         -0.36445958133246326}},
       {1.1076328873135479, -0.64304292824926401, 0.85833846333515096,
        -0.95395931969447267},
       {1.5726139017899017, 0.53294707360254612, 1.2165944619944613,
        0.76709550063048937},
       {}},
      {true,
       0,
       0,
       {{0.5, -3, 1.25, -1.25},
        {0.65174424466672098, -3.2545875386086576, 1.3051198189805122,
         -1.3602396379610247},
        {0.57192933645039701, -3.301621707148179, 1.2643870341794081,
         -1.2569485770780569}},
       {0.8125, 0.375, 0.375, -0.71875},
       {1.22265625, 0.578125, 0.859375, 0.5712890625},
       {1.22265625, 0.75, 1, 0.5712890625}},
      {true,
       0,
       0.25,
       {{0.66666666666666663, -2.8999999999999999, 1.1944444444444444, -1},
        {0.78308061731406953, -3.1137701301596161, 1.2417429999692549,
         -1.0474582604964116},
        {0.71497387356241004, -3.1523387621839398, 1.2075162520383946,
         -0.96492387720241957}},
       {0.8125, 0.375, 0.375, -0.71875},
       {1.22265625, 0.578125, 0.859375, 0.5712890625},
       {1.22265625, 0.75, 1, 0.5712890625}},
      {true,
       0.5,
       0,
       {{0.5, -2, 1.25, -0.25},
        {0.54811252243246877, -2.151744244666721, 1.2117582932898749, 0},
        {0.45402724832603081, -2.063882574992951, 1.1262745354335495,
         0.11488717022721746}},
       {1.0745281306081171, -0.56918606116668025, 0.88106457332246879,
        -0.796875},
       {1.5389267197941896, 0.49514828369519243, 1.2533545365322682,
        0.567626953125},
       {1.5389267197941896, 0.49514828369519243, 1.2533545365322682,
        0.567626953125}},
      {true,
       0.5,
       0.25,
       {{0.59999999999999998, -2.25, 1.1833333333333333, -0.58333333333333337},
        {0.63053154925419197, -2.322171712997056, 1.1541871866739373,
         -0.46167061211122407},
        {0.54722027420107744, -2.2462599626277617, 1.0820853874043872,
         -0.36445958133246326}},
       {1.1076328873135479, -0.64304292824926401, 0.85833846333515096,
        -0.95395931969447267},
       {1.5726139017899017, 0.53294707360254612, 1.2165944619944613,
        0.76709550063048937},
       {1.5726139017899017, 0.53294707360254612, 1.2165944619944613,
        0.76709550063048937}},
  };
  return table;
}

std::string adamName(const ::testing::TestParamInfo<size_t> &info) {
  const AdamExpected &e = adamTable()[info.param];
  std::string name = e.amsgrad ? "amsgrad" : "plain";
  if (e.weightDecay != 0)
    name += "_weight_decay";
  name += e.eps == 0 ? "_eps0" : "_eps";
  return name;
}

::testing::AssertionResult near(const Values &y, const Values &r) {
  if (y.size() != r.size())
    return ::testing::AssertionFailure()
           << y.size() << " values, expected " << r.size();
  for (size_t i = 0; i < y.size(); ++i)
    if (!(std::fabs(y[i] - r[i]) <= 1e-14 * std::max(1.0, std::fabs(r[i]))))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << y[i] << ", expected " << r[i];
  return ::testing::AssertionSuccess();
}

class AdamSteps : public ::testing::TestWithParam<size_t> {};

TEST_P(AdamSteps, MatchHandComputedValues) {
  const AdamExpected &e = adamTable()[GetParam()];
  AdamOptions o;
  o.beta1 = 0.5;
  o.beta2 = 0.75;
  o.eps = e.eps;
  o.weight_decay = e.weightDecay;
  o.amsgrad = e.amsgrad;
  Tensor p = initialParam();
  AdamState state;
  for (int s = 0; s < 3; ++s) {
    o.lr = kLearningRates[s];
    adamStep(p, gradients()[s], state, o);
    EXPECT_EQ(state.step, s + 1);
    EXPECT_TRUE(near(p.data, e.params[s])) << "after step " << s + 1;
  }
  EXPECT_TRUE(near(state.expAvg.data, e.expAvg));
  EXPECT_TRUE(near(state.expAvgSq.data, e.expAvgSq));
  EXPECT_TRUE(near(state.maxExpAvgSq.data, e.maxExpAvgSq));
  EXPECT_EQ(state.expAvg.shape, (Shape{2, 2}));
  EXPECT_EQ(state.maxExpAvgSq.shape, e.amsgrad ? Shape({2, 2}) : Shape({}));
}

INSTANTIATE_TEST_SUITE_P(AllOptions, AdamSteps,
                         ::testing::Range<size_t>(0, adamTable().size()),
                         adamName);

// With eps = 0, β1 = 1/2, β2 = 3/4 the first step is exactly lr·sign(g):
// m/(1 − β1) = g, sqrt(v)/sqrt(1 − β2) = |g|.
TEST(Adam, FirstStepIsLearningRateTimesSign) {
  AdamOptions o;
  o.lr = 0.5;
  o.beta1 = 0.5;
  o.beta2 = 0.75;
  o.eps = 0;
  Tensor p({3}, {1, 2, 3});
  AdamState state;
  adamStep(p, Tensor({3}, {4, -0.25, 1}), state, o);
  EXPECT_EQ(p.data, (Values{0.5, 2.5, 2.5}));
}

// PyTorch's defaults.
TEST(Optimizers, PyTorchDefaults) {
  AdamOptions o;
  EXPECT_EQ(o.beta1, 0.9);
  EXPECT_EQ(o.beta2, 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0);
  EXPECT_FALSE(o.amsgrad);
  SgdOptions s;
  EXPECT_EQ(s.momentum, 0);
  EXPECT_EQ(s.dampening, 0);
  EXPECT_EQ(s.weight_decay, 0);
  EXPECT_FALSE(s.nesterov);
}

// A zero learning rate changes nothing but the state.
TEST(Sgd, ZeroLearningRateKeepsTheParameter) {
  SgdOptions o;
  o.lr = 0;
  o.momentum = 0.9;
  Tensor p = initialParam();
  SgdState state;
  sgdStep(p, gradients()[0], state, o);
  EXPECT_EQ(p.data, initialParam().data);
  EXPECT_EQ(state.momentumBuffer.data, gradients()[0].data);
}

// A scalar (rank 0) parameter.
TEST(Sgd, ScalarParameter) {
  SgdOptions o;
  o.lr = 0.25;
  Tensor p({}, {2});
  SgdState state;
  sgdStep(p, Tensor({}, {4}), state, o);
  EXPECT_EQ(p.data, (Values{1}));
  EXPECT_FALSE(state.initialized);
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

TEST(Sgd, RejectsBadOptions) {
  Tensor p = initialParam();
  SgdState state;
  auto step = [&](SgdOptions o) {
    return [&p, &state, o] { sgdStep(p, gradients()[0], state, o); };
  };
  SgdOptions o;
  o.lr = -0.1;
  EXPECT_TRUE(throwsWith(step(o), "SGD: Invalid learning rate: -0.1"));
  o.lr = NAN;
  EXPECT_TRUE(throwsWith(step(o), "SGD: Invalid learning rate"));
  o = SgdOptions{0.1, -0.5};
  EXPECT_TRUE(throwsWith(step(o), "SGD: Invalid momentum value: -0.5"));
  o = SgdOptions{0.1, 0, 0, -1e-4};
  EXPECT_TRUE(throwsWith(step(o), "SGD: Invalid weight_decay value"));
  o = SgdOptions{0.1, 0, 0, 0, true};
  EXPECT_TRUE(throwsWith(
      step(o),
      "SGD: Nesterov momentum requires a momentum and zero dampening"));
  o = SgdOptions{0.1, 0.9, 0.1, 0, true};
  EXPECT_TRUE(throwsWith(
      step(o),
      "SGD: Nesterov momentum requires a momentum and zero dampening"));
  // Nothing changed.
  EXPECT_EQ(p.data, initialParam().data);
  EXPECT_FALSE(state.initialized);
  // Valid: nesterov with momentum and no dampening; dampening > 1.
  EXPECT_NO_THROW(validateSgdOptions(SgdOptions{0.1, 0.9, 0, 0, true}));
  EXPECT_NO_THROW(validateSgdOptions(SgdOptions{0, 0.9, 2, 0, false}));
}

TEST(Adam, RejectsBadOptions) {
  Tensor p = initialParam();
  AdamState state;
  auto step = [&](AdamOptions o) {
    return [&p, &state, o] { adamStep(p, gradients()[0], state, o); };
  };
  AdamOptions o;
  o.lr = -1;
  EXPECT_TRUE(throwsWith(step(o), "Adam: Invalid learning rate: -1"));
  o = AdamOptions{};
  o.lr = 0.1;
  o.eps = -1e-8;
  EXPECT_TRUE(throwsWith(step(o), "Adam: Invalid epsilon value"));
  o.eps = 1e-8;
  for (double b : {-0.1, 1.0, 1.5, double(NAN)}) {
    AdamOptions b1 = o, b2 = o;
    b1.beta1 = b;
    b2.beta2 = b;
    EXPECT_TRUE(
        throwsWith(step(b1), "Adam: Invalid beta parameter at index 0"));
    EXPECT_TRUE(
        throwsWith(step(b2), "Adam: Invalid beta parameter at index 1"));
  }
  o.weight_decay = -0.5;
  EXPECT_TRUE(throwsWith(step(o), "Adam: Invalid weight_decay value: -0.5"));
  EXPECT_EQ(p.data, initialParam().data);
  EXPECT_EQ(state.step, 0);
  // β = 0 is allowed.
  AdamOptions zero;
  zero.beta1 = zero.beta2 = 0;
  EXPECT_NO_THROW(validateAdamOptions(zero));
}

TEST(Optimizers, RejectBadTensors) {
  SgdOptions so;
  so.lr = 0.1;
  AdamOptions ao;
  ao.lr = 0.1;
  Tensor p = initialParam();
  SgdState ss;
  AdamState as;
  Tensor wrongShape({4}, {1, 2, 3, 4});
  EXPECT_TRUE(throwsWith([&] { sgdStep(p, wrongShape, ss, so); },
                         "SGD: the gradient's shape [4] differs from the "
                         "parameter's [2, 2]"));
  EXPECT_TRUE(throwsWith([&] { adamStep(p, wrongShape, as, ao); },
                         "Adam: the gradient's shape [4] differs"));
  Tensor labels({2, 2}, {0, 1, 2, 3}, DType::I64);
  EXPECT_TRUE(throwsWith([&] { sgdStep(labels, gradients()[0], ss, so); },
                         "SGD: the parameter must be an f32 tensor, not i64"));
  EXPECT_TRUE(throwsWith([&] { adamStep(p, labels, as, ao); },
                         "Adam: the gradient must be an f32 tensor, not i64"));
}

TEST(Optimizers, RejectAStateOfAnotherParameter) {
  Tensor p = initialParam();
  Tensor other({3}, {1, 2, 3});
  SgdOptions so{0.1, 0.9};
  SgdState ss;
  sgdStep(other, Tensor({3}, {1, 1, 1}), ss, so);
  EXPECT_TRUE(throwsWith([&] { sgdStep(p, gradients()[0], ss, so); },
                         "SGD: the state's momentum buffer has shape [3]"));
  AdamOptions ao;
  ao.lr = 0.1;
  AdamState as;
  adamStep(other, Tensor({3}, {1, 1, 1}), as, ao);
  EXPECT_TRUE(throwsWith([&] { adamStep(p, gradients()[0], as, ao); },
                         "Adam: the state's exp_avg has shape [3]"));
  // amsgrad switched on after steps without it: no max_exp_avg_sq.
  Tensor q({3}, {1, 2, 3});
  AdamState plain;
  adamStep(q, Tensor({3}, {1, 1, 1}), plain, ao);
  ao.amsgrad = true;
  EXPECT_TRUE(
      throwsWith([&] { adamStep(q, Tensor({3}, {1, 1, 1}), plain, ao); },
                 "Adam: the state's max_exp_avg_sq has shape []"));
  EXPECT_EQ(plain.step, 1);
  AdamState negative;
  negative.step = -1;
  EXPECT_TRUE(
      throwsWith([&] { adamStep(q, Tensor({3}, {1, 1, 1}), negative, ao); },
                 "Adam: the state's step count is negative"));
}

} // namespace
