//===- TestArtifact.cpp - Hand-made artifacts for the runtime tests -------===//

#include "TestArtifact.h"

#include "runtime/artifact/Safetensors.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace nsl::runtime::test {

namespace {

fs::path testRoot() {
  return fs::temp_directory_path() /
         ("nsl-runtime-test-" + std::to_string(getpid()));
}

/// Removes the folders of this test program when it ends.
class Cleanup : public ::testing::Environment {
public:
  void TearDown() override {
    std::error_code error;
    fs::remove_all(testRoot(), error);
  }
};
[[maybe_unused]] ::testing::Environment *const cleanup =
    ::testing::AddGlobalTestEnvironment(new Cleanup);

const char *kernelTemplate = R"c(
#include <stdint.h>
enum { N = 4, I = 8, O = 5 };

/* buffers: x [N,I], weight [O,I], bias [O], y [N,O] */
void nsl_forward_linear(void *const *b, int64_t begin, int64_t end) {
  const float *x = b[0], *w = b[1], *bias = b[2];
  float *y = b[3];
  for (int64_t n = begin; n < end; ++n)
    for (int o = 0; o < O; ++o) {
      float acc = bias[o];
      for (int i = 0; i < I; ++i)
        acc += x[n * I + i] * w[o * I + i];
      y[n * O + o] = acc;
    }
}

void nsl_forward_relu(void *const *b, int64_t begin, int64_t end) {
  const float *x = b[0];
  float *y = b[1];
  for (int64_t i = begin * O; i < end * O; ++i) {
    float v = x[i];
    y[i] = RELU;
  }
}

void nsl_forward_add(void *const *b, int64_t begin, int64_t end) {
  const float *x = b[0], *c = b[1];
  float *y = b[2];
  for (int64_t i = begin * O; i < end * O; ++i)
    y[i] = x[i] + c[i];
}

/* buffers: counts [E] (each iteration adds one), ranges [E,3] (a call on
   [begin, end) stores begin, end and its workspace's address at row begin),
   then a workspace of W bytes, which the call fills and checks: a
   workspace shared with a concurrent call shows as a count of 100. */
enum { W = 256 };
void nsl_count(void *const *b, int64_t begin, int64_t end) {
  int64_t *counts = b[0], *ranges = b[1];
  volatile int64_t *workspace = b[2];
  for (int i = 0; i < W / 8; ++i)
    workspace[i] = begin;
  for (int64_t i = begin; i < end; ++i)
    counts[i] += 1;
  for (int i = 0; i < W / 8; ++i)
    if (workspace[i] != begin)
      counts[begin] = 100;
  ranges[3 * begin] = begin;
  ranges[3 * begin + 1] = end;
  ranges[3 * begin + 2] = (int64_t)(intptr_t)b[2];
}
)c";

Json shape(std::initializer_list<int64_t> dims) {
  return std::vector<int64_t>(dims);
}

Json buffer(int64_t id, const char *dtype, Json dims, int64_t bytes,
            const char *storage) {
  Json b = Json::object();
  b["id"] = id;
  b["dtype"] = dtype;
  b["shape"] = std::move(dims);
  b["bytes"] = bytes;
  b["storage"] = storage;
  return b;
}

Json binding(const char *name, const char *role, const char *dtype, Json dims,
             int64_t buffer) {
  Json b = Json::object();
  b["name"] = name;
  if (role)
    b["role"] = role;
  b["dtype"] = dtype;
  b["shape"] = std::move(dims);
  b["buffer"] = buffer;
  return b;
}

Json launch(const char *kernel, std::initializer_list<int64_t> buffers,
            int64_t extent, const char *op) {
  Json l = Json::object();
  l["kernel"] = kernel;
  l["buffers"] = shape(buffers);
  l["parallel_extent"] = extent;
  l["ops"] = Json::array({op});
  return l;
}

