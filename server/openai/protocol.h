// Typed requests and results of the OpenAI-compatible API: what the parsers
// (parse.h) produce once a body is fully validated, and what the formatters
// (format.h) turn into response JSON. Plain data, no JSON types: the server
// and the engine wiring see only these structs.
//
// Model: every field of a parsed request is within the range documented on
// it, so callers copy values into the engine without checking again.
// Thread safety: plain values; confine or copy like any struct.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace surge::server::openai {

// Bounds set by the server (flags); requests outside them are rejected with
// 400 naming the field and the bound.
struct ParseLimits {
  int32_t max_tokens_limit = 32768;     // max_tokens / max_completion_tokens upper bound
  int32_t max_n = 16;                   // n upper bound
  int32_t max_stop = 4;                 // stop strings per request (OpenAI: 4)
  int32_t max_stop_bytes = 256;         // bytes of one stop string
  int32_t max_messages = 1024;          // messages per chat request
  int64_t max_prompt_chars = 1 << 22;   // bytes of prompt text (all messages together)
  int32_t max_prompt_tokens = 1 << 20;  // ids in a token-id prompt or a detokenize request
  int32_t max_top_logprobs = 20;        // chat top_logprobs upper bound (OpenAI: 20)
  int32_t max_completion_logprobs = 5;  // completions logprobs upper bound (OpenAI: 5)
};

// Sampling and generation controls shared by both endpoints. Ranges are
// OpenAI's where OpenAI documents one.
struct SamplingOptions {
  // [1, max_tokens_limit]. Unset: the server decides (OpenAI: 16 for
  // completions, the rest of the context for chat). max_completion_tokens,
  // when given, wins over max_tokens.
  std::optional<int32_t> max_tokens;
  float temperature = 1.0f;         // [0, 2]; 0 = greedy
  float top_p = 1.0f;               // (0, 1]
  int32_t top_k = 0;                // >= 0; 0 = off (the API's -1 is stored as 0)
  float min_p = 0.0f;               // [0, 1]
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float repetition_penalty = 1.0f;  // > 0
  int32_t n = 1;                    // [1, max_n]
  std::vector<std::string> stop;    // <= max_stop strings, each non-empty
  std::optional<int64_t> seed;
  bool ignore_eos = false;   // extension
  bool logprobs = false;     // report the sampled tokens' logprobs
  int32_t top_logprobs = 0;  // alternatives per token; > 0 only with logprobs
};

// Fields every generation request has.
struct CommonRequest {
  std::string model;  // non-empty; the server looks it up (404 when unknown)
  SamplingOptions sampling;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage (only with stream)
  std::string user;
  int32_t priority = 0;  // extension; lower runs sooner
  // Extension (Ollama's field): how long the model stays loaded after this
  // request; negative = forever, 0 = unload when idle. Unset: the model's.
  std::optional<std::chrono::milliseconds> keep_alive;
  // Extension: binds the request to a conversation whose KV cache stays
  // pinned between turns (--session-max-tokens, --session-ttl), scoped to the
  // tenant. 1..kMaxSessionIdBytes bytes; needs n = 1. "": no session.
  std::string session_id;
};

inline constexpr size_t kMaxSessionIdBytes = 256;

// POST /v1/completions. One prompt: text, or token ids in [0, 2^31).
struct CompletionRequest : CommonRequest {
  std::variant<std::string, std::vector<int32_t>> prompt;
};

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool };
// "system", "developer", "user", "assistant", "tool".
std::string_view RoleName(Role role);

struct ChatMessage {
  Role role = Role::kUser;
  std::string content;  // text parts joined with "\n"; "" for a null assistant content
  std::string name;     // optional participant name
};

// POST /v1/chat/completions.
struct ChatRequest : CommonRequest {
  std::vector<ChatMessage> messages;  // 1..max_messages
  bool add_generation_prompt = true;  // extension (vLLM)
};

// POST /tokenize: text (`content` or `prompt`) or a chat (`messages`).
struct TokenizeRequest {
  std::string model;                // may be empty: the server's default model
  std::optional<std::string> text;  // set unless messages is
  std::vector<ChatMessage> messages;
  bool add_special = true;            // BOS etc.; default false for messages
  bool add_generation_prompt = true;  // messages only
};

// POST /detokenize.
struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;  // each in [0, 2^31)
};

// How a choice ended. Mirrors the engine's terminal events; the server maps
// one onto the other.
enum class FinishReason { kStop, kLength, kCancelled, kExpired, kError };

// The API's finish_reason: "stop", "length", "abort" (cancelled or expired,
// vLLM's word), "error".
std::string_view FinishReasonString(FinishReason reason);

// ---- Results, as the formatters take them ----

struct ResponseMeta {
  std::string id;       // "cmpl-..." / "chatcmpl-..."; the same for every chunk
  int64_t created = 0;  // Unix seconds
  std::string model;
};

struct TopLogprob {
  std::string token;  // the token's text (raw bytes; invalid UTF-8 is replaced)
  float logprob = 0;
};

struct TokenLogprob {
  std::string token;
  float logprob = 0;  // -inf and NaN are written as -9999.0
  std::vector<TopLogprob> top;
};

// One choice of a response, or one choice's delta in a streaming chunk.
struct Choice {
  int32_t index = 0;
  std::string text;                    // completion text / message content (or the delta)
  std::optional<FinishReason> finish;  // unset: the choice goes on (chunks)
  std::optional<std::vector<TokenLogprob>> logprobs;  // unset: "logprobs": null
  int32_t text_offset = 0;  // completions only: text offset of the first logprob token
};

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;  // prompt tokens served from the prefix cache
  // The whole response was replayed from the response cache (written as
  // "surge_cached_response": true; absent otherwise).
  bool cached_response = false;
};

struct ModelCard {
  std::string id;
  int64_t created = 0;
  std::string owned_by = "surge";
  int64_t max_model_len = 0;  // written when > 0 (vLLM's field)
  std::string state;          // extension: "ready", "unloaded", ...; written when set
};

}  // namespace surge::server::openai
