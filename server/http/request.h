// The request half of an HTTP exchange, as handlers see it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::server::http {

// Header fields in the order they appeared (or are to be sent).
using Headers = std::vector<std::pair<std::string, std::string>>;

// One complete HTTP request: start line, header fields and the whole body.
// The HTTP layer has already enforced the size limits and decoded a chunked
// request body, so `body` is the payload as the client meant it.
//
// Thread safety: immutable once handed to a handler; safe to read from any
// thread.
struct Request {
  std::string method;  // as sent, e.g. "POST" (methods are case-sensitive)
  std::string target;  // path + query, e.g. "/v1/models?x=1"
  std::string path;    // target up to the first '?'
  Headers headers;
  std::string body;
  std::string remote;  // peer address "ip:port" ("[v6]:port" for IPv6)

  // The value of the first field named `name`, compared case-insensitively,
  // or std::nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

// The value of the first field in `headers` named `name` (compared
// case-insensitively), or std::nullopt.
std::optional<std::string> FindHeader(const Headers& headers, std::string_view name);

// The error body every layer of Surge answers with, in OpenAI's shape:
// {"error":{"message":...,"type":...,"param":null,"code":...}}.
std::string ErrorJson(std::string_view message, std::string_view code,
                      std::string_view type = "invalid_request_error");

// The canonical reason phrase of an HTTP status ("Not Found"), "Unknown" for
// codes HTTP does not define.
std::string ReasonPhrase(int status);

}  // namespace surge::server::http
