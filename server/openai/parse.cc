#include "server/openai/parse.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/openai/errors.h"
#include "server/openai/fields.h"
#include "server/openai/json_util.h"
#include "server/openai/keep_alive.h"

namespace surge::server::openai {
namespace {

constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr double kFloatMax = std::numeric_limits<float>::max();

std::string At(std::string_view param, size_t index) {
  return absl::StrCat(std::string(param), "[", index, "]");
}

// At most 32 bytes of a user string, for error messages.
std::string Excerpt(const std::string& s) { return s.size() <= 32 ? s : s.substr(0, 32) + "..."; }

absl::Status ReadModel(const FieldReader& r, bool required, std::string* model) {
  const JsonIn* v = r.Find("model");
  if (v == nullptr) return required ? MissingError("model") : absl::OkStatus();
  if (!v->is_string()) return TypeError("model", "a string", *v);
  *model = v->get<std::string>();
  if (model->empty()) return ValueError("model", "'model' must not be empty");
  return absl::OkStatus();
}

absl::Status CheckStop(const JsonIn& v, const std::string& param, const ParseLimits& limits) {
  if (!v.is_string()) return TypeError(param, "a string", v);
  const size_t size = v.get_ref<const std::string&>().size();
  if (size == 0) return ValueError(param, absl::StrCat(Quoted(param), " must not be empty"));
  if (size > static_cast<size_t>(limits.max_stop_bytes)) {
    return ValueError(param, absl::StrCat(Quoted(param), " is ", size, " bytes; the limit is ",
                                          limits.max_stop_bytes));
  }
  return absl::OkStatus();
}

absl::Status ReadStop(const FieldReader& r, const ParseLimits& limits,
                      std::vector<std::string>* out) {
  const JsonIn* v = r.Find("stop");
  if (v == nullptr) return absl::OkStatus();
  if (v->is_string()) {
    SURGE_RETURN_IF_ERROR(CheckStop(*v, "stop", limits));
    out->push_back(v->get<std::string>());
    return absl::OkStatus();
  }
  if (!v->is_array()) return TypeError("stop", "a string or an array of strings", *v);
  if (v->size() > static_cast<size_t>(limits.max_stop)) {
    return ValueError("stop", absl::StrCat("'stop' holds ", v->size(), " strings; the limit is ",
                                           limits.max_stop));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    SURGE_RETURN_IF_ERROR(CheckStop((*v)[i], At("stop", i), limits));
    out->push_back((*v)[i].get<std::string>());
  }
  return absl::OkStatus();
}

void ReadSampling(FieldReader& r, const ParseLimits& limits, SamplingOptions* s) {
  r.Int("max_tokens", 1, limits.max_tokens_limit, &s->max_tokens);
  r.Int("max_completion_tokens", 1, limits.max_tokens_limit, &s->max_tokens);
  r.Float("temperature", 0, 2, &s->temperature);
  r.Float("top_p", 0, 1, &s->top_p, /*lo_open=*/true);
  r.Int("top_k", -1, kInt32Max, &s->top_k);
  if (s->top_k < 0) s->top_k = 0;  // -1 means off, like 0
  r.Float("min_p", 0, 1, &s->min_p);
  r.Float("presence_penalty", -2, 2, &s->presence_penalty);
  r.Float("frequency_penalty", -2, 2, &s->frequency_penalty);
  r.Float("repetition_penalty", 0, kFloatMax, &s->repetition_penalty, /*lo_open=*/true);
  r.Int("n", 1, limits.max_n, &s->n);
  r.Int("seed", kInt64Min, kInt64Max, &s->seed);
  r.Bool("ignore_eos", &s->ignore_eos);
}

// Fields a client relies on that Surge does not implement: rejected, not
// ignored, so the client learns at once.
absl::Status RejectUnsupported(const FieldReader& r) {
  if (const JsonIn* v = r.Find("logit_bias")) {
    if (!v->is_object()) return TypeError("logit_bias", "an object", *v);
    if (!v->empty()) return UnsupportedError("logit_bias", "'logit_bias' is not supported");
  }
  for (const char* key : {"tools", "functions"}) {
    if (const JsonIn* v = r.Find(key)) {
      if (!v->is_array()) return TypeError(key, "an array", *v);
      if (!v->empty()) {
        return UnsupportedError(key,
                                absl::StrCat("'", key, "' (function calling) is not supported"));
      }
    }
  }
  if (const JsonIn* v = r.Find("response_format")) {
    if (!v->is_object()) return TypeError("response_format", "an object", *v);
    FieldReader format(*v, "response_format.");
    std::string type;
    format.String("type", &type);
    SURGE_RETURN_IF_ERROR(format.status());
    if (type.empty()) return MissingError("response_format.type");
    if (type != "text") {
      return UnsupportedError("response_format.type",
                              absl::StrCat("response_format type '", Excerpt(type),
                                           "' is not supported; only 'text' is"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseCommon(const JsonIn& body, const ParseLimits& limits, CommonRequest* req) {
  FieldReader r(body);
  SURGE_RETURN_IF_ERROR(ReadModel(r, /*required=*/true, &req->model));
  ReadSampling(r, limits, &req->sampling);
  r.Bool("stream", &req->stream);
  r.String("user", &req->user);
  r.Int("priority", kInt32Min, kInt32Max, &req->priority);
  r.String("session_id", &req->session_id);
  SURGE_RETURN_IF_ERROR(r.status());
  if (req->session_id.size() > kMaxSessionIdBytes) {
    return ValueError("session_id", absl::StrCat("'session_id' is ", req->session_id.size(),
                                                 " bytes; the limit is ", kMaxSessionIdBytes));
  }
  if (!req->session_id.empty() && req->sampling.n != 1) {
    return ValueError("session_id", "'session_id' needs n = 1 (one conversation, one answer)");
  }
  SURGE_RETURN_IF_ERROR(ReadStop(r, limits, &req->sampling.stop));
  if (const JsonIn* v = r.Find("keep_alive")) {
    absl::StatusOr<std::chrono::milliseconds> keep_alive = ParseKeepAliveJson(*v, "keep_alive");
    if (!keep_alive.ok()) return keep_alive.status();
    req->keep_alive = *keep_alive;
  }
  if (const JsonIn* v = r.Find("stream_options")) {
    if (!v->is_object()) return TypeError("stream_options", "an object", *v);
    if (!req->stream) {
      return ValueError("stream_options", "'stream_options' is only allowed when 'stream' is true");
    }
    FieldReader options(*v, "stream_options.");
    options.Bool("include_usage", &req->include_usage);
    SURGE_RETURN_IF_ERROR(options.status());
  }
  return RejectUnsupported(r);
}

absl::Status ParseTokenIds(const JsonIn& v, const std::string& param, bool allow_empty,
                           const ParseLimits& limits, std::vector<int32_t>* out) {
  if (!v.is_array()) return TypeError(param, "an array of token ids", v);
  if (v.empty() && !allow_empty) {
    return ValueError(param, absl::StrCat(Quoted(param), " must hold at least one token id"));
  }
  if (v.size() > static_cast<size_t>(limits.max_prompt_tokens)) {
    return ValueError(param, absl::StrCat(Quoted(param), " holds ", v.size(),
                                          " token ids; the limit is ", limits.max_prompt_tokens));
  }
  out->reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t id = -1;
    const IntCheck check = ToInt64(v[i], &id);
    if (check == IntCheck::kNotNumber) return TypeError(At(param, i), "a token id (integer)", v[i]);
    if (check != IntCheck::kOk || id < 0 || id > kInt32Max) {
      return ValueError(At(param, i), absl::StrCat(Quoted(At(param, i)),
                                                   " must be a token id: an integer between 0 "
                                                   "and 2147483647"));
    }
    out->push_back(static_cast<int32_t>(id));
  }
  return absl::OkStatus();
}

absl::Status CheckTextSize(const std::string& param, size_t size, const ParseLimits& limits) {
  if (size <= static_cast<size_t>(limits.max_prompt_chars)) return absl::OkStatus();
  return ValueError(param, absl::StrCat(Quoted(param), " holds ", size,
                                        " bytes of text; the limit is ", limits.max_prompt_chars));
}

absl::Status ParsePrompt(const JsonIn* v, const ParseLimits& limits,
                         std::variant<std::string, std::vector<int32_t>>* out) {
  if (v == nullptr) return MissingError("prompt");
  if (v->is_string()) {
    SURGE_RETURN_IF_ERROR(CheckTextSize("prompt", v->get_ref<const std::string&>().size(), limits));
    *out = v->get<std::string>();
    return absl::OkStatus();
  }
  if (!v->is_array()) {
    return TypeError("prompt", "a string or an array of token ids", *v);
  }
  if (v->empty()) return ValueError("prompt", "'prompt' must not be empty");
  const JsonIn& first = (*v)[0];
  if ((first.is_string() || first.is_array()) && v->size() > 1) {
    return UnsupportedError(
        "prompt", "only one prompt per request is supported; send one request per prompt");
  }
  if (first.is_string()) return ParsePrompt(&first, limits, out);
  std::vector<int32_t> ids;
  if (first.is_array()) {
    SURGE_RETURN_IF_ERROR(ParseTokenIds(first, "prompt[0]", false, limits, &ids));
  } else {
    SURGE_RETURN_IF_ERROR(ParseTokenIds(*v, "prompt", false, limits, &ids));
  }
  *out = std::move(ids);
  return absl::OkStatus();
}

absl::Status ParseRole(const JsonIn& m, const std::string& base, Role* role) {
  const std::string param = base + ".role";
  const auto it = m.find("role");
  if (it == m.end() || it->is_null()) return MissingError(param);
  if (!it->is_string()) return TypeError(param, "a string", *it);
  const std::string& name = it->get_ref<const std::string&>();
  for (Role r : {Role::kSystem, Role::kDeveloper, Role::kUser, Role::kAssistant, Role::kTool}) {
    if (name == RoleName(r)) {
      *role = r;
      return absl::OkStatus();
    }
  }
  return ValueError(param, absl::StrCat(Quoted(param),
                                        " must be one of system, developer, user, assistant, "
                                        "tool; got '",
                                        Excerpt(name), "'"));
}

// Text parts joined with "\n" (what vLLM does); other part types rejected.
absl::Status ParseContentParts(const JsonIn& parts, const std::string& param, std::string* out) {
  for (size_t j = 0; j < parts.size(); ++j) {
    const std::string part_param = At(param, j);
    const JsonIn& part = parts[j];
    if (!part.is_object()) return TypeError(part_param, "a content part object", part);
    FieldReader r(part, part_param + ".");
    std::string type;
    std::string text;
    r.String("type", &type);
    r.String("text", &text);
    SURGE_RETURN_IF_ERROR(r.status());
    if (type.empty()) return MissingError(part_param + ".type");
    if (type != "text") {
      return UnsupportedError(part_param + ".type",
                              absl::StrCat("content part type '", Excerpt(type),
                                           "' is not supported; only 'text' parts are"));
    }
    if (r.Find("text") == nullptr) return MissingError(part_param + ".text");
    if (j > 0) out->push_back('\n');
    out->append(text);
  }
  return absl::OkStatus();
}

absl::Status ParseMessage(const JsonIn& m, const std::string& base, ChatMessage* out) {
  if (!m.is_object()) return TypeError(base, "a message object", m);
  SURGE_RETURN_IF_ERROR(ParseRole(m, base, &out->role));
  FieldReader r(m, base + ".");
  r.String("name", &out->name);
  SURGE_RETURN_IF_ERROR(r.status());
  if (const JsonIn* calls = r.Find("tool_calls"); calls != nullptr && !calls->empty()) {
    return UnsupportedError(base + ".tool_calls", "tool calls are not supported");
  }
  const std::string param = base + ".content";
  const JsonIn* content = r.Find("content");
  if (content == nullptr) {
    if (out->role == Role::kAssistant) return absl::OkStatus();
    return MissingError(param);
  }
  if (content->is_string()) {
    out->content = content->get<std::string>();
    return absl::OkStatus();
  }
  if (!content->is_array()) {
    return TypeError(param, "a string or an array of content parts", *content);
  }
  return ParseContentParts(*content, param, &out->content);
}

absl::Status ParseMessages(const JsonIn* v, const ParseLimits& limits,
                           std::vector<ChatMessage>* out) {
  if (v == nullptr) return MissingError("messages");
  if (!v->is_array()) return TypeError("messages", "an array of messages", *v);
  if (v->empty()) return ValueError("messages", "'messages' must hold at least one message");
  if (v->size() > static_cast<size_t>(limits.max_messages)) {
    return ValueError("messages", absl::StrCat("'messages' holds ", v->size(),
                                               " messages; the limit is ", limits.max_messages));
  }
  size_t total_bytes = 0;
  out->reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    ChatMessage m;
    SURGE_RETURN_IF_ERROR(ParseMessage((*v)[i], At("messages", i), &m));
    total_bytes += m.content.size();
    SURGE_RETURN_IF_ERROR(CheckTextSize("messages", total_bytes, limits));
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                         const ParseLimits& limits) {
  SURGE_ASSIGN_OR_RETURN(const JsonIn json, ParseJsonObject(body));
  CompletionRequest req;
  SURGE_RETURN_IF_ERROR(ParseCommon(json, limits, &req));
  FieldReader r(json);
  std::optional<int32_t> logprobs;
  std::optional<int32_t> best_of;
  bool echo = false;
  std::string suffix;
  r.Int("logprobs", 0, limits.max_completion_logprobs, &logprobs);
  r.Int("best_of", 1, limits.max_n, &best_of);
  r.Bool("echo", &echo);
  r.String("suffix", &suffix);
  SURGE_RETURN_IF_ERROR(r.status());
  if (echo) return UnsupportedError("echo", "'echo' is not supported");
  if (!suffix.empty()) return UnsupportedError("suffix", "'suffix' is not supported");
  if (best_of && *best_of != req.sampling.n) {
    return UnsupportedError("best_of", "'best_of' is supported only equal to 'n'");
  }
  if (logprobs) {
    req.sampling.logprobs = true;
    req.sampling.top_logprobs = *logprobs;
  }
  SURGE_RETURN_IF_ERROR(ParsePrompt(r.Find("prompt"), limits, &req.prompt));
  return req;
}

absl::StatusOr<ChatRequest> ParseChatRequest(std::string_view body, const ParseLimits& limits) {
  SURGE_ASSIGN_OR_RETURN(const JsonIn json, ParseJsonObject(body));
  ChatRequest req;
  SURGE_RETURN_IF_ERROR(ParseCommon(json, limits, &req));
  FieldReader r(json);
  r.Bool("logprobs", &req.sampling.logprobs);
  r.Int("top_logprobs", 0, limits.max_top_logprobs, &req.sampling.top_logprobs);
  r.Bool("add_generation_prompt", &req.add_generation_prompt);
  SURGE_RETURN_IF_ERROR(r.status());
  if (req.sampling.top_logprobs > 0 && !req.sampling.logprobs) {
    return ValueError("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  }
  SURGE_RETURN_IF_ERROR(ParseMessages(r.Find("messages"), limits, &req.messages));
  return req;
}

absl::StatusOr<TokenizeRequest> ParseTokenizeRequest(std::string_view body,
                                                     const ParseLimits& limits) {
  SURGE_ASSIGN_OR_RETURN(const JsonIn json, ParseJsonObject(body));
  TokenizeRequest req;
  FieldReader r(json);
  SURGE_RETURN_IF_ERROR(ReadModel(r, /*required=*/false, &req.model));
  if (const JsonIn* messages = r.Find("messages")) {
    SURGE_RETURN_IF_ERROR(ParseMessages(messages, limits, &req.messages));
    req.add_special = false;  // the chat template places BOS itself
  } else {
    const char* key = r.Find("content") != nullptr ? "content" : "prompt";
    const JsonIn* text = r.Find(key);
    if (text == nullptr) {
      return WithErrorCode(
          ValueError("content", "'content' (or 'prompt' or 'messages') is required"),
          "missing_required_parameter");
    }
    if (!text->is_string()) return TypeError(key, "a string", *text);
    SURGE_RETURN_IF_ERROR(CheckTextSize(key, text->get_ref<const std::string&>().size(), limits));
    req.text = text->get<std::string>();
  }
  r.Bool("add_special", &req.add_special);
  r.Bool("add_special_tokens", &req.add_special);
  r.Bool("add_generation_prompt", &req.add_generation_prompt);
  SURGE_RETURN_IF_ERROR(r.status());
  return req;
}

absl::StatusOr<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body,
                                                         const ParseLimits& limits) {
  SURGE_ASSIGN_OR_RETURN(const JsonIn json, ParseJsonObject(body));
  DetokenizeRequest req;
  FieldReader r(json);
  SURGE_RETURN_IF_ERROR(ReadModel(r, /*required=*/false, &req.model));
  const JsonIn* tokens = r.Find("tokens");
  if (tokens == nullptr) return MissingError("tokens");
  SURGE_RETURN_IF_ERROR(
      ParseTokenIds(*tokens, "tokens", /*allow_empty=*/true, limits, &req.tokens));
  return req;
}

}  // namespace surge::server::openai
