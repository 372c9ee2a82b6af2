//===- main.cpp - nsl-run: run, check and time a compiled model -----------===//
//
// Runs an entry point of a compiled model (model.nslm) with the runtime,
// checks it against the reference interpreter on the artifact's graph.json,
// or times it. Exit codes: 0 success, 1 a check over tolerance, 2 any error
// (one line "nsl-run: error: ...").
//
//===----------------------------------------------------------------------===//
#include "tools/nsl-run/Commands.h"

#include "runtime/artifact/Model.h"
#include "runtime/artifact/Safetensors.h"
#include "runtime/reference/Graph.h"
#include "runtime/support/Cli.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace ref = nsl::reference;
using namespace nsl::runtime;
using nsl::support::CommandLine;
using nsl::support::integerOption;
using nsl::support::UsageError;

namespace {

const char *mainUsage = R"(usage: nsl-run <command> ART [options]

Runs a compiled model (a model.nslm folder made by nslc) with the runtime.

commands:
  run ART      run an entry point and print its outputs
  check ART    run an entry point and the reference interpreter (on the
               artifact's graph.json) on the same arguments and compare
  bench ART    time runs of an entry point
  train ART    run train_step repeatedly on one batch (needs nslc --train)
  fit ART      train on a data set: epochs, schedules, evaluation,
               checkpoints, resumption (needs nslc --train)
  evaluate ART the loss and accuracy of a classifier on a data set

Run 'nsl-run <command> --help' for the options of a command.
)";

const char *argumentHelp = R"(
Arguments not given with --input: parameters and buffers take their values
from the artifact's weights; the others are drawn at random from --seed:
f32 uniform in [-1, 1) (exact in float32), i64 labels uniform in [0, C)
with C the class count of the cross-entropy they feed (from graph.json) or
--num-classes.
)";

const char *runUsage = R"(usage: nsl-run run ART [options]

Runs an entry point and prints every output (its type, first values,
minimum, maximum and mean) and the time the run took.

options:
  --entry NAME           entry point to run (default forward)
  --input NAME=FILE.npy  use FILE.npy for the argument NAME (repeatable)
  --seed N               seed of the random arguments (default 0)
  --num-classes C        draw i64 arguments from [0, C)
  --threads T            threads running the kernels (default 0: one per
                         hardware thread)
  --device D             cpu (default) or cuda (a cuda-sm_XY artifact on
                         GPU 0; the driver is $NSL_CUDA_DRIVER or
                         libcuda.so.1)
  --output-dir DIR       save every output as DIR/<name>.npy (characters
                         other than letters, digits, '.', '-', '_' become '_')
  -h, --help             show this help
)";

const char *checkUsage = R"(usage: nsl-run check ART [options]

Runs the compiled entry point and the reference interpreter (plain loops,
double precision) on ART/graph.json with the same arguments, weights
included, and prints for every output the relative error |y - r|_2 / |r|_2
and the maximum absolute error. Exits with 0 if every relative error is
within the tolerance, 1 otherwise.

options:
  --entry NAME           entry point to check (default forward; the graph
                         is ART/graph.<NAME>.json if present, else
                         ART/graph.json, which must hold that function)
  --input NAME=FILE.npy  use FILE.npy for the argument NAME (repeatable)
  --seed N               seed of the random arguments (default 0)
  --num-classes C        draw i64 arguments from [0, C)
  --tolerance T          largest relative error accepted (default 1e-5)
  --atol A               also accept an output whose root-mean-square error
                         is at most A (default 0: relative error only); for
                         outputs that are zero up to rounding, such as the
                         gradient of a convolution bias before a batch norm
  --threads T            threads running the kernels (default 0)
  --device D             cpu (default) or cuda (a cuda-sm_XY artifact on
                         GPU 0; the driver is $NSL_CUDA_DRIVER or
                         libcuda.so.1)
  -h, --help             show this help
)";

const char *benchUsage = R"(usage: nsl-run bench ART [options]

Runs an entry point --warmup times untimed, then --repeats times timed, and
prints the median, minimum and mean milliseconds per run.

options:
  --entry NAME           entry point to time (default forward)
  --warmup N             untimed runs first (default 3)
  --repeats N            timed runs (default 20)
  --threads T            threads running the kernels (default 0)
  --device D             cpu (default) or cuda (a cuda-sm_XY artifact on
                         GPU 0; the driver is $NSL_CUDA_DRIVER or
                         libcuda.so.1)
  --profile              also time every kernel launch and print the median
                         per launch
  --input NAME=FILE.npy  use FILE.npy for the argument NAME (repeatable)
  --seed N               seed of the random arguments (default 0)
  --num-classes C        draw i64 arguments from [0, C)
  -h, --help             show this help
)";

