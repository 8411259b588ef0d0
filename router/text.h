// Small std::string_view helpers. (Debian's Abseil has its own string_view
// type, so absl::Strip*/EqualsIgnoreCase/SimpleAtoi do not take ours.)
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace surge::router {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

inline std::string_view StripWhitespace(std::string_view s) {
  absl::string_view a = absl::StripAsciiWhitespace(ToAbsl(s));
  return {a.data(), a.size()};
}

inline bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

// Decimal digits only (no sign, no spaces).
inline bool ParseUint(std::string_view s, uint32_t* out) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos &&
         absl::SimpleAtoi(ToAbsl(s), out);
}

}  // namespace surge::router
