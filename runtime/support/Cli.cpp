//===- Cli.cpp - Command lines of the nsl tools ---------------------------===//
//
// Shared by nsl-reference and nsl-run; see Cli.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Cli.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>

namespace nsl::support {

std::optional<std::string> CommandLine::option(const std::string &name) const {
  auto it = options.find(name);
  if (it == options.end())
    return std::nullopt;
  return it->second;
}

CommandLine parseCommandLine(const std::vector<std::string> &args,
                             const std::string &tool,
                             const std::string &command,
                             const std::set<std::string> &known,
                             const std::set<std::string> &flags) {
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
    if (flags.count(arg)) {
      cl.flags.insert(arg);
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
                       "' (see '" + tool + " " + command + " --help')");
    if (!hasValue) {
      if (i + 1 >= args.size())
        throw UsageError("option '" + name + "' needs a value");
      value = args[++i];
    }
    cl.options.emplace(name, value);
  }
  return cl;
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

double nonNegativeOption(const CommandLine &cl, const std::string &name,
                         double fallback) {
  double value = fallback;
  if (std::optional<std::string> text = cl.option(name)) {
    char *end = nullptr;
    value = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !(value >= 0.0) || std::isinf(value))
      throw UsageError("invalid " + name + " '" + *text +
                       "': expected a finite non-negative number");
  }
  return value;
}

double toleranceOption(const CommandLine &cl, double fallback) {
  return nonNegativeOption(cl, "--tolerance", fallback);
}

uint32_t seedOption(const CommandLine &cl) {
  return static_cast<uint32_t>(
      integerOption(cl, "--seed", 0, 0, std::numeric_limits<uint32_t>::max()));
}

std::optional<int64_t> numClassesOption(const CommandLine &cl) {
  if (!cl.option("--num-classes"))
    return std::nullopt;
  return integerOption(cl, "--num-classes", 0, 1, int64_t(1) << 31);
}

std::pair<std::string, std::string> splitInput(const std::string &value) {
  size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--input takes NAME=FILE.npy, got '" + value + "'");
  return {value.substr(0, eq), value.substr(eq + 1)};
}

std::string fileNameFor(const std::string &name) {
  std::string file = name.empty() ? "_" : name;
  for (char &c : file)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != '_')
      c = '_';
  return file + ".npy";
}

std::vector<std::string> savePaths(const std::string &dir,
                                   const std::vector<std::string> &names,
                                   const char *what) {
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
  std::vector<std::string> paths;
  for (const std::string &name : names)
    paths.push_back((std::filesystem::path(dir) / fileNameFor(name)).string());
  return paths;
}

namespace {

std::string formatValue(bool integer, double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, integer ? "%.0f" : "%.7g", x);
  return buffer;
}

} // namespace

void printTensorSummary(std::ostream &out, const std::string &name,
                        const std::string &type,
                        const std::vector<double> &values, bool integer) {
  out << name << ": " << type << "\n";
  if (values.empty())
    return;
  const size_t shown = std::min<size_t>(values.size(), 8);
  out << "  values:";
  for (size_t i = 0; i < shown; ++i)
    out << (i ? ", " : " ") << formatValue(integer, values[i]);
  if (shown < values.size())
    out << ", ... (" << values.size() << " in all)";
  double min = values[0], max = values[0], sum = 0.0;
  for (double x : values) {
    min = std::min(min, x);
    max = std::max(max, x);
    sum += x;
  }
  out << "\n  min " << formatValue(integer, min) << "  max "
      << formatValue(integer, max) << "  mean "
      << formatValue(false, sum / static_cast<double>(values.size())) << "\n";
}

int runTool(const std::string &tool, int argc, char **argv, const char *usage,
            const std::vector<std::pair<std::string, Command>> &commands) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty())
      throw UsageError("missing command (see '" + tool + " --help')");
    const std::string command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "-h" || command == "--help") {
      std::cout << usage;
      return 0;
    }
    std::string expected;
    for (size_t i = 0; i < commands.size(); ++i) {
      if (command == commands[i].first)
        return commands[i].second(rest);
      expected += (i == 0                     ? ""
                   : i + 1 == commands.size() ? " or "
                                              : ", ") +
                  commands[i].first;
    }
    throw UsageError("unknown command '" + command + "' (expected " + expected +
                     "; see '" + tool + " --help')");
  } catch (const std::exception &e) {
    std::cout.flush();
    std::cerr << tool << ": error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << tool << ": error: unexpected failure\n";
  }
  return 2;
}

} // namespace nsl::support
