// --preload FILE: prompt prefixes (system prompts, mostly) computed into a
// model's prefix cache when the model loads and pinned there for good, so the
// first request that starts with one does not pay for its prefill.
//
// The file is JSON Lines, one object per line (blank lines and lines starting
// with '#' are skipped):
//   {"messages": [{"role": "system", "content": "You are ..."}]}
//       a chat prefix, rendered by the model's template without a generation
//       prompt (templates that render the system turn on its own: ChatML,
//       Llama-3, Phi-3, Zephyr, Gemma);
//   {"prompt": "text"}
//       text as /v1/completions tokenizes it.
// Optional on either: "model": "name" (only that model; default: every model)
// and "tenant": "name" (that keys-file tenant's prefix-cache namespace;
// default: the anonymous one, which requests without an API key use).
//
// Errors: a missing or unreadable file, a line that is not such an object
// (named by its number). Thread safety: stateless functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "engine/model/chat_template.h"

namespace surge::server {

struct PreloadPrompt {
  int line = 0;
  std::string model;                                 // "": every model
  std::string tenant;                                // "": the anonymous tenant
  std::optional<std::string> text;                   // {"prompt": ...}
  std::vector<engine::model::ChatMessage> messages;  // {"messages": ...}
};

[[nodiscard]] absl::StatusOr<std::vector<PreloadPrompt>> ParsePreloadFile(const std::string& path);
[[nodiscard]] absl::StatusOr<std::vector<PreloadPrompt>> ParsePreloadText(std::string_view text);

struct PreloadResult {
  int prompts = 0;
  int64_t tokens = 0;
};

// Prefills and pins, on `engine`, the prompts meant for `model_name`; returns
// once all of them are computed.
[[nodiscard]] absl::StatusOr<PreloadResult> PreloadPrompts(
    engine::Engine& engine, engine::model::ChatTemplateKind chat_template,
    std::string_view model_name, std::span<const PreloadPrompt> prompts);

}  // namespace surge::server
