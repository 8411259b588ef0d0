#include "server/openai/format.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "server/openai/json_util.h"

namespace surge::server::openai {
namespace {

constexpr double kMinLogprob = -9999.0;

// The float's shortest decimal form as a double, so -0.1f is written "-0.1"
// rather than "-0.10000000149011612"; -inf and NaN become kMinLogprob.
double LogprobValue(float lp) {
  if (!std::isfinite(lp) || lp < kMinLogprob) return kMinLogprob;
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), lp);
  double d = lp;
  if (r.ec == std::errc()) std::from_chars(buf, r.ptr, d);
  return d;
}

Json Bytes(std::string_view s) {
  Json out = Json::array();
  for (char c : s) out.push_back(static_cast<unsigned char>(c));
  return out;
}

Json Header(const ResponseMeta& meta, const char* object) {
  Json j = Json::object();
  j["id"] = meta.id;
  j["object"] = object;
  j["created"] = meta.created;
  j["model"] = meta.model;
  return j;
}

Json UsageJson(const Usage& u) {
  Json j = Json::object();
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = static_cast<int64_t>(u.prompt_tokens) + u.completion_tokens;
  j["prompt_tokens_details"] = Json::object();
  j["prompt_tokens_details"]["cached_tokens"] = u.cached_tokens;
  if (u.cached_response) j["surge_cached_response"] = true;
  return j;
}

Json FinishJson(const Choice& c) {
  if (!c.finish) return nullptr;
  return std::string(FinishReasonString(*c.finish));
}

// Completions: parallel arrays; text_offset counts from the choice's offset.
Json CompletionLogprobs(const Choice& c) {
  if (!c.logprobs) return nullptr;
  Json tokens = Json::array();
  Json token_logprobs = Json::array();
  Json top_logprobs = Json::array();
  Json text_offset = Json::array();
  int64_t offset = c.text_offset;
  for (const TokenLogprob& t : *c.logprobs) {
    tokens.push_back(t.token);
    token_logprobs.push_back(LogprobValue(t.logprob));
    Json top = Json::object();
    for (const TopLogprob& alt : t.top) top[alt.token] = LogprobValue(alt.logprob);
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset);
    offset += static_cast<int64_t>(t.token.size());
  }
  Json j = Json::object();
  j["tokens"] = std::move(tokens);
  j["token_logprobs"] = std::move(token_logprobs);
  j["top_logprobs"] = std::move(top_logprobs);
  j["text_offset"] = std::move(text_offset);
  return j;
}

Json ChatLogprobEntry(std::string_view token, float logprob) {
  Json j = Json::object();
  j["token"] = std::string(token);
  j["logprob"] = LogprobValue(logprob);
  j["bytes"] = Bytes(token);
  return j;
}

Json ChatLogprobs(const Choice& c) {
  if (!c.logprobs) return nullptr;
  Json content = Json::array();
  for (const TokenLogprob& t : *c.logprobs) {
    Json entry = ChatLogprobEntry(t.token, t.logprob);
    Json top = Json::array();
    for (const TopLogprob& alt : t.top) top.push_back(ChatLogprobEntry(alt.token, alt.logprob));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  Json j = Json::object();
  j["content"] = std::move(content);
  j["refusal"] = nullptr;
  return j;
}

Json CompletionChoice(const Choice& c) {
  Json j = Json::object();
  j["index"] = c.index;
  j["text"] = c.text;
  j["logprobs"] = CompletionLogprobs(c);
  j["finish_reason"] = FinishJson(c);
  return j;
}

Json ChatChoice(const Choice& c) {
  Json j = Json::object();
  j["index"] = c.index;
  j["message"] = Json::object();
  j["message"]["role"] = "assistant";
  j["message"]["content"] = c.text;
  j["logprobs"] = ChatLogprobs(c);
  j["finish_reason"] = FinishJson(c);
  return j;
}

Json ModelJson(const ModelCard& m) {
  Json j = Json::object();
  j["id"] = m.id;
  j["object"] = "model";
  j["created"] = m.created;
  j["owned_by"] = m.owned_by;
  if (m.max_model_len > 0) j["max_model_len"] = m.max_model_len;
  if (!m.state.empty()) j["state"] = m.state;
  return j;
}

}  // namespace

std::string FormatCompletion(const ResponseMeta& meta, std::span<const Choice> choices,
                             const Usage& usage) {
  Json j = Header(meta, "text_completion");
  j["choices"] = Json::array();
  for (const Choice& c : choices) j["choices"].push_back(CompletionChoice(c));
  j["usage"] = UsageJson(usage);
  return DumpJson(j);
}

std::string FormatChatCompletion(const ResponseMeta& meta, std::span<const Choice> choices,
                                 const Usage& usage) {
  Json j = Header(meta, "chat.completion");
  j["choices"] = Json::array();
  for (const Choice& c : choices) j["choices"].push_back(ChatChoice(c));
  j["usage"] = UsageJson(usage);
  return DumpJson(j);
}

std::string FormatCompletionChunk(const ResponseMeta& meta, const Choice& delta,
                                  bool include_usage) {
  Json j = Header(meta, "text_completion");
  j["choices"] = Json::array({CompletionChoice(delta)});
  if (include_usage) j["usage"] = nullptr;
  return DumpJson(j);
}

std::string FormatChatChunk(const ResponseMeta& meta, const Choice& delta, bool with_role,
                            bool include_usage) {
  Json d = Json::object();
  if (with_role) d["role"] = "assistant";
  if (with_role || !delta.text.empty()) d["content"] = delta.text;
  Json choice = Json::object();
  choice["index"] = delta.index;
  choice["delta"] = std::move(d);
  choice["logprobs"] = ChatLogprobs(delta);
  choice["finish_reason"] = FinishJson(delta);
  Json j = Header(meta, "chat.completion.chunk");
  j["choices"] = Json::array({std::move(choice)});
  if (include_usage) j["usage"] = nullptr;
  return DumpJson(j);
}

std::string FormatUsageChunk(Endpoint endpoint, const ResponseMeta& meta, const Usage& usage) {
  Json j = Header(meta, endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = Json::array();
  j["usage"] = UsageJson(usage);
  return DumpJson(j);
}

std::string SseEvent(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

std::string_view SseDone() { return "data: [DONE]\n\n"; }

std::string SseErrorEvent(const ApiError& error) { return SseEvent(ErrorBody(error)); }

std::string FormatModelList(std::span<const ModelCard> models) {
  Json j = Json::object();
  j["object"] = "list";
  j["data"] = Json::array();
  for (const ModelCard& m : models) j["data"].push_back(ModelJson(m));
  return DumpJson(j);
}

std::string FormatModel(const ModelCard& model) { return DumpJson(ModelJson(model)); }

std::string FormatTokenizeResponse(std::span<const int32_t> tokens, int64_t max_model_len) {
  Json j = Json::object();
  j["tokens"] = Json::array();
  for (int32_t t : tokens) j["tokens"].push_back(t);
  j["count"] = tokens.size();
  if (max_model_len > 0) j["max_model_len"] = max_model_len;
  return DumpJson(j);
}

std::string FormatDetokenizeResponse(std::string_view text) {
  Json j = Json::object();
  j["content"] = std::string(text);
  return DumpJson(j);
}

}  // namespace surge::server::openai
