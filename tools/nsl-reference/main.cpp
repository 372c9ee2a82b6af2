//===- main.cpp - nsl-reference: run graph.json with the reference --------===//
//
// Runs an MLIR-free graph.json (docs/graph-json.md) with the reference
// interpreter, or runs two graphs on the same arguments and compares their
// outputs. Exit codes: 0 success, 1 a comparison over tolerance, 2 any error
// (one line "nsl-reference: error: ...").
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"
#include "runtime/support/Cli.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace nsl::reference;
using nsl::support::CommandLine;
using nsl::support::UsageError;

namespace {

const char *mainUsage = R"(usage: nsl-reference <command> [options]

Runs an nsl graph.json with the reference interpreter (plain loops, double
precision), the oracle every backend is checked against.

commands:
  run GRAPH.json           run a graph and print (or save) its outputs
  compare A.json B.json    run two graphs on the same arguments and compare
                           their outputs

Run 'nsl-reference <command> --help' for the options of a command.
)";

const char *runUsage = R"(usage: nsl-reference run GRAPH.json [options]

Runs GRAPH.json and prints every output: its type, its first values and its
minimum, maximum and mean. Arguments not given with --input are drawn at
random: f32 uniform in [-1, 1) (batch norm running variances in [0.5, 1.5)),
i64 labels uniform in [0, classes).

options:
  --input NAME=FILE.npy  use FILE.npy for the argument NAME (repeatable)
  --seed N               seed of the random arguments (default 0)
  --num-classes C        draw i64 arguments from [0, C) (default: the last
                         dimension of the logits of the cross-entropy that
                         the labels feed)
  --save-inputs DIR      save every argument, given or drawn, as
                         DIR/<name>.npy before running
  --output-dir DIR       save every output as DIR/<name>.npy
  -h, --help             show this help

In file names, characters other than letters, digits, '.', '-' and '_' become
'_': the argument "layer1/conv.weight" is saved as layer1_conv.weight.npy.
)";

const char *compareUsage =
    R"(usage: nsl-reference compare A.json B.json [options]

Runs both graphs on the same random arguments, matched by name (both graphs
must have the same argument names, dtypes and shapes), and prints for every
output, matched by position, the relative error |a - b|_2 / |b|_2 and the
maximum absolute error. Exits with 0 if every relative error is within the
tolerance, 1 otherwise.

options:
  --seed N               seed of the random arguments (default 0)
  --num-classes C        draw i64 arguments from [0, C)
  --tolerance T          largest relative error accepted (default 1e-6)
  -h, --help             show this help
)";

CommandLine parseCommandLine(const std::vector<std::string> &args,
                             const std::string &command,
                             const std::set<std::string> &known) {
  return nsl::support::parseCommandLine(args, "nsl-reference", command, known);
}

void expectPositional(const CommandLine &cl, size_t count,
                      const std::string &command, const std::string &what) {
  if (cl.positional.size() != count)
    throw UsageError("'" + command + "' takes " + what + ", got " +
                     std::to_string(cl.positional.size()) +
                     " file arguments (see 'nsl-reference " + command +
                     " --help')");
}

RandomArgumentOptions randomOptions(const CommandLine &cl) {
  RandomArgumentOptions options;
  options.seed = nsl::support::seedOption(cl);
  options.numClasses = nsl::support::numClassesOption(cl);
  return options;
}

/// Saves tensors as DIR/<name>.npy, refusing names that would share a file.
void saveAll(const std::string &dir, const std::vector<std::string> &names,
             const std::vector<Tensor> &tensors, const char *what) {
  std::vector<std::string> paths = nsl::support::savePaths(dir, names, what);
  for (size_t i = 0; i < names.size(); ++i)
    saveNpy(paths[i], tensors[i]);
}

void printTensor(const std::string &name, const Tensor &t) {
  nsl::support::printTensorSummary(std::cout, name, typeToString(typeOf(t)),
                                   t.data, t.dtype == DType::I64);
}

