//===- ArtifactTest.cpp - Tests of loading model.nslm ---------------------===//
//
// A valid hand-made artifact loads; every bad manifest field, missing or
// mis-shaped weight, bad kernel library and foreign target gets its message;
// truncated files and byte flips give an Error, never a crash.
//
//===----------------------------------------------------------------------===//
#include "TestArtifact.h"

#include "runtime/artifact/Artifact.h"
#include "runtime/reference/Graph.h"

#include <filesystem>
#include <functional>
#include <random>

namespace fs = std::filesystem;
using namespace nsl::runtime;
using namespace nsl::runtime::test;
using Json = nlohmann::ordered_json;

namespace {

/// A host that runs every CPU target.
HostFeatures fullHost() { return {true, true, true, true}; }

TEST(ArtifactTest, LoadsAValidArtifact) {
  std::string path = mlpArtifact().write();
  std::shared_ptr<const Artifact> artifact = Artifact::load(path, fullHost());
  const Manifest &m = artifact->manifest();
  EXPECT_EQ(m.target, "cpu-x86_64");
  EXPECT_EQ(m.kernelLibrary, "kernels.so");
  EXPECT_EQ(m.kernelAbi, "nsl-cpu-1");
  EXPECT_EQ(m.kernelDependencies, std::vector<std::string>{"libc.so.6"});
  ASSERT_EQ(m.buffers.size(), 9u);
  EXPECT_EQ(m.buffers[4].storage, Storage::Arena);
  EXPECT_EQ(m.buffers[4].offset, 128);
  EXPECT_EQ(m.buffers[5].storage, Storage::Constant);
  EXPECT_EQ(m.buffers[5].name, "__constant_0");
  EXPECT_EQ(m.arenaBytes, 256);
  ASSERT_EQ(m.entryPoints.size(), 2u);
  const EntryPoint &forward = artifact->entryPoint("forward");
  ASSERT_EQ(forward.arguments.size(), 3u);
  EXPECT_EQ(forward.arguments[1].name, "fc.weight");
  EXPECT_EQ(forward.arguments[1].role, "parameter");
  EXPECT_EQ(forward.results[1].name, "hidden");
  ASSERT_EQ(forward.schedule.size(), 3u);
  EXPECT_EQ(forward.schedule[0].buffers, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(forward.schedule[0].parallelExtent, batch);
  EXPECT_EQ(forward.schedule[0].ops, std::vector<std::string>{"nsl.linear"});
  EXPECT_EQ(forward.schedule[0].workspaceBytes, 0);
  EXPECT_EQ(artifact->entryPoint("count").schedule[0].workspaceBytes, 256);
  EXPECT_NE(artifact->kernel("nsl_forward_relu"), nullptr);
  EXPECT_EQ(m.tuning.value("kernel_grouping", ""), "per-op");
  EXPECT_EQ(artifact->weights().tensors.size(), 3u);
  EXPECT_CONTAINS(errorOf([&] { artifact->entryPoint("backward"); }),
                  "has no entry point 'backward' (it has 'forward', 'count')");
  EXPECT_CONTAINS(errorOf([&] { artifact->kernel("nsl_nothing"); }),
                  "no scheduled kernel is named 'nsl_nothing'");
}

//===----------------------------------------------------------------------===//
// manifest.json
//===----------------------------------------------------------------------===//

Json &forwardOf(Json &m) { return m["entry_points"][0]; }
Json &bufferOf(Json &m, size_t id) { return m["buffers"][id]; }

struct ManifestCase {
  const char *what;
  std::function<void(Json &)> mutate;
  const char *message;
};

const ManifestCase manifestCases[] = {
    {"format", [](Json &m) { m["format"] = "onnx"; },
     "format is 'onnx', expected 'nsl-artifact' (is this an nslc artifact?) "
     "at 'format'"},
    {"version", [](Json &m) { m["version"] = 2; },
     "version 2 is not supported (this runtime reads version 1)"},
    {"version type", [](Json &m) { m["version"] = "1"; },
     "expected an integer at 'version', got the string \"1\""},
    {"target missing", [](Json &m) { m.erase("target"); },
     "missing member 'target' at the top level"},
    {"library", [](Json &m) { m["kernels"]["library"] = "../k.so"; },
     "library '../k.so' is not a file name in the artifact folder"},
    {"abi", [](Json &m) { m["kernels"]["abi"] = "nsl-cpu-2"; },
     "kernel ABI 'nsl-cpu-2' is not supported (this runtime calls nsl-cpu-1 "
     "kernels) at 'kernels.abi'"},
    {"dependencies", [](Json &m) { m["kernels"]["dependencies"] = 1; },
     "expected an array at 'kernels.dependencies'"},
    {"arena_bytes", [](Json &m) { m["arena_bytes"] = -1; },
     "arena_bytes is negative"},
    {"buffer id range", [](Json &m) { bufferOf(m, 8)["id"] = 9; },
     "buffer id 9 is out of range (the 9 buffers must have the ids 0 to 8) at "
     "'buffers[8].id'"},
    {"buffer id twice", [](Json &m) { bufferOf(m, 8)["id"] = 0; },
     "buffer id 0 is used twice at 'buffers[8].id'"},
    {"buffer dtype", [](Json &m) { bufferOf(m, 3)["dtype"] = "f16"; },
     "unknown dtype 'f16' (expected f32 or i64) at 'buffers[3].dtype'"},
    {"buffer shape", [](Json &m) { bufferOf(m, 3)["shape"][0] = -4; },
     "negative dimension -4 at 'buffers[3].shape[0]'"},
    {"buffer shape overflow",
     [](Json &m) {
       bufferOf(m, 3)["shape"] =
           Json::array({int64_t(1) << 40, int64_t(1) << 40});
     },
     "has too many elements at 'buffers[3].shape'"},
    {"buffer bytes", [](Json &m) { bufferOf(m, 0)["bytes"] = 100; },
     "bytes 100 do not match f32[4, 8] (128 bytes) at 'buffers[0].bytes'"},
    {"storage", [](Json &m) { bufferOf(m, 3)["storage"] = "heap"; },
     "unknown storage 'heap' (expected argument, arena or constant)"},
    {"offset alignment", [](Json &m) { bufferOf(m, 4)["offset"] = 96; },
     "arena offset 96 is not a non-negative multiple of 64 at "
     "'buffers[4].offset'"},
    {"offset missing", [](Json &m) { bufferOf(m, 4).erase("offset"); },
     "missing member 'offset' at 'buffers[4]'"},
    {"arena overflow", [](Json &m) { bufferOf(m, 4)["offset"] = 192; },
     "buffer 4 (bytes 192 to 272) overflows the arena of 256 bytes"},
    {"constant name", [](Json &m) { bufferOf(m, 5)["name"] = ""; },
     "a constant buffer needs the name of its tensor"},
    {"argument buffer range",
     [](Json &m) { forwardOf(m)["arguments"][0]["buffer"] = 42; },
     "buffer id 42 is out of range (9 buffers) at "
     "'entry_points[0].arguments[0].buffer'"},
    {"argument type",
     [](Json &m) { forwardOf(m)["arguments"][0]["dtype"] = "i64"; },
     "'x' is i64[4, 8] but its buffer 0 is f32[4, 8] at "
     "'entry_points[0].arguments[0]'"},
    {"argument storage",
     [](Json &m) {
       Json &x = forwardOf(m)["arguments"][0];
       x["buffer"] = 3;
       x["shape"] = Json::array({4, 5});
     },
     "argument 'x' is bound to buffer 3, whose storage is not 'argument'"},
    {"argument twice",
     [](Json &m) { forwardOf(m)["arguments"][2]["name"] = "x"; },
     "argument 'x' is declared twice"},
    {"argument buffer twice",
     [](Json &m) {
       Json &a = forwardOf(m)["arguments"][2];
       a["buffer"] = 1;
       a["shape"] = Json::array({5, 8});
     },
     "buffer 1 is bound to two arguments"},
    {"role", [](Json &m) { forwardOf(m)["arguments"][1]["role"] = "weights"; },
     "unknown role 'weights' (expected input, parameter, buffer, label, "
     "optimizer_state or learning_rate)"},
    {"result type",
     [](Json &m) { forwardOf(m)["results"][0]["shape"] = Json::array({20}); },
     "'output0' is f32[20] but its buffer 6 is f32[4, 5] at "
     "'entry_points[0].results[0]'"},
    {"result twice",
     [](Json &m) { forwardOf(m)["results"][1]["name"] = "output0"; },
     "result 'output0' is declared twice"},
    {"kernel name",
     [](Json &m) { forwardOf(m)["schedule"][0]["kernel"] = "k-1"; },
     "kernel name 'k-1' is not a C identifier"},
    {"launch buffer",
     [](Json &m) { forwardOf(m)["schedule"][1]["buffers"][1] = 9; },
     "buffer id 9 is out of range (9 buffers) at "
     "'entry_points[0].schedule[1].buffers[1]'"},
    {"launch of another entry's argument",
     [](Json &m) { forwardOf(m)["schedule"][1]["buffers"][0] = 7; },
     "buffer 7 is an argument buffer but no argument of entry point "
     "'forward' is bound to it"},
    {"parallel_extent",
     [](Json &m) { forwardOf(m)["schedule"][2]["parallel_extent"] = 0; },
     "parallel_extent 0 is less than 1 at "
     "'entry_points[0].schedule[2].parallel_extent'"},
    {"workspace_bytes",
     [](Json &m) { forwardOf(m)["schedule"][2]["workspace_bytes"] = -64; },
     "workspace_bytes is negative at "
     "'entry_points[0].schedule[2].workspace_bytes'"},
    {"ops", [](Json &m) { forwardOf(m)["schedule"][2]["ops"] = 1; },
     "expected an array at 'entry_points[0].schedule[2].ops'"},
    {"no entry points", [](Json &m) { m["entry_points"] = Json::array(); },
     "the artifact has no entry points"},
    {"entry point twice",
     [](Json &m) { m["entry_points"][1]["name"] = "forward"; },
     "entry point 'forward' is defined twice"},
    {"prepared_by an unknown entry point",
     [](Json &m) { forwardOf(m)["prepared_by"] = "prepare_forward"; },
     "entry point 'forward' is prepared by 'prepare_forward', which is not "
     "another entry point without preparation at "
     "'entry_points[0].prepared_by'"},
    {"prepared_by itself",
     [](Json &m) { forwardOf(m)["prepared_by"] = "forward"; },
     "entry point 'forward' is prepared by 'forward', which is not another "
     "entry point without preparation"},
    {"derived argument without prepared_by",
     [](Json &m) { m["entry_points"][1]["arguments"][0]["role"] = "derived"; },
     "derived argument 'counts' of entry point 'count', which has no "
     "prepared_by"},
    {"derived argument that is no result of the preparation",
     [](Json &m) {
       m["entry_points"][1]["arguments"][0]["role"] = "derived";
       m["entry_points"][1]["prepared_by"] = "forward";
     },
     "derived argument 'counts' of entry point 'count' (i64[10]) is not a "
     "result of entry point 'forward'"},
    {"not an object", [](Json &m) { m = Json::array({1}); },
     "expected a JSON object at the top level"},
    {"input_normalization of an unknown input",
     [](Json &m) {
       m["input_normalization"] = {
           {"input", "y"}, {"mean", Json::array({0.5})}, {"std", {0.25}}};
     },
     "input_normalization: expected per-channel mean and std of an input of "
     "forward, got 1 means and 1 stds for 'y'"},
    {"input_normalization of another channel count",
     [](Json &m) {
       m["input_normalization"] = {{"input", "x"},
                                   {"mean", Json::array({0.5, 0.5})},
                                   {"std", Json::array({1, 1})}};
     },
     "got 2 means and 2 stds for 'x'"},
    {"input_normalization with a zero std",
     [](Json &m) {
       m["input_normalization"] = {{"input", "x"},
                                   {"mean", Json::array({0.5})},
                                   {"std", Json::array({0})}};
     },
     "input_normalization: std values must be positive"},
};

TEST(ManifestTest, EveryBadFieldHasItsMessage) {
  const TestArtifact valid = mlpArtifact();
  EXPECT_NO_THROW(parseManifest(valid.manifest.dump(), "m/manifest.json"));
  for (const ManifestCase &c : manifestCases) {
    Json manifest = valid.manifest;
    c.mutate(manifest);
    std::string message =
        errorOf([&] { parseManifest(manifest.dump(), "m/manifest.json"); });
    EXPECT_EQ(message.rfind("m/manifest.json: ", 0), 0u)
        << c.what << ": " << message;
    EXPECT_CONTAINS(message, c.message) << c.what;
  }
}

TEST(ManifestTest, MalformedJsonGivesThePosition) {
  std::string message = errorOf(
      [] { parseManifest("{\"format\": \"nsl-artifact\",}", "m.json"); });
  EXPECT_CONTAINS(message, "m.json: line 1, column");
}

TEST(ManifestTest, LoadReportsTheManifestPath) {
  TestArtifact a = mlpArtifact();
  a.manifest["version"] = 3;
  std::string path = a.write();
  EXPECT_CONTAINS(errorOf([&] { Artifact::load(path, fullHost()); }),
                  path + "/manifest.json: version 3 is not supported");
}

//===----------------------------------------------------------------------===//
// Targets
//===----------------------------------------------------------------------===//

TEST(TargetTest, HostFeaturesDecideWhatRuns) {
  HostFeatures full = fullHost(), avx2 = {true, true, true, false},
               noFma = {true, true, false, false},
               notX86 = {false, false, false, false};
  for (const char *target :
       {"cpu-x86_64", "cpu-x86_64-avx2", "cpu-x86_64-avx512"})
    EXPECT_EQ(targetProblem(target, full), std::nullopt) << target;
  EXPECT_EQ(targetProblem("cpu-x86_64-avx2", avx2), std::nullopt);
  EXPECT_CONTAINS(targetProblem("cpu-x86_64-avx512", avx2).value_or(""),
                  "target 'cpu-x86_64-avx512' needs AVX-512 (avx512f), which "
                  "this CPU lacks");
  EXPECT_CONTAINS(targetProblem("cpu-x86_64-avx2", noFma).value_or(""),
                  "needs AVX2 and FMA, which this CPU lacks");
  EXPECT_CONTAINS(targetProblem("cpu-x86_64", notX86).value_or(""),
                  "needs an x86-64 CPU");
  EXPECT_CONTAINS(targetProblem("cuda-sm_90", full).value_or(""),
                  "target 'cuda-sm_90' is an NVIDIA GPU, and this runtime runs "
                  "CPU artifacts only");
  EXPECT_CONTAINS(targetProblem("cpu-riscv", full).value_or(""),
                  "unknown target 'cpu-riscv' (this runtime runs cpu-x86_64, "
                  "cpu-x86_64-avx2 and cpu-x86_64-avx512)");
}

TEST(TargetTest, TheDetectedHostRunsThePortableTarget) {
#if defined(__x86_64__)
  EXPECT_EQ(targetProblem("cpu-x86_64", HostFeatures::detect()), std::nullopt);
#endif
}

TEST(TargetTest, LoadRefusesForeignTargetsFirst) {
  for (const char *target : {"cuda-sm_90", "cpu-riscv"}) {
    TestArtifact a = mlpArtifact();
    a.manifest["target"] = target;
    a.manifest["kernels"]["abi"] = "something else";
    a.kernelSource.clear(); // A GPU artifact has no kernels.so.
    std::string path = a.write();
    fs::remove(path + "/weights.safetensors");
    std::string message = errorOf([&] { Artifact::load(path); });
    EXPECT_CONTAINS(message, path + "/manifest.json: ");
    EXPECT_CONTAINS(message, std::string("target '") + target + "'");
  }
  TestArtifact a = mlpArtifact();
  a.manifest["target"] = "cpu-x86_64-avx512";
  std::string path = a.write();
  EXPECT_CONTAINS(
      errorOf([&] { Artifact::load(path, {true, true, true, false}); }),
      "needs AVX-512 (avx512f), which this CPU lacks");
  EXPECT_NO_THROW(Artifact::load(path, fullHost()));
}

//===----------------------------------------------------------------------===//
// Files, weights and kernels
//===----------------------------------------------------------------------===//

TEST(ArtifactTest, MissingFilesAreNamed) {
  std::string dir = freshDirectory();
  EXPECT_CONTAINS(errorOf([&] { Artifact::load(dir + "/none.nslm"); }),
                  dir + "/none.nslm: no such artifact folder");
  writeFile(dir + "/file", "x");
  EXPECT_CONTAINS(errorOf([&] { Artifact::load(dir + "/file"); }),
                  "file: not a folder");
  EXPECT_CONTAINS(errorOf([&] { Artifact::load(dir); }),
                  dir + "/manifest.json: cannot open: No such file");
  for (const char *file : {"weights.safetensors", "kernels.so"}) {
    std::string path = mlpArtifact().write();
    fs::remove(path + "/" + file);
    EXPECT_CONTAINS(errorOf([&] { Artifact::load(path, fullHost()); }),
                    path + "/" + file + ": cannot open: No such file");
  }
}

TEST(ArtifactTest, EveryWeightIsChecked) {
  struct Case {
    std::function<void(TestArtifact &)> mutate;
    const char *message;
  } cases[] = {
      {[](TestArtifact &a) { a.weights.erase("fc.bias"); },
       "weights.safetensors: tensor 'fc.bias' (the parameter argument of entry "
       "point 'forward', f32[5]) is missing"},
      {[](TestArtifact &a) {
         a.weights["fc.weight"] = randomTensor({5, 7}, 1);
       },
       "tensor 'fc.weight' is f32[5, 7], but the parameter argument of entry "
       "point 'forward' needs f32[5, 8]"},
      {[](TestArtifact &a) { a.weights["fc.bias"] = Tensor(DType::I64, {5}); },
       "tensor 'fc.bias' is i64[5], but the parameter argument of entry point "
       "'forward' needs f32[5]"},
      {[](TestArtifact &a) { a.weights.erase("__constant_0"); },
       "tensor '__constant_0' (constant buffer 5, f32[4, 5]) is missing"},
      {[](TestArtifact &a) {
         a.weights["__constant_0"] = randomTensor({20}, 1);
       },
       "tensor '__constant_0' is f32[20], but constant buffer 5 needs "
       "f32[4, 5]"},
  };
  for (const Case &c : cases) {
    TestArtifact a = mlpArtifact();
    c.mutate(a);
    std::string path = a.write();
    EXPECT_CONTAINS(errorOf([&] { Artifact::load(path, fullHost()); }),
                    c.message);
  }
  // Inputs need no weight; extra tensors are fine.
  TestArtifact a = mlpArtifact();
  a.weights["optimizer.step"] = Tensor(DType::I64, {});
  EXPECT_NO_THROW(Artifact::load(a.write(), fullHost()));
}

TEST(ArtifactTest, MissingKernelSymbolIsNamed) {
  TestArtifact a = mlpArtifact();
  forwardOf(a.manifest)["schedule"][1]["kernel"] = "nsl_forward_gelu";
  std::string path = a.write();
  std::string message = errorOf([&] { Artifact::load(path, fullHost()); });
  EXPECT_CONTAINS(message, "kernels.so: the library lacks kernel "
                           "'nsl_forward_gelu' (launch 1 of entry point "
                           "'forward'): ");
  EXPECT_CONTAINS(message, "undefined symbol: nsl_forward_gelu");
}

TEST(ArtifactTest, KernelsIdMustMatchTheLibrary) {
  TestArtifact a = mlpArtifact();
  a.manifest["kernels"]["id"] = "0123abcd";
  // No id in the library.
  std::string message = errorOf([&] { Artifact::load(a.write(), fullHost()); });
  EXPECT_CONTAINS(message, "kernels.so: the library was not built for this "
                           "manifest (its kernels id is 'missing', the "
                           "manifest expects '0123abcd')");
  // Another build's id.
  a.kernelSource += "\nconst char nsl_kernels_id[] = \"ffff0000\";\n";
  message = errorOf([&] { Artifact::load(a.write(), fullHost()); });
  EXPECT_CONTAINS(message, "its kernels id is 'ffff0000', the manifest "
                           "expects '0123abcd'");
  // The matching id loads.
  a.manifest["kernels"]["id"] = "ffff0000";
  EXPECT_NO_THROW(Artifact::load(a.write(), fullHost()));
}

TEST(ArtifactTest, UnloadableLibraryGivesTheLoadersReason) {
  TestArtifact a = mlpArtifact();
  // RTLD_NOW resolves every symbol at load time, so this one fails there.
  a.kernelSource += "void missing_function(void);\n"
                    "void uses_it(void) { missing_function(); }\n";
  std::string path = a.write();
  std::string message = errorOf([&] { Artifact::load(path, fullHost()); });
  EXPECT_CONTAINS(message, "kernels.so: cannot load the kernel library: ");
  EXPECT_CONTAINS(message, "missing_function");
}

TEST(ArtifactTest, NonLibrariesAreRefused) {
  std::string path = mlpArtifact().write();
  writeFile(path + "/kernels.so", "#!/bin/sh\n" + std::string(100, '#'));
  EXPECT_CONTAINS(errorOf([&] { Artifact::load(path, fullHost()); }),
                  "kernels.so: not an ELF shared library");
  fs::copy_file(fs::path(NSL_RUN_TOOL), path + "/kernels.so",
                fs::copy_options::overwrite_existing);
  std::string message = errorOf([&] { Artifact::load(path, fullHost()); });
  EXPECT_NE(message, ""); // An executable: either refused here or by dlopen.
}

//===----------------------------------------------------------------------===//
// Corrupt files never crash
//===----------------------------------------------------------------------===//

/// Loads after truncating `file` at many points; every load must fail with
/// an Error.
void expectTruncationsFail(const std::string &file, size_t points) {
  std::string path = mlpArtifact().write();
  std::string original = readFileBytes(path + "/" + file);
  for (size_t k = 0; k < points; ++k) {
    size_t size = original.size() * k / points;
    // A fresh folder per cut: dlopen caches libraries by path.
    std::string cut = freshDirectory();
    for (const char *name :
         {"manifest.json", "weights.safetensors", "kernels.so", "graph.json"})
      fs::copy_file(path + "/" + name, cut + "/" + name);
    writeFile(cut + "/" + file, original.substr(0, size));
    try {
      Artifact::load(cut, fullHost());
      ADD_FAILURE() << file << " truncated to " << size << " bytes loaded";
    } catch (const Error &) {
    }
  }
}

TEST(CorruptArtifactTest, TruncatedManifest) {
  expectTruncationsFail("manifest.json", 60);
}
TEST(CorruptArtifactTest, TruncatedWeights) {
  expectTruncationsFail("weights.safetensors", 60);
}
TEST(CorruptArtifactTest, TruncatedKernels) {
  expectTruncationsFail("kernels.so", 60);
}

TEST(CorruptArtifactTest, TruncatedGraph) {
  std::string graph = mlpArtifact().graph;
  for (size_t k = 0; k < 60; ++k)
    EXPECT_THROW(nsl::reference::parseGraph(
                     graph.substr(0, graph.size() * k / 60), "graph.json"),
                 nsl::reference::ReferenceError);
}

TEST(CorruptArtifactTest, ByteFlipsInTheManifest) {
  // One folder: only manifest.json changes, so dlopen's cache is harmless.
  std::string path = mlpArtifact().write();
  std::string original = readFileBytes(path + "/manifest.json");
  std::mt19937 rng(7);
  int errors = 0, loads = 400;
  for (int i = 0; i < loads; ++i) {
    std::string corrupt = original;
    for (int flips = 1 + i % 3; flips > 0; --flips) {
      size_t at = rng() % corrupt.size();
      corrupt[at] = static_cast<char>(corrupt[at] ^ (1 << (rng() % 8)));
    }
    writeFile(path + "/manifest.json", corrupt);
    try {
      Artifact::load(path, fullHost());
    } catch (const Error &) {
      ++errors;
    }
  }
  // Flips in whitespace or in a name's letters can leave a valid manifest.
  EXPECT_GT(errors, loads / 2);
}

} // namespace
