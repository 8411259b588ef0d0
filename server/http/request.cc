#include "server/http/request.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/http/asio.h"

namespace surge::server::http {

std::optional<std::string> Request::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

std::optional<std::string> FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(absl::string_view(key.data(), key.size()),
                               absl::string_view(name.data(), name.size()))) {
      return value;
    }
  }
  return std::nullopt;
}

std::string ErrorJson(std::string_view message, std::string_view code, std::string_view type) {
  return absl::StrCat(R"({"error":{"message":")", base::JsonEscape(message), R"(","type":")",
                      base::JsonEscape(type), R"(","param":null,"code":")", base::JsonEscape(code),
                      R"("}})");
}

std::string ReasonPhrase(int status) {
  if (status < 100 || status > 599) return "Unknown";
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  if (reason.empty() || reason.front() == '<') return "Unknown";
  return std::string(reason.data(), reason.size());
}

}  // namespace surge::server::http
