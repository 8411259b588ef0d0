// Train() end to end on a micro model: the loss falls, a resumed run
// continues the uninterrupted loss curve bit for bit, the thread count
// changes nothing, and bad requests are refused with clear errors.
#include "jobs/train/trainer.h"

#include <atomic>
#include <fstream>
#include <iterator>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "jobs/train/checkpoint.h"
#include "jobs/train/train_test_util.h"

namespace surge::jobs::train {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

float Mean(const std::vector<float>& v, size_t begin, size_t end) {
  return std::accumulate(v.begin() + begin, v.begin() + end, 0.0f) / (end - begin);
}

TEST(TrainerTest, LossFallsOnAMicroModel) {
  TrainConfig c = MicroConfig();
  std::vector<TrainProgress> reports;
  absl::StatusOr<TrainResult> r = Train(
      c, TinyCorpus(), [&](const TrainProgress& p) { reports.push_back(p); }, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->losses.size(), 30u);
  EXPECT_EQ(r->steps, 30);
  // Starts near uniform over the vocabulary and ends well below it.
  EXPECT_NEAR(r->losses[0], std::log(static_cast<float>(r->vocab_size)), 0.3);
  EXPECT_LT(Mean(r->losses, 25, 30), Mean(r->losses, 0, 5) - 1.5f);
  EXPECT_TRUE(std::isfinite(r->val_loss));
  EXPECT_LT(r->val_loss, r->losses[0] - 1.0f);
  // Progress: the tokenizer phase, one report per step, then done.
  ASSERT_EQ(reports.size(), 1u + 30u + 1u);
  EXPECT_EQ(reports.front().phase, TrainPhase::kTokenizer);
  EXPECT_EQ(reports[10].step, 10);
  EXPECT_NEAR(reports[10].fraction, 10.0 / 30, 1e-9);
  EXPECT_FALSE(std::isnan(reports[10].val_loss));  // evaluated at step 10
  EXPECT_TRUE(std::isnan(reports[9].val_loss));
  EXPECT_GT(reports.back().tokens_per_second, 0);
  EXPECT_EQ(reports.back().phase, TrainPhase::kDone);
  EXPECT_EQ(reports.back().fraction, 1.0);
}

TEST(TrainerTest, ResumeContinuesTheSameLossCurveBitwise) {
  TempDir dir("resume");
  const Corpus corpus = TinyCorpus();
  TrainConfig c = MicroConfig();
  c.recipe.steps = 14;
  c.output_path = dir.file("straight.gguf");
  absl::StatusOr<TrainResult> straight = Train(c, corpus, nullptr, nullptr);
  ASSERT_TRUE(straight.ok()) << straight.status();

  // Same recipe, cancelled after step 6 (a checkpoint is written)...
  std::atomic<bool> cancel{false};
  TrainConfig first = c;
  first.checkpoint_dir = dir.file("ckpt");
  first.output_path = "";
  absl::StatusOr<TrainResult> stopped = Train(
      first, corpus, [&](const TrainProgress& p) { cancel = cancel || p.step == 6; }, &cancel);
  ASSERT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
  EXPECT_NE(stopped.status().message().find("checkpoint.gguf"), std::string_view::npos);

  // ...then resumed with a different thread count and different (ignored)
  // recipe flags.
  TrainConfig second = c;
  second.resume_from = dir.file("ckpt/checkpoint.gguf");
  second.threads = 2;
  second.recipe.lr = 0.5f;
  second.recipe.seed = 999;
  second.output_path = dir.file("resumed.gguf");
  absl::StatusOr<TrainResult> resumed = Train(second, corpus, nullptr, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->first_step, 6);
  ASSERT_EQ(resumed->losses.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(resumed->losses[i], straight->losses[6 + i]) << "step " << 7 + i;
  }
  EXPECT_EQ(resumed->val_loss, straight->val_loss);
  // The exported models are the same bytes.
  EXPECT_EQ(ReadAll(dir.file("straight.gguf")), ReadAll(dir.file("resumed.gguf")));
}

TEST(TrainerTest, ThreadCountChangesNothing) {
  const Corpus corpus = TinyCorpus();
  TrainConfig c = MicroConfig();
  c.recipe.steps = 5;
  absl::StatusOr<TrainResult> one = Train(c, corpus, nullptr, nullptr);
  c.threads = 2;
  absl::StatusOr<TrainResult> two = Train(c, corpus, nullptr, nullptr);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->losses, two->losses);
  EXPECT_EQ(one->val_loss, two->val_loss);
}

TEST(TrainerTest, CheckpointsEveryNStepsAndAtTheEnd) {
  TempDir dir("every");
  TrainConfig c = MicroConfig();
  c.recipe.steps = 7;
  c.checkpoint_every = 3;
  c.checkpoint_dir = dir.path();
  std::vector<int64_t> steps_on_disk;
  absl::StatusOr<TrainResult> r = Train(
      c, TinyCorpus(),
      [&](const TrainProgress& p) {
        if (p.phase != TrainPhase::kTraining) return;
        absl::StatusOr<Checkpoint> k = ReadCheckpoint(dir.file("checkpoint.gguf"));
        steps_on_disk.push_back(k.ok() ? k->state.step : -1);
      },
      nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(steps_on_disk, (std::vector<int64_t>{-1, -1, 3, 3, 3, 6, 7}));
  EXPECT_EQ(r->checkpoint_path, dir.file("checkpoint.gguf"));
}

TEST(TrainerTest, RefusesBadRequests) {
  TempDir dir("bad");
  TrainConfig c = MicroConfig();
  c.recipe.shape.n_heads = 5;
  EXPECT_EQ(Train(c, TinyCorpus(), nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  c = MicroConfig();
  c.recipe.batch = 1 << 30;
  EXPECT_EQ(Train(c, TinyCorpus(), nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  c = MicroConfig();
  c.recipe.shape.n_ctx = 4000;  // longer than the whole corpus
  EXPECT_EQ(Train(c, TinyCorpus(1, 10), nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Resuming on other text, and from something that is no checkpoint.
  c = MicroConfig();
  c.recipe.steps = 2;
  c.recipe.warmup_steps = 1;
  c.checkpoint_dir = dir.path();
  ASSERT_TRUE(Train(c, TinyCorpus(), nullptr, nullptr).ok());
  c.resume_from = dir.file("checkpoint.gguf");
  absl::Status s = Train(c, TinyCorpus(5), nullptr, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  c.resume_from = dir.file("missing.gguf");
  EXPECT_FALSE(Train(c, TinyCorpus(), nullptr, nullptr).ok());
}

}  // namespace
}  // namespace surge::jobs::train
