// Request parsers of the OpenAI-compatible API: a raw HTTP body in, a fully
// validated typed request (protocol.h) out. Pure functions: no I/O, no
// engine, no model; what needs the model (does `model` exist, does the
// prompt fit the context, are token ids in the vocabulary) is the server's.
//
// Accepted: everything OpenAI documents for these fields (see protocol.h for
// ranges), null for "not given", unknown fields ignored. Rejected with 400:
// bodies that are not one JSON object (invalid UTF-8 included), wrong types,
// out-of-range or non-whole numbers, and features Surge does not implement
// but a client would rely on (echo, suffix, best_of != n, logit_bias, tools,
// response_format other than text, non-text content parts, several prompts)
// rather than ignoring them silently.
//
// Thread safety: stateless functions; safe from any thread.
// Errors: InvalidArgument carrying a param payload (the field's path, e.g.
// "messages[1].content[0].type") and an OpenAI-style code ("invalid_json",
// "invalid_type", "invalid_value", "missing_required_parameter",
// "unsupported_value"); ApiErrorFromStatus() (errors.h) renders it.
#pragma once

#include <string_view>

#include "base/status.h"
#include "server/openai/protocol.h"

namespace surge::server::openai {

// POST /v1/completions.
[[nodiscard]] absl::StatusOr<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                                       const ParseLimits& limits);

// POST /v1/chat/completions.
[[nodiscard]] absl::StatusOr<ChatRequest> ParseChatRequest(std::string_view body,
                                                           const ParseLimits& limits);

// POST /tokenize: {"content"|"prompt": "text"} or {"messages": [...]}, with
// optional "model", "add_special" (or vLLM's "add_special_tokens") and
// "add_generation_prompt".
[[nodiscard]] absl::StatusOr<TokenizeRequest> ParseTokenizeRequest(std::string_view body,
                                                                   const ParseLimits& limits);

// POST /detokenize: {"tokens": [ids...]} with optional "model".
[[nodiscard]] absl::StatusOr<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body,
                                                                       const ParseLimits& limits);

}  // namespace surge::server::openai
