#include "engine/model/bpe_trainer.h"

#include <gtest/gtest.h>

namespace surge::engine::model {
namespace {

using Merge = BpeTrainer::Merge;

TEST(BpeTrainerTest, MergesMostFrequentPairFirst) {
  auto trainer = *BpeTrainer::Create("gpt2");
  trainer->AddWord("hug", 10);
  trainer->AddWord("pug", 5);
  trainer->AddWord("pun", 12);
  trainer->AddWord("bun", 4);
  trainer->AddWord("hugs", 5);
  // ug: 20, un: 16, then h+ug: 15, ...
  const std::vector<Merge> merges = trainer->Train(256 + 3);
  EXPECT_EQ(merges, (std::vector<Merge>{{"u", "g"}, {"u", "n"}, {"h", "ug"}}));
}

TEST(BpeTrainerTest, TiesBreakBySmallerPairAndStopAtMinCount) {
  auto trainer = *BpeTrainer::Create("gpt2");
  trainer->AddWord("xy", 3);
  trainer->AddWord("ab", 3);
  trainer->AddWord("cd", 1);
  EXPECT_EQ(trainer->Train(1000, /*min_pair_count=*/2),
            (std::vector<Merge>{{"a", "b"}, {"x", "y"}}));
}

TEST(BpeTrainerTest, OverlappingPairsCountOnce) {
  auto trainer = *BpeTrainer::Create("gpt2");
  trainer->AddWord("aaaa", 1);
  // a a (x3 in one word, 2 merged) → aa aa → aaaa.
  EXPECT_EQ(trainer->Train(1000, 1), (std::vector<Merge>{{"a", "a"}, {"aa", "aa"}}));
}

TEST(BpeTrainerTest, SameInputSameMerges) {
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text += "the quick brown fox " + std::to_string(i % 17) + " jumps over the lazy dog's back\n";
  }
  auto a = *BpeTrainer::Create("qwen2");
  auto b = *BpeTrainer::Create("qwen2");
  a->AddText(text);
  b->AddText(text.substr(0, text.size() / 2));  // same words, other order of counting
  b->AddText(text.substr(text.size() / 2));
  const std::vector<Merge> ma = a->Train(400);
  EXPECT_FALSE(ma.empty());
  EXPECT_EQ(ma, b->Train(400));
  EXPECT_EQ(ma, a->Train(400));
}

TEST(BpeTrainerTest, WordsFollowThePreTokenizer) {
  auto trainer = *BpeTrainer::Create("qwen2");
  trainer->AddText("a b a b a b");
  EXPECT_EQ(trainer->num_distinct_words(), 3u);  // "a", " b", " a"
}

}  // namespace
}  // namespace surge::engine::model
