//===- Commands.h - The commands of nsl-run ---------------------*- C++ -*-===//
#ifndef NSL_TOOLS_NSL_RUN_COMMANDS_H
#define NSL_TOOLS_NSL_RUN_COMMANDS_H

#include "runtime/artifact/Model.h"
#include "runtime/support/Cli.h"

#include <set>
#include <string>
#include <vector>

namespace nsl::tools {

/// Parses the command line of `command`, which takes one artifact folder.
support::CommandLine
parseArtifactCommandLine(const std::vector<std::string> &args,
                         const std::string &command,
                         const std::set<std::string> &known,
                         const std::set<std::string> &flags = {});

/// --threads and --device of the commands that load a model.
runtime::ModelOptions modelOptions(const support::CommandLine &cl);

/// nsl-run fit and nsl-run evaluate (Fit.cpp).
int fitCommand(const std::vector<std::string> &args);
int evaluateCommand(const std::vector<std::string> &args);

} // namespace nsl::tools

#endif // NSL_TOOLS_NSL_RUN_COMMANDS_H
