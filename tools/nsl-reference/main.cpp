//===- main.cpp - nsl-reference: run graph.json with the reference --------===//
//
// Runs an MLIR-free graph.json (docs/graph-json.md) with the reference
// interpreter, or runs two graphs on the same arguments and compares their
// outputs. Exit codes: 0 success, 1 a comparison over tolerance, 2 any error
// (one line "nsl-reference: error: ...").
//
//===----------------------------------------------------------------------===//
#include "runtime/reference/Graph.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace nsl::reference;

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

/// An error for people; reported as one line, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;
  bool help = false;

  std::optional<std::string> option(const std::string &name) const {
    auto it = options.find(name);
    if (it == options.end())
      return std::nullopt;
    return it->second;
  }
};

/// Parses "--name VALUE", "--name=VALUE" and positional arguments; every
/// option of `known` takes a value.
CommandLine parseCommandLine(const std::vector<std::string> &args,
                             const std::string &command,
                             const std::set<std::string> &known) {
  CommandLine cl;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg == "-h" || arg == "--help") {
      cl.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      cl.positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool hasValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasValue = true;
    }
    if (!known.count(name))
      throw UsageError("unknown option '" + name + "' for '" + command +
                       "' (see 'nsl-reference " + command + " --help')");
    if (!hasValue) {
      if (i + 1 >= args.size())
        throw UsageError("option '" + name + "' needs a value");
      value = args[++i];
    }
    cl.options.emplace(name, value);
  }
  return cl;
}

void expectPositional(const CommandLine &cl, size_t count,
                      const std::string &command, const std::string &what) {
  if (cl.positional.size() != count)
    throw UsageError("'" + command + "' takes " + what + ", got " +
                     std::to_string(cl.positional.size()) +
                     " file arguments (see 'nsl-reference " + command +
                     " --help')");
}

int64_t integerOption(const CommandLine &cl, const std::string &name,
                      int64_t fallback, int64_t min, int64_t max) {
  std::optional<std::string> text = cl.option(name);
  if (!text)
    return fallback;
  size_t end = 0;
  long long value = 0;
  try {
    value = std::stoll(*text, &end);
  } catch (const std::exception &) {
    end = 0;
  }
  if (end == 0 || end != text->size() || value < min || value > max)
    throw UsageError("invalid " + name + " '" + *text +
                     "': expected an integer in [" + std::to_string(min) +
                     ", " + std::to_string(max) + "]");
  return value;
}

RandomArgumentOptions randomOptions(const CommandLine &cl) {
  RandomArgumentOptions options;
  options.seed = static_cast<uint32_t>(
      integerOption(cl, "--seed", 0, 0, std::numeric_limits<uint32_t>::max()));
  if (cl.option("--num-classes"))
    options.numClasses =
        integerOption(cl, "--num-classes", 0, 1, int64_t(1) << 31);
  return options;
}

/// A file name for a tensor name (see the run help).
std::string fileNameFor(const std::string &name) {
  std::string file = name.empty() ? "_" : name;
  for (char &c : file)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != '_')
      c = '_';
  return file + ".npy";
}

/// Saves tensors as DIR/<name>.npy, refusing names that would share a file.
void saveAll(const std::string &dir, const std::vector<std::string> &names,
             const std::vector<Tensor> &tensors, const char *what) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    throw UsageError("cannot create directory '" + dir +
                     "': " + error.message());
  std::map<std::string, std::string> owner;
  for (const std::string &name : names) {
    auto [it, inserted] = owner.emplace(fileNameFor(name), name);
    if (!inserted)
      throw UsageError(std::string(what) + "s '" + it->second + "' and '" +
                       name + "' would both be saved as '" + it->first + "'");
  }
  for (size_t i = 0; i < names.size(); ++i)
    saveNpy((std::filesystem::path(dir) / fileNameFor(names[i])).string(),
            tensors[i]);
}

std::string formatValue(const Tensor &t, double x) {
  char buffer[32];
  if (t.dtype == DType::I64)
    std::snprintf(buffer, sizeof buffer, "%.0f", x);
  else
    std::snprintf(buffer, sizeof buffer, "%.7g", x);
  return buffer;
}

void printTensor(const std::string &name, const Tensor &t) {
  std::cout << name << ": " << typeToString(typeOf(t)) << "\n";
  if (t.data.empty())
    return;
  const size_t shown = std::min<size_t>(t.data.size(), 8);
  std::cout << "  values:";
  for (size_t i = 0; i < shown; ++i)
    std::cout << (i ? ", " : " ") << formatValue(t, t.data[i]);
  if (shown < t.data.size())
    std::cout << ", ... (" << t.data.size() << " in all)";
  double min = t.data[0], max = t.data[0], sum = 0.0;
  for (double x : t.data) {
    min = std::min(min, x);
    max = std::max(max, x);
    sum += x;
  }
  std::cout << "\n  min " << formatValue(t, min) << "  max "
            << formatValue(t, max) << "  mean "
            << formatValue(Tensor(), sum / static_cast<double>(t.data.size()))
            << "\n";
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
    size_t eq = it->second.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--input takes NAME=FILE.npy, got '" + it->second + "'");
    std::string name = it->second.substr(0, eq);
    std::string file = it->second.substr(eq + 1);
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
  double tolerance = 1e-6;
  if (std::optional<std::string> text = cl.option("--tolerance")) {
    char *end = nullptr;
    tolerance = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !(tolerance >= 0.0))
      throw UsageError("invalid --tolerance '" + *text +
                       "': expected a non-negative number");
  }
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
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty())
      throw UsageError("missing command (see 'nsl-reference --help')");
    const std::string command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "-h" || command == "--help") {
      std::cout << mainUsage;
      return 0;
    }
    if (command == "run")
      return runCommand(rest);
    if (command == "compare")
      return compareCommand(rest);
    throw UsageError("unknown command '" + command +
                     "' (expected run or compare; see 'nsl-reference "
                     "--help')");
  } catch (const std::exception &e) {
    std::cerr << "nsl-reference: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "nsl-reference: error: unexpected failure\n";
  }
  return 2;
}
