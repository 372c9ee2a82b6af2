//===- NslRunTest.cpp - Tests of the nsl-run tool -------------------------===//
//
// nsl-run end to end on hand-made artifacts: check passes where the kernels
// match graph.json and fails (exit 1) where one is wrong; run, bench and
// their errors and help.
//
//===----------------------------------------------------------------------===//
#include "TestArtifact.h"

#include "runtime/artifact/Model.h"
#include "runtime/reference/Tensor.h"

#include <filesystem>

using namespace nsl::runtime;
using namespace nsl::runtime::test;

namespace {

std::pair<int, std::string> nslRun(const std::string &arguments) {
  return runCommand(std::string("'") + NSL_RUN_TOOL + "' " + arguments);
}

class NslRunTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    path_ = new std::string(mlpArtifact().write());
  }
  static void TearDownTestSuite() { delete path_; }
  static std::string *path_;
};
std::string *NslRunTest::path_ = nullptr;

TEST_F(NslRunTest, CheckPassesWhenTheKernelsMatchTheGraph) {
  for (const char *threads : {"1", "3"}) {
    auto [status, output] =
        nslRun("check " + *path_ + " --seed 5 --threads " + threads);
    EXPECT_EQ(status, 0) << output;
    EXPECT_CONTAINS(output, "output0 f32[4, 5]: relative error");
    EXPECT_CONTAINS(output, "hidden f32[4, 5]: relative error");
    EXPECT_CONTAINS(output, "all 2 outputs agree with the reference within "
                            "relative error 1e-05");
    EXPECT_CONTAINS(output, "0 given, 1 drawn at random, 2 from the weights");
  }
}

TEST_F(NslRunTest, CheckFailsWhenAKernelIsWrong) {
  // A leaky relu where graph.json says relu.
  std::string wrong = mlpArtifact("v > 0.0f ? v : 0.1f * v").write();
  auto [status, output] = nslRun("check " + wrong);
  EXPECT_EQ(status, 1) << output;
  EXPECT_CONTAINS(output, "FAILED");
  EXPECT_CONTAINS(output, "2 of 2 outputs exceed relative error 1e-05");
  // A loose enough tolerance accepts it.
  std::tie(status, output) = nslRun("check " + wrong + " --tolerance 10");
  EXPECT_EQ(status, 0) << output;
}

TEST_F(NslRunTest, RunPrintsAndSavesOutputs) {
  std::string dir = freshDirectory();
  Tensor x = randomTensor({batch, features}, 31);
  nsl::reference::saveNpy(dir + "/x.npy", toReference(x));
  auto [status, output] =
      nslRun("run " + *path_ + " --input x=" + dir +
             "/x.npy --threads 2 --output-dir " + dir + "/out");
  ASSERT_EQ(status, 0) << output;
  EXPECT_CONTAINS(output, "entry point forward (cpu-x86_64, 2 threads), 3 "
                          "arguments: 1 given, 0 drawn at random, 2 from the "
                          "weights");
  EXPECT_CONTAINS(output, "output0: f32[4, 5]\n  values: ");
  EXPECT_CONTAINS(output, "  min ");
  EXPECT_CONTAINS(output, "time: ");
  std::vector<Tensor> expected =
      Model::load(*path_, {1, false}).run("forward", {{"x", x}});
  Tensor saved =
      fromReference(nsl::reference::loadNpy(dir + "/out/output0.npy"));
  ASSERT_EQ(saved.shape(), expected[0].shape());
  for (int64_t i = 0; i < saved.numel(); ++i)
    EXPECT_EQ(saved.at<float>(i), expected[0].at<float>(i));
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/hidden.npy"));

  // Random inputs depend on the seed only.
  auto first = nslRun("run " + *path_ + " --seed 3").second;
  auto again = nslRun("run " + *path_ + " --seed 3").second;
  auto other = nslRun("run " + *path_ + " --seed 4").second;
  auto values = [](const std::string &s) {
    return s.substr(s.find("values:"), s.find("time:") - s.find("values:"));
  };
  EXPECT_EQ(values(first), values(again));
  EXPECT_NE(values(first), values(other));
}

TEST_F(NslRunTest, RunsOtherEntryPoints) {
  auto [status, output] = nslRun("run " + *path_ +
                                 " --entry count "
                                 "--num-classes 1");
  EXPECT_EQ(status, 0) << output;
  EXPECT_CONTAINS(output, "entry point count");
  std::tie(status, output) = nslRun("run " + *path_ + " --entry count");
  EXPECT_EQ(status, 2);
  EXPECT_CONTAINS(output, "nsl-run: error: cannot choose values for i64 "
                          "argument 'counts'");
}

TEST_F(NslRunTest, BenchReportsTimes) {
  auto [status, output] =
      nslRun("bench " + *path_ + " --warmup 1 --repeats 5 --profile");
  ASSERT_EQ(status, 0) << output;
  EXPECT_CONTAINS(output, "5 runs after 1 warm-up: median ");
  EXPECT_CONTAINS(output, " ms, min ");
  EXPECT_CONTAINS(output, "mean ");
  EXPECT_CONTAINS(output, "median per launch:");
  EXPECT_CONTAINS(output, "nsl_forward_linear");
}

TEST_F(NslRunTest, ErrorsAndHelp) {
  struct Case {
    std::string arguments;
    int status;
    std::string message;
  } cases[] = {
      {"", 2, "nsl-run: error: missing command"},
      {"--help", 0, "usage: nsl-run <command> ART"},
      {"run --help", 0, "usage: nsl-run run ART"},
      {"check --help", 0, "usage: nsl-run check ART"},
      {"bench --help", 0, "--profile"},
      {"frobnicate", 2, "nsl-run: error: unknown command 'frobnicate'"},
      {"run", 2, "nsl-run: error: 'run' takes one artifact folder, got 0"},
      {"run /nonexistent.nslm", 2,
       "nsl-run: error: /nonexistent.nslm: no such artifact folder"},
      {"run " + *path_ + " --bogus 1", 2, "unknown option '--bogus' for 'run'"},
      {"run " + *path_ + " --threads x", 2,
       "invalid --threads 'x': expected an integer"},
      {"run " + *path_ + " --entry backward", 2,
       "has no entry point 'backward'"},
      {"run " + *path_ + " --input y=/a.npy", 2,
       "--input y: entry point 'forward' has no argument 'y'"},
      {"run " + *path_ + " --input x=/nonexistent.npy", 2, "nonexistent.npy"},
      {"check " + *path_ + " --tolerance -1", 2, "invalid --tolerance '-1'"},
      {"check " + *path_ + " --entry count", 2,
       "holds function 'forward', not the entry point 'count'"},
      {"bench " + *path_ + " --repeats 0", 2, "invalid --repeats '0'"},
  };
  for (const Case &c : cases) {
    auto [status, output] = nslRun(c.arguments);
    EXPECT_EQ(status, c.status) << c.arguments << "\n" << output;
    EXPECT_CONTAINS(output, c.message) << c.arguments;
  }
}

TEST_F(NslRunTest, CheckNeedsTheGraph) {
  TestArtifact a = mlpArtifact();
  a.graph.clear();
  std::string path = a.write();
  auto [status, output] = nslRun("check " + path);
  EXPECT_EQ(status, 2);
  EXPECT_CONTAINS(output, "graph.json");
  // run does not need it.
  EXPECT_EQ(nslRun("run " + path).first, 0);
}

} // namespace
