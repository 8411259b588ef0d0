#include "server/preload.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/chat_prompt.h"
#include "server/openai/json_util.h"

namespace surge::server {
namespace {

using openai::JsonIn;

constexpr int64_t kMaxFileBytes = 64 << 20;

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--preload line ", line, ": ", what));
}

absl::StatusOr<std::string> StringField(const JsonIn& obj, const char* key, int line) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  if (!it->is_string()) {
    return LineError(line, absl::StrCat("'", key, "' must be a string, not ",
                                        std::string(openai::JsonTypeName(*it))));
  }
  return it->get<std::string>();
}

absl::StatusOr<PreloadPrompt> ParseLine(absl::string_view text, int line) {
  absl::StatusOr<JsonIn> obj = openai::ParseJsonObject(std::string_view(text.data(), text.size()));
  if (!obj.ok()) return LineError(line, obj.status().message());
  PreloadPrompt p;
  p.line = line;
  SURGE_ASSIGN_OR_RETURN(p.model, StringField(*obj, "model", line));
  SURGE_ASSIGN_OR_RETURN(p.tenant, StringField(*obj, "tenant", line));
  const bool has_prompt = obj->contains("prompt"), has_messages = obj->contains("messages");
  if (has_prompt == has_messages) {
    return LineError(line, "give exactly one of 'prompt' (a string) or 'messages' (an array)");
  }
  for (const auto& [key, value] : obj->items()) {
    if (key != "model" && key != "tenant" && key != "prompt" && key != "messages") {
      return LineError(line, absl::StrCat("unknown field '", key, "'"));
    }
  }
  if (has_prompt) {
    SURGE_ASSIGN_OR_RETURN(std::string prompt, StringField(*obj, "prompt", line));
    if (prompt.empty()) return LineError(line, "'prompt' is empty");
    p.text = std::move(prompt);
    return p;
  }
  const JsonIn& messages = (*obj)["messages"];
  if (!messages.is_array() || messages.empty()) {
    return LineError(line, "'messages' must be a non-empty array");
  }
  for (const JsonIn& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
        !m["content"].is_string()) {
      return LineError(line, "each message needs a string 'role' and a string 'content'");
    }
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant") {
      return LineError(line, absl::StrCat("unknown role '", role, "'"));
    }
    p.messages.push_back({role, m["content"].get<std::string>()});
  }
  return p;
}

}  // namespace

absl::StatusOr<std::vector<PreloadPrompt>> ParsePreloadText(std::string_view text) {
  std::vector<PreloadPrompt> out;
  int line = 0;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line;
    const absl::string_view s = absl::StripAsciiWhitespace(raw);
    if (s.empty() || s.front() == '#') continue;
    SURGE_ASSIGN_OR_RETURN(PreloadPrompt p, ParseLine(s, line));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<PreloadPrompt>> ParsePreloadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--preload: cannot read '", path, "'"));
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  if (static_cast<int64_t>(text.size()) > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--preload: '", path, "' is larger than ", kMaxFileBytes, " bytes"));
  }
  absl::StatusOr<std::vector<PreloadPrompt>> prompts = ParsePreloadText(text);
  if (!prompts.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(prompts.status().message(), " (", path, ")"));
  }
  return prompts;
}

absl::StatusOr<PreloadResult> PreloadPrompts(engine::Engine& engine,
                                             engine::model::ChatTemplateKind chat_template,
                                             std::string_view model_name,
                                             std::span<const PreloadPrompt> prompts) {
  const engine::model::Tokenizer& tok = engine.model().tokenizer();
  std::vector<engine::RequestHandle> handles;
  PreloadResult result;
  for (const PreloadPrompt& p : prompts) {
    if (!p.model.empty() && p.model != model_name) continue;
    engine::GenerationRequest r;
    if (p.text) {
      r.prompt = tok.Encode(*p.text, /*add_special=*/true, /*parse_special=*/true);
    } else {
      absl::StatusOr<std::vector<int32_t>> ids =
          EncodeChat(tok, chat_template, p.messages, /*add_generation_prompt=*/false,
                     /*add_special=*/true);
      if (!ids.ok()) return LineError(p.line, ids.status().message());
      r.prompt = *std::move(ids);
    }
    r.preload = true;
    r.salt = engine::TenantSalt(p.tenant);
    r.tenant = r.salt;
    result.tokens += static_cast<int64_t>(r.prompt.size());
    absl::StatusOr<engine::RequestHandle> h = engine.Submit(std::move(r));
    if (!h.ok()) return LineError(p.line, h.status().message());
    handles.push_back(*std::move(h));
    ++result.prompts;
  }
  for (engine::RequestHandle& h : handles) {
    while (std::optional<engine::TokenStream::Item> item = h.stream->Next()) {
      if (item->summary) break;
    }
  }
  return result;
}

}  // namespace surge::server
