//===- CApiTest.cpp - Tests of the C API and of its documented example ----===//

#include "TestArtifact.h"

#include "runtime/artifact/Model.h"
#include "runtime/artifact/nsl_runtime.h"

#include <cstring>

using namespace nsl::runtime;
using namespace nsl::runtime::test;

namespace {

class CApiTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    path_ = new std::string(mlpArtifact().write());
  }
  static void TearDownTestSuite() { delete path_; }
  static std::string *path_;
};
std::string *CApiTest::path_ = nullptr;

TEST_F(CApiTest, RunsLikeTheCppApi) {
  nsl_model *model = nullptr;
  ASSERT_EQ(nsl_model_load(path_->c_str(), 2, &model), NSL_OK)
      << nsl_last_error();
  ASSERT_EQ(nsl_model_num_entry_points(model), 2);
  EXPECT_STREQ(nsl_model_entry_point_name(model, 0), "forward");
  EXPECT_STREQ(nsl_model_entry_point_name(model, 1), "count");
  EXPECT_EQ(nsl_model_entry_point_name(model, 2), nullptr);

  int64_t numArguments = 0, numResults = 0;
  ASSERT_EQ(nsl_model_entry_point(model, "forward", &numArguments, &numResults),
            NSL_OK);
  EXPECT_EQ(numArguments, 3);
  EXPECT_EQ(numResults, 2);
  nsl_tensor_info info;
  ASSERT_EQ(nsl_model_argument(model, "forward", 1, &info), NSL_OK);
  EXPECT_STREQ(info.name, "fc.weight");
  EXPECT_STREQ(info.role, "parameter");
  EXPECT_EQ(info.dtype, NSL_DTYPE_F32);
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.shape[0], classes);
  EXPECT_EQ(info.shape[1], features);
  EXPECT_TRUE(info.has_default);
  ASSERT_EQ(nsl_model_result(model, "forward", 1, &info), NSL_OK);
  EXPECT_STREQ(info.name, "hidden");
  EXPECT_STREQ(info.role, "");
  EXPECT_EQ(nsl_model_result(model, "forward", 2, &info),
            NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(nsl_last_error(), "has 2 results, no index 2");

  // x as a wrapped caller array.
  Tensor x = randomTensor({batch, features}, 21);
  std::vector<float> memory(static_cast<size_t>(x.numel()));
  std::memcpy(memory.data(), x.data(), x.byteSize());
  const int64_t shape[] = {batch, features};
  nsl_tensor *argument = nullptr;
  ASSERT_EQ(nsl_tensor_wrap(NSL_DTYPE_F32, 2, shape, memory.data(), &argument),
            NSL_OK);
  EXPECT_EQ(nsl_tensor_data(argument), memory.data());
  const char *names[] = {"x"};
  nsl_tensor *results[2] = {nullptr, nullptr};
  ASSERT_EQ(nsl_model_run(model, "forward", 1, names, &argument, 2, results),
            NSL_OK)
      << nsl_last_error();

  std::vector<Tensor> expected =
      Model::load(*path_, {1, false}).run("forward", {{"x", x}});
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(results[i], nullptr);
    EXPECT_EQ(nsl_tensor_dtype(results[i]), NSL_DTYPE_F32);
    EXPECT_EQ(nsl_tensor_rank(results[i]), 2);
    EXPECT_EQ(nsl_tensor_shape(results[i])[1], classes);
    ASSERT_EQ(nsl_tensor_numel(results[i]), expected[i].numel());
    EXPECT_EQ(std::memcmp(nsl_tensor_data(results[i]), expected[i].data(),
                          expected[i].byteSize()),
              0);
    nsl_tensor_free(results[i]);
  }
  nsl_tensor_free(argument);
  nsl_model_free(model);
}

TEST_F(CApiTest, FailuresHaveStatusAndMessage) {
  nsl_model *model = nullptr;
  EXPECT_EQ(nsl_model_load("/nonexistent/model.nslm", 1, &model),
            NSL_ERROR_LOAD);
  EXPECT_EQ(model, nullptr);
  EXPECT_CONTAINS(nsl_last_error(), "no such artifact folder");
  EXPECT_EQ(nsl_model_load(nullptr, 1, &model), NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(nsl_status_name(NSL_ERROR_LOAD), "load error");

  ASSERT_EQ(nsl_model_load(path_->c_str(), 1, &model), NSL_OK);
  EXPECT_EQ(nsl_model_entry_point(model, "backward", nullptr, nullptr),
            NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(nsl_last_error(), "has no entry point 'backward'");

  const int64_t badShape[] = {batch, features + 1};
  nsl_tensor *x = nullptr;
  ASSERT_EQ(nsl_tensor_create(NSL_DTYPE_F32, 2, badShape, &x), NSL_OK);
  const char *names[] = {"x"};
  nsl_tensor *results[2] = {nullptr, nullptr};
  EXPECT_EQ(nsl_model_run(model, "forward", 1, names, &x, 2, results),
            NSL_ERROR_RUN);
  EXPECT_CONTAINS(nsl_last_error(), "argument 'x' of entry point 'forward' is "
                                    "f32[4, 9], but the model needs f32[4, 8]");
  EXPECT_EQ(results[0], nullptr);
  EXPECT_EQ(nsl_model_run(model, "forward", 1, names, &x, 1, results),
            NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(nsl_last_error(), "has 2 results, but room for 1 was given");
  nsl_tensor *twice[] = {x, x};
  const char *twiceNames[] = {"x", "x"};
  EXPECT_EQ(nsl_model_run(model, "forward", 2, twiceNames, twice, 2, results),
            NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(nsl_last_error(), "argument 'x' is given twice");

  nsl_tensor *bad = nullptr;
  EXPECT_EQ(nsl_tensor_create(static_cast<nsl_dtype>(7), 1, badShape, &bad),
            NSL_ERROR_INVALID_ARGUMENT);
  const int64_t negative[] = {-2};
  EXPECT_EQ(nsl_tensor_create(NSL_DTYPE_F32, 1, negative, &bad),
            NSL_ERROR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(nsl_last_error(), "negative dimension");
  EXPECT_EQ(bad, nullptr);
  nsl_tensor_free(x);
  nsl_model_free(model);
  nsl_model_free(nullptr);
  nsl_tensor_free(nullptr);
}

TEST_F(CApiTest, TheDocumentedExampleRuns) {
  auto [status, output] = runCommand(std::string("'") + NSL_RUN_MODEL_EXAMPLE +
                                     "' '" + *path_ + "'");
  EXPECT_EQ(status, 0) << output;
  EXPECT_CONTAINS(output, "output0: f32[4, 5]");
  EXPECT_CONTAINS(output, "hidden: f32[4, 5]");
  std::tie(status, output) =
      runCommand(std::string("'") + NSL_RUN_MODEL_EXAMPLE + "' /nonexistent");
  EXPECT_EQ(status, 1);
  EXPECT_CONTAINS(output, "run_model: loading the model failed (load error): "
                          "/nonexistent: no such artifact folder");
}

} // namespace
