#include "jobs/eval/perplexity.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "engine/model/model_init.h"
#include "engine/runner/reference_forward.h"
#include "gtest/gtest.h"

namespace surge::jobs::eval {
namespace {

namespace fs = std::filesystem;
using engine::model::Model;

class PerplexityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = (fs::temp_directory_path() / ("surge-ppl-test-" + std::to_string(getpid()) + ".gguf"))
                .string();
    engine::model::InitOptions o;  // tiny llama, f32, context 512
    o.n_kv_heads = 2;              // GQA, as real models have
    ASSERT_TRUE(engine::model::WriteRandomModel(o, path_).ok());
    absl::StatusOr<std::unique_ptr<Model>> m = Model::Load(path_);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = m->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    fs::remove(path_);
  }

  // Tokens of a short English text, through the model's own tokenizer.
  static std::vector<int32_t> Text(size_t n) {
    const std::string verse =
        "In the beginning God created the heaven and the earth. And the earth was without "
        "form, and void; and darkness was upon the face of the deep. And the Spirit of God "
        "moved upon the face of the waters. And God said, Let there be light: and there was "
        "light. And God saw the light, that it was good: and God divided the light from the "
        "darkness. ";
    std::vector<int32_t> t =
        TokenizeForEval(model_->tokenizer(), verse + "And again: " + verse + "Amen. " + verse);
    EXPECT_GE(t.size(), n);
    t.resize(std::min(n, t.size()));
    return t;
  }

  // The definition, computed with the scalar reference: every window from
  // scratch, each target scored once, as perplexity.h describes.
  static double DirectNllSum(std::span<const int32_t> tokens, int64_t window, int64_t* scored) {
    const int32_t n_vocab = model_->config().n_vocab;
    const int64_t n = static_cast<int64_t>(tokens.size());
    double sum = 0;
    int64_t next = 1;
    *scored = 0;
    for (int64_t begin = 0;; begin += window / 2) {
      const int64_t end = std::min(begin + window, n);
      std::vector<float> logits =
          engine::runner::ReferenceForward(*model_, tokens.subspan(begin, end - begin));
      for (int64_t target = std::max(next, begin + 1); target < end; ++target) {
        const float* row = &logits[(target - 1 - begin) * n_vocab];
        double max = row[0], z = 0;
        for (int32_t v = 0; v < n_vocab; ++v) max = std::max<double>(max, row[v]);
        for (int32_t v = 0; v < n_vocab; ++v) z += std::exp(row[v] - max);
        sum += max + std::log(z) - row[tokens[target]];
        ++*scored;
      }
      next = end;
      if (end == n) break;
    }
    return sum;
  }

  static inline std::string path_;
  static inline Model* model_ = nullptr;
};

TEST_F(PerplexityTest, OneWindowMatchesTheReferenceForward) {
  // 150 tokens: one window, read in three runner passes of 64, 64 and 22
  // positions (position p predicts token p + 1).
  const std::vector<int32_t> tokens = Text(150);
  ASSERT_EQ(tokens.size(), 150u);
  PerplexityOptions o;
  o.num_threads = 2;
  std::vector<int64_t> seen;
  auto progress = [&](int64_t scored, int64_t, double) { seen.push_back(scored); };
  absl::StatusOr<PerplexityResult> r = ComputePerplexity(*model_, tokens, o, progress, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  int64_t scored = 0;
  const double direct = DirectNllSum(tokens, 512, &scored);
  EXPECT_EQ(r->tokens, 149);
  EXPECT_EQ(scored, 149);
  EXPECT_EQ(r->windows, 1);
  EXPECT_EQ(seen, (std::vector<int64_t>{64, 128, 149}));  // one report per pass
  EXPECT_NEAR(r->nll, direct / 149, 1e-4);
  EXPECT_NEAR(r->perplexity, std::exp(direct / 149), 1e-3 * r->perplexity);
  // A random model is close to uniform over its 32000 tokens.
  EXPECT_GT(r->perplexity, 1000);
}

TEST_F(PerplexityTest, SlidingWindowsScoreEachTokenOnceAsTheDefinitionSays) {
  const std::vector<int32_t> tokens = Text(45);
  PerplexityOptions o;
  o.window = 16;
  int64_t last_scored = 0, calls = 0;
  auto progress = [&](int64_t scored, int64_t total, double ppl) {
    EXPECT_GT(scored, last_scored);
    EXPECT_EQ(total, 44);
    EXPECT_TRUE(std::isfinite(ppl));
    last_scored = scored;
    ++calls;
  };
  absl::StatusOr<PerplexityResult> r = ComputePerplexity(*model_, tokens, o, progress, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  int64_t scored = 0;
  const double direct = DirectNllSum(tokens, 16, &scored);
  // Windows [0,16) [8,24) [16,32) [24,40) [32,45): 15 + 8 + 8 + 8 + 5 targets.
  EXPECT_EQ(r->windows, 5);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(r->stride, 8);
  EXPECT_EQ(r->tokens, 44);
  EXPECT_EQ(scored, 44);
  EXPECT_NEAR(r->nll * 44, direct, 44 * 1e-4);
  // Windows longer than a runner pass: [0,100) [50,150), each in two passes.
  const std::vector<int32_t> longer = Text(150);
  o.window = 100;
  absl::StatusOr<PerplexityResult> two = ComputePerplexity(*model_, longer, o, nullptr, nullptr);
  ASSERT_TRUE(two.ok());
  const double direct_two = DirectNllSum(longer, 100, &scored);
  EXPECT_EQ(two->windows, 2);
  EXPECT_EQ(two->tokens, 149);
  EXPECT_EQ(scored, 149);
  EXPECT_NEAR(two->nll * 149, direct_two, 149 * 1e-4);
  // Shorter context loses information: the windowed figure is not the
  // single-window one (guards against the window being ignored).
  o.window = 0;
  absl::StatusOr<PerplexityResult> whole = ComputePerplexity(*model_, tokens, o, nullptr, nullptr);
  EXPECT_NE(whole->nll, r->nll);
}

TEST_F(PerplexityTest, ReportsBadInputAndCancellation) {
  PerplexityOptions o;
  const std::vector<int32_t> one = {5};
  EXPECT_EQ(ComputePerplexity(*model_, one, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> bad = {5, 1 << 30};
  EXPECT_EQ(ComputePerplexity(*model_, bad, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::atomic<bool> cancel{true};
  EXPECT_EQ(ComputePerplexity(*model_, Text(20), o, nullptr, &cancel).status().code(),
            absl::StatusCode::kCancelled);
  o.max_tokens = 10;
  absl::StatusOr<PerplexityResult> capped =
      ComputePerplexity(*model_, Text(40), o, nullptr, nullptr);
  EXPECT_EQ(capped->tokens, 10);
}

}  // namespace
}  // namespace surge::jobs::eval
