// Behaviour common to both tokenizer kinds, on the default vocabularies:
// round trips, special tokens, validation, lookups.
#include "engine/model/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<Tokenizer> Make(TokenizerKind kind) {
  auto tok = Tokenizer::Create(DefaultVocab(kind));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

class BothKindsTest : public ::testing::TestWithParam<TokenizerKind> {
 protected:
  void SetUp() override { tok_ = Make(GetParam()); }
  std::string RoundTrip(std::string_view text, bool add_special = false) {
    return tok_->Decode(tok_->Encode(text, add_special, /*parse_special=*/false));
  }
  std::unique_ptr<Tokenizer> tok_;
};

INSTANTIATE_TEST_SUITE_P(Kinds, BothKindsTest,
                         ::testing::Values(TokenizerKind::kSpm, TokenizerKind::kBpe),
                         [](const ::testing::TestParamInfo<TokenizerKind>& param_info) {
                           return param_info.param == TokenizerKind::kSpm ? "Spm" : "Bpe";
                         });

TEST_P(BothKindsTest, RoundTripsText) {
  const std::string cases[] = {
      "",
      "Hello, world!",
      " leading space",
      "trailing space ",
      "In the beginning God created the heaven and the earth.",
      "don't WON'T I'm you'll 12345 3.14159 $9.99 50%",
      "日本語のテキスト、中文文本。한국어",  // CJK
      "emoji: 😀🎉 family: 👨\u200d👩\u200d👧\u200d👦 flag: 🇫🇷 skin: "
      "👍🏽",  // ZWJ sequences
      "  two\t\ttabs\n\nnewlines\r\n  mixed \t \n\t end  ",
      "     ",
      "\n",
      "a\u00a0b\u2003c\u3000d",  // non-ASCII spaces
      "<|im_start|>user\nhi<|im_end|>",
      "</s><s><unk>",
      "code: for (int i = 0; i < n; ++i) { x[i] = y[i] * 2; }",
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(RoundTrip(text), text);
    EXPECT_EQ(RoundTrip(text, /*add_special=*/true), text);
  }
}

TEST_P(BothKindsTest, RoundTripsLongInput) {
  std::string text;
  for (int i = 0; text.size() < 100000; ++i) {
    text += "Verse " + std::to_string(i) + ": and the LORD spake unto Moses, saying 😀\n";
  }
  text += std::string(5000, ' ') + std::string(5000, 'x');
  const std::vector<int32_t> ids = tok_->Encode(text, false, false);
  EXPECT_LT(ids.size(), text.size() / 2);
  EXPECT_EQ(tok_->Decode(ids), text);
}

TEST_P(BothKindsTest, InvalidBytesNeverCrashAndDecodeAsReplacement) {
  const std::string cases[] = {"\xFF", "ab\xC3",
                               "\xE2\x82"
                               "x",
                               "\xED\xA0\x80", "\x80\x80 a"};
  for (const std::string& text : cases) {
    const std::vector<int32_t> ids = tok_->Encode(text, true, true);
    EXPECT_EQ(tok_->Decode(ids), SanitizeUtf8(text));
    EXPECT_THAT(tok_->Decode(ids), HasSubstr(std::string(kReplacementChar)));
  }
}

TEST_P(BothKindsTest, OutOfRangeIdsDecodeToNothing) {
  EXPECT_EQ(tok_->TokenToPiece(-1), "");
  EXPECT_EQ(tok_->TokenToPiece(tok_->vocab_size()), "");
  const int32_t ids[] = {-5, 1 << 30, tok_->vocab_size()};
  EXPECT_EQ(tok_->Decode(ids), "");
  EXPECT_FALSE(tok_->IsEndOfGeneration(-1));
}

TEST_P(BothKindsTest, FindToken) {
  EXPECT_EQ(tok_->FindToken("no such token, surely"), std::nullopt);
  const int32_t eos = tok_->eos_id();
  EXPECT_EQ(tok_->FindToken(tok_->vocab().tokens[eos]), eos);
  EXPECT_TRUE(tok_->IsEndOfGeneration(eos));
}

TEST(SpecialTokensTest, ParsedOnlyWhenAsked) {
  auto tok = Make(TokenizerKind::kBpe);
  const int32_t im_start = *tok->FindToken("<|im_start|>");
  const int32_t im_end = *tok->FindToken("<|im_end|>");
  const std::string text = "<|im_start|>user\nHi<|im_end|>";

  const std::vector<int32_t> parsed = tok->Encode(text, false, /*parse_special=*/true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), im_start);
  EXPECT_EQ(parsed.back(), im_end);
  EXPECT_EQ(tok->Decode(parsed, /*render_special=*/true), text);
  EXPECT_EQ(tok->Decode(parsed), "user\nHi");

  const std::vector<int32_t> plain = tok->Encode(text, false, /*parse_special=*/false);
  EXPECT_THAT(plain, Not(Contains(im_start)));
  EXPECT_THAT(plain, Not(Contains(im_end)));
  EXPECT_EQ(tok->Decode(plain), text);
}

