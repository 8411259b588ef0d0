#include "engine/model/unicode.h"

#include <array>

namespace surge::engine::model {
namespace {

// Expected length of a sequence from its lead byte, 0 if it cannot lead.
size_t SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

// Valid range of the second byte; narrower than 80..BF after some leads to
// exclude overlong forms, surrogates and code points above U+10FFFF.
bool SecondByteOk(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0:
      return b >= 0xA0 && b <= 0xBF;
    case 0xED:
      return b >= 0x80 && b <= 0x9F;
    case 0xF0:
      return b >= 0x90 && b <= 0xBF;
    case 0xF4:
      return b >= 0x80 && b <= 0x8F;
    default:
      return b >= 0x80 && b <= 0xBF;
  }
}

struct ByteTables {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, 324> code_point_to_byte;  // images are all < 0x144
};

ByteTables BuildByteTables() {
  ByteTables t;
  t.code_point_to_byte.fill(-1);
  uint32_t next_extra = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable =
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? b : next_extra++;
    AppendUtf8(cp, &t.byte_to_text[b]);
    t.code_point_to_byte[cp] = static_cast<int16_t>(b);
  }
  return t;
}

const ByteTables& Tables() {
  static const ByteTables* tables = new ByteTables(BuildByteTables());
  return *tables;
}

}  // namespace

Utf8Char DecodeUtf8(std::string_view s, size_t pos) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  const size_t want = SequenceLength(lead);
  if (want == 1) return {Utf8Char::Kind::kValid, lead, 1};
  if (want == 0) return {Utf8Char::Kind::kInvalid, 0, 1};
  uint32_t cp = lead & (want == 2 ? 0x1F : want == 3 ? 0x0F : 0x07);
  size_t have = 1;
  while (have < want) {
    if (pos + have >= s.size()) return {Utf8Char::Kind::kIncomplete, 0, have};
    const auto b = static_cast<uint8_t>(s[pos + have]);
    const bool ok = have == 1 ? SecondByteOk(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Utf8Char::Kind::kInvalid, 0, have};
    cp = (cp << 6) | (b & 0x3F);
    ++have;
  }
  return {Utf8Char::Kind::kValid, cp, want};
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t AppendSanitizedUtf8(std::string_view in, bool final, std::string* out) {
  size_t pos = 0;
  while (pos < in.size()) {
    // Fast path for ASCII runs.
    if (static_cast<uint8_t>(in[pos]) < 0x80) {
      size_t end = pos + 1;
      while (end < in.size() && static_cast<uint8_t>(in[end]) < 0x80) ++end;
      out->append(in.substr(pos, end - pos));
      pos = end;
      continue;
    }
    const Utf8Char c = DecodeUtf8(in, pos);
    if (c.kind == Utf8Char::Kind::kIncomplete && !final) break;
    if (c.kind == Utf8Char::Kind::kValid) {
      out->append(in.substr(pos, c.length));
    } else {
      out->append(kReplacementChar);
    }
    pos += c.length;
  }
  return pos;
}

std::string SanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  AppendSanitizedUtf8(in, /*final=*/true, &out);
  return out;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Char c = DecodeUtf8(s, pos);
    if (c.kind != Utf8Char::Kind::kValid) return false;
    pos += c.length;
  }
  return true;
}

std::string_view ByteToUnicode(uint8_t byte) { return Tables().byte_to_text[byte]; }

std::optional<uint8_t> UnicodeToByte(uint32_t code_point) {
  if (code_point >= Tables().code_point_to_byte.size()) return std::nullopt;
  const int16_t b = Tables().code_point_to_byte[code_point];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

}  // namespace surge::engine::model
