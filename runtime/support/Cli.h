//===- Cli.h - Command lines of the nsl tools -------------------*- C++ -*-===//
//
// What nsl-reference and nsl-run share: parsing "--name VALUE",
// "--name=VALUE", value-less flags and positional arguments; the integer,
// tolerance, seed and class-count options; `--input NAME=FILE.npy`; file
// names for tensor names; the summary a tool prints of a tensor (first
// values, minimum, maximum, mean); and running the command a tool is given.
// Errors for people are UsageErrors, which the tools report as one line.
// Depends on the C++ standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_SUPPORT_CLI_H
#define NSL_RUNTIME_SUPPORT_CLI_H

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nsl::support {

/// An error for people; reported as one line, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;
  std::set<std::string> flags;
  bool help = false;

  std::optional<std::string> option(const std::string &name) const;
};

/// Parses "--name VALUE", "--name=VALUE", the value-less `flags` and
/// positional arguments of `command` of `tool`; every option of `known`
/// takes a value.
CommandLine parseCommandLine(const std::vector<std::string> &args,
                             const std::string &tool,
                             const std::string &command,
                             const std::set<std::string> &known,
                             const std::set<std::string> &flags = {});

/// The integer option `name` in [min, max], or `fallback` if not given.
int64_t integerOption(const CommandLine &cl, const std::string &name,
                      int64_t fallback, int64_t min, int64_t max);

/// The option `name` as a finite non-negative number, or `fallback` if not
/// given.
double nonNegativeOption(const CommandLine &cl, const std::string &name,
                         double fallback);

/// --tolerance: a non-negative number, or `fallback` if not given.
double toleranceOption(const CommandLine &cl, double fallback);

/// --seed: the seed of the random arguments (default 0).
uint32_t seedOption(const CommandLine &cl);

/// --num-classes, if given.
std::optional<int64_t> numClassesOption(const CommandLine &cl);

/// NAME and FILE of the value of one `--input NAME=FILE.npy`.
std::pair<std::string, std::string> splitInput(const std::string &value);

/// A file name for a tensor name: characters other than letters, digits,
/// '.', '-' and '_' become '_', and ".npy" is appended.
std::string fileNameFor(const std::string &name);

/// Creates `dir` and returns the paths DIR/<name>.npy of `names`, refusing
/// names that would share a file (`what` names them in the error, e.g.
/// "output").
std::vector<std::string> savePaths(const std::string &dir,
                                   const std::vector<std::string> &names,
                                   const char *what);

/// Prints "NAME: TYPE" and, unless `values` is empty, the first values and
/// the minimum, maximum and mean (as integers if `integer`).
void printTensorSummary(std::ostream &out, const std::string &name,
                        const std::string &type,
                        const std::vector<double> &values, bool integer);

/// A command of a tool: runs on the arguments after its name and returns
/// the exit code.
using Command = std::function<int(const std::vector<std::string> &args)>;

/// The main() of `tool`: runs the command named by the first argument
/// ("-h" or "--help" print `usage`). Any exception is reported as one line
/// "TOOL: error: ..." on stderr, with exit code 2.
int runTool(const std::string &tool, int argc, char **argv, const char *usage,
            const std::vector<std::pair<std::string, Command>> &commands);

} // namespace nsl::support

#endif // NSL_RUNTIME_SUPPORT_CLI_H
