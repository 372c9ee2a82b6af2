//===- ExecutorTest.cpp - Tests of running compiled models ----------------===//
//
// The thread pool; runs of the hand-made MLP checked against values computed
// here; bitwise identical results for every thread count; launches split
// into contiguous chunks that cover every iteration exactly once; the
// argument binding that every device shares, and argument checks with their
// messages; per-launch profiles.
//
//===----------------------------------------------------------------------===//
#include "TestArtifact.h"

#include "runtime/artifact/Executor.h"
#include "runtime/artifact/Model.h"
#include "runtime/artifact/ThreadPool.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>

using namespace nsl::runtime;
using namespace nsl::runtime::test;

namespace {

//===----------------------------------------------------------------------===//
// ThreadPool
//===----------------------------------------------------------------------===//

TEST(ThreadPoolTest, CoversEveryIterationOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t extent : {1, 2, 3, 7, 8, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(extent));
      std::mutex mutex;
      std::vector<std::pair<int64_t, int64_t>> chunks;
      std::vector<std::atomic<int>> slotsInUse(static_cast<size_t>(threads));
      pool.parallelFor(extent, [&](int64_t begin, int64_t end, int slot) {
        ASSERT_GE(slot, 0);
        ASSERT_LT(slot, threads);
        EXPECT_EQ(slotsInUse[static_cast<size_t>(slot)]++, 0);
        for (int64_t i = begin; i < end; ++i)
          hits[static_cast<size_t>(i)]++;
        std::lock_guard<std::mutex> lock(mutex);
        chunks.emplace_back(begin, end);
        slotsInUse[static_cast<size_t>(slot)]--;
      });
      for (int64_t i = 0; i < extent; ++i)
        EXPECT_EQ(hits[static_cast<size_t>(i)], 1) << i;
      EXPECT_EQ(static_cast<int64_t>(chunks.size()),
                std::min<int64_t>(threads, extent));
      std::sort(chunks.begin(), chunks.end());
      int64_t shortest = extent, longest = 0;
      for (const auto &[begin, end] : chunks) {
        shortest = std::min(shortest, end - begin);
        longest = std::max(longest, end - begin);
      }
      EXPECT_LE(longest - shortest, 1);
    }
  }
}

TEST(ThreadPoolTest, ManyJobsInARow) {
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int job = 0; job < 2000; ++job)
    pool.parallelFor(1 + job % 9, [&](int64_t begin, int64_t end, int) {
      sum += end - begin;
    });
  int64_t expected = 0;
  for (int job = 0; job < 2000; ++job)
    expected += 1 + job % 9;
  EXPECT_EQ(sum, expected);
}

TEST(ThreadPoolTest, ExceptionsReachTheCaller) {
  ThreadPool pool(3);
  std::atomic<int> calls{0};
  EXPECT_THROW(pool.parallelFor(6,
                                [&](int64_t begin, int64_t, int) {
                                  ++calls;
                                  if (begin == 2)
                                    throw Error("chunk failed");
                                }),
               Error);
  EXPECT_EQ(calls, 3); // The other chunks still ran.
  pool.parallelFor(3, [](int64_t, int64_t, int) {}); // Still usable.
  EXPECT_THROW(ThreadPool(-1), Error);
  EXPECT_GE(ThreadPool(0).size(), 1);
}

//===----------------------------------------------------------------------===//
// bindArguments: the argument binding every device shares
//===----------------------------------------------------------------------===//

/// forward(x [2, 4] input, w [4] parameter).
EntryPoint forwardEntry() {
  EntryPoint entry;
  entry.name = "forward";
  entry.arguments = {{"x", "input", DType::F32, {2, 4}, 0},
                     {"w", "parameter", DType::F32, {4}, 1}};
  return entry;
}

TEST(BindArgumentsTest, GivenTensorsElseTheState) {
  std::map<std::string, Tensor> state = {{"w", randomTensor({4}, 1)}};
  std::map<std::string, Tensor> given = {{"x", randomTensor({2, 4}, 2)}};
  std::vector<const Tensor *> bound =
      bindArguments(forwardEntry(), given, state);
  ASSERT_EQ(bound.size(), 2u);
  EXPECT_EQ(bound[0], &given.at("x"));
  EXPECT_EQ(bound[1], &state.at("w"));
  // A given parameter replaces the state's.
  given.emplace("w", randomTensor({4}, 3));
  EXPECT_EQ(bindArguments(forwardEntry(), given, state)[1], &given.at("w"));
}

