#include <gtest/gtest.h>

#include <random>

#include "engine/model/tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

std::unique_ptr<Tokenizer> Make(TokenizerKind kind) {
  return *Tokenizer::Create(DefaultVocab(kind));
}

std::string Stream(const Tokenizer& tok, const std::vector<int32_t>& ids,
                   std::vector<std::string>* chunks = nullptr) {
  StreamingDecoder dec(tok);
  std::string out;
  for (int32_t id : ids) {
    std::string chunk = dec.Push(id);
    EXPECT_TRUE(IsValidUtf8(chunk));
    out += chunk;
    if (chunks != nullptr) chunks->push_back(std::move(chunk));
  }
  return out + dec.Flush();
}

TEST(StreamingDecoderTest, HoldsSplitCharacterUntilComplete) {
  auto tok = Make(TokenizerKind::kSpm);
  const int32_t e2 = *tok->FindToken("<0xE2>");
  const int32_t x82 = *tok->FindToken("<0x82>");
  const int32_t xac = *tok->FindToken("<0xAC>");
  std::vector<std::string> chunks;
  EXPECT_EQ(Stream(*tok, {e2, x82, xac}, &chunks), "\xE2\x82\xAC");
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "", "\xE2\x82\xAC"}));
}

TEST(StreamingDecoderTest, InvalidSequencesBecomeReplacementChars) {
  auto tok = Make(TokenizerKind::kSpm);
  const int32_t e2 = *tok->FindToken("<0xE2>");
  const int32_t ff = *tok->FindToken("<0xFF>");
  const int32_t a = *tok->FindToken("a");
  const std::string fffd(kReplacementChar);
  StreamingDecoder dec(*tok);
  EXPECT_EQ(dec.Push(ff), fffd);       // can never start a character: out at once
  EXPECT_EQ(dec.Push(e2), "");         // may still complete
  EXPECT_EQ(dec.Push(a), fffd + "a");  // did not
  EXPECT_EQ(dec.Push(e2), "");
  EXPECT_EQ(dec.Flush(), fffd);  // incomplete at the end
}

TEST(StreamingDecoderTest, ConcatenationEqualsDecode) {
  const std::string texts[] = {
      "Hello world",
      " spaced  out ",
      "😀👨\u200d👩\u200d👧 and 日本語",
      "bad \xE2\x82 bytes \xFF here",
      "\n\ttabs\n",
      "",
  };
  for (TokenizerKind kind : {TokenizerKind::kSpm, TokenizerKind::kBpe}) {
    auto tok = Make(kind);
    for (const std::string& text : texts) {
      for (bool add_special : {false, true}) {
        const std::vector<int32_t> ids = tok->Encode(text, add_special, false);
        EXPECT_EQ(Stream(*tok, ids), tok->Decode(ids)) << text;
      }
    }
  }
}

TEST(StreamingDecoderTest, RandomIdsMatchDecode) {
  std::mt19937 rng(1);
  for (TokenizerKind kind : {TokenizerKind::kSpm, TokenizerKind::kBpe}) {
    auto tok = Make(kind);
    for (int round = 0; round < 200; ++round) {
      std::vector<int32_t> ids(rng() % 12);
      for (int32_t& id : ids) {
        // Mostly low ids (bytes, specials), some anywhere, some out of range.
        const uint32_t r = rng() % 10;
        id = r < 6   ? static_cast<int32_t>(rng() % 300)
             : r < 9 ? static_cast<int32_t>(rng() % tok->vocab_size())
                     : -1 - (int32_t)(rng() % 5);
      }
      EXPECT_EQ(Stream(*tok, ids), tok->Decode(ids));
    }
  }
}

TEST(StreamingDecoderTest, KeepsLeadingSpaceWhenAsked) {
  auto tok = Make(TokenizerKind::kSpm);
  const std::vector<int32_t> ids = tok->Encode("Hi there", false, false);
  StreamingDecoder dec(*tok, /*render_special=*/false, /*strip_leading_space=*/false);
  std::string out;
  for (int32_t id : ids) out += dec.Push(id);
  EXPECT_EQ(out + dec.Flush(), " Hi there");
}

}  // namespace
}  // namespace surge::engine::model
