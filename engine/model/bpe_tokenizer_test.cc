// BPE merge ranks, pre-tokenizer effects and byte handling on hand-made vocabs.
#include "engine/model/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/model/pre_tokenizer.h"
#include "engine/model/tokenizer_test_util.h"
#include "engine/model/unicode.h"

namespace surge::engine::model {
namespace {

using Ids = std::vector<int32_t>;

// Tokens: 256 byte-level tokens (id = byte), then `extra` (byte-level text).
Vocab TinyVocab(std::vector<std::string> extra, std::vector<std::string> merges,
                std::string pre = "gpt2") {
  Vocab v;
  v.kind = TokenizerKind::kBpe;
  v.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(ByteToUnicode(static_cast<uint8_t>(b)));
  for (std::string& t : extra) v.tokens.push_back(std::move(t));
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  v.merges = std::move(merges);
  return v;
}

std::unique_ptr<Tokenizer> Make(Vocab v) {
  auto tok = Tokenizer::Create(std::move(v));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

TEST(BpeTokenizerTest, LowestRankMergesFirst) {
  // 256 ab, 257 bc
  EXPECT_EQ(Make(TinyVocab({"ab", "bc"}, {"b c", "a b"}))->Encode("abc", false, false),
            (Ids{'a', 257}));
  EXPECT_EQ(Make(TinyVocab({"ab", "bc"}, {"a b", "b c"}))->Encode("abc", false, false),
            (Ids{256, 'c'}));
}

TEST(BpeTokenizerTest, MergesChainAndTiesGoLeftmost) {
  // 256 aa, 257 aaa; "aaaa" → aa|aa (leftmost first), then no "aa aa" merge.
  auto tok = Make(TinyVocab({"aa", "aaa"}, {"a a", "aa a"}));
  EXPECT_EQ(tok->Encode("aaaa", false, false), (Ids{256, 256}));
  EXPECT_EQ(tok->Encode("aaa", false, false), (Ids{257}));
}

TEST(BpeTokenizerTest, MergesStayInsideWords) {
  // "Ġa" is a token; gpt2 splits "a a" into "a", " a".
  const std::string sp_a = std::string(ByteToUnicode(' ')) + "a";
  auto tok = Make(
      TinyVocab({sp_a, "a" + std::string(ByteToUnicode(' '))},
                {std::string(ByteToUnicode(' ')) + " a", "a " + std::string(ByteToUnicode(' '))}));
  EXPECT_EQ(tok->Encode("a a", false, false), (Ids{'a', 256}));
}

TEST(BpeTokenizerTest, MergedTextMissingFromVocabFallsBackToBytes) {
  // The merge "a b" exists but "ab" is not a token.
  auto tok = Make(TinyVocab({}, {"a b"}));
  EXPECT_EQ(tok->Encode("ab", false, false), (Ids{'a', 'b'}));
}

TEST(BpeTokenizerTest, Llama3UsesWholeWordsFirst) {
  // "abc" is a token, but no merges lead to it; llama-bpe takes it whole.
  Vocab v = TinyVocab({"abc", "ab"}, {"a b"}, "llama-bpe");
  EXPECT_EQ(Make(v)->Encode("abc", false, false), (Ids{256}));
  v.pre = "gpt2";
  EXPECT_EQ(Make(v)->Encode("abc", false, false), (Ids{257, 'c'}));
}

TEST(BpeTokenizerTest, DecodesBytesAndUserDefinedTokens) {
  Vocab v = TinyVocab({"<think>"}, {});
  v.types.back() = TokenType::kUserDefined;
  auto tok = Make(v);
  EXPECT_EQ(tok->TokenToPiece(' '), " ");
  EXPECT_EQ(tok->TokenToPiece(0xE2), "\xE2");
  EXPECT_EQ(tok->TokenToPiece(256), "<think>");
  EXPECT_EQ(tok->Encode("a<think>", false, true), (Ids{'a', 256}));
  const std::string all_bytes = [] {
    std::string s;
    for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
    return s;
  }();
  EXPECT_EQ(tok->Decode(tok->Encode(all_bytes, false, false)), SanitizeUtf8(all_bytes));
  Ids byte_ids;
  for (char c : all_bytes) byte_ids.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(tok->Encode(all_bytes, false, false), byte_ids);
}

TEST(BpeTokenizerTest, DigitsFollowThePreTokenizer) {
  // "12" is a token and "1 2" a merge; qwen2 splits digits apart, llama3 does not.
  Vocab v = TinyVocab({"12"}, {"1 2"}, "qwen2");
  EXPECT_EQ(Make(v)->Encode("12", false, false), (Ids{'1', '2'}));
  v.pre = "llama3";
  EXPECT_EQ(Make(v)->Encode("12", false, false), (Ids{256}));
}

// The textbook O(n^2) algorithm per word: merge the lowest-ranked adjacent
// pair (leftmost on ties) until no pair is a merge.
struct NaiveBpe {
  explicit NaiveBpe(const Vocab& v) : pre(*PreTokenizer::Create(v.pre)) {
    for (size_t r = 0; r < v.merges.size(); ++r) ranks.emplace(v.merges[r], static_cast<int>(r));
    for (size_t id = 0; id < v.tokens.size(); ++id) {
      if (v.types[id] == TokenType::kNormal) ids_by_text[v.tokens[id]] = static_cast<int32_t>(id);
    }
  }
  Ids Encode(std::string_view text) const;

  std::unique_ptr<PreTokenizer> pre;
  std::map<std::string, int> ranks;
  std::map<std::string, int32_t> ids_by_text;
};

Ids NaiveBpe::Encode(std::string_view text) const {
  std::vector<std::string_view> words;
  pre->Split(text, &words);
  Ids ids;
  for (std::string_view word : words) {
    std::vector<std::string> symbols;
    for (char c : word) symbols.emplace_back(ByteToUnicode(static_cast<uint8_t>(c)));
    while (true) {
      int best = -1, best_rank = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto it = ranks.find(symbols[i] + " " + symbols[i + 1]);
        if (it != ranks.end() && (best < 0 || it->second < best_rank)) {
          best = static_cast<int>(i);
          best_rank = it->second;
        }
      }
      if (best < 0) break;
      symbols[best] += symbols[best + 1];
      symbols.erase(symbols.begin() + best + 1);
    }
    for (const std::string& sym : symbols) ids.push_back(ids_by_text.at(sym));
  }
  return ids;
}

TEST(BpeTokenizerTest, MatchesTheTextbookAlgorithmOnTheDefaultVocab) {
  Vocab v = DefaultVocab(TokenizerKind::kBpe);
  std::mt19937 rng(42);
  for (const char* pre : {"qwen2", "gpt2"}) {  // llama3's whole-word lookup: see above
    v.pre = pre;
    auto tok = *Tokenizer::Create(v);
    const NaiveBpe naive(v);
    for (int round = 0; round < 100; ++round) {
      const std::string text = RandomTokenizerText(rng);
      EXPECT_EQ(tok->Encode(text, false, false), naive.Encode(text)) << pre << ": " << text;
    }
  }
}

}  // namespace
}  // namespace surge::engine::model