/// The format, target and kernel library of a CPU artifact's manifest.
void cpuManifestHeader(Json &m) {
  m["format"] = "nsl-artifact";
  m["version"] = 1;
  m["target"] = "cpu-x86_64";
  m["kernels"]["library"] = "kernels.so";
  m["kernels"]["abi"] = "nsl-cpu-1";
  m["kernels"]["dependencies"] = Json::array({"libc.so.6"});
}

std::string tensorValues(const Tensor &t) {
  Json values = Json::array();
  for (int64_t i = 0; i < t.numel(); ++i)
    values.push_back(static_cast<double>(t.at<float>(i)));
  return values.dump();
}

} // namespace

std::string freshDirectory() {
  static int counter = 0;
  fs::path dir = testRoot() / ("t" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir.string();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::pair<int, std::string> runCommand(const std::string &command) {
  std::string output;
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe)
    return {-1, "popen failed"};
  char chunk[4096];
  while (size_t n = fread(chunk, 1, sizeof chunk, pipe))
    output.append(chunk, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string compileKernels(const std::string &source) {
  // Shared by the test programs (ctest runs them in parallel): named by
  // content and renamed into place when complete.
  fs::path cache = fs::temp_directory_path() / "nsl-runtime-test-kernels";
  fs::create_directories(cache);
  std::string key = std::to_string(
      std::hash<std::string>()(std::string(NSL_C_COMPILER) + source));
  fs::path library = cache / ("k" + key + ".so");
  if (fs::exists(library))
    return library.string();
  std::string stem =
      (cache / ("k" + key + "-" + std::to_string(getpid()))).string();
  writeFile(stem + ".c", source);
  auto [status, output] =
      runCommand(std::string("'") + NSL_C_COMPILER +
                 "' -shared -fPIC -O2 -o '" + stem + ".so' '" + stem + ".c'");
  EXPECT_EQ(status, 0) << "compiling the test kernels failed:\n" << output;
  fs::rename(stem + ".so", library);
  fs::remove(stem + ".c");
  return library.string();
}

std::string TestArtifact::write() const {
  std::string dir = freshDirectory();
  writeFile(dir + "/manifest.json", manifest.dump(/*indent=*/2));
  writeSafetensors(dir + "/weights.safetensors", weights);
  if (!graph.empty())
    writeFile(dir + "/graph.json", graph);
  if (!kernelSource.empty())
    fs::copy_file(compileKernels(kernelSource), dir + "/kernels.so");
  return dir;
}

Tensor randomTensor(const Shape &shape, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.at<float>(i) = static_cast<float>(
        -1.0 + 2.0 * static_cast<double>(rng() >> 8) * 0x1p-24);
  return t;
}

TestArtifact mlpArtifact(const std::string &reluBody) {
  TestArtifact a;
  a.kernelSource = "#define RELU (" + reluBody + ")\n" + kernelTemplate;
  a.weights["fc.weight"] = randomTensor({classes, features}, 1);
  a.weights["fc.bias"] = randomTensor({classes}, 2);
  a.weights["__constant_0"] = randomTensor({batch, classes}, 3);

  Json &m = a.manifest;
  cpuManifestHeader(m);
  Json &buffers = m["buffers"] = Json::array();
  const int64_t io = batch * classes * 4;
  buffers.push_back(buffer(0, "f32", shape({batch, features}),
                           batch * features * 4, "argument"));
  buffers.push_back(buffer(1, "f32", shape({classes, features}),
                           classes * features * 4, "argument"));
  buffers.push_back(
      buffer(2, "f32", shape({classes}), classes * 4, "argument"));
  // The linear output dies once relu has read it: output0 reuses its bytes.
  buffers.push_back(buffer(3, "f32", shape({batch, classes}), io, "arena"));
  buffers.back()["offset"] = 0;
  buffers.push_back(buffer(4, "f32", shape({batch, classes}), io, "arena"));
  buffers.back()["offset"] = 128;
  buffers.push_back(buffer(5, "f32", shape({batch, classes}), io, "constant"));
  buffers.back()["name"] = "__constant_0";
  buffers.push_back(buffer(6, "f32", shape({batch, classes}), io, "arena"));
  buffers.back()["offset"] = 0;
  buffers.push_back(
      buffer(7, "i64", shape({countExtent}), countExtent * 8, "argument"));
  buffers.push_back(
      buffer(8, "i64", shape({countExtent, 3}), countExtent * 24, "argument"));
  m["arena_bytes"] = 256;

  Json forward = Json::object();
  forward["name"] = "forward";
  forward["arguments"] = Json::array(
      {binding("x", "input", "f32", shape({batch, features}), 0),
       binding("fc.weight", "parameter", "f32", shape({classes, features}), 1),
       binding("fc.bias", "parameter", "f32", shape({classes}), 2)});
  forward["results"] = Json::array(
      {binding("output0", nullptr, "f32", shape({batch, classes}), 6),
       binding("hidden", nullptr, "f32", shape({batch, classes}), 4)});
  forward["schedule"] = Json::array(
      {launch("nsl_forward_linear", {0, 1, 2, 3}, batch, "nsl.linear"),
       launch("nsl_forward_relu", {3, 4}, batch, "nsl.relu"),
       launch("nsl_forward_add", {4, 5, 6}, batch, "nsl.add")});
  Json count = Json::object();
  count["name"] = "count";
  count["arguments"] = Json::array(
      {binding("counts", "input", "i64", shape({countExtent}), 7),
       binding("ranges", "input", "i64", shape({countExtent, 3}), 8)});
  count["results"] = Json::array();
  count["schedule"] =
      Json::array({launch("nsl_count", {7, 8}, countExtent, "test.count")});
  count["schedule"][0]["workspace_bytes"] = 256;
  m["entry_points"] = Json::array({forward, count});
  m["tuning"]["kernel_grouping"] = "per-op";

  a.graph = R"({
  "format": "nsl-graph", "version": 1, "function": "forward",
  "arguments": [
    {"value": 0, "name": "x", "role": "input", "dtype": "f32", "shape": [4, 8]},
    {"value": 1, "name": "fc.weight", "role": "parameter", "dtype": "f32", "shape": [5, 8]},
    {"value": 2, "name": "fc.bias", "role": "parameter", "dtype": "f32", "shape": [5]}
  ],
  "nodes": [
    {"op": "linear", "operands": {"input": 0, "weight": 1, "bias": 2},
     "attributes": {}, "results": [{"value": 3, "dtype": "f32", "shape": [4, 5]}]},
    {"op": "relu", "operands": {"input": 3},
     "attributes": {}, "results": [{"value": 4, "dtype": "f32", "shape": [4, 5]}]},
    {"op": "constant", "operands": {},
     "attributes": {"values": )" +
            tensorValues(a.weights["__constant_0"]) + R"(},
     "results": [{"value": 5, "dtype": "f32", "shape": [4, 5]}]},
    {"op": "add", "operands": {"lhs": 4, "rhs": 5},
     "attributes": {}, "results": [{"value": 6, "dtype": "f32", "shape": [4, 5]}]}
  ],
  "outputs": [{"value": 6, "name": "output0"}, {"value": 4, "name": "hidden"}]
})";
  return a;
}

TestArtifact preparedArtifact() {
  TestArtifact a;
  a.kernelSource = R"c(
#include <stdint.h>
enum { S = )c" + std::to_string(preparedSize) +
                   R"c( };
static int64_t calls = 0;
/* buffers: w [S], prepared [S] */
void nsl_prepare(void *const *b, int64_t begin, int64_t end) {
  const float *w = b[0];
  float *prepared = b[1];
  for (int i = 0; i < S; ++i)
    prepared[i] = 2.0f * w[i] + (float)calls;
  ++calls;
}
/* buffers: x [S], prepared [S], y [S] */
void nsl_apply(void *const *b, int64_t begin, int64_t end) {
  const float *x = b[0], *prepared = b[1];
  float *y = b[2];
  for (int i = 0; i < S; ++i)
    y[i] = x[i] + prepared[i];
}
/* buffers: w [S], new w [S] */
void nsl_step(void *const *b, int64_t begin, int64_t end) {
  const float *w = b[0];
  float *updated = b[1];
  for (int i = 0; i < S; ++i)
    updated[i] = w[i] + 1.0f;
}
)c";
  a.weights["w"] = randomTensor({preparedSize}, 21);
  Json &m = a.manifest;
  cpuManifestHeader(m);
  const int64_t bytes = preparedSize * 4;
  Json &buffers = m["buffers"] = Json::array();
  // 0 w, 1 prepared (arena), 2 x, 3 w, 4 w@prepared, 5 y (arena), 6 w,
  // 7 new w (arena).
  for (int64_t id = 0; id < 8; ++id) {
    bool arena = id == 1 || id == 5 || id == 7;
    buffers.push_back(buffer(id, "f32", shape({preparedSize}), bytes,
                             arena ? "arena" : "argument"));
    if (arena)
      buffers.back()["offset"] = 0;
  }
  m["arena_bytes"] = 64;
  const Json size = shape({preparedSize});
  Json prepare = Json::object();
  prepare["name"] = "prepare_forward";
  prepare["arguments"] =
      Json::array({binding("w", "parameter", "f32", size, 0)});
  prepare["results"] =
      Json::array({binding("w@prepared", nullptr, "f32", size, 1)});
  prepare["schedule"] =
      Json::array({launch("nsl_prepare", {0, 1}, 1, "nsl.fold_similarity")});
  Json forward = Json::object();
  forward["name"] = "forward";
  forward["prepared_by"] = "prepare_forward";
  forward["arguments"] =
      Json::array({binding("x", "input", "f32", size, 2),
                   binding("w", "parameter", "f32", size, 3),
                   binding("w@prepared", "derived", "f32", size, 4)});
  forward["results"] = Json::array({binding("y", nullptr, "f32", size, 5)});
  forward["schedule"] =
      Json::array({launch("nsl_apply", {2, 4, 5}, 1, "nsl.add")});
  Json step = Json::object();
  step["name"] = "step";
  step["arguments"] = Json::array({binding("w", "parameter", "f32", size, 6)});
  step["results"] = Json::array({binding("w", nullptr, "f32", size, 7)});
  step["schedule"] = Json::array({launch("nsl_step", {6, 7}, 1, "nsl.add")});
  m["entry_points"] = Json::array({forward, prepare, step});
  return a;
}

std::map<std::string, std::vector<double>> expectedMlp(const Tensor &x,
                                                       const Tensor &weight,
                                                       const Tensor &bias,
                                                       const Tensor &constant) {
  std::vector<double> hidden(batch * classes), output(batch * classes);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < classes; ++o) {
      double acc = bias.at<float>(o);
      for (int64_t i = 0; i < features; ++i)
        acc += double(x.at<float>(n * features + i)) *
               weight.at<float>(o * features + i);
      size_t k = static_cast<size_t>(n * classes + o);
      hidden[k] = std::max(acc, 0.0);
      output[k] = hidden[k] + constant.at<float>(n * classes + o);
    }
  return {{"output0", output}, {"hidden", hidden}};
}

double relativeError(const Tensor &y, const std::vector<double> &r) {
  EXPECT_EQ(y.numel(), static_cast<int64_t>(r.size()));
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < r.size() && i < static_cast<size_t>(y.numel()); ++i) {
    double d = y.at<float>(static_cast<int64_t>(i)) - r[i];
    diff += d * d;
    norm += r[i] * r[i];
  }
  return std::sqrt(diff / norm);
}

} // namespace nsl::runtime::test