const char *trainUsage = R"(usage: nsl-run train ART [options]

Runs the artifact's train_step entry point (nslc --train) --steps times on
one fixed batch: the model's parameters, buffers and optimizer state are
updated in place after every step. Prints the loss and the count of correct
predictions of every step, then the median time per step.

options:
  --steps N              training steps (default 10)
  --lr LR                learning rate (default 0.01)
  --input NAME=FILE.npy  use FILE.npy for the argument NAME, e.g. x=batch.npy
                         labels=labels.npy (repeatable; the rest is drawn)
  --seed N               seed of the random batch (default 0)
  --num-classes C        draw i64 arguments from [0, C)
  --threads T            threads running the kernels (default 0)
  --save FILE            write the final parameters, buffers and optimizer
                         state as a safetensors checkpoint
  -h, --help             show this help
)";

} // namespace

ModelOptions nsl::tools::modelOptions(const CommandLine &cl) {
  ModelOptions options;
  options.threads =
      static_cast<int>(integerOption(cl, "--threads", 0, 0, 4096));
  options.device = cl.option("--device").value_or("cpu");
  if (options.device != "cpu" && options.device != "cuda")
    throw UsageError("invalid --device '" + options.device +
                     "': expected cpu or cuda");
  return options;
}

CommandLine nsl::tools::parseArtifactCommandLine(
    const std::vector<std::string> &args, const std::string &command,
    const std::set<std::string> &known, const std::set<std::string> &flags) {
  CommandLine cl =
      nsl::support::parseCommandLine(args, "nsl-run", command, known, flags);
  if (!cl.help && cl.positional.size() != 1)
    throw UsageError("'" + command + "' takes one artifact folder, got " +
                     std::to_string(cl.positional.size()) + " (see 'nsl-run " +
                     command + " --help')");
  return cl;
}

