#include "engine/model/pre_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace surge::engine::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Split(std::string_view name, std::string_view text) {
  auto pre = PreTokenizer::Create(name);
  EXPECT_TRUE(pre.ok()) << pre.status();
  std::vector<std::string_view> views;
  (*pre)->Split(text, &views);
  return {views.begin(), views.end()};
}

TEST(PreTokenizerTest, Gpt2) {
  EXPECT_THAT(Split("gpt2", "Hello world's 123 !!"),
              ElementsAre("Hello", " world", "'s", " 123", " !!"));
  EXPECT_THAT(Split("default", "a  b\n\nc  "), ElementsAre("a", " ", " b", "\n", "\n", "c", "  "));
  EXPECT_THAT(Split("gpt2", "I'LL do"), ElementsAre("I", "'", "LL", " do"));  // case-sensitive
}

TEST(PreTokenizerTest, Llama3) {
  EXPECT_THAT(Split("llama-bpe", "Hello world's 123 !!"),
              ElementsAre("Hello", " world", "'s", " ", "123", " !!"));
  EXPECT_THAT(Split("llama3", "12345 I'LL"), ElementsAre("123", "45", " I", "'LL"));
  EXPECT_THAT(Split("llama3", "Hi\n\nthere  x"), ElementsAre("Hi", "\n\n", "there", " ", " x"));
  EXPECT_THAT(Split("llama3", "(foo)"), ElementsAre("(foo", ")"));
}

TEST(PreTokenizerTest, Qwen2) {
  EXPECT_THAT(Split("qwen2", "Hello world's 123 !!"),
              ElementsAre("Hello", " world", "'s", " ", "1", "2", "3", " !!"));
  EXPECT_THAT(Split("qwen2", "你好世界"), ElementsAre("你好世界"));
  EXPECT_THAT(Split("qwen2", "x.\n\ny"), ElementsAre("x", ".\n\n", "y"));
}

TEST(PreTokenizerTest, InvalidBytesBecomeTheirOwnWords) {
  EXPECT_THAT(Split("qwen2",
                    "ab\xFF"
                    "cd"),
              ElementsAre("ab", "\xFF", "cd"));
  EXPECT_THAT(Split("gpt2", "\xE2\x82"), ElementsAre("\xE2\x82"));
}

TEST(PreTokenizerTest, WordsCoverArbitraryBytes) {
  std::mt19937 rng(7);
  for (const std::string& name : PreTokenizer::SupportedNames()) {
    auto pre = PreTokenizer::Create(name);
    ASSERT_TRUE(pre.ok());
    for (int round = 0; round < 200; ++round) {
      std::string text(rng() % 64, '\0');
      for (char& c : text) c = static_cast<char>(rng() % 4 == 0 ? ' ' : rng() % 256);
      std::vector<std::string_view> words;
      (*pre)->Split(text, &words);
      std::string joined;
      for (std::string_view w : words) {
        EXPECT_FALSE(w.empty());
        joined += w;
      }
      EXPECT_EQ(joined, text) << name;
    }
  }
}

TEST(PreTokenizerTest, LongInputIsFast) {
  const std::string text(200000, ' ');
  EXPECT_THAT(Split("llama3", text), ElementsAre(text));
  std::string words;
  for (int i = 0; i < 20000; ++i) words += "word, ";
  EXPECT_EQ(Split("qwen2", words).size(), 40001u);  // word , (x20000) and the last " "
}

TEST(PreTokenizerTest, UnknownNameIsAnError) {
  auto pre = PreTokenizer::Create("falcon");
  ASSERT_FALSE(pre.ok());
  EXPECT_THAT(pre.status().message(), HasSubstr("\"falcon\""));
  EXPECT_THAT(pre.status().message(), HasSubstr("qwen2"));
  EXPECT_TRUE(PreTokenizer::Create("").ok());  // missing tokenizer.ggml.pre → default
}

}  // namespace
}  // namespace surge::engine::model
