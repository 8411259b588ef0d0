#include "base/logging.h"

#include <cstdio>
#include <string>

#include "spdlog/sinks/stdout_color_sinks.h"

namespace surge::base {

void InitLogging(LogFormat format, std::string_view level) {
  auto logger = spdlog::stderr_color_mt("surge");
  if (format == LogFormat::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %v");
  }
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  logger->set_level(lvl);
  spdlog::set_default_logger(std::move(logger));
}

void AccessLog(std::string_view json_line) {
  static std::shared_ptr<spdlog::logger> access = [] {
    auto l = spdlog::stderr_color_mt("access");
    l->set_pattern("%v");
    return l;
  }();
  access->info("{}", json_line);
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace surge::base
