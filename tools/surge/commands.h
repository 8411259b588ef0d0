// Each subcommand registers its flags on the CLI11 app and returns the
// function that runs it once parsing succeeded. Commands write program output
// to stdout, logs and errors to stderr, and return the process exit code.
#pragma once

#include <functional>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace surge::cli {

using CommandFn = std::function<int()>;

CommandFn RegisterRun(CLI::App& app);
CommandFn RegisterModel(CLI::App& app);
CommandFn RegisterServe(CLI::App& app);
CommandFn RegisterTrain(CLI::App& app);
CommandFn RegisterBench(CLI::App& app);
CommandFn RegisterRoute(CLI::App& app);
CommandFn RegisterJob(CLI::App& app);

// Writes "surge <command>: <the status message>" to stderr and returns the
// exit code of a failed command (1).
int Fail(std::string_view command, const absl::Status& status);

}  // namespace surge::cli
