// Small std::string_view helpers for the load generator's parsers. (Debian's
// Abseil has its own absl::string_view, distinct from std::string_view, so
// absl::StrSplit and friends do not take ours.)
#pragma once

#include <string_view>
#include <vector>

namespace surge::bench {

// Every piece between separators, empty ones included ("a,,b" → a, "", b).
inline std::vector<std::string_view> SplitView(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

inline std::string_view StripLeadingSpace(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos ? std::string_view() : s.substr(first);
}

inline std::string_view StripSpace(std::string_view s) {
  s = StripLeadingSpace(s);
  const size_t last = s.find_last_not_of(" \t\r\n");
  return last == std::string_view::npos ? std::string_view() : s.substr(0, last + 1);
}

// Removes `prefix` from the front of *s if it is there.
inline bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

}  // namespace surge::bench
