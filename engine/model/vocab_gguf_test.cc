#include "engine/model/vocab_gguf.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace surge::engine::model {
namespace {

using ::testing::HasSubstr;

Vocab SmallBpe() {
  Vocab v;
  v.kind = TokenizerKind::kBpe;
  v.pre = "qwen2";
  v.tokens = {"a", "b", "ab", "<|endoftext|>"};
  v.scores = {0.0f, -1.0f, -2.5f, 0.0f};
  v.types = {TokenType::kNormal, TokenType::kNormal, TokenType::kUserDefined, TokenType::kControl};
  v.merges = {"a b"};
  v.bos_id = 3;
  v.eos_id = 3;
  v.eot_id = 3;
  v.add_bos = false;
  v.add_eos = true;
  v.add_space_prefix = false;
  return v;
}

absl::StatusOr<Vocab> RoundTrip(const GgufWriter& w) {
  std::string bytes = w.WriteToString();
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(bytes);
  if (!f.ok()) return f.status();
  return ReadVocab(**f);
}

TEST(VocabGgufTest, RoundTripsEveryField) {
  const Vocab v = SmallBpe();
  GgufWriter w;
  WriteVocab(v, w);
  absl::StatusOr<Vocab> r = RoundTrip(w);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, v.kind);
  EXPECT_EQ(r->pre, v.pre);
  EXPECT_EQ(r->tokens, v.tokens);
  EXPECT_EQ(r->scores, v.scores);
  EXPECT_EQ(r->types, v.types);
  EXPECT_EQ(r->merges, v.merges);
  EXPECT_EQ(r->bos_id, 3);
  EXPECT_EQ(r->eos_id, 3);
  EXPECT_EQ(r->eot_id, 3);
  EXPECT_EQ(r->unk_id, -1);
  EXPECT_EQ(r->pad_id, -1);
  EXPECT_FALSE(r->add_bos);
  EXPECT_TRUE(r->add_eos);
  EXPECT_FALSE(r->add_space_prefix);
}

TEST(VocabGgufTest, MissingOptionalKeysGetTheUsualDefaults) {
  GgufWriter spm;
  spm.SetString("tokenizer.ggml.model", "llama");
  spm.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "x"});
  absl::StatusOr<Vocab> s = RoundTrip(spm);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, TokenizerKind::kSpm);
  EXPECT_EQ(s->unk_id, 0);
  EXPECT_EQ(s->bos_id, 1);
  EXPECT_EQ(s->eos_id, 2);
  EXPECT_TRUE(s->add_bos);
  EXPECT_FALSE(s->add_eos);
  EXPECT_TRUE(s->add_space_prefix);
  EXPECT_EQ(s->scores, std::vector<float>(4, 0.0f));
  EXPECT_EQ(s->types, std::vector<TokenType>(4, TokenType::kNormal));

  GgufWriter bpe;
  bpe.SetString("tokenizer.ggml.model", "gpt2");
  bpe.SetStringArray("tokenizer.ggml.tokens", {"x"});
  absl::StatusOr<Vocab> b = RoundTrip(bpe);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->kind, TokenizerKind::kBpe);
  EXPECT_EQ(b->pre, "default");
  EXPECT_EQ(b->bos_id, -1);
  EXPECT_FALSE(b->add_bos);
  EXPECT_FALSE(b->add_space_prefix);
  EXPECT_TRUE(b->scores.empty());

  spm.SetStringArray("tokenizer.ggml.tokens", {"only"});  // default ids 1, 2 do not fit
  s = RoundTrip(spm);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->unk_id, 0);
  EXPECT_EQ(s->bos_id, -1);
  EXPECT_EQ(s->eos_id, -1);
}

TEST(VocabGgufTest, OutOfRangeSpecialIdsAreDropped) {
  GgufWriter w;
  WriteVocab(SmallBpe(), w);
  w.SetUint32("tokenizer.ggml.padding_token_id", 4);
  w.SetInt32("tokenizer.ggml.unknown_token_id", -1);
  absl::StatusOr<Vocab> r = RoundTrip(w);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pad_id, -1);
  EXPECT_EQ(r->unk_id, -1);
}

TEST(VocabGgufTest, BadVocabulariesAreRejected) {
  struct Case {
    const char* name;
    std::function<void(GgufWriter&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"no model", [](GgufWriter& w) { w.Remove("tokenizer.ggml.model"); }, "missing"},
      {"unknown model", [](GgufWriter& w) { w.SetString("tokenizer.ggml.model", "bert"); },
       "'bert' is not supported"},
      {"no tokens", [](GgufWriter& w) { w.Remove("tokenizer.ggml.tokens"); }, "missing"},
      {"empty tokens", [](GgufWriter& w) { w.SetStringArray("tokenizer.ggml.tokens", {}); },
       "is empty"},
      {"tokens not strings",
       [](GgufWriter& w) {
         w.SetInt32Array("tokenizer.ggml.tokens", {1, 2});
       },
       "array of"},
      {"short scores", [](GgufWriter& w) { w.SetFloat32Array("tokenizer.ggml.scores", {1}); },
       "has 1 entries for 4 tokens"},
      {"long types",
       [](GgufWriter& w) {
         w.SetInt32Array("tokenizer.ggml.token_type", {1, 1, 1, 1, 1});
       },
       "has 5 entries"},
      {"bad type",
       [](GgufWriter& w) {
         w.SetInt32Array("tokenizer.ggml.token_type", {1, 1, 9, 1});
       },
       "token 2 has unknown type 9"},
      {"id as string", [](GgufWriter& w) { w.SetString("tokenizer.ggml.bos_token_id", "1"); },
       "bos_token_id"},
      {"add_bos as int", [](GgufWriter& w) { w.SetUint32("tokenizer.ggml.add_bos_token", 1); },
       "add_bos_token"},
  };
  for (const Case& c : cases) {
    GgufWriter w;
    WriteVocab(SmallBpe(), w);
    c.edit(w);
    absl::StatusOr<Vocab> r = RoundTrip(w);
    EXPECT_FALSE(r.ok()) << c.name;
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.name;
  }
}

}  // namespace
}  // namespace surge::engine::model
