// Fuzzes the OpenAI protocol layer and the chat templates: arbitrary bytes as
// the body of every endpoint's parser. A rejected body must become a 400 with
// a message and an error body that is valid JSON; an accepted one must hold
// values within the documented ranges, render through every chat template
// (or be refused with InvalidArgument), and format into valid JSON.
// Any crash, sanitizer report or broken invariant (trap) is a finding.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/model/chat_template.h"
#include "nlohmann/json.hpp"
#include "server/openai/errors.h"
#include "server/openai/format.h"
#include "server/openai/parse.h"

namespace surge::server::openai {
namespace {

namespace model = surge::engine::model;

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

void RequireJsonObject(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Require(!j.is_discarded() && j.is_object());
}

void CheckRejection(const absl::Status& status) {
  Require(!status.ok());
  const ApiError e = ApiErrorFromStatus(status);
  Require(e.http_status == 400 && !e.message.empty());
  RequireJsonObject(ErrorBody(e));
  RequireJsonObject(SseErrorEvent(e).substr(6));
}

void CheckSampling(const SamplingOptions& s, const ParseLimits& limits) {
  Require(!s.max_tokens || (*s.max_tokens >= 1 && *s.max_tokens <= limits.max_tokens_limit));
  Require(s.temperature >= 0 && s.temperature <= 2);
  Require(s.top_p > 0 && s.top_p <= 1);
  Require(s.top_k >= 0 && s.min_p >= 0 && s.min_p <= 1);
  Require(s.n >= 1 && s.n <= limits.max_n);
  Require(s.stop.size() <= static_cast<size_t>(limits.max_stop));
  for (const std::string& stop : s.stop) Require(!stop.empty());
  Require(s.repetition_penalty > 0);
  Require(s.top_logprobs >= 0 && (s.logprobs || s.top_logprobs == 0));
}

void CheckChat(const ChatRequest& req, const ParseLimits& limits) {
  CheckSampling(req.sampling, limits);
  Require(!req.messages.empty() && req.messages.size() <= size_t(limits.max_messages));
  std::vector<model::ChatMessage> messages;
  for (const ChatMessage& m : req.messages) {
    messages.push_back({std::string(RoleName(m.role)), m.content});
  }
  for (auto kind : {model::ChatTemplateKind::kChatML, model::ChatTemplateKind::kLlama2,
                    model::ChatTemplateKind::kLlama3, model::ChatTemplateKind::kMistral,
                    model::ChatTemplateKind::kGemma, model::ChatTemplateKind::kPhi3,
                    model::ChatTemplateKind::kZephyr}) {
    auto pieces = model::RenderChatPieces(kind, messages, req.add_generation_prompt, "<s>", "</s>");
    auto text = model::RenderChat(kind, messages, req.add_generation_prompt, "<s>", "</s>");
    Require(pieces.ok() == text.ok());
    if (!text.ok()) {
      Require(text.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    std::string joined;
    for (const model::ChatPiece& p : *pieces) joined += p.text;
    Require(joined == *text);
  }
  const ResponseMeta meta{"chatcmpl-1", 1, req.model};
  Choice c{.index = 0, .text = req.messages.back().content, .finish = FinishReason::kStop};
  c.logprobs = std::vector<TokenLogprob>{{req.user, -1.0f, {{req.model, -2.0f}}}};
  RequireJsonObject(FormatChatCompletion(meta, std::span(&c, 1), Usage{1, 2, 0}));
  RequireJsonObject(FormatChatChunk(meta, c, true, req.include_usage));
}

void CheckCompletion(const CompletionRequest& req, const ParseLimits& limits) {
  CheckSampling(req.sampling, limits);
  const ResponseMeta meta{"cmpl-1", 1, req.model};
  Choice c{.index = 0};
  if (const auto* text = std::get_if<std::string>(&req.prompt)) c.text = *text;
  if (const auto* ids = std::get_if<std::vector<int32_t>>(&req.prompt)) {
    Require(!ids->empty());
    for (int32_t id : *ids) Require(id >= 0);
    RequireJsonObject(FormatTokenizeResponse(*ids, 0));
  }
  c.logprobs = std::vector<TokenLogprob>{{c.text, -0.5f, {}}};
  RequireJsonObject(FormatCompletion(meta, std::span(&c, 1), Usage{}));
  RequireJsonObject(FormatCompletionChunk(meta, c, req.include_usage));
}

}  // namespace
}  // namespace surge::server::openai

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace surge::server::openai;
  if (size > 1 << 16) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.max_messages = 64;
  limits.max_prompt_tokens = 4096;

  if (auto r = ParseChatRequest(body, limits); r.ok()) {
    CheckChat(*r, limits);
  } else {
    CheckRejection(r.status());
  }
  if (auto r = ParseCompletionRequest(body, limits); r.ok()) {
    CheckCompletion(*r, limits);
  } else {
    CheckRejection(r.status());
  }
  if (auto r = ParseTokenizeRequest(body, limits); r.ok()) {
    Require(r->text.has_value() != !r->messages.empty());
    RequireJsonObject(FormatDetokenizeResponse(r->text.value_or("")));
  } else {
    CheckRejection(r.status());
  }
  if (auto r = ParseDetokenizeRequest(body, limits); r.ok()) {
    RequireJsonObject(FormatTokenizeResponse(r->tokens, 1));
  } else {
    CheckRejection(r.status());
  }
  return 0;
}
