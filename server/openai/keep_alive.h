// keep_alive: how long a model stays loaded after a request, written the way
// Ollama's users write it. Accepted: a number of seconds (fractions allowed),
// or a string holding a Go-style duration ("5m", "1h30m", "250ms", "0") or a
// bare number of seconds ("300", "-1"). Any negative value means "forever";
// 0 means "unload as soon as idle".
//
// Thread safety: stateless functions; safe from any thread.
// Errors: InvalidArgument naming the field (`param`) and the accepted forms.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/status.h"
#include "server/openai/json_util.h"

namespace surge::server::openai {

// Negative durations are normalised to -1 ms ("forever").
[[nodiscard]] absl::StatusOr<std::chrono::milliseconds> ParseKeepAliveText(std::string_view text);

// The JSON field (a number or a string), with `param` in the error.
[[nodiscard]] absl::StatusOr<std::chrono::milliseconds> ParseKeepAliveJson(const JsonIn& value,
                                                                           std::string_view param);

// "forever", "0s", "5m0s"-like text for logs and the admin API.
std::string KeepAliveString(std::chrono::milliseconds keep_alive);

}  // namespace surge::server::openai