TEST(BindArgumentsTest, RefusesWhatDoesNotFit) {
  const EntryPoint entry = forwardEntry();
  Tensor x = randomTensor({2, 4}, 4);
  std::map<std::string, Tensor> state = {{"w", randomTensor({4}, 5)}};
  // Inputs never come from the state.
  std::map<std::string, Tensor> xInState = {{"x", x}, {"w", state.at("w")}};
  EXPECT_EQ(errorOf([&] { bindArguments(entry, {}, xInState); }),
            "entry point 'forward' needs its input argument 'x' (f32[2, 4]), "
            "which was not given");
  EXPECT_EQ(errorOf([&] { bindArguments(entry, {{"x", x}}, {}); }),
            "entry point 'forward' needs its parameter argument 'w' (f32[4]), "
            "which was not given");
  // The state is checked too (a run may have replaced a tensor of it).
  EXPECT_EQ(errorOf([&] {
              bindArguments(entry, {{"x", x}},
                            {{"w", Tensor(DType::I64, {4})}});
            }),
            "argument 'w' of entry point 'forward' is i64[4], but the model "
            "needs f32[4]");
  EXPECT_EQ(errorOf([&] {
              bindArguments(entry, {{"x", randomTensor({2, 5}, 6)}}, state);
            }),
            "argument 'x' of entry point 'forward' is f32[2, 5], but the model "
            "needs f32[2, 4]");
  EXPECT_EQ(errorOf([&] { bindArguments(entry, {{"x", x}, {"v", x}}, state); }),
            "entry point 'forward' has no argument 'v' (its arguments: 'x', "
            "'w')");
  EntryPoint none;
  none.name = "none";
  EXPECT_EQ(errorOf([&] { bindArguments(none, {{"x", x}}, {}); }),
            "entry point 'none' has no argument 'x' (its arguments: none)");
  alignas(8) char unaligned[2 * 4 * 4 + 1];
  EXPECT_EQ(errorOf([&] {
              bindArguments(
                  entry,
                  {{"x", Tensor::view(DType::F32, {2, 4}, unaligned + 1)}},
                  state);
            }),
            "the data of argument 'x' of entry point 'forward' is not aligned "
            "to its 4-byte elements");
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

class ModelTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    path_ = new std::string(mlpArtifact().write());
  }
  static void TearDownTestSuite() { delete path_; }
  static Model load(int threads, bool profile = false) {
    return Model::load(*path_, {threads, profile});
  }
  static std::string *path_;
};
std::string *ModelTest::path_ = nullptr;

TEST_F(ModelTest, DescribesItsEntryPoints) {
  Model model = load(1);
  EXPECT_EQ(model.path(), *path_);
  EXPECT_EQ(model.target(), "cpu-x86_64");
  EXPECT_EQ(model.threads(), 1);
  ASSERT_EQ(model.entryPoints().size(), 2u);
  const EntryPointInfo &forward = model.entryPoint("forward");
  ASSERT_EQ(forward.arguments.size(), 3u);
  EXPECT_EQ(forward.arguments[0].name, "x");
  EXPECT_EQ(forward.arguments[0].role, "input");
  EXPECT_FALSE(forward.arguments[0].hasDefault);
  EXPECT_EQ(forward.arguments[0].shape, (Shape{batch, features}));
  EXPECT_TRUE(forward.arguments[1].hasDefault);
  ASSERT_EQ(forward.results.size(), 2u);
  EXPECT_EQ(forward.results[0].name, "output0");
  EXPECT_EQ(forward.results[0].dtype, DType::F32);
  EXPECT_EQ(model.entryPoint("count").arguments[0].dtype, DType::I64);
  EXPECT_CONTAINS(
      errorOf([&] { model.entryPoint("train_step"); }),
      "has no entry point 'train_step' (it has 'forward', 'count')");
  EXPECT_EQ(model.weights().size(), 3u);
}