namespace {

/// The model and entry point a command works on, with its arguments.
struct Session {
  std::string path;
  Model model;
  const EntryPointInfo *entry;
  std::optional<ref::Graph> graph; // The entry point's graph, if asked.
  std::string graphPath;
  std::map<std::string, Tensor> arguments; // All of them.
  size_t given = 0, drawn = 0;
};

Session openSession(const CommandLine &cl, bool needGraph,
                    bool profile = false) {
  ModelOptions options = nsl::tools::modelOptions(cl);
  options.profile = profile;
  std::string path = cl.positional[0];
  Session s{path, Model::load(path, options), nullptr, std::nullopt, {}, {}, 0,
            0};
  s.entry = &s.model.entryPoint(cl.option("--entry").value_or("forward"));

  // graph.<entry>.json (nslc --train's train_step and eval), else graph.json.
  std::string graphPath =
      (fs::path(path) / ("graph." + s.entry->name + ".json")).string();
  if (!fs::exists(graphPath))
    graphPath = (fs::path(path) / "graph.json").string();
  s.graphPath = graphPath;
  if (needGraph || fs::exists(graphPath))
    s.graph = ref::loadGraph(graphPath);
  if (needGraph && s.graph->function != s.entry->name)
    throw UsageError(graphPath + " holds function '" + s.graph->function +
                     "', not the entry point '" + s.entry->name +
                     "' (choose it with --entry)");

  std::map<std::string, const TensorInfo *> declared;
  for (const TensorInfo &argument : s.entry->arguments)
    declared[argument.name] = &argument;
  for (auto [it, end] = cl.options.equal_range("--input"); it != end; ++it) {
    auto [name, file] = nsl::support::splitInput(it->second);
    if (!declared.count(name))
      throw UsageError("--input " + name + ": entry point '" + s.entry->name +
                       "' has no argument '" + name + "'");
    if (s.arguments.count(name))
      throw UsageError("--input " + name + " is given twice");
    const TensorInfo &argument = *declared[name];
    ref::Tensor tensor = ref::loadNpy(file);
    if (tensor.shape != argument.shape ||
        (tensor.dtype == ref::DType::I64) != (argument.dtype == DType::I64))
      throw UsageError("--input " + name + ": " + file + " holds " +
                       ref::typeToString(ref::typeOf(tensor)) +
                       ", but the argument is " +
                       typeToString(argument.dtype, argument.shape));
    s.arguments[name] = fromReference(tensor);
    ++s.given;
  }

  // Draw what is neither given nor a weight. Drawing from the graph (its
  // arguments restricted to those) lets labels take the class count of the
  // cross-entropy they feed.
  ref::Graph draw;
  if (s.graph && s.graph->function == s.entry->name)
    draw = *s.graph;
  draw.arguments.clear();
  for (size_t i = 0; i < s.entry->arguments.size(); ++i) {
    const TensorInfo &argument = s.entry->arguments[i];
    if (argument.hasDefault || s.arguments.count(argument.name))
      continue;
    const ref::GraphArgument *inGraph =
        s.graph ? s.graph->findArgument(argument.name) : nullptr;
    ref::GraphArgument a;
    a.value = inGraph ? inGraph->value : -1 - static_cast<int64_t>(i);
    a.name = argument.name;
    a.role = argument.role;
    a.type = {argument.dtype == DType::I64 ? ref::DType::I64 : ref::DType::F32,
              argument.shape};
    draw.arguments.push_back(a);
  }
  ref::RandomArgumentOptions random;
  random.seed = nsl::support::seedOption(cl);
  random.numClasses = nsl::support::numClassesOption(cl);
  std::vector<ref::Tensor> values = ref::randomArguments(draw, random);
  for (size_t i = 0; i < values.size(); ++i)
    s.arguments[draw.arguments[i].name] = fromReference(values[i]);
  s.drawn = values.size();

  // The weights (and what the runtime prepares from them) are left out:
  // the model binds its own, and prepares derived weights once, not on
  // every call as it must for weights a caller gives.
  return s;
}

std::string describe(const Session &s) {
  size_t weights = s.entry->arguments.size() - s.given - s.drawn;
  return s.path + ": entry point " + s.entry->name + " (" + s.model.target() +
         ", " +
         (s.model.device() == "cuda"
              ? std::string("device cuda")
              : std::to_string(s.model.threads()) + " threads") +
         "), " + std::to_string(s.entry->arguments.size()) +
         " arguments: " + std::to_string(s.given) + " given, " +
         std::to_string(s.drawn) + " drawn at random, " +
         std::to_string(weights) + " from the weights";
}

void printTensor(const std::string &name, const Tensor &tensor) {
  nsl::support::printTensorSummary(std::cout, name, tensor.typeString(),
                                   toReference(tensor).data,
                                   tensor.dtype() == DType::I64);
}

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

int runCommand(const std::vector<std::string> &args) {
  CommandLine cl = nsl::tools::parseArtifactCommandLine(
      args, "run",
      {"--entry", "--input", "--seed", "--num-classes", "--threads",
       "--output-dir", "--device"});
  if (cl.help) {
    std::cout << runUsage << argumentHelp;
    return 0;
  }
  Session s = openSession(cl, false);
  Clock::time_point start = Clock::now();
  std::vector<Tensor> outputs = s.model.run(s.entry->name, s.arguments);
  double ms = millisecondsSince(start);
  std::cout << describe(s) << "\n";
  for (size_t i = 0; i < outputs.size(); ++i)
    printTensor(s.entry->results[i].name, outputs[i]);
  std::printf("time: %.3f ms\n", ms);
  std::cout.flush();

  if (std::optional<std::string> dir = cl.option("--output-dir")) {
    std::vector<std::string> names;
    for (const TensorInfo &result : s.entry->results)
      names.push_back(result.name);
    std::vector<std::string> paths =
        nsl::support::savePaths(*dir, names, "output");
    for (size_t i = 0; i < outputs.size(); ++i)
      ref::saveNpy(paths[i], toReference(outputs[i]));
  }
  return 0;
}

int checkCommand(const std::vector<std::string> &args) {
  CommandLine cl = nsl::tools::parseArtifactCommandLine(
      args, "check",
      {"--entry", "--input", "--seed", "--num-classes", "--tolerance", "--atol",
       "--threads", "--device"});
  if (cl.help) {
    std::cout << checkUsage << argumentHelp;
    return 0;
  }
  double tolerance = nsl::support::toleranceOption(cl, 1e-5);
  double atol = nsl::support::nonNegativeOption(cl, "--atol", 0.0);
  Session s = openSession(cl, true);
  const ref::Graph &graph = *s.graph;
  const std::string &graphPath = s.graphPath;

  // The reference gets the same values, matched by name; arguments the
  // compiler folded away are taken from the weights.
  std::vector<ref::Tensor> referenceArguments;
  for (const ref::GraphArgument &argument : graph.arguments) {
    auto it = s.arguments.find(argument.name);
    const Tensor *value = it != s.arguments.end() ? &it->second : nullptr;
    auto weight = s.model.weights().find(argument.name);
    if (!value && weight != s.model.weights().end())
      value = &weight->second;
    if (!value)
      throw UsageError("argument '" + argument.name + "' of " + graphPath +
                       " is neither an argument of entry point '" +
                       s.entry->name + "' nor a tensor of the weights");
    referenceArguments.push_back(toReference(*value));
    if (ref::typeOf(referenceArguments.back()) != argument.type)
      throw UsageError("argument '" + argument.name + "' is " +
                       value->typeString() + " in the artifact but " +
                       ref::typeToString(argument.type) + " in " + graphPath);
  }
  // Derived arguments (prepared from the weights by the runtime) are the
  // compiler's; the graph computes them from the weights.
  for (const TensorInfo &argument : s.entry->arguments)
    if (argument.role != "derived" && !graph.findArgument(argument.name))
      throw UsageError("argument '" + argument.name + "' of entry point '" +
                       s.entry->name + "' is not an argument of " + graphPath);

  std::vector<Tensor> outputs = s.model.run(s.entry->name, s.arguments);
  std::vector<ref::Tensor> expected = ref::run(graph, referenceArguments);
  if (outputs.size() != expected.size())
    throw UsageError("entry point '" + s.entry->name + "' has " +
                     std::to_string(outputs.size()) + " results but " +
                     graphPath + " has " + std::to_string(expected.size()) +
                     " outputs");
  std::cout << describe(s) << "\n";

  size_t failures = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    ref::Tensor y = toReference(outputs[i]);
    const ref::Tensor &r = expected[i];
    std::string name = s.entry->results[i].name;
    if (graph.outputs[i].name != name)
      name += " / " + graph.outputs[i].name;
    if (ref::typeOf(y) != ref::typeOf(r))
      throw UsageError("output " + std::to_string(i) + " (" + name + ") is " +
                       ref::typeToString(ref::typeOf(y)) +
                       " in the artifact but " +
                       ref::typeToString(ref::typeOf(r)) + " in " + graphPath);
    double diff = 0.0, norm = 0.0, maxAbs = 0.0;
    bool nan = false;
    for (size_t k = 0; k < y.data.size(); ++k) {
      double d = y.data[k] - r.data[k];
      nan = nan || std::isnan(d);
      diff += d * d;
      norm += r.data[k] * r.data[k];
      maxAbs = std::max(maxAbs, std::abs(d));
    }
    double relative = nan          ? NAN
                      : norm > 0.0 ? std::sqrt(diff) / std::sqrt(norm)
                      : diff > 0.0 ? HUGE_VAL
                                   : 0.0;
    double rms = y.data.empty()
                     ? 0.0
                     : std::sqrt(diff / static_cast<double>(y.data.size()));
    bool relativeOk = relative <= tolerance; // False for NaN.
    bool absoluteOk = !relativeOk && !nan && rms <= atol;
    bool ok = relativeOk || absoluteOk;
    failures += ok ? 0 : 1;
    char line[128];
    std::snprintf(line, sizeof line,
                  ": relative error %.3e, max abs error %.3e  %s", relative,
                  nan ? NAN : maxAbs,
                  relativeOk   ? "ok"
                  : absoluteOk ? "ok (rms error within --atol)"
                               : "FAILED");
    std::cout << name << " " << outputs[i].typeString() << line << "\n";
  }
  if (failures == 0) {
    std::cout << "all " << outputs.size()
              << " outputs agree with the reference within relative error "
              << tolerance << "\n";
    return 0;
  }
  std::cout << failures << " of " << outputs.size()
            << " outputs exceed relative error " << tolerance << "\n";
  return 1;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

int benchCommand(const std::vector<std::string> &args) {
  CommandLine cl = nsl::tools::parseArtifactCommandLine(
      args, "bench",
      {"--entry", "--warmup", "--repeats", "--threads", "--device", "--input",
       "--seed", "--num-classes"},
      {"--profile"});
  if (cl.help) {
    std::cout << benchUsage << argumentHelp;
    return 0;
  }
  int64_t warmup = integerOption(cl, "--warmup", 3, 0, 1000000);
  int64_t repeats = integerOption(cl, "--repeats", 20, 1, 1000000);
  bool profile = cl.flags.count("--profile") > 0;
  Session s = openSession(cl, false, profile);
  for (int64_t i = 0; i < warmup; ++i)
    s.model.run(s.entry->name, s.arguments);
  std::vector<double> times, kernelTimes;
  std::vector<std::vector<double>> launchTimes;
  std::vector<LaunchTiming> launches;
  for (int64_t i = 0; i < repeats; ++i) {
    Clock::time_point start = Clock::now();
    s.model.run(s.entry->name, s.arguments);
    times.push_back(millisecondsSince(start));
    kernelTimes.push_back(s.model.lastKernelMilliseconds());
    launches = s.model.lastProfile();
    launchTimes.resize(launches.size());
    for (size_t k = 0; k < launches.size(); ++k)
      launchTimes[k].push_back(launches[k].milliseconds);
  }
  double mean = 0.0;
  for (double t : times)
    mean += t / static_cast<double>(times.size());
  std::cout << describe(s) << "\n";
  std::printf("%lld runs after %lld warm-up: median %.4f ms, min %.4f ms, "
              "mean %.4f ms\n",
              static_cast<long long>(repeats), static_cast<long long>(warmup),
              median(times), *std::min_element(times.begin(), times.end()),
              mean);
  // CUDA: the launches alone (CUDA events), without the argument uploads
  // and result downloads of each run.
  if (s.model.device() == "cuda")
    std::printf("kernels (CUDA events): median %.4f ms, min %.4f ms\n",
                median(kernelTimes),
                *std::min_element(kernelTimes.begin(), kernelTimes.end()));
  if (profile) {
    double total = 0.0;
    std::vector<double> medians;
    for (const std::vector<double> &t : launchTimes)
      total += medians.emplace_back(median(t));
    std::printf("median per launch:\n");
    for (size_t k = 0; k < launches.size(); ++k)
      std::printf("  %3zu %-40s extent %-6lld %9.4f ms %5.1f%%\n", k,
                  launches[k].kernel.c_str(),
                  static_cast<long long>(launches[k].parallelExtent),
                  medians[k], total > 0 ? 100.0 * medians[k] / total : 0.0);
  }
  return 0;
}

int trainCommand(const std::vector<std::string> &args) {
  CommandLine cl = nsl::tools::parseArtifactCommandLine(
      args, "train",
      {"--steps", "--lr", "--input", "--seed", "--num-classes", "--threads",
       "--save"});
  if (cl.help) {
    std::cout << trainUsage << argumentHelp;
    return 0;
  }
  int64_t steps = integerOption(cl, "--steps", 10, 1, int64_t(1) << 40);
  double lr = nsl::support::nonNegativeOption(cl, "--lr", 0.01);
  cl.options.emplace("--entry", "train_step");
  Session s = openSession(cl, false);
  // The batch: everything without a default, the learning rate replaced.
  std::map<std::string, Tensor> batch;
  bool hasLr = false;
  for (const TensorInfo &argument : s.entry->arguments) {
    if (argument.hasDefault)
      continue;
    if (argument.role == "learning_rate") {
      Tensor rate(DType::F32, {});
      *rate.data<float>() = static_cast<float>(lr);
      batch[argument.name] = rate;
      hasLr = true;
      continue;
    }
    batch[argument.name] = s.arguments.at(argument.name);
  }
  if (!hasLr)
    throw UsageError("entry point 'train_step' has no learning_rate argument");
  if (s.entry->results.size() < 2 || s.entry->results[0].name != "loss" ||
      s.entry->results[1].name != "correct")
    throw UsageError("entry point 'train_step' does not return (loss, "
                     "correct) first; compile the model with nslc --train");
  int64_t batchSize = s.entry->arguments.front().shape.empty()
                          ? 1
                          : s.entry->arguments.front().shape.front();
  std::cout << describe(s) << "\n";
  std::vector<double> times;
  for (int64_t step = 1; step <= steps; ++step) {
    Clock::time_point start = Clock::now();
    std::vector<Tensor> results = s.model.run("train_step", batch);
    times.push_back(millisecondsSince(start));
    std::printf("step %lld: loss %.9g, correct %lld/%lld\n",
                static_cast<long long>(step),
                static_cast<double>(*results[0].data<float>()),
                static_cast<long long>(*results[1].data<int64_t>()),
                static_cast<long long>(batchSize));
  }
  std::printf("%lld steps: median %.4f ms per step\n",
              static_cast<long long>(steps), median(times));
  std::cout.flush();
  if (std::optional<std::string> path = cl.option("--save"))
    writeSafetensors(
        *path, s.model.weights(),
        {{"producer", "nsl-run train"}, {"steps", std::to_string(steps)}});
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  return nsl::support::runTool("nsl-run", argc, argv, mainUsage,
                               {{"run", runCommand},
                                {"check", checkCommand},
                                {"bench", benchCommand},
                                {"train", trainCommand},
                                {"fit", nsl::tools::fitCommand},
                                {"evaluate", nsl::tools::evaluateCommand}});
}
