//===- TrainTest.cpp - Tests of runtime/train -----------------------------===//

#include "runtime/train/Metrics.h"
#include "runtime/train/Schedule.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace nsl::train;

namespace {

std::string freshFolder(const std::string &name) {
  fs::path folder = fs::path(testing::TempDir()) /
                    ("nsl-train-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder.string();
}

std::string readText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ScheduleTest, ConstantAndStepDecay) {
  Schedule s;
  s.baseRate = 0.1;
  EXPECT_DOUBLE_EQ(s.rate(0), 0.1);
  EXPECT_DOUBLE_EQ(s.rate(123456), 0.1);
  s.kind = Schedule::Kind::Step;
  s.milestones = {100, 150};
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(s.rate(99), 0.1);
  EXPECT_DOUBLE_EQ(s.rate(100), 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(s.rate(149), 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(s.rate(150), 0.1 * 0.1 * 0.1);
  EXPECT_EQ(s.describe(), "step 0.1 x0.1 at 100,150");
}

TEST(ScheduleTest, CosineWithWarmup) {
  Schedule s;
  s.kind = Schedule::Kind::Cosine;
  s.baseRate = 0.2;
  s.minimumRate = 0.02;
  s.totalSteps = 110;
  s.warmupSteps = 10;
  // Warm-up: (s + 1) / 10 of the scheduled rate, which is the base rate
  // before the cosine starts.
  EXPECT_DOUBLE_EQ(s.rate(0), 0.2 * 0.1);
  EXPECT_DOUBLE_EQ(s.rate(4), 0.2 * 0.5);
  EXPECT_DOUBLE_EQ(s.rate(10), 0.2);
  // Halfway through the 100 cosine steps: the mean of both ends.
  EXPECT_NEAR(s.rate(60), 0.11, 1e-15);
  EXPECT_NEAR(s.rate(35), 0.02 + 0.18 * 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(s.rate(110), 0.02);
  EXPECT_DOUBLE_EQ(s.rate(500), 0.02);
  EXPECT_EQ(s.describe(),
            "cosine 0.2 to 0.02 over 110 steps, linear warm-up 10 steps");
}

TEST(ScheduleTest, MilestonesInStepsOrEpochs) {
  EXPECT_EQ(parseMilestones("100,250", 50), (std::vector<int64_t>{100, 250}));
  EXPECT_EQ(parseMilestones("2e,3e", 50), (std::vector<int64_t>{100, 150}));
  EXPECT_EQ(parseMilestones("1e,60", 50), (std::vector<int64_t>{50, 60}));
  for (const char *bad : {"", "10,", "x", "-5", "3ee", "20,10", "1e,50"}) {
    try {
      parseMilestones(bad, 50);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument &e) {
      EXPECT_NE(std::string(e.what()).find("milestone"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(parseScheduleKind("cosine"), Schedule::Kind::Cosine);
  EXPECT_THROW(parseScheduleKind("linear"), std::invalid_argument);
}

TEST(AtomicWriteTest, ReplacesTheFileAndLeavesNoTemporary) {
  std::string folder = freshFolder("atomic");
  std::string path = folder + "/checkpoint.safetensors";
  writeFileAtomically(path, "first");
  EXPECT_EQ(readText(path), "first");
  writeFileAtomically(path, std::string(100000, 'x'));
  EXPECT_EQ(readText(path), std::string(100000, 'x'));
  size_t files = 0;
  for (const auto &entry : fs::directory_iterator(folder)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  // A folder that does not exist: an error naming the file, and nothing
  // else is touched.
  try {
    writeFileAtomically(folder + "/missing/checkpoint.safetensors", "data");
    ADD_FAILURE() << "wrote into a missing folder";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("missing/checkpoint.safetensors"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(readText(path), std::string(100000, 'x'));
}

TEST(MetricsLogTest, JsonLinesResumeCutsTheRecordsAfterTheCheckpoint) {
  std::string folder = freshFolder("jsonl");
  std::string sizes;
  {
    MetricsLog log(folder, "jsonl", nullptr);
    log.step({1, 1, 0, 0.1, 2.5, 0.25, 1000});
    EpochMetrics m;
    m.epoch = 1;
    m.trainLoss = 2.5;
    m.trainAccuracy = 0.25;
    m.evaluated = true;
    m.testLoss = 2.25;
    m.testAccuracy = 0.5;
    log.epoch(m);
    sizes = log.sizes(); // The checkpoint would be written here.
    log.step({2, 2, 0, 0.1, 2.0, 0.5, 1000});
  }
  std::string all = readText(folder + "/metrics.jsonl");
  EXPECT_NE(all.find("\"step\": 2"), std::string::npos);
  {
    MetricsLog log(folder, "jsonl", &sizes);
    log.step({2, 2, 0, 0.1, 1.75, 0.75, 1000});
  }
  std::string resumed = readText(folder + "/metrics.jsonl");
  EXPECT_EQ(resumed.find("\"loss\": 2,"), std::string::npos) << resumed;
  EXPECT_NE(resumed.find("{\"kind\": \"step\", \"epoch\": 2, \"step\": 2, "
                         "\"batch\": 0, \"lr\": 0.1, \"loss\": 1.75"),
            std::string::npos)
      << resumed;
  EXPECT_NE(resumed.find("\"test_loss\": 2.25, \"test_accuracy\": 0.5"),
            std::string::npos)
      << resumed;
  std::string bad = "999999";
  EXPECT_THROW(MetricsLog(folder, "jsonl", &bad), std::runtime_error);
  EXPECT_THROW(MetricsLog(folder, "xml", nullptr), std::runtime_error);
}

TEST(MetricsLogTest, CsvHasHeadersOnce) {
  std::string folder = freshFolder("csv");
  std::string sizes;
  {
    MetricsLog log(folder, "csv", nullptr);
    log.step({1, 1, 0, 0.5, 2.0, 0.0, 10});
    sizes = log.sizes();
  }
  {
    MetricsLog log(folder, "csv", &sizes);
    log.step({1, 2, 1, 0.5, 1.5, 1.0, 10});
    EpochMetrics m;
    m.epoch = 1;
    log.epoch(m); // Not evaluated: empty test columns.
  }
  EXPECT_EQ(readText(folder + "/steps.csv"),
            "epoch,step,batch,lr,loss,accuracy,images_per_second\n"
            "1,1,0,0.5,2,0,10\n"
            "1,2,1,0.5,1.5,1,10\n");
  EXPECT_EQ(readText(folder + "/epochs.csv"),
            "epoch,train_loss,train_accuracy,test_loss,test_accuracy,"
            "seconds,images_per_second\n"
            "1,0,0,,,0,0\n");
}

TEST(ProgressTest, PlainLinesEveryTenthOfAnEpoch) {
  std::ostringstream out;
  ProgressDisplay progress(out, ProgressStyle::Lines, 2, 20);
  for (int64_t b = 0; b < 20; ++b)
    progress.step(1, b, 100, 1.0, 0.5, 0.1, 65);
  std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10);
  EXPECT_NE(text.find("epoch 1/2 [2/20] 100 img/s  loss 1.0000  acc 50.00%  "
                      "lr 0.1  ETA 1:05"),
            std::string::npos)
      << text;
  EXPECT_EQ(formatDuration(3725), "1:02:05");
  EXPECT_EQ(formatDuration(-1), "0:00");
}

} // namespace