int runCommand(const std::vector<std::string> &args) {
  CommandLine cl = parseCommandLine(
      args, "run",
      {"--input", "--seed", "--num-classes", "--save-inputs", "--output-dir"});
  if (cl.help) {
    std::cout << runUsage;
    return 0;
  }
  expectPositional(cl, 1, "run", "one GRAPH.json");
  Graph graph = loadGraph(cl.positional[0]);
  std::vector<Tensor> arguments = randomArguments(graph, randomOptions(cl));

  std::set<std::string> given;
  for (auto [it, end] = cl.options.equal_range("--input"); it != end; ++it) {
    auto [name, file] = nsl::support::splitInput(it->second);
    const GraphArgument *argument = graph.findArgument(name);
    if (!argument)
      throw UsageError("--input " + name + ": the graph has no argument '" +
                       name + "'");
    if (!given.insert(name).second)
      throw UsageError("--input " + name + " is given twice");
    Tensor tensor = loadNpy(file);
    if (typeOf(tensor) != argument->type)
      throw UsageError("--input " + name + ": " + file + " holds " +
                       typeToString(typeOf(tensor)) + ", but the argument is " +
                       typeToString(argument->type));
    arguments[static_cast<size_t>(argument - graph.arguments.data())] =
        std::move(tensor);
  }

  if (std::optional<std::string> dir = cl.option("--save-inputs")) {
    std::vector<std::string> names;
    for (const GraphArgument &argument : graph.arguments)
      names.push_back(argument.name);
    // Saved before running, so that a failing run can be reproduced.
    saveAll(*dir, names, arguments, "argument");
  }

  std::vector<Tensor> outputs = run(graph, arguments);
  std::cout << cl.positional[0] << ": function " << graph.function << ", "
            << graph.arguments.size() << " arguments ("
            << (given.empty() ? "all drawn at random"
                              : std::to_string(given.size()) + " given")
            << "), " << graph.nodes.size() << " nodes\n";
  std::vector<std::string> names;
  for (size_t i = 0; i < outputs.size(); ++i) {
    names.push_back(graph.outputs[i].name);
    printTensor(graph.outputs[i].name, outputs[i]);
  }
  if (std::optional<std::string> dir = cl.option("--output-dir"))
    saveAll(*dir, names, outputs, "output");
  return 0;
}

int compareCommand(const std::vector<std::string> &args) {
  CommandLine cl = parseCommandLine(args, "compare",
                                    {"--seed", "--num-classes", "--tolerance"});
  if (cl.help) {
    std::cout << compareUsage;
    return 0;
  }
  expectPositional(cl, 2, "compare", "two graph files A.json B.json");
  const std::string &pathA = cl.positional[0], &pathB = cl.positional[1];
  double tolerance = nsl::support::toleranceOption(cl, 1e-6);
  Graph a = loadGraph(pathA);
  Graph b = loadGraph(pathB);

  // The same arguments for both, drawn for A and matched by name.
  std::vector<Tensor> argumentsA = randomArguments(a, randomOptions(cl));
  std::map<std::string, Tensor> byName;
  for (size_t i = 0; i < a.arguments.size(); ++i) {
    const GraphArgument &argument = a.arguments[i];
    const GraphArgument *other = b.findArgument(argument.name);
    if (!other)
      throw UsageError("argument '" + argument.name + "' of " + pathA +
                       " is not an argument of " + pathB);
    if (other->type != argument.type)
      throw UsageError("argument '" + argument.name + "' is " +
                       typeToString(argument.type) + " in " + pathA + " but " +
                       typeToString(other->type) + " in " + pathB);
    byName[argument.name] = argumentsA[i];
  }
  for (const GraphArgument &argument : b.arguments)
    if (!a.findArgument(argument.name))
      throw UsageError("argument '" + argument.name + "' of " + pathB +
                       " is not an argument of " + pathA);
  std::vector<Tensor> outputsA = run(a, argumentsA);
  std::vector<Tensor> outputsB = runByName(b, byName);
  if (outputsA.size() != outputsB.size())
    throw UsageError(pathA + " has " + std::to_string(outputsA.size()) +
                     " outputs but " + pathB + " has " +
                     std::to_string(outputsB.size()));

  size_t failures = 0;
  for (size_t i = 0; i < outputsA.size(); ++i) {
    const Tensor &x = outputsA[i], &y = outputsB[i];
    std::string name = a.outputs[i].name;
    if (b.outputs[i].name != name)
      name += " / " + b.outputs[i].name;
    if (typeOf(x) != typeOf(y))
      throw UsageError("output " + std::to_string(i) + " (" + name + ") is " +
                       typeToString(typeOf(x)) + " in " + pathA + " but " +
                       typeToString(typeOf(y)) + " in " + pathB);
    double diff = 0.0, norm = 0.0, maxAbs = 0.0;
    for (size_t k = 0; k < x.data.size(); ++k) {
      double d = x.data[k] - y.data[k];
      diff += d * d;
      norm += y.data[k] * y.data[k];
      maxAbs = std::isnan(d) ? d : std::max(maxAbs, std::abs(d));
      if (std::isnan(maxAbs))
        break;
    }
    double relative = std::isnan(maxAbs) ? maxAbs
                      : norm > 0.0       ? std::sqrt(diff) / std::sqrt(norm)
                      : diff > 0.0       ? HUGE_VAL
                                         : 0.0;
    bool ok = relative <= tolerance; // false for NaN
    failures += ok ? 0 : 1;
    char line[128];
    std::snprintf(line, sizeof line,
                  ": relative error %.3e, max abs error %.3e  %s", relative,
                  maxAbs, ok ? "ok" : "FAILED");
    std::cout << name << " " << typeToString(typeOf(x)) << line << "\n";
  }
  if (failures == 0) {
    std::cout << "all " << outputsA.size()
              << " outputs agree within relative error " << tolerance << "\n";
    return 0;
  }
  std::cout << failures << " of " << outputsA.size()
            << " outputs exceed relative error " << tolerance << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  return nsl::support::runTool(
      "nsl-reference", argc, argv, mainUsage,
      {{"run", runCommand}, {"compare", compareCommand}});
}