TEST_F(ModelTest, ComputesTheMlp) {
  Model model = load(1);
  Tensor x = randomTensor({batch, features}, 11);
  std::vector<Tensor> y = model.run("forward", {{"x", x}});
  ASSERT_EQ(y.size(), 2u);
  auto expected = expectedMlp(x, model.weights().at("fc.weight"),
                              model.weights().at("fc.bias"),
                              model.weights().at("__constant_0"));
  EXPECT_EQ(y[0].typeString(), "f32[4, 5]");
  EXPECT_LE(relativeError(y[0], expected["output0"]), 1e-6);
  EXPECT_LE(relativeError(y[1], expected["hidden"]), 1e-6);

  // Given parameters replace the weights.
  Tensor bias = randomTensor({classes}, 12);
  y = model.run("forward", {{"x", x}, {"fc.bias", bias}});
  expected = expectedMlp(x, model.weights().at("fc.weight"), bias,
                         model.weights().at("__constant_0"));
  EXPECT_LE(relativeError(y[0], expected["output0"]), 1e-6);
}

TEST_F(ModelTest, ResultsAreIdenticalForEveryThreadCount) {
  Tensor x = randomTensor({batch, features}, 13);
  std::vector<Tensor> reference = load(1).run("forward", {{"x", x}});
  for (int threads : {2, 3, 4, 16}) {
    Model model = load(threads);
    EXPECT_EQ(model.threads(), threads);
    for (int repeat = 0; repeat < 3; ++repeat) {
      std::vector<Tensor> y = model.run("forward", {{"x", x}});
      ASSERT_EQ(y.size(), reference.size());
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_EQ(
            std::memcmp(y[i].data(), reference[i].data(), y[i].byteSize()), 0)
            << "threads " << threads << ", result " << i;
    }
  }
}

TEST_F(ModelTest, LaunchesAreSplitIntoContiguousChunks) {
  for (int threads : {1, 2, 3, 4, 7, 10, 16}) {
    Model model = load(threads);
    Tensor counts(DType::I64, {countExtent});
    Tensor ranges(DType::I64, {countExtent, 3});
    for (int64_t i = 0; i < ranges.numel(); ++i)
      ranges.at<int64_t>(i) = -1;
    // Kernels work on the given tensors in place.
    EXPECT_TRUE(
        model.run("count", {{"counts", counts}, {"ranges", ranges}}).empty());
    for (int64_t i = 0; i < countExtent; ++i)
      EXPECT_EQ(counts.at<int64_t>(i), 1) << "iteration " << i;
    int64_t chunks = 0, begin = 0, shortest = countExtent, longest = 0;
    std::set<int64_t> workspaces;
    while (begin < countExtent && chunks <= countExtent) {
      ASSERT_EQ(ranges.at<int64_t>(3 * begin), begin);
      int64_t end = ranges.at<int64_t>(3 * begin + 1);
      // Every chunk may run at the same time as every other: each has its
      // own 64-byte aligned workspace.
      int64_t workspace = ranges.at<int64_t>(3 * begin + 2);
      EXPECT_EQ(workspace % 64, 0);
      EXPECT_TRUE(workspaces.insert(workspace).second);
      ASSERT_GT(end, begin);
      shortest = std::min(shortest, end - begin);
      longest = std::max(longest, end - begin);
      begin = end;
      ++chunks;
    }
    EXPECT_EQ(begin, countExtent);
    EXPECT_EQ(chunks, std::min<int64_t>(threads, countExtent));
    EXPECT_LE(longest - shortest, 1);
  }
}

TEST_F(ModelTest, ViewsOfCallerMemoryWork) {
  Model model = load(2);
  Tensor x = randomTensor({batch, features}, 14);
  std::vector<float> memory(static_cast<size_t>(x.numel()));
  std::memcpy(memory.data(), x.data(), x.byteSize());
  std::vector<Tensor> a = model.run("forward", {{"x", x}});
  std::vector<Tensor> b = model.run(
      "forward",
      {{"x", Tensor::view(DType::F32, {batch, features}, memory.data())}});
  EXPECT_EQ(std::memcmp(a[0].data(), b[0].data(), a[0].byteSize()), 0);
}

