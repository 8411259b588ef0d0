// UTF-8 helpers for the tokenizers: validating decode with the Unicode
// "maximal subpart" rule (so every invalid sequence becomes exactly one
// U+FFFD, the same way whether text arrives whole or in pieces), and the
// GPT-2 byte-level mapping that byte-level BPE vocabularies are written in.
//
// Thread safety: free functions over immutable tables; thread-safe.
// Errors: none; invalid input is reported through return values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace surge::engine::model {

// Debian's Abseil has its own string_view type; this bridges to it (for
// absl::StrCat, absl::CHexEscape, ...).
inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Result of looking at the UTF-8 sequence starting at some position.
struct Utf8Char {
  enum class Kind { kValid, kInvalid, kIncomplete };
  Kind kind;
  uint32_t code_point;  // valid only for kValid
  size_t length;        // bytes covered: the char, or the maximal invalid subpart (>= 1)
};

// Decodes the sequence at s[pos] (pos < s.size()). kIncomplete means the
// bytes up to the end of s are a valid prefix of a longer character.
Utf8Char DecodeUtf8(std::string_view s, size_t pos);

// Appends the UTF-8 encoding of a code point (<= 0x10FFFF, not a surrogate).
void AppendUtf8(uint32_t code_point, std::string* out);

// Copies valid characters of `in` to `out` and each invalid subpart as
// U+FFFD. If `final` is false, a trailing incomplete character is not
// consumed. Returns the number of bytes of `in` consumed.
size_t AppendSanitizedUtf8(std::string_view in, bool final, std::string* out);

// Whole-string form of AppendSanitizedUtf8(in, /*final=*/true, ...).
std::string SanitizeUtf8(std::string_view in);

// True if `s` is entirely valid UTF-8.
bool IsValidUtf8(std::string_view s);

// GPT-2 byte-level BPE: each byte is written as one printable code point
// (printable Latin-1 bytes as themselves, the other 68 as U+0100 upwards).
// Returns the UTF-8 text of that code point.
std::string_view ByteToUnicode(uint8_t byte);

// Inverse of ByteToUnicode on code points; std::nullopt if `code_point` is
// not the image of a byte.
std::optional<uint8_t> UnicodeToByte(uint32_t code_point);

}  // namespace surge::engine::model
