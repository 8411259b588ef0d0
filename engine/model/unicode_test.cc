#include "engine/model/unicode.h"

#include <gtest/gtest.h>

#include <set>

namespace surge::engine::model {
namespace {

const std::string kFffd(kReplacementChar);

TEST(Utf8Test, DecodesValidCharacters) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  const uint32_t expected[] = {'a', 0xE9, 0x20AC, 0x1F600};
  size_t pos = 0;
  for (uint32_t cp : expected) {
    const Utf8Char c = DecodeUtf8(s, pos);
    ASSERT_EQ(c.kind, Utf8Char::Kind::kValid);
    EXPECT_EQ(c.code_point, cp);
    pos += c.length;
  }
  EXPECT_EQ(pos, s.size());
  EXPECT_TRUE(IsValidUtf8(s));
}

TEST(Utf8Test, ReportsIncompleteAtEnd) {
  const Utf8Char c = DecodeUtf8("\xE2\x82", 0);
  EXPECT_EQ(c.kind, Utf8Char::Kind::kIncomplete);
  EXPECT_EQ(c.length, 2u);
}

TEST(Utf8Test, SanitizeUsesMaximalSubparts) {
  EXPECT_EQ(SanitizeUtf8("ok"), "ok");
  EXPECT_EQ(SanitizeUtf8("\xFF"), kFffd);
  EXPECT_EQ(SanitizeUtf8("\xE2\x82"
                         "A"),
            kFffd + "A");                                          // truncated → one U+FFFD
  EXPECT_EQ(SanitizeUtf8("\xE2\x82"), kFffd);                      // truncated at end
  EXPECT_EQ(SanitizeUtf8("\xF0\x80\x80"), kFffd + kFffd + kFffd);  // overlong: byte by byte
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
}

TEST(Utf8Test, StreamingSanitizeHoldsIncompleteTail) {
  std::string out;
  EXPECT_EQ(AppendSanitizedUtf8("ab\xE2\x82", /*final=*/false, &out), 2u);
  EXPECT_EQ(out, "ab");
}

TEST(Utf8Test, AppendUtf8RoundTrips) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    const Utf8Char c = DecodeUtf8(s, 0);
    EXPECT_EQ(c.kind, Utf8Char::Kind::kValid) << cp;
    EXPECT_EQ(c.code_point, cp);
    EXPECT_EQ(c.length, s.size());
  }
}

TEST(ByteLevelTest, MatchesGpt2Table) {
  EXPECT_EQ(ByteToUnicode('A'), "A");
  EXPECT_EQ(ByteToUnicode(' '), "\xC4\xA0");   // Ġ U+0120
  EXPECT_EQ(ByteToUnicode('\n'), "\xC4\x8A");  // Ċ U+010A
  EXPECT_EQ(ByteToUnicode(0x00), "\xC4\x80");  // Ā U+0100
  EXPECT_EQ(ByteToUnicode(0xAD), "\xC5\x83");  // Ń U+0143, the last one
  EXPECT_EQ(ByteToUnicode(0xE9), "\xC3\xA9");  // é is printable Latin-1: itself
}

TEST(ByteLevelTest, IsABijection) {
  std::set<std::string> images;
  for (int b = 0; b < 256; ++b) {
    const std::string_view text = ByteToUnicode(static_cast<uint8_t>(b));
    images.emplace(text);
    const Utf8Char c = DecodeUtf8(text, 0);
    ASSERT_EQ(c.length, text.size());
    EXPECT_EQ(UnicodeToByte(c.code_point), b);
  }
  EXPECT_EQ(images.size(), 256u);
  EXPECT_EQ(UnicodeToByte(0x20), std::nullopt);  // a raw space is not an image
  EXPECT_EQ(UnicodeToByte(0x4E00), std::nullopt);
}

}  // namespace
}  // namespace surge::engine::model