TEST(SpecialTokensTest, SpmControlTokensAndBos) {
  auto tok = Make(TokenizerKind::kSpm);
  EXPECT_EQ(tok->Encode("Hi", /*add_special=*/true, false).front(), tok->bos_id());
  EXPECT_THAT(tok->Encode("Hi</s>", false, false), Not(Contains(tok->eos_id())));
  const std::vector<int32_t> ids = tok->Encode("Hi</s>", false, /*parse_special=*/true);
  EXPECT_EQ(ids.back(), tok->eos_id());
  EXPECT_EQ(tok->TokenToPiece(tok->eos_id()), "");
  EXPECT_EQ(tok->TokenToPiece(tok->eos_id(), /*render_special=*/true), "</s>");
}

TEST(SpecialTokensTest, LongestMatchWins) {
  Vocab v;
  v.kind = TokenizerKind::kBpe;
  v.pre = "gpt2";
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(ByteToUnicode(static_cast<uint8_t>(b)));
  v.types.assign(256, TokenType::kNormal);
  for (const char* s : {"<a>", "<a><b>"}) {
    v.tokens.emplace_back(s);
    v.types.push_back(TokenType::kControl);
  }
  auto tok = *Tokenizer::Create(v);
  EXPECT_EQ(tok->Encode("<a><b><a>", false, true), (std::vector<int32_t>{257, 256}));
}

TEST(CreateTest, RejectsBadVocabs) {
  const Vocab good = DefaultVocab(TokenizerKind::kBpe);
  auto expect_error = [](Vocab v, std::string_view what) {
    auto tok = Tokenizer::Create(std::move(v));
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tok.status().message(), HasSubstr(std::string(what)));
  };
  Vocab v = good;
  v.tokens.clear();
  v.types.clear();
  expect_error(v, "no tokens");
  v = good;
  v.types.pop_back();
  expect_error(v, "token_type");
  v = good;
  v.scores.assign(3, 0.0f);
  expect_error(v, "scores");
  v = good;
  v.eos_id = 40000;
  expect_error(v, "eos_id");
  v = good;
  v.types[5] = static_cast<TokenType>(9);
  expect_error(v, "token type 9");
  v = good;
  v.merges.push_back("nospace");
  expect_error(v, "left right");
  v = good;
  v.merges.push_back("a zzzqqq");
  expect_error(v, "zzzqqq");
  v = good;
  v.pre = "mystery";
  expect_error(v, "mystery");
  v = DefaultVocab(TokenizerKind::kSpm);
  v.tokens[10] = "<0xZZ>";
  expect_error(v, "<0xZZ>");
}

TEST(CreateTest, FillsMissingScoresAndTypes) {
  Vocab v;
  v.kind = TokenizerKind::kSpm;
  v.tokens = {"a", "b", "ab"};
  v.add_space_prefix = false;
  auto tok = Tokenizer::Create(v);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab().scores.size(), 3u);
  EXPECT_EQ((*tok)->vocab().types[2], TokenType::kNormal);
  EXPECT_EQ((*tok)->Encode("ab", false, false), std::vector<int32_t>{2});
}

TEST(EndOfGenerationTest, KnowsChatEndTokens) {
  auto tok = Make(TokenizerKind::kBpe);
  EXPECT_TRUE(tok->IsEndOfGeneration(*tok->FindToken("<|im_end|>")));
  EXPECT_TRUE(tok->IsEndOfGeneration(*tok->FindToken("<|endoftext|>")));
  EXPECT_FALSE(tok->IsEndOfGeneration(*tok->FindToken("<|im_start|>")));
  EXPECT_FALSE(tok->IsEndOfGeneration(*tok->FindToken("the")));
}

TEST(ConcurrencyTest, ManyThreadsShareOneTokenizer) {
  for (TokenizerKind kind : {TokenizerKind::kSpm, TokenizerKind::kBpe}) {
    auto tok = Make(kind);
    const std::string text = "Shared tokenizers must give every thread the same answer. 😀";
    const std::vector<int32_t> expected = tok->Encode(text, true, true);
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          EXPECT_EQ(tok->Encode(text, true, true), expected);
          EXPECT_EQ(tok->Decode(expected), text);
        }
      });
    }
  }
}

}  // namespace
}  // namespace surge::engine::model