TEST_F(ModelTest, ArgumentsAreChecked) {
  Model model = load(1);
  Tensor x = randomTensor({batch, features}, 15);
  EXPECT_CONTAINS(
      errorOf([&] { model.run("forward", {}); }),
      "entry point 'forward' needs its input argument 'x' (f32[4, 8]), which "
      "was not given");
  EXPECT_CONTAINS(
      errorOf([&] {
        model.run("forward", {{"x", randomTensor({batch, features - 1}, 1)}});
      }),
      "argument 'x' of entry point 'forward' is f32[4, 7], but the model "
      "needs f32[4, 8]");
  EXPECT_CONTAINS(
      errorOf([&] {
        model.run("forward",
                  {{"x", x}, {"fc.bias", Tensor(DType::I64, {classes})}});
      }),
      "argument 'fc.bias' of entry point 'forward' is i64[5], but the model "
      "needs f32[5]");
  EXPECT_CONTAINS(errorOf([&] { model.run("forward", {{"x", x}, {"y", x}}); }),
                  "entry point 'forward' has no argument 'y' (its arguments: "
                  "'x', 'fc.weight', 'fc.bias')");
  EXPECT_CONTAINS(errorOf([&] { model.run("backward", {{"x", x}}); }),
                  "has no entry point 'backward'");
  alignas(8) char unaligned[4 * 8 * 4 + 1];
  EXPECT_CONTAINS(
      errorOf([&] {
        model.run("forward", {{"x", Tensor::view(DType::F32, {batch, features},
                                                 unaligned + 1)}});
      }),
      "the data of argument 'x' of entry point 'forward' is not aligned to "
      "its 4-byte elements");
  // Still runs after refused calls.
  EXPECT_EQ(model.run("forward", {{"x", x}}).size(), 2u);
}

TEST_F(ModelTest, ProfilesLaunchesWhenAsked) {
  Model plain = load(1);
  Tensor x = randomTensor({batch, features}, 16);
  plain.run("forward", {{"x", x}});
  EXPECT_TRUE(plain.lastProfile().empty());
  Model profiled = load(2, true);
  profiled.run("forward", {{"x", x}});
  std::vector<LaunchTiming> profile = profiled.lastProfile();
  ASSERT_EQ(profile.size(), 3u);
  EXPECT_EQ(profile[0].kernel, "nsl_forward_linear");
  EXPECT_EQ(profile[2].launch, 2u);
  EXPECT_EQ(profile[1].parallelExtent, batch);
  for (const LaunchTiming &t : profile)
    EXPECT_GE(t.milliseconds, 0.0);
}

//===----------------------------------------------------------------------===//
// Weight preparation (derived arguments)
//===----------------------------------------------------------------------===//

/// x + 2·w + calls, the forward of preparedArtifact after `calls` earlier
/// runs of its prepare kernel.
std::vector<double> preparedForward(const Tensor &x, const Tensor &w,
                                    int calls) {
  std::vector<double> y;
  for (int64_t i = 0; i < preparedSize; ++i)
    y.push_back(double(x.at<float>(i)) + 2.0 * w.at<float>(i) + calls);
  return y;
}

