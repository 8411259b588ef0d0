// JSON plumbing for the protocol layer (internal to server/openai): parsing
// an untrusted body into a DOM without exceptions and with a depth bound, and
// writing JSON that is always valid UTF-8.
//
// Thread safety: stateless functions; safe from any thread.
// Errors: ParseJsonObject returns InvalidArgument ("invalid JSON: ...", code
// "invalid_json") for bodies that are not one JSON object. No exception from
// nlohmann_json leaves these functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "nlohmann/json.hpp"

namespace surge::server::openai {

// Parsed requests (key lookup by std::map) and written responses (keys in
// insertion order, so output reads like OpenAI's documentation).
using JsonIn = nlohmann::json;
using Json = nlohmann::ordered_json;

// Nesting deeper than this is rejected before the DOM grows (no request
// needs more than a handful of levels).
inline constexpr int kMaxJsonDepth = 64;

[[nodiscard]] absl::StatusOr<JsonIn> ParseJsonObject(std::string_view body);

// Compact JSON; invalid UTF-8 in strings becomes U+FFFD instead of throwing.
std::string DumpJson(const Json& value);

// Short description of a JSON value's type for error messages: "a string",
// "a number", "an array", ...
std::string_view JsonTypeName(const JsonIn& value);

}  // namespace surge::server::openai
