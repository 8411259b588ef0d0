// surge: one binary, one file per subcommand (see DESIGN.md).
#include <cstdio>
#include <string>
#include <vector>

#include "base/logging.h"
#include "tools/surge/commands.h"

namespace surge::cli {

int Fail(std::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "surge %s: %s\n", std::string(command).c_str(),
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace surge::cli

int main(int argc, char** argv) {
  CLI::App app("Surge: an LLM serving engine for CPUs", "surge");
  app.require_subcommand(1);
  std::string log_level = "info";
  bool log_json = false;
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.add_flag("--log-json", log_json, "log JSON lines instead of text");

  std::vector<std::pair<CLI::App*, surge::cli::CommandFn>> commands;
  auto add = [&](const char* name, const char* help, auto registrar) {
    CLI::App* sub = app.add_subcommand(name, help);
    commands.emplace_back(sub, registrar(*sub));
  };
  add("serve", "serve models over the OpenAI-compatible HTTP API", surge::cli::RegisterServe);
  add("run", "generate text from a prompt, or benchmark the engine (--bench)",
      surge::cli::RegisterRun);
  add("model", "inspect, create and quantize GGUF model files", surge::cli::RegisterModel);
  add("train", "train a llama model from scratch on a text corpus", surge::cli::RegisterTrain);
  add("bench", "load an OpenAI-compatible server and report latency and throughput",
      surge::cli::RegisterBench);
  add("route", "route requests over several replicas (prefix affinity, health, retries)",
      surge::cli::RegisterRoute);
  add("job", "run model jobs (train, eval, quantize, deploy) here or on a server",
      surge::cli::RegisterJob);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  surge::base::InitLogging(log_json ? surge::base::LogFormat::kJson : surge::base::LogFormat::kText,
                           log_level);
  for (auto& [sub, fn] : commands) {
    if (sub->parsed()) return fn();
  }
  return 2;
}