TEST(PreparedArgumentsTest, PreparedOncePerStateAndPerGivenWeights) {
  Model model = Model::load(preparedArtifact().write(), {1, false});
  const EntryPointInfo &forward = model.entryPoint("forward");
  ASSERT_EQ(forward.arguments.size(), 3u);
  EXPECT_EQ(forward.arguments[2].role, "derived");
  EXPECT_TRUE(forward.arguments[2].hasDefault);
  const Tensor w0 = model.weights().at("w").clone();
  Tensor x = randomTensor({preparedSize}, 22);

  // Prepared on the first call, reused by the next (the count stays 0).
  for (int repeat = 0; repeat < 3; ++repeat)
    EXPECT_LE(relativeError(model.run("forward", {{"x", x}})[0],
                            preparedForward(x, w0, 0)),
              1e-7)
        << "run " << repeat;
  // Weights given for one call are prepared for that call...
  Tensor w1 = randomTensor({preparedSize}, 23);
  EXPECT_LE(relativeError(model.run("forward", {{"x", x}, {"w", w1}})[0],
                          preparedForward(x, w1, 1)),
            1e-7);
  // ...and leave the model's prepared weights as they were.
  EXPECT_LE(relativeError(model.run("forward", {{"x", x}})[0],
                          preparedForward(x, w0, 0)),
            1e-7);
  // A run that updates the weights makes the next call prepare again, once.
  model.run("step", {});
  Tensor stepped = w0.clone();
  for (int64_t i = 0; i < preparedSize; ++i)
    stepped.at<float>(i) += 1.0f;
  for (int repeat = 0; repeat < 2; ++repeat)
    EXPECT_LE(relativeError(model.run("forward", {{"x", x}})[0],
                            preparedForward(x, stepped, 2)),
              1e-7);
  EXPECT_CONTAINS(
      errorOf([&] { model.run("forward", {{"x", x}, {"w@prepared", x}}); }),
      "argument 'w@prepared' of entry point 'forward' is computed from the "
      "weights by entry point 'prepare_forward'; give the weights instead");
}

TEST_F(ModelTest, SetWeightsReplacesTheStateOrNothing) {
  Model model = load(1);
  Tensor x = randomTensor({batch, features}, 18);
  Tensor bias = randomTensor({classes}, 19);
  Tensor weight = randomTensor({classes, features}, 20);
  model.setWeights({{"fc.bias", bias}, {"fc.weight", weight}});
  // Copied: changing the caller's tensor later changes nothing.
  bias.data<float>()[0] += 1.0f;
  auto expected = expectedMlp(x, weight, model.weights().at("fc.bias"),
                              model.weights().at("__constant_0"));
  EXPECT_LE(
      relativeError(model.run("forward", {{"x", x}})[0], expected["output0"]),
      1e-6);
  EXPECT_NE(model.weights().at("fc.bias").data<float>()[0],
            bias.data<float>()[0]);

  // A bad entry changes nothing, not even the good entries before it.
  Tensor before = model.weights().at("fc.bias").clone();
  EXPECT_CONTAINS(errorOf([&] {
                    model.setWeights({{"fc.bias", randomTensor({classes}, 21)},
                                      {"fc.weights", weight}});
                  }),
                  "the model has no parameter, buffer or optimizer state "
                  "'fc.weights'");
  EXPECT_CONTAINS(
      errorOf([&] { model.setWeights({{"fc.bias", randomTensor({3}, 22)}}); }),
      "'fc.bias' is f32[5] in the model, but the new value is f32[3]");
  const Tensor &after = model.weights().at("fc.bias");
  EXPECT_EQ(
      std::vector<float>(after.data<float>(), after.data<float>() + classes),
      std::vector<float>(before.data<float>(), before.data<float>() + classes));
}

TEST_F(ModelTest, InputNormalizationComesFromTheManifest) {
  EXPECT_FALSE(load(1).inputNormalization().has_value());
  TestArtifact a = mlpArtifact();
  a.manifest["input_normalization"] = {{"input", "x"},
                                       {"mean", nlohmann::json::array({0.25})},
                                       {"std", nlohmann::json::array({2.0})}};
  // The MLP's x is [4, 8]: 8 "channels" would be needed.
  EXPECT_CONTAINS(errorOf([&] { Model::load(a.write()); }),
                  "got 1 means and 1 stds for 'x'");
  std::vector<double> mean(features, 0.25), stddev(features, 2.0);
  a.manifest["input_normalization"]["mean"] = mean;
  a.manifest["input_normalization"]["std"] = stddev;
  std::optional<InputNormalization> n =
      Model::load(a.write()).inputNormalization();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->input, "x");
  EXPECT_EQ(n->mean, mean);
  EXPECT_EQ(n->std, stddev);
}

TEST_F(ModelTest, ModelsMove) {
  Model a = load(2);
  Model b = std::move(a);
  Tensor x = randomTensor({batch, features}, 17);
  EXPECT_EQ(b.run("forward", {{"x", x}}).size(), 2u);
  a = std::move(b);
  EXPECT_EQ(a.run("forward", {{"x", x}}).size(), 2u);
}

} // namespace
