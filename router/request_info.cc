#include "router/request_info.h"

#include <xxhash.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace surge::router {
namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 64;
constexpr uint64_t kTenantSeed = 0x726f75746572ULL;  // "router"

absl::Status InvalidJson(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", std::string(why)));
}

// Text of a message's content: a string, or the text parts of an array.
void AppendContent(const Json& content, std::string* out) {
  if (content.is_string()) {
    out->append(content.get_ref<const std::string&>());
    return;
  }
  if (!content.is_array()) return;
  for (const Json& part : content) {
    if (!part.is_object()) continue;
    auto text = part.find("text");
    if (text != part.end() && text->is_string()) out->append(text->get_ref<const std::string&>());
  }
}

std::string ChatText(const Json& messages) {
  std::string out;
  if (!messages.is_array()) return out;
  for (const Json& m : messages) {
    if (!m.is_object()) continue;
    auto role = m.find("role");
    if (role != m.end() && role->is_string()) out.append(role->get_ref<const std::string&>());
    out.push_back('\x1f');  // unit separator: role | content
    auto content = m.find("content");
    if (content != m.end()) AppendContent(*content, &out);
    out.push_back('\x1e');  // record separator between messages
  }
  return out;
}

std::string PromptText(const Json& prompt) {
  if (prompt.is_string()) return prompt.get<std::string>();
  if (!prompt.is_array() || prompt.empty()) return "";
  const Json& first = prompt.front();
  if (first.is_string() || first.is_array()) return PromptText(first);  // a batch: the first
  std::string out;
  for (const Json& t : prompt) {
    if (t.is_number_integer()) absl::StrAppend(&out, t.get<int64_t>(), ",");
  }
  return out;
}

int64_t IntField(const Json& j, const char* name, int64_t fallback) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace

int64_t RequestInfo::EstimatedTokens(int64_t default_max_tokens) const {
  const int64_t out = max_tokens > 0 ? max_tokens : default_max_tokens;
  return static_cast<int64_t>(prompt_bytes / 4) + 1 + std::max<int64_t>(1, n) * out;
}

bool JsonDepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::vector<uint64_t> PrefixHashes(std::string_view text, std::string_view tenant,
                                   const PrefixOptions& options) {
  std::vector<uint64_t> out;
  if (options.block_bytes == 0) return out;
  const size_t blocks = std::min(text.size() / options.block_bytes, options.max_blocks);
  out.reserve(blocks);
  uint64_t h = XXH3_64bits_withSeed(tenant.data(), tenant.size(), kTenantSeed);
  for (size_t i = 0; i < blocks; ++i) {
    h = XXH3_64bits_withSeed(text.data() + i * options.block_bytes, options.block_bytes, h);
    out.push_back(h);
  }
  return out;
}

absl::StatusOr<RequestInfo> ParseRequestInfo(std::string_view body, std::string_view tenant,
                                             const PrefixOptions& options) {
  if (!JsonDepthWithin(body, kMaxJsonDepth)) {
    return InvalidJson(absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels"));
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidJson("the body does not parse");
  if (!j.is_object()) return InvalidJson("the body must be a JSON object");
  RequestInfo info;
  if (auto m = j.find("model"); m != j.end() && m->is_string()) info.model = m->get<std::string>();
  if (auto s = j.find("stream"); s != j.end() && s->is_boolean()) info.stream = s->get<bool>();
  info.max_tokens = IntField(j, "max_tokens", IntField(j, "max_completion_tokens", 0));
  info.n = IntField(j, "n", 1);
  std::string text;
  if (auto messages = j.find("messages"); messages != j.end()) {
    text = ChatText(*messages);
  } else if (auto prompt = j.find("prompt"); prompt != j.end()) {
    text = PromptText(*prompt);
  }
  info.prompt_bytes = text.size();
  info.prefix_hashes = PrefixHashes(text, tenant, options);
  return info;
}

}  // namespace surge::router
