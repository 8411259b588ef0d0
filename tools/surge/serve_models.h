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
#include "server/preload.h"

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

// What every model load gets besides its file.
struct LoaderOptions {
  engine::EngineConfig engine;  // for all models; its compute_arbiter makes them share the cores
  std::string chat_template;    // overrides every model's template when set
  std::string session_dir;      // sessions of model NAME live in DIR/NAME; "": memory only
  std::vector<server::PreloadPrompt> preload;  // computed and pinned when a model loads
};

// Loads GGUF files and starts an Engine on each, then computes its
// preloaded prompts before the model counts as loaded.
server::ModelLoader MakeModelLoader(LoaderOptions options);

}  // namespace surge::cli
