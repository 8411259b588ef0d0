// Logging goes to stderr through spdlog, as human-readable lines or as JSON
// lines (one object per line: ts, level, msg) for log collectors. stdout is
// left to program output (`surge run` prints only generated text there).
//
// Thread safety: all functions are thread-safe after InitLogging().
#pragma once

#include <string>
#include <string_view>

#include "spdlog/spdlog.h"

namespace surge::base {

enum class LogFormat { kText, kJson };

// Configures the process-wide logger. `level` is one of trace, debug, info,
// warn, error, off; an unknown level falls back to info.
void InitLogging(LogFormat format, std::string_view level);

// Writes one access-log line (a JSON object, as is) to stderr, beside the
// other logs; separate from the formatted logger so it is never re-wrapped.
void AccessLog(std::string_view json_line);

// Escapes `s` for embedding in a JSON string literal.
std::string JsonEscape(std::string_view s);

}  // namespace surge::base

#define SURGE_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define SURGE_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SURGE_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SURGE_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
