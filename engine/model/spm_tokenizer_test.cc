// SPM merge order, byte fallback and space handling on hand-made vocabs.
#include "engine/model/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "absl/strings/str_format.h"
#include "engine/model/tokenizer_test_util.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

using Ids = std::vector<int32_t>;

// <unk>, <s>, </s>, then the given pieces (score, text); byte tokens optional.
Vocab TinyVocab(std::vector<std::pair<float, std::string>> pieces, bool with_bytes) {
  Vocab v;
  v.kind = TokenizerKind::kSpm;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_bos = true;
  for (auto& [score, text] : pieces) {
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(TokenType::kNormal);
  }
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      v.tokens.push_back(absl::StrFormat("<0x%02X>", b));
      v.scores.push_back(0);
      v.types.push_back(TokenType::kByte);
    }
  }
  return v;
}

// Ids: 3 ▁, 4 a, 5 b, 6 c, 7 ab, 8 bc, 9 ▁a, 10 aa; bytes from 11.
std::unique_ptr<Tokenizer> Make(float ab, float bc, bool space_prefix = true,
                                bool with_bytes = true) {
  Vocab v = TinyVocab({{-10, "\xE2\x96\x81"},
                       {-10, "a"},
                       {-10, "b"},
                       {-10, "c"},
                       {ab, "ab"},
                       {bc, "bc"},
                       {-3,
                        "\xE2\x96\x81"
                        "a"},
                       {-4, "aa"}},
                      with_bytes);
  v.add_space_prefix = space_prefix;
  auto tok = Tokenizer::Create(std::move(v));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

constexpr int32_t kByte0 = 11;

TEST(SpmTokenizerTest, HighestScoreMergesFirst) {
  EXPECT_EQ(Make(-1, -0.5, false)->Encode("abc", false, false), (Ids{4, 8}));
  EXPECT_EQ(Make(-0.5, -1, false)->Encode("abc", false, false), (Ids{7, 6}));
}

TEST(SpmTokenizerTest, TiesGoLeftmost) {
  EXPECT_EQ(Make(-1, -1, false)->Encode("abc", false, false), (Ids{7, 6}));
  EXPECT_EQ(Make(-1, -1, false)->Encode("aaa", false, false), (Ids{10, 4}));
}

TEST(SpmTokenizerTest, SpacePrefixAndEscaping) {
  auto tok = Make(-1, -2);
  // "▁a" (-3) beats "aa" (-4): ▁a|a, then " b" → ▁ b.
  EXPECT_EQ(tok->Encode("aa b", false, false), (Ids{9, 4, 3, 5}));
  EXPECT_EQ(tok->Encode("aa b", true, false), (Ids{1, 9, 4, 3, 5}));
  EXPECT_EQ(tok->Decode(Ids{1, 9, 4, 3, 5}), "aa b");
  EXPECT_EQ(tok->Decode(Ids{1, 9, 4, 3, 5}, false, /*strip_leading_space=*/false), " aa b");
  EXPECT_EQ(tok->Decode(Ids{4, 9}), "a a");  // only the first token loses its space
  EXPECT_EQ(tok->TokenToPiece(9), " a");
}

TEST(SpmTokenizerTest, SpaceAfterSpecialToken) {
  auto tok = Make(-1, -2);
  // As other GGUF tools: text right after a special token gets the prefix too.
  EXPECT_EQ(tok->Encode("a</s>a", false, true), (Ids{9, 2, 9}));
}

TEST(SpmTokenizerTest, ByteFallback) {
  auto tok = Make(-1, -2);
  // "€" = E2 82 AC is not a piece.
  EXPECT_EQ(tok->Encode("\xE2\x82\xAC", false, false),
            (Ids{3, kByte0 + 0xE2, kByte0 + 0x82, kByte0 + 0xAC}));
  EXPECT_EQ(tok->TokenToPiece(kByte0 + '\n'), "\n");
  EXPECT_EQ(tok->Decode(tok->Encode("x\ny\xE2\x82\xAC", false, false)), "x\ny\xE2\x82\xAC");
}

TEST(SpmTokenizerTest, InvalidBytesAreSymbolsOfTheirOwn) {
  auto tok = Make(-1, -2, false);
  // The stray lead byte does not swallow the "a" after it.
  EXPECT_EQ(tok->Encode("\xE2"
                        "ab",
                        false, false),
            (Ids{kByte0 + 0xE2, 7}));
}

TEST(SpmTokenizerTest, UnknownWithoutByteTokens) {
  auto tok = Make(-1, -2, false, /*with_bytes=*/false);
  EXPECT_EQ(tok->Encode("a\xE2\x82\xAC"
                        "b",
                        false, false),
            (Ids{4, 0, 5}));
  EXPECT_EQ(tok->Decode(Ids{4, 0, 5}), "ab");
  EXPECT_EQ(tok->Decode(Ids{4, 0, 5}, /*render_special=*/true), "a<unk>b");
}

TEST(SpmTokenizerTest, ControlTokensNeverComeFromText) {
  // "<s>" is reachable by merging only if control tokens were merge targets.
  Vocab v = TinyVocab({{-1, "<"}, {-1, "s"}, {-1, ">"}, {-2, "<s"}}, true);
  v.add_space_prefix = false;
  auto tok = *Tokenizer::Create(std::move(v));
  EXPECT_EQ(tok->Encode("<s>", false, false), (Ids{6, 5}));
}

TEST(SpmTokenizerTest, LongInputIsLinearithmic) {
  auto tok = Make(-1, -2);
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "ab";
  const Ids ids = tok->Encode(text, false, false);
  EXPECT_EQ(tok->Decode(ids), text);
}

// The textbook O(n^2) algorithm: merge the best-scoring adjacent pair
// (leftmost on ties) until no concatenation is a piece.
Ids NaiveSpm(const Vocab& v, const std::map<std::string, int32_t>& pieces, std::string_view text) {
  if (text.empty()) return {};
  std::string s = "\xE2\x96\x81";
  for (char c : text) s += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<std::string> symbols;
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Char c = DecodeUtf8(s, pos);
    const size_t n = c.kind == Utf8Char::Kind::kValid ? c.length : 1;
    symbols.push_back(s.substr(pos, n));
    pos += n;
  }
  while (true) {
    int best = -1;
    float best_score = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = pieces.find(symbols[i] + symbols[i + 1]);
      if (it == pieces.end()) continue;
      if (best < 0 || v.scores[it->second] > best_score) {
        best = static_cast<int>(i);
        best_score = v.scores[it->second];
      }
    }
    if (best < 0) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + best + 1);
  }
  Ids ids;
  for (const std::string& sym : symbols) {
    const auto it = pieces.find(sym);
    if (it != pieces.end()) {
      ids.push_back(it->second);
      continue;
    }
    for (char c : sym) ids.push_back(3 + static_cast<uint8_t>(c));  // <0xXX> in the default vocab
  }
  return ids;
}

TEST(SpmTokenizerTest, MatchesTheTextbookAlgorithmOnTheDefaultVocab) {
  const Vocab v = DefaultVocab(TokenizerKind::kSpm);
  auto tok = *Tokenizer::Create(v);
  std::map<std::string, int32_t> pieces;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.types[id] == TokenType::kNormal) pieces[v.tokens[id]] = static_cast<int32_t>(id);
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    const std::string text = RandomTokenizerText(rng);
    EXPECT_EQ(tok->Encode(text, false, false), NaiveSpm(v, pieces, text)) << text;
  }
}

}  // namespace
}  // namespace surge::engine::model
