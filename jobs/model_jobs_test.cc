// The built-in kinds through the JobManager on a model trained here: train
// (micro preset, on two books of the King James Bible), eval on a book it
// never saw, quantize with the perplexity change, and a training run
// interrupted by a restart that resumes to the same result.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobs/builtin_kinds.h"
#include "jobs/job_manager.h"
#include "jobs/train/corpus.h"

namespace surge::jobs {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<JobManager> Manager(const std::string& state_dir) {
  JobManagerOptions o;
  o.max_jobs = 2;
  o.state_dir = state_dir;
  o.nice_threads = false;
  absl::StatusOr<std::unique_ptr<JobManager>> m = JobManager::Create(o, BuiltinKinds(nullptr));
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Start();
  return *std::move(m);
}

JobSpec Spec(const std::string& kind, Json args, int threads = 2) {
  JobSpec s;
  s.kind = kind;
  s.args = std::move(args);
  s.threads = threads;
  return s;
}

class ModelJobsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("surge-model-jobs-" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    absl::StatusOr<train::Corpus> kjv = train::LoadCorpus("kjv");
    ASSERT_TRUE(kjv.ok()) << kjv.status();
    ASSERT_GE(kjv->documents.size(), 66u);
    // Train on Genesis and Exodus; hold out Ruth (book 8), never seen.
    std::ofstream(dir_ + "/train.txt") << kjv->documents[0] << "\n\n" << kjv->documents[1];
    std::ofstream(dir_ + "/heldout.txt") << kjv->documents[7];
    auto m = Manager(dir_ + "/state");
    absl::StatusOr<JobInfo> job = m->Submit(Spec("train", TrainArgs(dir_ + "/micro.gguf")));
    ASSERT_TRUE(job.ok()) << job.status();
    train_ = new JobInfo(*m->Wait(job->id));
    ASSERT_EQ(train_->state, JobState::kSucceeded) << train_->error;
  }
  static void TearDownTestSuite() {
    delete train_;
    fs::remove_all(dir_);
  }
  static Json TrainArgs(const std::string& output) {
    return Json{{"corpus", dir_ + "/train.txt"},
                {"preset", "micro"},
                {"output", output},
                {"checkpoint_every", 25},
                {"name", "micro-test"}};
  }

  static inline std::string dir_;
  static inline JobInfo* train_ = nullptr;
  static inline int managers_ = 0;
};

TEST_F(ModelJobsTest, TrainJobWritesAModelAndReportsItsFigures) {
  const Json& r = train_->result;
  EXPECT_EQ(r["steps"], 300);
  EXPECT_EQ(r["first_step"], 0);
  EXPECT_EQ(r["resumed"], false);
  EXPECT_TRUE(fs::is_regular_file(r["output"].get<std::string>()));
  ASSERT_TRUE(r["loss"].is_number());
  EXPECT_LT(r["loss"].get<double>(), 5.0);  // well below ln(512) = 6.24: it learned
  EXPECT_TRUE(r["val_loss"].is_number());
  EXPECT_EQ(train_->progress.fraction, 1.0);
}

