// Each subcommand registers its flags on the CLI11 app and returns the
// function that runs it once parsing succeeded. Commands write program output
// to stdout, logs and errors to stderr, and return the process exit code.
#pragma once

#include <functional>

#include "CLI/CLI.hpp"

namespace surge::cli {

using CommandFn = std::function<int()>;

CommandFn RegisterRun(CLI::App& app);
CommandFn RegisterModel(CLI::App& app);
CommandFn RegisterServe(CLI::App& app);
CommandFn RegisterTrain(CLI::App& app);
CommandFn RegisterBench(CLI::App& app);
CommandFn RegisterRoute(CLI::App& app);
CommandFn RegisterJob(CLI::App& app);

}  // namespace surge::cli
