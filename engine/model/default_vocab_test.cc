// The embedded default vocabularies: shape, reachability, compression.
#include "engine/model/default_vocab.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "engine/model/tokenizer.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

constexpr std::string_view kSample =
    "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst "
    "of times; everyone who has ever written software knows that the first version is never "
    "the last. Please remember to bring your umbrella tomorrow, because the forecast says "
    "heavy rain will arrive in the afternoon and continue through the evening.";

TEST(DefaultVocabTest, BpeShape) {
  const Vocab v = DefaultVocab(TokenizerKind::kBpe);
  EXPECT_EQ(v.tokens.size(), 32000u);
  EXPECT_EQ(v.pre, "qwen2");
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.tokens[v.eos_id], "<|endoftext|>");
  EXPECT_EQ(v.tokens[31998], "<|im_start|>");
  EXPECT_EQ(v.tokens[31999], "<|im_end|>");
  EXPECT_EQ(v.types[31998], TokenType::kControl);
  EXPECT_GT(v.merges.size(), 31000u);
  EXPECT_TRUE(Tokenizer::Create(v).ok());  // checks every merge side is a token
}

TEST(DefaultVocabTest, SpmShapeAndReachability) {
  const Vocab v = DefaultVocab(TokenizerKind::kSpm);
  ASSERT_EQ(v.tokens.size(), 32000u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  EXPECT_EQ(v.types[258], TokenType::kByte);
  absl::flat_hash_set<std::string> pieces(v.tokens.begin() + 259, v.tokens.end());
  EXPECT_EQ(pieces.size(), 32000u - 259);  // no duplicates
  for (size_t id = 259; id < v.tokens.size(); ++id) {
    const std::string& piece = v.tokens[id];
    ASSERT_TRUE(IsValidUtf8(piece)) << id;
    if (DecodeUtf8(piece, 0).length == piece.size()) continue;  // a single character
    bool reachable = false;
    for (size_t cut = 1; cut < piece.size() && !reachable; ++cut) {
      reachable = pieces.contains(piece.substr(0, cut)) && pieces.contains(piece.substr(cut));
    }
    EXPECT_TRUE(reachable) << "piece " << id << " \"" << piece << "\"";
  }
}

TEST(DefaultVocabTest, EnglishCompressesToAboutFourCharsPerToken) {
  for (TokenizerKind kind : {TokenizerKind::kSpm, TokenizerKind::kBpe}) {
    auto tok = *Tokenizer::Create(DefaultVocab(kind));
    const double chars_per_token =
        static_cast<double>(kSample.size()) / tok->Encode(kSample, false, false).size();
    EXPECT_GT(chars_per_token, 3.5);
    EXPECT_LT(chars_per_token, 6.0);
  }
}

TEST(DefaultVocabTest, PieceEscapingRoundTrips) {
  const std::string piece = "a\\b\nc\td\x01\x7F\xE2\x96\x81";
  const std::string escaped = EscapePiece(piece);
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\t'), std::string::npos);
  EXPECT_EQ(UnescapePiece(escaped).value(), piece);
  EXPECT_FALSE(UnescapePiece("bad\\q").ok());
  EXPECT_FALSE(UnescapePiece("bad\\x4").ok());
}

TEST(DefaultVocabTest, ParsersRejectMalformedData) {
  EXPECT_FALSE(ParseDefaultBpeVocab("a b\n").ok());  // far too few tokens
  EXPECT_FALSE(ParseDefaultBpeVocab("ab\n").ok());
  EXPECT_FALSE(ParseDefaultSpmVocab("x\ty\n").ok());
  EXPECT_FALSE(ParseDefaultSpmVocab("-1\tok\n").ok());  // too few
}

}  // namespace
}  // namespace surge::engine::model