TEST_F(ModelJobsTest, QuantizeKeepsPerplexityWithinBoundsAndEvalAgrees) {
  auto m = Manager(dir_ + "/state-" + std::to_string(++managers_));
  const std::string model = train_->result["output"];
  absl::StatusOr<JobInfo> eval = m->Submit(
      Spec("eval", Json{{"model", model}, {"text", dir_ + "/heldout.txt"}, {"tg_tokens", 16}}));
  ASSERT_TRUE(eval.ok()) << eval.status();
  absl::StatusOr<JobInfo> quant =
      m->Submit(Spec("quantize", Json{{"model", model},
                                      {"text", dir_ + "/heldout.txt"},
                                      {"tg_tokens", 0},
                                      {"types", "q8_0,q4_0"},
                                      {"output_dir", dir_ + "/quantized"}}));
  ASSERT_TRUE(quant.ok()) << quant.status();
  const JobInfo e = *m->Wait(eval->id);
  const JobInfo q = *m->Wait(quant->id);
  ASSERT_EQ(e.state, JobState::kSucceeded) << e.error;
  ASSERT_EQ(q.state, JobState::kSucceeded) << q.error;

  const double ppl = e.result["perplexity"];
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 150.0);  // uniform over the vocabulary would be 512
  EXPECT_GT(e.result["tokens"].get<int64_t>(), 2000);
  EXPECT_EQ(e.result["window"], 64);
  EXPECT_GT(e.result["tg_tps"].get<double>(), 0.0);
  EXPECT_EQ(e.result["model_name"], "micro-test");

  const Json& source = q.result["source"];
  EXPECT_DOUBLE_EQ(source["perplexity"].get<double>(), ppl);  // the same computation
  ASSERT_EQ(q.result["outputs"].size(), 2u);
  const Json& q8 = q.result["outputs"][0];
  const Json& q4 = q.result["outputs"][1];
  EXPECT_EQ(q8["type"], "q8_0");
  EXPECT_EQ(q4["type"], "q4_0");
  EXPECT_TRUE(fs::is_regular_file(q8["path"].get<std::string>()));
  EXPECT_LT(q8["size_ratio"].get<double>(), 0.4);
  EXPECT_LT(q4["file_bytes"].get<int64_t>(), q8["file_bytes"].get<int64_t>());
  const double q8_change = q8["ppl_change_percent"];
  const double q4_change = q4["ppl_change_percent"];
  std::printf("micro model on Ruth: f32 ppl %.4f, q8_0 %+.3f%%, q4_0 %+.3f%%\n", ppl, q8_change,
              q4_change);
  EXPECT_LT(std::abs(q8_change), 1.0);
  EXPECT_LT(std::abs(q4_change), 5.0);
  EXPECT_NE(q4_change, 0.0);  // the outputs really differ from the source
}

TEST_F(ModelJobsTest, ATrainingInterruptedByARestartResumesToTheSameResult) {
  const std::string state = dir_ + "/restart-state";
  std::string id;
  {
    auto m = Manager(state);
    absl::StatusOr<JobInfo> job = m->Submit(Spec("train", TrainArgs(dir_ + "/again.gguf")));
    ASSERT_TRUE(job.ok()) << job.status();
    id = job->id;
    while (m->Get(id)->progress.figures["step"] < 60) absl::SleepFor(absl::Milliseconds(20));
    m->Stop();  // a shutdown: the trainer writes a checkpoint and the job stays "running"
  }
  auto m = Manager(state);
  const JobInfo done = *m->Wait(id);
  ASSERT_EQ(done.state, JobState::kSucceeded) << done.error;
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(done.result["resumed"], true);
  EXPECT_GE(done.result["first_step"].get<int64_t>(), 60);
  EXPECT_EQ(done.result["steps"], 300);
  // Resumed bit for bit: the same final loss as the run that never stopped.
  EXPECT_EQ(done.result["loss"], train_->result["loss"]);
}

TEST_F(ModelJobsTest, KindsRejectBadArgumentsBeforeQueueing) {
  auto m = Manager(dir_ + "/state-" + std::to_string(++managers_));
  EXPECT_THAT(m->Submit(Spec("eval", Json{{"model", dir_ + "/none.gguf"}, {"text", "x"}}))
                  .status()
                  .message(),
              ::testing::HasSubstr("names no readable file"));
  EXPECT_THAT(
      m->Submit(Spec("train", Json{{"corpus", "kjv"}, {"preset", "huge"}})).status().message(),
      ::testing::HasSubstr("unknown preset"));
  EXPECT_THAT(
      m->Submit(Spec("quantize", Json{{"model", train_->result["output"]}, {"types", "q3_k"}}))
          .status()
          .message(),
      ::testing::HasSubstr("q3_k"));
  EXPECT_THAT(m->Submit(Spec("deploy", Json{{"model", "x"}})).status().message(),
              ::testing::HasSubstr("unknown job kind 'deploy'"));
}

}  // namespace
}  // namespace surge::jobs
