// Corpus parsing (bible output, fortunes), the learned vocabulary, the
// held-out split and the batches.
#include "jobs/train/dataset.h"

#include <set>

#include "gtest/gtest.h"
#include "jobs/train/corpus.h"
#include "jobs/train/train_test_util.h"

namespace surge::jobs::train {
namespace {

TEST(CorpusTest, ParsesBibleOutputIntoBooksOfVerses) {
  const char* text =
      "\nGenesis 1\n\n  1 In the beginning God created the heaven and the earth.\n"
      "  2 And the earth was without form, and void; and darkness was upon the face of\n"
      "the deep.\n\nGenesis 2\n\n  1 Thus the heavens were finished.\n"
      "\n1 Samuel 1\n\n  1 Now there was a certain man.\n";
  absl::StatusOr<Corpus> c = ParseBibleText(text);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->documents.size(), 2u);
  EXPECT_EQ(c->documents[0],
            "In the beginning God created the heaven and the earth.\n"
            "And the earth was without form, and void; and darkness was upon the face of the "
            "deep.\n\nThus the heavens were finished.\n");
  EXPECT_EQ(c->documents[1], "Now there was a certain man.\n");
  EXPECT_FALSE(ParseBibleText("nothing here\n").ok());
  EXPECT_FALSE(ParseBibleText("\nGenesis 1\n\n").ok());  // no verses
}

TEST(CorpusTest, ParsesFortunes) {
  EXPECT_EQ(ParseFortunes("One.\n%\nTwo\n  -- someone\n%\n%\n  \n%\nThree."),
            (std::vector<std::string>{"One.", "Two\n  -- someone", "Three."}));
}

TEST(CorpusTest, FingerprintSeesDocumentBoundaries) {
  const Corpus a{"a", {"ab", "c"}}, b{"b", {"a", "bc"}}, c{"c", {"ab", "c"}};
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
  EXPECT_EQ(a.Fingerprint(), c.Fingerprint());
  EXPECT_EQ(a.num_bytes(), 3);
}

// The real thing, where the Debian packages are installed.
TEST(CorpusTest, LoadsTheKingJamesBible) {
  absl::StatusOr<Corpus> c = LoadCorpus("kjv");
  if (c.status().code() == absl::StatusCode::kFailedPrecondition) {
    GTEST_SKIP() << c.status();
  }
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->documents.size(), 66u);  // books
  EXPECT_TRUE(c->documents[0].starts_with(
      "In the beginning God created the heaven and the earth.\nAnd the earth was without form"));
  EXPECT_TRUE(c->documents[65].ends_with("be with you all. Amen.\n"));
  EXPECT_GT(c->num_bytes(), 4'000'000);
}

TEST(CorpusTest, MissingFileIsAnError) {
  EXPECT_EQ(LoadCorpus("/nonexistent/corpus.txt").status().code(), absl::StatusCode::kNotFound);
}

TEST(VocabTest, LearnsBpeThatRoundTripsAndEndsWithEos) {
  absl::StatusOr<engine::model::Vocab> v = TrainVocab(TinyCorpus(), 400);
  ASSERT_TRUE(v.ok()) << v.status();
  // The tiny grammar runs out of pairs seen twice before 400 tokens.
  const auto n = static_cast<int32_t>(v->tokens.size());
  EXPECT_GT(n, 300);
  EXPECT_LE(n, 400);
  EXPECT_EQ(v->tokens.back(), kEndOfText);
  EXPECT_EQ(v->eos_id, n - 1);
  EXPECT_FALSE(v->add_bos);
  auto tok = engine::model::Tokenizer::Create(*v);
  ASSERT_TRUE(tok.ok()) << tok.status();
  // The merges compress the corpus's words; anything else still round-trips.
  const std::string seen = "The king went up to the mountain.";
  EXPECT_LE((*tok)->Encode(seen, false, false).size(), 8u);
  const std::string text = seen + " Ünïcode, 123 and\ttabs\n";
  EXPECT_EQ((*tok)->Decode((*tok)->Encode(text, false, false)), text);
  EXPECT_TRUE((*tok)->IsEndOfGeneration(n - 1));
  EXPECT_FALSE(TrainVocab(TinyCorpus(), 100).ok());
}

TEST(TokenDataTest, SplitsWindowsAndBatches) {
  const Corpus corpus = TinyCorpus();
  auto tok = engine::model::Tokenizer::Create(*TrainVocab(corpus, 300));
  ASSERT_TRUE(tok.ok());
  const int64_t seq = 16;
  absl::StatusOr<TokenData> data = TokenData::Build(corpus, **tok, seq, 0.1f);
  ASSERT_TRUE(data.ok()) << data.status();
  const int64_t total = data->num_train_tokens() + data->num_val_tokens();
  EXPECT_GT(data->num_val_tokens(), 0);
  EXPECT_NEAR(static_cast<double>(data->num_val_tokens()) / total, 0.1, 0.05);
  // Targets are the inputs shifted by one.
  Rng rng(1);
  std::vector<int32_t> in, tg;
  data->SampleBatch(rng, 3, seq, &in, &tg);
  ASSERT_EQ(in.size(), 48u);
  for (int b = 0; b < 3; ++b) {
    for (int t = 0; t + 1 < seq; ++t) EXPECT_EQ(tg[b * seq + t], in[b * seq + t + 1]);
  }
  // The same Rng state gives the same batch; held-out batches are fixed.
  Rng again(1);
  std::vector<int32_t> in2, tg2;
  data->SampleBatch(again, 3, seq, &in2, &tg2);
  EXPECT_EQ(in, in2);
  data->ValBatch(0, 2, 4, seq, &in, &tg);
  data->ValBatch(0, 2, 4, seq, &in2, &tg2);
  EXPECT_EQ(in, in2);
  data->ValBatch(1, 2, 4, seq, &in2, &tg2);
  EXPECT_NE(in, in2);
  // No held-out part: everything trains.
  absl::StatusOr<TokenData> all = TokenData::Build(corpus, **tok, seq, 0.0f);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->num_train_tokens(), total);
  EXPECT_EQ(all->num_val_tokens(), 0);
}

}  // namespace
}  // namespace surge::jobs::train
