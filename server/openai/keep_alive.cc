#include "server/openai/keep_alive.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/openai/errors.h"
#include "server/openai/fields.h"

namespace surge::server::openai {
namespace {

// About 290 years: far beyond any keep-alive, far inside int64 milliseconds.
constexpr double kMaxSeconds = 9.0e9;

absl::StatusOr<std::chrono::milliseconds> FromSeconds(double seconds) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxSeconds) {
    return absl::InvalidArgumentError("keep_alive is out of range");
  }
  if (seconds < 0) return std::chrono::milliseconds(-1);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000.0)));
}

constexpr char kForms[] =
    "a number of seconds or a duration such as \"5m\", \"1h\", \"30s\", \"0\" or \"-1\" "
    "(negative: keep loaded)";

}  // namespace

absl::StatusOr<std::chrono::milliseconds> ParseKeepAliveText(std::string_view text) {
  const std::string s(text);
  double seconds = 0;
  if (absl::SimpleAtod(s, &seconds)) return FromSeconds(seconds);
  absl::Duration d;
  if (s.empty() || !absl::ParseDuration(s, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keep_alive '", s.size() > 32 ? s.substr(0, 32) + "..." : s, "' is not ", kForms));
  }
  return FromSeconds(absl::ToDoubleSeconds(d));
}

absl::StatusOr<std::chrono::milliseconds> ParseKeepAliveJson(const JsonIn& value,
                                                             std::string_view param) {
  absl::StatusOr<std::chrono::milliseconds> out =
      absl::InvalidArgumentError(absl::StrCat("'", std::string(param), "' must be ", kForms));
  if (value.is_number()) {
    out = FromSeconds(value.get<double>());
  } else if (value.is_string()) {
    out = ParseKeepAliveText(value.get_ref<const std::string&>());
  } else {
    return TypeError(param, "a number of seconds or a duration string", value);
  }
  if (!out.ok()) return ValueError(param, std::string(out.status().message()));
  return out;
}

std::string KeepAliveString(std::chrono::milliseconds keep_alive) {
  if (keep_alive.count() < 0) return "forever";
  return absl::FormatDuration(absl::Milliseconds(keep_alive.count()));
}

}  // namespace surge::server::openai
