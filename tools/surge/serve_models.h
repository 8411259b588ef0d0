// The model flags of `surge serve` (-m/--model, --model-name, --models-dir,
// --preload-model, --keep-alive) turned into ModelRegistry specs, and the
// loader that reads GGUF files for the registry.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "server/model_registry.h"

namespace surge::cli {

struct ModelFlags {
  std::vector<std::string> models;   // -m/--model: FILE (preloaded, kept) or NAME=FILE (on demand)
  std::string model_name;            // --model-name: the name of a single bare -m FILE
  std::string models_dir;            // every *.gguf inside, named after the file
  std::vector<std::string> preload;  // --preload-model NAME
  std::string keep_alive;            // --keep-alive; "": 5m (bare -m FILE: forever)
};

struct ResolvedModels {
  std::vector<server::ModelSpec> specs;
  std::vector<std::string> preload;  // names, in order
  std::chrono::milliseconds default_keep_alive{std::chrono::minutes(5)};
};

// Errors: no model at all, a missing file or directory, a name given twice,
// --preload-model naming an unknown model, a bad --keep-alive.
[[nodiscard]] absl::StatusOr<ResolvedModels> ResolveModels(const ModelFlags& flags);

// Loads GGUF files and starts an Engine on each (`config` for all of them;
// its compute_arbiter makes them share the cores). `chat_template` overrides
// every model's template when set.
server::ModelLoader MakeModelLoader(engine::EngineConfig config, std::string chat_template);

}  // namespace surge::cli
