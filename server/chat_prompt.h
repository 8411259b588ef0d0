// A chat rendered by a model's template and tokenized, the one way every
// caller does it (/v1/chat/completions, /tokenize, --preload): template text
// may carry control tokens, message content never does.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/model/chat_template.h"
#include "engine/model/tokenizer.h"

namespace surge::server {

// With `add_special`, the template gets the model's BOS text (when the model
// adds one) and EOS text, as a generation prompt needs; without, neither.
[[nodiscard]] absl::StatusOr<std::vector<int32_t>> EncodeChat(
    const engine::model::Tokenizer& tokenizer, engine::model::ChatTemplateKind kind,
    std::span<const engine::model::ChatMessage> messages, bool add_generation_prompt,
    bool add_special);

}  // namespace surge::server
