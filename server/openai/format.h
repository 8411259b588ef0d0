// Response formatters of the OpenAI-compatible API: typed results
// (protocol.h) in, the exact JSON OpenAI's clients parse out, plus the
// Server-Sent Events framing for streams. Pure functions, no I/O.
//
// Shapes written:
//   completion       {"id","object":"text_completion","created","model",
//                     "choices":[{"index","text","logprobs","finish_reason"}],"usage"}
//   chat.completion  {"id","object":"chat.completion","created","model",
//                     "choices":[{"index","message":{"role":"assistant","content"},
//                                 "logprobs","finish_reason"}],"usage"}
//   usage            {"prompt_tokens","completion_tokens","total_tokens",
//                     "prompt_tokens_details":{"cached_tokens"}}
//   completion logprobs  {"tokens","token_logprobs","top_logprobs":[{text: lp}],"text_offset"}
//   chat logprobs        {"content":[{"token","logprob","bytes","top_logprobs":[...]}],
//                         "refusal":null}
// Logprobs that are -inf or NaN are written as -9999.0 so the JSON stays valid.
// Strings with invalid UTF-8 (a token that is part of a character) have the
// bad bytes replaced by U+FFFD; chat logprobs keep the exact bytes in "bytes".
//
// A chat stream is, per choice: a chunk with with_role (delta
// {"role":"assistant","content":""}), content chunks (delta {"content"}), a
// chunk with finish set (delta {} unless it carries text); then, when the
// client asked for include_usage, FormatUsageChunk (choices [] and usage;
// every earlier chunk then carries "usage": null); then SseDone(). A
// completion stream is the same without the role chunk. A stream that fails
// midway sends SseErrorEvent() and then SseDone().
//
// Thread safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "server/openai/errors.h"
#include "server/openai/protocol.h"

namespace surge::server::openai {

enum class Endpoint { kCompletion, kChat };

// Non-streaming responses.
std::string FormatCompletion(const ResponseMeta& meta, std::span<const Choice> choices,
                             const Usage& usage);
std::string FormatChatCompletion(const ResponseMeta& meta, std::span<const Choice> choices,
                                 const Usage& usage);

// Streaming chunks (the JSON only; wrap with SseEvent). `include_usage` adds
// "usage": null as OpenAI does once the client asked for usage.
std::string FormatCompletionChunk(const ResponseMeta& meta, const Choice& delta,
                                  bool include_usage);
std::string FormatChatChunk(const ResponseMeta& meta, const Choice& delta, bool with_role,
                            bool include_usage);
// The last chunk before [DONE] when include_usage: "choices": [] and usage.
std::string FormatUsageChunk(Endpoint endpoint, const ResponseMeta& meta, const Usage& usage);

// SSE framing: "data: <json>\n\n", the terminator "data: [DONE]\n\n", and the
// error event {"error":{...}} that OpenAI's clients raise as an APIError.
std::string SseEvent(std::string_view json);
std::string_view SseDone();
std::string SseErrorEvent(const ApiError& error);

// GET /v1/models and GET /v1/models/{id}.
std::string FormatModelList(std::span<const ModelCard> models);
std::string FormatModel(const ModelCard& model);

// POST /tokenize → {"tokens":[...],"count":N[,"max_model_len":M]} (max_model_len
// written when > 0); POST /detokenize → {"content":"..."}.
std::string FormatTokenizeResponse(std::span<const int32_t> tokens, int64_t max_model_len);
std::string FormatDetokenizeResponse(std::string_view text);

}  // namespace surge::server::openai
